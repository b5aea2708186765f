# SPDX-License-Identifier: MIT
#
# Settings and helpers for spindle's own tests, examples and benchmarks. None
# of this reaches a consumer of spindle::spindle.

# Warnings (and -Werror with SPINDLE_WARNINGS_AS_ERRORS) for spindle's own
# targets only; the library target carries no flags.
add_library(spindle_dev_settings INTERFACE)
target_link_libraries(spindle_dev_settings INTERFACE spindle::spindle)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(spindle_dev_settings INTERFACE -Wall -Wextra -Wpedantic
                                                        $<$<BOOL:${SPINDLE_WARNINGS_AS_ERRORS}>:-Werror>)
endif()

# How long any one test may run before CTest fails it. Individual waits inside
# the tests have their own, shorter limits.
set(SPINDLE_TEST_TIMEOUT
    120
    CACHE STRING "Seconds a single spindle test may run")
# The same for a test that runs the compiler, or configures and builds a
# project: seconds on an idle machine, but its time grows with the machine's
# load, twentyfold when other builds crowd the cores. Its limit is there to
# catch a hang, not to time the compiler.
set(SPINDLE_COMPILE_TEST_TIMEOUT
    600
    CACHE STRING "Seconds a spindle test that runs the compiler or CMake may run")

set(SPINDLE_CHECK_OUTPUT_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/check_output.cmake)

# spindle_add_example(<NN_topic> [ARGS args...] [EXPECT regex...])
#
# Builds examples/<NN_topic>.cpp as spindle_example_<NN_topic> and registers
# the test example.<NN_topic>: the example runs with ARGS, must exit 0, and its
# output must contain a line matching each EXPECT regex, in the given order.
function(spindle_add_example name)
  cmake_parse_arguments(PARSE_ARGV 1 ex "" "" "ARGS;EXPECT")
  set(target spindle_example_${name})
  if(NOT TARGET ${target})
    add_executable(${target} ${PROJECT_SOURCE_DIR}/examples/${name}.cpp)
    target_link_libraries(${target} PRIVATE spindle_dev_settings)
  endif()
  string(JOIN "_" suffix ${ex_ARGS})
  set(test_name example.${name})
  if(suffix)
    set(test_name ${test_name}.${suffix})
  endif()
  # One regex a line; read back by check_output.cmake.
  string(JOIN "\n" expect_text ${ex_EXPECT})
  set(expect_file ${CMAKE_CURRENT_BINARY_DIR}/${test_name}.expect)
  file(WRITE ${expect_file} "${expect_text}\n")
  add_test(NAME ${test_name}
           COMMAND ${CMAKE_COMMAND} -D "PROGRAM=$<TARGET_FILE:${target}>" -D "ARGS=${ex_ARGS}"
                   -D "EXPECT_FILE=${expect_file}" -P ${SPINDLE_CHECK_OUTPUT_SCRIPT})
  set_tests_properties(${test_name} PROPERTIES TIMEOUT ${SPINDLE_TEST_TIMEOUT} LABELS example)
endfunction()
