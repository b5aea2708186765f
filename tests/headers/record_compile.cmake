# SPDX-License-Identifier: MIT
#
# cmake -P record_compile.cmake -- <compiler command line>
#
# The compiler launcher of the target spindle_header_check (one translation
# unit `#include <spindle/...>` per public header). It runs the compile it
# is given and records how it went in a file beside the unit's source:
# <dir>/<stem>.cpp gives <dir>/<stem>.result, whose first line is the
# compiler's exit code and the rest its output. The test headers.<header>
# reads that file.
#
# It always exits 0, so that a header that does not compile on its own shows
# up as one failing test, not as a broken build; it says so in the build's
# output too. A failed unit leaves no object file behind, so the next build
# compiles it again.

cmake_minimum_required(VERSION 3.21)

# The compiler's command line: everything after `--`.
set(command)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()

# The source (after -c) and the object file (after -o).
set(source)
set(object)
list(LENGTH command count)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  list(GET command ${i} argument)
  if(i LESS last AND argument MATCHES "^-[co]$")
    math(EXPR next "${i} + 1")
    list(GET command ${next} value)
    if(argument STREQUAL "-c")
      set(source "${value}")
    else()
      set(object "${value}")
    endif()
  endif()
endforeach()
if(NOT source MATCHES "\\.cpp$" OR NOT object)
  string(REPLACE ";" " " shown "${command}")
  message(FATAL_ERROR "record_compile.cmake: no `-c <file>.cpp` and `-o <file>` in: ${shown}")
endif()
get_filename_component(source "${source}" ABSOLUTE)
string(REGEX REPLACE "\\.cpp$" ".result" result_file "${source}")

execute_process(
  COMMAND ${command}
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
set(output "${out}${err}")
file(WRITE "${result_file}" "${rc}\n${output}")

if(rc STREQUAL "0")
  if(output)
    message("${output}")
  endif()
else()
  file(REMOVE "${object}")
  file(STRINGS "${source}" include_line LIMIT_COUNT 1)
  message("${include_line} does not compile on its own: a test of the header fails\n${output}")
endif()
