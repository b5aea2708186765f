// SPDX-License-Identifier: MIT
//
// The tutorial's UsizePair (examples/04_atomics.cpp) with `norm` a plain
// std::size_t, as Rust's UnsafeCell<usize> is: whether this program has a
// data race depends only on the orderings of the atomics around it. Built
// twice with -fsanitize=thread (see tests/CMakeLists.txt):
//
//   SPINDLE_TSAN_DEMO_RELAXED=1: every atomic access relaxed. Nothing orders
//     the writer's `norm = v` before the reader's read of it, nor that read
//     before the writer's next `norm = v + 1`: data races, undefined
//     behaviour, and ThreadSanitizer must report them.
//   SPINDLE_TSAN_DEMO_RELAXED=0: stores release, loads acquire. Each handoff
//     is a happens-before edge, so the same accesses are race-free, and
//     ThreadSanitizer must stay silent.
//
// On x86 the relaxed build almost certainly reads the right values anyway:
// the hardware keeps these stores in order, and these loads, so the
// reordering never shows. The language's memory model does not promise
// that order, and ThreadSanitizer checks the program against the model (the
// happens-before relation), not against the machine: it reports the race
// even on x86. A compiler may exploit it, and ARM or POWER hardware can show
// it, so "it works on my x86" proves nothing.
//
// One value at a time, so that the acquire/release build is race-free: the
// writer writes norm, then publishes atom; the reader waits until atom shows
// the new value, reads norm, then acknowledges through `ack`; the writer
// waits for the acknowledgement before it writes norm again.

#include <spindle/thread.hpp>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <memory>

#ifndef SPINDLE_TSAN_DEMO_RELAXED
#error "build with -DSPINDLE_TSAN_DEMO_RELAXED=0 or 1"
#endif

namespace {

#if SPINDLE_TSAN_DEMO_RELAXED
constexpr std::memory_order store_order = std::memory_order_relaxed;
constexpr std::memory_order load_order = std::memory_order_relaxed;
constexpr const char* mode = "relaxed";
#else
constexpr std::memory_order store_order = std::memory_order_release;
constexpr std::memory_order load_order = std::memory_order_acquire;
constexpr const char* mode = "acquire/release";
#endif

constexpr std::size_t values = 1000;

struct UsizePair {
  std::atomic<std::size_t> atom{0};
  // Plain: only the orderings on atom and ack guard it. volatile keeps every
  // access where the source puts it (an optimiser may otherwise merge the
  // relaxed build's racy stores, leaving too few accesses to catch); it does
  // not make the accesses atomic, and a race on a volatile is still a race.
  volatile std::size_t norm = 0;
  std::atomic<std::size_t> ack{0};
};

void wait_for(const std::atomic<std::size_t>& word, std::size_t v) {
  while (word.load(load_order) != v) {
    spindle::thread::yield_now();
  }
}

}  // namespace

int main() {
  // On the heap and shared, as the tutorial's Arc<UsizePair>. (Clang's TSan
  // also misses races on a local of main's stack that another thread reaches
  // through a reference, which is one more reason.)
  const auto pair = std::make_shared<UsizePair>();
  auto reader = spindle::thread::spawn([pair] {
    std::size_t mismatches = 0;
    for (std::size_t v = 1; v <= values; ++v) {
      wait_for(pair->atom, v);
      if (pair->norm != v) {  // races with the writer's `norm = v` in the relaxed build
        ++mismatches;
      }
      pair->ack.store(v, store_order);
    }
    return mismatches;
  });

  for (std::size_t v = 1; v <= values; ++v) {
    pair->norm = v;  // races with the reader's read of v - 1 in the relaxed build
    pair->atom.store(v, store_order);
    wait_for(pair->ack, v);
  }

  const std::size_t mismatches = reader.join().unwrap();
  std::printf("%s: %zu values handed over, %zu read wrong\n", mode, values, mismatches);
  // Only the acquire/release build promises the right values.
  const bool promised = SPINDLE_TSAN_DEMO_RELAXED == 0;
  return (promised && mismatches != 0) ? 1 : 0;
}
