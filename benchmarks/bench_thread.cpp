// SPDX-License-Identifier: MIT
//
// Spawning and joining one thread: spindle::thread::spawn beside std::thread
// and std::jthread, in one run. Creating the OS thread is the floor every row
// shares; the goal is spindle within 10% of std::thread.

#include <benchmark/benchmark.h>

#include <spindle/thread.hpp>

#include <thread>

namespace {

// One iteration: start a thread that returns a value, wait for it, use it.

void BM_std_thread(benchmark::State& state) {
  for (auto _ : state) {
    int out = 0;
    std::thread t([&out] { out = 17; });
    t.join();
    benchmark::DoNotOptimize(out);
  }
}

void BM_std_jthread(benchmark::State& state) {
  for (auto _ : state) {
    int out = 0;
    {
      std::jthread t([&out] { out = 17; });
    }  // joins here
    benchmark::DoNotOptimize(out);
  }
}

void BM_spindle_spawn(benchmark::State& state) {
  for (auto _ : state) {
    auto handle = spindle::thread::spawn([] { return 17; });
    int out = handle.join().unwrap();
    benchmark::DoNotOptimize(out);
  }
}

void BM_spindle_builder_named(benchmark::State& state) {
  const spindle::thread::Builder builder = spindle::thread::Builder().name("bench-worker");
  for (auto _ : state) {
    auto handle = builder.spawn([] { return 17; }).unwrap();
    int out = handle.join().unwrap();
    benchmark::DoNotOptimize(out);
  }
}

void BM_spindle_scope(benchmark::State& state) {
  for (auto _ : state) {
    int out = 0;
    spindle::thread::scope([&out](spindle::thread::Scope& s) { (void)s.spawn([&out] { out = 17; }); });
    benchmark::DoNotOptimize(out);
  }
}

// Real time: the work happens on the spawned thread, not on the one timed.
BENCHMARK(BM_std_thread)->UseRealTime();
BENCHMARK(BM_std_jthread)->UseRealTime();
BENCHMARK(BM_spindle_spawn)->UseRealTime();
BENCHMARK(BM_spindle_builder_named)->UseRealTime();
BENCHMARK(BM_spindle_scope)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
