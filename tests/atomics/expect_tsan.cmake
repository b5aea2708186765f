# SPDX-License-Identifier: MIT
#
# cmake -D PROGRAM=<exe> -D EXPECT=race|clean -P expect_tsan.cmake
#
# Runs a ThreadSanitizer-instrumented PROGRAM and checks what TSan said:
#   race:  its output must hold a "ThreadSanitizer: data race" report (the
#          exit code does not matter: TSan makes it non-zero after a report);
#   clean: it must exit 0 with no ThreadSanitizer report at all.

cmake_minimum_required(VERSION 3.21)

if(NOT PROGRAM OR NOT EXPECT MATCHES "^(race|clean)$")
  message(FATAL_ERROR "expect_tsan.cmake needs -D PROGRAM=... and -D EXPECT=race|clean")
endif()

# Report every race, keep going, and exit 66 after reports; whatever the
# caller's environment asked for.
set(ENV{TSAN_OPTIONS} "halt_on_error=0:exitcode=66")
execute_process(
  COMMAND "${PROGRAM}"
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
message("${out}${err}")

if(err MATCHES "ThreadSanitizer: unexpected memory mapping|FATAL: ThreadSanitizer")
  message(FATAL_ERROR "ThreadSanitizer could not run here (see README.md: setarch -R, or vm.mmap_rnd_bits)")
endif()

if(EXPECT STREQUAL "race")
  if(NOT err MATCHES "WARNING: ThreadSanitizer: data race")
    message(FATAL_ERROR "expected a ThreadSanitizer data race report; there was none (exit code '${rc}')")
  endif()
  message("As expected: ThreadSanitizer reported a data race")
else()
  if(err MATCHES "ThreadSanitizer")
    message(FATAL_ERROR "expected no ThreadSanitizer report; there was one")
  endif()
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "exited with '${rc}', not 0")
  endif()
  message("As expected: no ThreadSanitizer report")
endif()
