// SPDX-License-Identifier: MIT
#pragma once

// What spindle's benchmarks share: the integer and clock types, the way a
// failed check ends the run, and the start gate that holds freshly started
// threads until the clock starts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace spindle_bench {

using u64 = std::uint64_t;
using Clock = std::chrono::steady_clock;

// A check failed: a benchmark's figures mean nothing once its result is
// wrong, so it stops loudly.
[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "benchmark check failed: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

// A lock is for a program with threads. Until a process starts its first
// thread, glibc's std::mutex takes and frees its word without the lock
// prefix (about 6 ns against 13 here), which no program that shares the
// lock can do. A benchmark that measures a lock on one thread calls this
// first, so that every lock runs as it does once the program has threads.
inline void start_one_thread() {
  std::thread([] {}).join();
}

// Holds `threads` freshly started threads until the clock starts. The
// waiters spin (yielding), so the release, timed, is one store: no futex
// wake-up, which costs tens of microseconds on a VM and lets the kernel move
// the woken thread onto the waker's core.
class StartGate {
 public:
  explicit StartGate(unsigned threads = 1) : arriving_(threads) {}
  // In each held thread.
  void arrive_and_wait() noexcept {
    arriving_.fetch_sub(1, std::memory_order::relaxed);  // relaxed: only tells the timer to go on
    while (!open_.load(std::memory_order::acquire)) {    // acquire: pairs with the release in open()
      std::this_thread::yield();
    }
  }
  // In the timing thread: wait until every held thread is at the gate.
  void wait_arrived() const noexcept {
    while (arriving_.load(std::memory_order::relaxed) != 0) {  // relaxed: no data rides on it
      std::this_thread::yield();
    }
  }
  void open() noexcept { open_.store(true, std::memory_order::release); }  // release: pairs with the acquire above

 private:
  std::atomic<unsigned> arriving_;
  std::atomic<bool> open_{false};
};

}  // namespace spindle_bench
