# Drives cargo to build the crate and declares the imported targets infer::infer (shared) and
# infer::infer_static over what it produces. cargo decides what is out of date, so the cargo step
# runs on every build (a no-op when nothing changed).

find_program(CARGO_EXECUTABLE cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin" REQUIRED)
find_package(Threads REQUIRED)

set(INFER_CARGO_TARGET_DIR "${CMAKE_BINARY_DIR}/cargo" CACHE PATH
    "CARGO_TARGET_DIR for the crate build (point it at <source>/target to share cargo's own build)")

# Optimised configurations use cargo's release profile, the others its dev profile.
set(_infer_release_configs Release RelWithDebInfo MinSizeRel)
set(_infer_is_release "$<CONFIG:Release,RelWithDebInfo,MinSizeRel>")
# Where cargo puts libinfer.so and libinfer.a for the configuration being built (a generator
# expression; cmake/InferInstall.cmake installs from it).
set(INFER_CARGO_LIB_DIR "${INFER_CARGO_TARGET_DIR}/$<IF:${_infer_is_release},release,debug>")
set(INFER_SONAME "libinfer.so.${INFER_ABI_VERSION}")

# build.rs sets the SONAME; a program linked against cargo's libinfer.so records that name and
# looks for it at run time, so the build tree gets the link libinfer.so.<abi> -> libinfer.so.
add_custom_target(infer_cargo_build ALL
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${INFER_CARGO_TARGET_DIR}"
          "${CARGO_EXECUTABLE}" build --lib --manifest-path "${PROJECT_SOURCE_DIR}/Cargo.toml"
          $<${_infer_is_release}:--release>
  COMMAND "${CMAKE_COMMAND}" -E create_symlink libinfer.so "${INFER_CARGO_LIB_DIR}/${INFER_SONAME}"
  BYPRODUCTS "${INFER_CARGO_LIB_DIR}/libinfer.so" "${INFER_CARGO_LIB_DIR}/${INFER_SONAME}"
             "${INFER_CARGO_LIB_DIR}/libinfer.a"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Building the infer crate with cargo"
  USES_TERMINAL
  COMMAND_EXPAND_LISTS
  VERBATIM)

add_library(infer::infer SHARED IMPORTED GLOBAL)
add_library(infer::infer_static STATIC IMPORTED GLOBAL)
foreach(_config IN ITEMS Debug Release RelWithDebInfo MinSizeRel)
  string(TOUPPER "${_config}" _config_upper)
  if(_config IN_LIST _infer_release_configs)
    set(_dir "${INFER_CARGO_TARGET_DIR}/release")
  else()
    set(_dir "${INFER_CARGO_TARGET_DIR}/debug")
  endif()
  set_property(TARGET infer::infer infer::infer_static APPEND PROPERTY IMPORTED_CONFIGURATIONS ${_config_upper})
  set_target_properties(infer::infer PROPERTIES
    IMPORTED_LOCATION_${_config_upper} "${_dir}/libinfer.so"
    IMPORTED_SONAME_${_config_upper} "${INFER_SONAME}")
  set_target_properties(infer::infer_static PROPERTIES IMPORTED_LOCATION_${_config_upper} "${_dir}/libinfer.a")
endforeach()

# A Rust static library needs the system libraries its std uses
# (`cargo rustc --lib --crate-type staticlib -- --print native-static-libs`). The installed
# package and infer.pc (Libs.private) name the same ones.
set(INFER_STATIC_SYSTEM_LIBS gcc_s util rt pthread m dl)
set(INFER_STATIC_LINK_LIBRARIES gcc_s util rt Threads::Threads m ${CMAKE_DL_LIBS})

set_target_properties(infer::infer PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include")
set_target_properties(infer::infer_static PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include"
  INTERFACE_LINK_LIBRARIES "${INFER_STATIC_LINK_LIBRARIES}")

add_dependencies(infer::infer infer_cargo_build)
add_dependencies(infer::infer_static infer_cargo_build)
