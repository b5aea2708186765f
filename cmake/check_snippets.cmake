# SPDX-License-Identifier: MIT
#
# cmake -D DOC=<markdown file> -D ROOT=<repository root> -P check_snippets.cmake
#
# Checks the code blocks of one page, DOC, as tests/docs/check_doc_blocks.cmake
# checks every page: each block after a line "<!-- snippet: <path> -->" must
# appear, character for character, in the file <path> (relative to ROOT), so
# the snippets in the docs are copies of code that compiles and runs; and no
# C++ block goes without such a marker or a "<!-- compile: ... -->" one.
cmake_minimum_required(VERSION 3.21)

file(RELATIVE_PATH DOCS "${ROOT}" "${DOC}")
include("${CMAKE_CURRENT_LIST_DIR}/../tests/docs/check_doc_blocks.cmake")
