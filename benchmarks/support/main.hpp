// SPDX-License-Identifier: MIT
#pragma once

// The end of every Google Benchmark binary's main(): parse the command
// line, run what was registered, report.

#include <benchmark/benchmark.h>

namespace spindle_bench {

inline int run_benchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace spindle_bench
