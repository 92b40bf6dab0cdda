# Install rules: what cargo built, laid out as a conventional C library package under the prefix
# (`cmake --install <build> --prefix <prefix>`):
#   <libdir>/libinfer.so.<version>, libinfer.so.<abi> -> it, libinfer.so -> libinfer.so.<abi>
#   <libdir>/libinfer.a
#   <includedir>/infer.h, infer.hpp
#   <libdir>/cmake/infer/inferConfig.cmake, inferConfigVersion.cmake   find_package(infer): infer::infer, infer::infer_static
#   <libdir>/pkgconfig/infer.pc                                          pkg-config infer
# <libdir> and <includedir> are GNUInstallDirs' (lib and include, lib64 on some distributions).
# tests/consumers/ installs into a test prefix and uses every one of these.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_infer_real_name "libinfer.so.${PROJECT_VERSION}")
set(_infer_stage "${PROJECT_BINARY_DIR}/infer-install")

install(FILES "${INFER_CARGO_LIB_DIR}/libinfer.so"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RENAME "${_infer_real_name}"
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# The usual links, made here (dangling: they are relative to the install directory) and installed
# as links.
file(MAKE_DIRECTORY "${_infer_stage}")
file(CREATE_LINK "${_infer_real_name}" "${_infer_stage}/${INFER_SONAME}" SYMBOLIC)
file(CREATE_LINK "${INFER_SONAME}" "${_infer_stage}/libinfer.so" SYMBOLIC)
install(FILES "${_infer_stage}/${INFER_SONAME}" "${_infer_stage}/libinfer.so" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES "${INFER_CARGO_LIB_DIR}/libinfer.a" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/include/infer.h" "${PROJECT_SOURCE_DIR}/include/infer.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The CMake package: relocatable (paths relative to the installed inferConfig.cmake).
set(_infer_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/infer")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/inferConfig.cmake.in" "${_infer_stage}/inferConfig.cmake"
  INSTALL_DESTINATION "${_infer_cmake_dir}"
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x and 1.x releases each keep their ABI; a new major version may break it.
write_basic_package_version_file("${_infer_stage}/inferConfigVersion.cmake" COMPATIBILITY SameMajorVersion)
install(FILES "${_infer_stage}/inferConfig.cmake" "${_infer_stage}/inferConfigVersion.cmake"
  DESTINATION "${_infer_cmake_dir}")

# The pkg-config file. Its prefix is the one given at install time (cmake --install --prefix
# overrides the configured CMAKE_INSTALL_PREFIX), so the first line is written then.
foreach(_kind IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_kind}}")
    set(INFER_PC_${_kind} "${CMAKE_INSTALL_${_kind}}")
  else()
    set(INFER_PC_${_kind} "\${prefix}/${CMAKE_INSTALL_${_kind}}")
  endif()
endforeach()
list(TRANSFORM INFER_STATIC_SYSTEM_LIBS PREPEND "-l" OUTPUT_VARIABLE INFER_PC_LIBS_PRIVATE)
list(JOIN INFER_PC_LIBS_PRIVATE " " INFER_PC_LIBS_PRIVATE)
configure_file("${PROJECT_SOURCE_DIR}/cmake/infer.pc.in" "${_infer_stage}/infer.pc.body" @ONLY)
install(CODE "
  file(READ \"${_infer_stage}/infer.pc.body\" _infer_pc_body)
  file(WRITE \"${_infer_stage}/infer.pc\" \"prefix=\${CMAKE_INSTALL_PREFIX}\\n\${_infer_pc_body}\")")
install(FILES "${_infer_stage}/infer.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
