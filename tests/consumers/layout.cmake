# package.layout: what `cmake --install` put under PREFIX, as cmake/InferInstall.cmake promises.
# Usage: cmake -DPREFIX= -DLIBDIR= -DINCLUDEDIR= -DSOURCE_DIR= -DVERSION= -DSONAME= -DREADELF= -P layout.cmake
set(lib "${PREFIX}/${LIBDIR}")
set(errors "")

function(expect_link link target)
  if(NOT IS_SYMLINK "${link}")
    list(APPEND errors "${link} is not a symbolic link")
  else()
    file(READ_SYMLINK "${link}" got)
    if(NOT got STREQUAL target)
      list(APPEND errors "${link} points to ${got}, expected ${target}")
    endif()
  endif()
  set(errors "${errors}" PARENT_SCOPE)
endfunction()

# The shared library under its full version, with the SONAME; the SONAME link to it, and the
# link-time name.
set(real "${lib}/libinfer.so.${VERSION}")
if(NOT EXISTS "${real}" OR IS_SYMLINK "${real}")
  list(APPEND errors "${real} is missing or not a regular file")
else()
  execute_process(COMMAND "${READELF}" -d "${real}" OUTPUT_VARIABLE dynamic COMMAND_ERROR_IS_FATAL ANY)
  string(REGEX MATCH "\\(SONAME\\)[^\n]*\\[([^]]*)\\]" _ "${dynamic}")
  if(NOT CMAKE_MATCH_1 STREQUAL SONAME)
    list(APPEND errors "${real} has SONAME '${CMAKE_MATCH_1}', expected ${SONAME}")
  endif()
endif()
expect_link("${lib}/${SONAME}" "libinfer.so.${VERSION}")
expect_link("${lib}/libinfer.so" "${SONAME}")

# The headers, identical to the source tree's.
foreach(header IN ITEMS infer.h infer.hpp)
  set(installed "${PREFIX}/${INCLUDEDIR}/${header}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${installed}" "${SOURCE_DIR}/include/${header}"
    RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    list(APPEND errors "${installed} is missing or differs from include/${header}")
  endif()
endforeach()

# Exactly these files (the ones not checked above are used by the other package.* tests).
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE "${PREFIX}" "${PREFIX}/*")
set(expected "${INCLUDEDIR}/infer.h" "${INCLUDEDIR}/infer.hpp" "${LIBDIR}/cmake/infer/inferConfig.cmake"
    "${LIBDIR}/cmake/infer/inferConfigVersion.cmake" "${LIBDIR}/libinfer.a" "${LIBDIR}/libinfer.so"
    "${LIBDIR}/libinfer.so.${VERSION}" "${LIBDIR}/${SONAME}" "${LIBDIR}/pkgconfig/infer.pc")
list(SORT installed)
list(SORT expected)
if(NOT installed STREQUAL expected)
  list(APPEND errors "installed files: ${installed}\n    expected: ${expected}")
endif()

if(errors)
  list(JOIN errors "\n  " text)
  message(FATAL_ERROR "the installed package is not as expected:\n  ${text}")
endif()
message(STATUS "${PREFIX}: libinfer.so.${VERSION} (SONAME ${SONAME}) and its links, libinfer.a, headers, CMake package, infer.pc")
