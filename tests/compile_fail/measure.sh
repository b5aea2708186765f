#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/compile_fail/measure.sh [include-dir]
#
# For each misuse program here, compiles it with g++ and clang++
# (-std=c++20 -fsyntax-only) and prints a markdown table: how many lines of
# diagnostics come before the first line that names the violation (the
# text of the program's `// expect:` line), whether that line is the first
# error, and how many lines the compiler printed in all. A total over
# $MAX_LINES (default 15, the bound check_compile.cmake enforces) is shown
# in bold, with "> 15".
#
# Compilers: $GXX (default g++-12, else g++) and $CLANGXX (default
# clang++-14, else clang++).

set -eu
here=$(cd "$(dirname "$0")" && pwd)
include=${1:-$here/../../include}

pick() {
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1; then
      echo "$c"
      return
    fi
  done
  echo "none of: $*" >&2
  exit 1
}
gxx=${GXX:-$(pick g++-12 g++)}
clangxx=${CLANGXX:-$(pick clang++-14 clang++)}
max_lines=${MAX_LINES:-15}

LC_ALL=C
LANG=C
export LC_ALL LANG
unset GCC_COLORS || true

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure <compiler> <source> <expected texts, one a line>: prints
# "<lines before> | <first error names it> | <total>"
measure() {
  out=$tmp/out
  if "$1" -std=c++20 -fsyntax-only -fdiagnostics-color=never -I"$include" "$2" >"$out" 2>&1; then
    echo "compiled! | - | 0"
    return
  fi
  total=$(wc -l <"$out" | tr -d ' ')
  if [ "$total" -gt "$max_lines" ]; then
    total="**$total** (> $max_lines)"
  fi
  # the first line holding any of the expected texts (fixed strings)
  hit=$(grep -n -F -f "$3" "$out" | head -n 1 | cut -d: -f1)
  first_error=$(grep -n -F 'error:' "$out" | head -n 1 | cut -d: -f1)
  if [ -z "$hit" ]; then
    echo "not found | no | $total"
  elif [ "$hit" = "$first_error" ]; then
    echo "$((hit - 1)) | yes | $total"
  else
    echo "$((hit - 1)) | **no** (first error on line $first_error) | $total"
  fi
}

echo "| misuse | g++ lines before | g++ first error names it | g++ total lines | clang++ lines before | clang++ first error names it | clang++ total lines |"
echo "|---|---:|---|---:|---:|---|---:|"
for src in "$here"/*.cpp; do
  first=$(head -n 1 "$src")
  case $first in
    "// expect: "*) ;;
    *) continue ;;  # the positive control
  esac
  printf '%s\n' "${first#// expect: }" | sed 's/ || /\n/g' >"$tmp/expected"
  name=$(basename "$src" .cpp)
  echo "| $name | $(measure "$gxx" "$src" "$tmp/expected") | $(measure "$clangxx" "$src" "$tmp/expected") |"
done
echo
echo "Compilers: $("$gxx" --version | head -n 1); $("$clangxx" --version | head -n 1)."
echo "Bound on the total: $max_lines lines (check_compile.cmake's MAX_LINES)."
