# SPDX-License-Identifier: MIT
#
# Builds and runs the consumer project in project/ against spindle, one way:
#   cmake -D MODE=find_package|add_subdirectory|fetchcontent|pkgconfig
#         -D SPINDLE_SOURCE_DIR=... -D SPINDLE_BUILD_DIR=... -D WORK_DIR=...
#         -D CXX_COMPILER=... [-D GENERATOR=...] [-D PKG_CONFIG=...] -P run_consumer.cmake

cmake_minimum_required(VERSION 3.21)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc STREQUAL "0")
    string(JOIN " " cmd ${ARGV})
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(project_dir "${CMAKE_CURRENT_LIST_DIR}/project")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkgconfig")
  run(${CMAKE_COMMAND} --install "${SPINDLE_BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
endif()

if(MODE STREQUAL "pkgconfig")
  # Move the installed tree: the .pc file must find its new place by itself.
  file(RENAME "${WORK_DIR}/prefix" "${WORK_DIR}/moved")
  set(ENV{PKG_CONFIG_PATH} "${WORK_DIR}/moved/share/pkgconfig")
  run(${PKG_CONFIG} --cflags --libs spindle)
  string(STRIP "${last_output}" flags)
  message(STATUS "pkg-config --cflags --libs spindle: ${flags}")
  if(NOT flags MATCHES "-I[^ ]*/moved/share/pkgconfig/\\.\\./\\.\\./include" AND NOT flags MATCHES
                                                                                   "-I[^ ]*/moved/include")
    message(FATAL_ERROR "pkg-config's include path does not point into the moved tree: ${flags}")
  endif()
  separate_arguments(flag_list UNIX_COMMAND "${flags}")
  run("${CXX_COMPILER}" -std=c++20 ${flag_list} "${project_dir}/main.cpp" -o "${WORK_DIR}/consumer")
  run("${WORK_DIR}/consumer")
  message(STATUS "${last_output}")
  return()
endif()

set(generator_args)
if(GENERATOR)
  set(generator_args -G "${GENERATOR}")
endif()
run(${CMAKE_COMMAND} -S "${project_dir}" -B "${WORK_DIR}/build" ${generator_args}
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DMODE=${MODE}" "-DSPINDLE_SOURCE_DIR=${SPINDLE_SOURCE_DIR}"
    "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
message(STATUS "${last_output}")
