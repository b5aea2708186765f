# SPDX-License-Identifier: MIT
#
# cmake -D PROGRAM=<exe> [-D ARGS=a;b] -D EXPECT_FILE=<file> -P check_output.cmake
#
# Runs PROGRAM, shows what it printed, and fails unless it exited 0 and its
# output has, in order, a line matching each regex of EXPECT_FILE (one a line).

cmake_minimum_required(VERSION 3.21)

if(NOT PROGRAM OR NOT EXPECT_FILE)
  message(FATAL_ERROR "check_output.cmake needs -D PROGRAM=... and -D EXPECT_FILE=...")
endif()

string(RANDOM LENGTH 8 tag)
get_filename_component(name "${PROGRAM}" NAME)
set(out_file "${CMAKE_CURRENT_BINARY_DIR}/${name}.${tag}.out")
execute_process(
  COMMAND "${PROGRAM}" ${ARGS}
  OUTPUT_FILE "${out_file}"
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
# Show the program's output as it printed it.
execute_process(COMMAND ${CMAKE_COMMAND} -E cat "${out_file}")
file(READ "${out_file}" out)
file(REMOVE "${out_file}")
if(err)
  message("${err}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${name} exited with '${rc}', not 0")
endif()

file(STRINGS "${EXPECT_FILE}" expectations)
string(REPLACE "\r" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(pos 0)
list(LENGTH lines nlines)
foreach(regex IN LISTS expectations)
  set(found FALSE)
  while(pos LESS nlines)
    list(GET lines ${pos} line)
    math(EXPR pos "${pos} + 1")
    if(line MATCHES "${regex}")
      set(found TRUE)
      break()
    endif()
  endwhile()
  if(NOT found)
    message(FATAL_ERROR "${name}: no line matching '${regex}' (after the lines matched before it)")
  endif()
endforeach()
