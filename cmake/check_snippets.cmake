# SPDX-License-Identifier: MIT
#
# cmake -D DOC=<markdown file> -D ROOT=<repository root> -P check_snippets.cmake
#
# Each code block that follows a line "<!-- snippet: <path> -->" in DOC must
# appear, character for character, in the file <path> (relative to ROOT), so
# the snippets in the docs are copies of code that compiles and runs.
cmake_minimum_required(VERSION 3.21)

file(READ "${DOC}" doc)
set(marker "<!-- snippet: ")
set(checked 0)
while(TRUE)
  string(FIND "${doc}" "${marker}" at)
  if(at EQUAL -1)
    break()
  endif()
  string(LENGTH "${marker}" marker_length)
  math(EXPR path_start "${at} + ${marker_length}")
  string(SUBSTRING "${doc}" ${path_start} -1 doc)
  string(FIND "${doc}" " -->" path_end)
  string(SUBSTRING "${doc}" 0 ${path_end} path)
  # The code block's body: from after its opening fence line to its closing fence.
  string(FIND "${doc}" "```" fence)
  string(SUBSTRING "${doc}" ${fence} -1 doc)
  string(FIND "${doc}" "\n" body_start)
  math(EXPR body_start "${body_start} + 1")
  string(SUBSTRING "${doc}" ${body_start} -1 doc)
  string(FIND "${doc}" "\n```" body_end)
  if(body_end EQUAL -1)
    message(FATAL_ERROR "${DOC}: the snippet of ${path} has no closing fence")
  endif()
  string(SUBSTRING "${doc}" 0 ${body_end} body)
  string(SUBSTRING "${doc}" ${body_end} -1 doc)

  file(READ "${ROOT}/${path}" source)
  string(FIND "${source}" "${body}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${DOC}: a snippet no longer matches ${path}; copy it again from the file:\n${body}")
  endif()
  math(EXPR checked "${checked} + 1")
endwhile()
if(checked EQUAL 0)
  message(FATAL_ERROR "${DOC}: no snippets found to check")
endif()
message(STATUS "${DOC}: ${checked} snippet(s) match their sources")
