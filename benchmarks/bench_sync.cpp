// SPDX-License-Identifier: MIT
//
// spindle::sync beside std::shared_mutex, pthread_rwlock and std::mutex, in
// one binary, on the same workload code:
//   read_heavy/<impl>   2 threads, 99% reads / 1% writes of a 32-byte struct: ns per operation
//   w1r2/<impl>         the tutorial's shape: 1 writer and 2 readers in tight loops for a fixed
//                       time (3 threads: oversubscribes a 2-core machine): reads/s and writes/s
//   uncontended/<impl>  lock + unlock on one thread: ns per pair
// Each lock is used through a small adapter (support/lock_impls.hpp, shared
// with the comparison in compare/): read(f) runs f on a const view of the
// data under a shared lock, write(f) under an exclusive one.

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/common.hpp"
#include "support/lock_impls.hpp"
#include "support/main.hpp"

namespace {

using namespace spindle_bench;

// Threads wait behind this gate so the clock starts with all of them running.
class Gate {
 public:
  void wait() const {
    while (!open_.load(std::memory_order::acquire)) {
      std::this_thread::yield();
    }
  }
  void open() { open_.store(true, std::memory_order::release); }

 private:
  std::atomic<bool> open_{false};
};

// 2 threads x ops/2 operations, 1 write in every 100.
template <class Lock>
void BM_read_heavy(benchmark::State& state) {
  constexpr u64 ops = 2'000'000;
  for (auto _ : state) {
    Lock lock;
    Gate gate;
    std::atomic<u64> writes{0};
    auto body = [&](u64 seed) {
      gate.wait();
      u64 x = seed, mine = 0, sink = 0;
      for (u64 i = 0; i < ops / 2; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((x >> 33) % 100 == 0) {
          lock.write(bump);
          ++mine;
        } else {
          sink += lock.read(read_sum);
        }
      }
      benchmark::DoNotOptimize(sink);
      writes.fetch_add(mine);
    };
    std::thread t1(body, 1), t2(body, 2);
    const auto start = Clock::now();
    gate.open();
    t1.join();
    t2.join();
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    state.SetIterationTime(elapsed.count());
    if (lock.read(read_sum) != writes.load()) {
      die("lost writes");
    }
    state.counters["ns_per_op"] = elapsed.count() * 1e9 / static_cast<double>(ops);
  }
}

// 1 writer (+= 1) and 2 readers in tight loops for `seconds`.
template <class Lock>
void BM_w1r2(benchmark::State& state) {
  constexpr double seconds = 0.2;
  for (auto _ : state) {
    Lock lock;
    Gate gate;
    std::atomic<bool> stop{false};
    std::atomic<u64> reads{0}, writes{0};
    std::thread writer([&] {
      gate.wait();
      u64 n = 0;
      while (!stop.load(std::memory_order::relaxed)) {
        lock.write(bump);
        ++n;
      }
      writes = n;
    });
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&] {
        gate.wait();
        u64 n = 0, last = 0;
        while (!stop.load(std::memory_order::relaxed)) {
          const u64 v = lock.read(read_sum);
          if (v < last) {
            die("a reader saw the value go back");
          }
          last = v;
          ++n;
        }
        reads.fetch_add(n);
      });
    }
    const auto start = Clock::now();
    gate.open();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    writer.join();
    for (auto& t : readers) {
      t.join();
    }
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    state.SetIterationTime(elapsed.count());
    if (lock.read(read_sum) != writes.load()) {
      die("lost writes");
    }
    state.counters["reads_per_s"] = static_cast<double>(reads.load()) / elapsed.count();
    state.counters["writes_per_s"] = static_cast<double>(writes.load()) / elapsed.count();
  }
  if (std::thread::hardware_concurrency() < 3) {
    state.SetLabel("oversubscribed: 3 threads on " + std::to_string(std::thread::hardware_concurrency()) + " cores");
  }
}

template <class Lock>
void BM_uncontended_write(benchmark::State& state) {
  Lock lock;
  for (auto _ : state) {
    benchmark::DoNotOptimize(lock.write(bump));
  }
}

template <class Lock>
void BM_uncontended_read(benchmark::State& state) {
  Lock lock;
  for (auto _ : state) {
    benchmark::DoNotOptimize(lock.read(read_sum));
  }
}

#define SPINDLE_BENCH_LOCKS(bench, ...)                                                      \
  BENCHMARK(bench<SpindleRw<Data>>)->Name(#bench "/spindle_rwlock") __VA_ARGS__;            \
  BENCHMARK(bench<StdShared<Data>>)->Name(#bench "/std_shared_mutex") __VA_ARGS__;          \
  BENCHMARK(bench<PthreadRw<Data>>)->Name(#bench "/pthread_rwlock") __VA_ARGS__;            \
  BENCHMARK(bench<SpindleMutex<Data>>)->Name(#bench "/spindle_mutex") __VA_ARGS__;          \
  BENCHMARK(bench<StdMutex<Data>>)->Name(#bench "/std_mutex") __VA_ARGS__

SPINDLE_BENCH_LOCKS(BM_read_heavy, ->UseManualTime()->Unit(benchmark::kMillisecond));
SPINDLE_BENCH_LOCKS(BM_w1r2, ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3));
SPINDLE_BENCH_LOCKS(BM_uncontended_write);
SPINDLE_BENCH_LOCKS(BM_uncontended_read);

}  // namespace

int main(int argc, char** argv) {
  start_one_thread();  // the uncontended rows run on the main thread
  return spindle_bench::run_benchmarks(argc, argv);
}
