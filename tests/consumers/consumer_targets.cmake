# The consumer programs and their tests, shared by the find_package and add_subdirectory projects
# (each has found infer::infer and infer::infer_static its own way). The caller passes
# INFER_EXPECTED_VERSION and INFER_EXPECTED_SONAME.
enable_testing()
find_program(READELF NAMES readelf REQUIRED)
set(_consumer_dir "${CMAKE_CURRENT_LIST_DIR}")
string(REPLACE "." "\\." _version_regex "${INFER_EXPECTED_VERSION}")
set(_pass "consumer: libinfer ${_version_regex}, ABI [0-9]+, y = \\[1\\.25, -1\\.5\\]\n")

function(consumer name source library)
  add_executable(${name} "${_consumer_dir}/${source}")
  target_link_libraries(${name} PRIVATE ${library})
  set_target_properties(${name} PROPERTIES C_STANDARD 11 C_EXTENSIONS OFF CXX_STANDARD 17 CXX_EXTENSIONS OFF)
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror -pedantic)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${_pass}" FAIL_REGULAR_EXPRESSION "error:")
endfunction()

consumer(c_shared consumer.c infer::infer)
consumer(c_static consumer.c infer::infer_static)
consumer(cpp_shared consumer.cpp infer::infer)

# The shared program records the SONAME (not a path, not the unversioned name); the static one
# does not need libinfer at all.
string(REPLACE "." "\\." _soname_regex "${INFER_EXPECTED_SONAME}")
add_test(NAME c_shared.needs_soname COMMAND "${READELF}" -d $<TARGET_FILE:c_shared>)
set_tests_properties(c_shared.needs_soname PROPERTIES PASS_REGULAR_EXPRESSION "\\(NEEDED\\)[^\n]*\\[${_soname_regex}\\]")
add_test(NAME c_static.needs_no_libinfer COMMAND "${READELF}" -d $<TARGET_FILE:c_static>)
set_tests_properties(c_static.needs_no_libinfer PROPERTIES FAIL_REGULAR_EXPRESSION "libinfer")
