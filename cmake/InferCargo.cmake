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
set(_infer_lib_dir "${INFER_CARGO_TARGET_DIR}/$<IF:${_infer_is_release},release,debug>")

add_custom_target(infer_cargo_build ALL
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${INFER_CARGO_TARGET_DIR}"
          "${CARGO_EXECUTABLE}" build --lib --manifest-path "${PROJECT_SOURCE_DIR}/Cargo.toml"
          $<${_infer_is_release}:--release>
  BYPRODUCTS "${_infer_lib_dir}/libinfer.so" "${_infer_lib_dir}/libinfer.a"
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
  set_target_properties(infer::infer PROPERTIES IMPORTED_LOCATION_${_config_upper} "${_dir}/libinfer.so")
  set_target_properties(infer::infer_static PROPERTIES IMPORTED_LOCATION_${_config_upper} "${_dir}/libinfer.a")
endforeach()

set_target_properties(infer::infer PROPERTIES
  # cargo's cdylib has no SONAME: link with -linfer so programs record "libinfer.so", not a path.
  IMPORTED_NO_SONAME TRUE
  INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include")
# A Rust static library needs the system libraries its std uses
# (`cargo rustc --lib --crate-type staticlib -- --print native-static-libs`).
set_target_properties(infer::infer_static PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include"
  INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;Threads::Threads;m;${CMAKE_DL_LIBS}")

add_dependencies(infer::infer infer_cargo_build)
add_dependencies(infer::infer_static infer_cargo_build)
