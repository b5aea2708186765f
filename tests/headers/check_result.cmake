# SPDX-License-Identifier: MIT
#
# cmake -D HEADER=<spindle/...hpp> -D RESULT=<file> -D BUILD_DIR=<dir> -P check_result.cmake
#
# The test headers.<header>: passes when the build compiled the unit that
# includes only HEADER, with the project's warning flags, and the compiler
# succeeded. record_compile.cmake wrote RESULT while the build compiled that
# unit; the compile itself runs in the build, not here, so this test takes
# no time however loaded the machine is.

cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS HEADER RESULT BUILD_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_result.cmake needs -D ${var}=...")
  endif()
endforeach()

if(NOT EXISTS "${RESULT}")
  message(FATAL_ERROR "<${HEADER}> has not been compiled on its own yet: the build compiles it "
                      "(cmake --build ${BUILD_DIR}, or its target spindle_header_check)")
endif()
file(READ "${RESULT}" content)
string(FIND "${content}" "\n" newline)
if(newline LESS 0)
  message(FATAL_ERROR "${RESULT} is not a compile result (no exit code line); rebuild spindle_header_check")
endif()
string(SUBSTRING "${content}" 0 ${newline} rc)
math(EXPR newline "${newline} + 1")
string(SUBSTRING "${content}" ${newline} -1 output)

# The compiler's output as it printed it (FATAL_ERROR would reflow it).
if(output)
  message("${output}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "<${HEADER}> does not compile on its own: the compiler exited with '${rc}' (its output is above)")
endif()
message("<${HEADER}> compiles on its own")
