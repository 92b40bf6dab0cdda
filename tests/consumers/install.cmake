# package.install: installs the build BUILD_DIR (configuration CONFIG) into a fresh PREFIX.
# Usage: cmake -DBUILD_DIR=... -DPREFIX=... -DCONFIG=... -P install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --config "${CONFIG}"
  COMMAND_ERROR_IS_FATAL ANY)
