# SPDX-License-Identifier: MIT
#
# cmake -D CXX=<compiler> -D INCLUDE_DIR=<dir> -D SOURCE=<file.cpp> [-D SHOULD_COMPILE=ON]
#       [-D MAX_LINES=<n>] -P check_compile.cmake
#
# Compiles SOURCE with `CXX -std=c++20 -fsyntax-only -I INCLUDE_DIR` and
# checks the result.
#
# A misuse program (the default) starts with a line
#     // expect: <text>
# (or `// expect: <text> || <other text>` when the compilers word it
# differently: any one of them will do). The compiler must then
#   1. fail (non-zero exit),
#   2. print <text> somewhere, and
#   3. print it on the FIRST line that holds "error:": the first error a
#      user reads names the violation, not a consequence of it, and
#   4. print no more than MAX_LINES lines in all (default 15): the
#      violation, where it happened, and little else; not a page of
#      follow-on errors and instantiation notes to dig it out of.
#
# With SHOULD_COMPILE=ON the program must compile without any error.

cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS CXX INCLUDE_DIR SOURCE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_compile.cmake needs -D ${var}=...")
  endif()
endforeach()
if(NOT EXISTS "${SOURCE}")
  message(FATAL_ERROR "no such source file: ${SOURCE}")
endif()
if(NOT DEFINED MAX_LINES OR "${MAX_LINES}" STREQUAL "")
  set(MAX_LINES 15)
endif()
if(NOT MAX_LINES MATCHES "^[0-9]+$")
  message(FATAL_ERROR "MAX_LINES must be a number of lines; it is '${MAX_LINES}'")
endif()

# The expected text, from the first line.
set(expected)
if(NOT SHOULD_COMPILE)
  file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
  if(NOT first_line MATCHES "^// expect: (.+)$")
    message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <diagnostic text>`; it is:\n  ${first_line}")
  endif()
  string(STRIP "${CMAKE_MATCH_1}" expect_line)
  string(REPLACE " || " ";" expected "${expect_line}")
endif()

# Plain ASCII quotes, no colours: the same text whatever the caller's
# locale or terminal.
set(ENV{LC_ALL} C)
set(ENV{LANG} C)
unset(ENV{GCC_COLORS})
set(command "${CXX}" -std=c++20 -fsyntax-only -fdiagnostics-color=never "-I${INCLUDE_DIR}" "${SOURCE}")
execute_process(
  COMMAND ${command}
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
set(output "${out}${err}")
string(REPLACE ";" " " shown_command "${command}")

# Its length in lines, as `wc -l` counts them (plus an unterminated last
# line), by counting the newlines: the output is full of ';', which a CMake
# list would split on.
string(LENGTH "${output}" output_chars)
string(REPLACE "\n" "" output_without_newlines "${output}")
string(LENGTH "${output_without_newlines}" output_chars_without_newlines)
math(EXPR output_lines "${output_chars} - ${output_chars_without_newlines}")
if(NOT output STREQUAL "" AND NOT output MATCHES "\n$")
  math(EXPR output_lines "${output_lines} + 1")
endif()

if(SHOULD_COMPILE)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "this correct program must compile, but the compiler said (exit code '${rc}'):\n"
                        "  ${shown_command}\n${output}")
  endif()
  message("As expected: the program compiles")
  return()
endif()

# The first line that holds "error:" (found by position: the output is
# full of ';' and brackets, which a CMake list would mangle).
set(first_error "")
string(FIND "${output}" "error:" at)
if(at GREATER_EQUAL 0)
  string(SUBSTRING "${output}" 0 ${at} before)
  string(FIND "${before}" "\n" line_start REVERSE)
  math(EXPR line_start "${line_start} + 1")
  string(SUBSTRING "${output}" ${line_start} -1 rest)
  string(FIND "${rest}" "\n" line_end)
  string(SUBSTRING "${rest}" 0 ${line_end} first_error)
endif()

set(in_output FALSE)
set(in_first_error FALSE)
foreach(text IN LISTS expected)
  string(FIND "${output}" "${text}" found)
  if(found GREATER_EQUAL 0)
    set(in_output TRUE)
  endif()
  string(FIND "${first_error}" "${text}" found)
  if(found GREATER_EQUAL 0)
    set(in_first_error TRUE)
  endif()
endforeach()

string(REPLACE ";" "\n  or: " wanted "${expected}")
string(CONCAT report "  source:    ${SOURCE}\n  command:   ${shown_command}\n  exit code: ${rc}\n"
       "  expected:  ${wanted}\n  first error line:\n    ${first_error}\n"
       "  output:    ${output_lines} lines (at most ${MAX_LINES})\n--- compiler output ---\n${output}")

if(rc STREQUAL "0")
  message(FATAL_ERROR "this misuse COMPILED: the library no longer rejects it\n${report}")
endif()
if(NOT in_output)
  message(FATAL_ERROR "the compiler rejected the program, but its output lacks the expected text\n${report}")
endif()
if(NOT in_first_error)
  message(FATAL_ERROR "the expected text is there, but not on the first error line: "
                      "the first error does not name the violation\n${report}")
endif()
if(output_lines GREATER MAX_LINES)
  message(FATAL_ERROR "the first error names the violation, but the compiler printed ${output_lines} lines, "
                      "more than MAX_LINES=${MAX_LINES}: the one mistake must make one short diagnostic, "
                      "not a page of follow-on errors\n${report}")
endif()
message("As expected: rejected in ${output_lines} lines (at most ${MAX_LINES}), and the first error says so:\n"
        "  ${first_error}")
