// SPDX-License-Identifier: MIT
//
// Tutorial section 4: "Atomics and Memory Ordering".
//
// In Rust, a UsizePair holds an AtomicUsize `atom` and a plain usize `norm`
// in an UnsafeCell (with `unsafe impl Sync` to share it). set(v) writes norm,
// then stores atom with Release; get() loads atom with Acquire, then reads
// norm. Eight readers and the writer line up on a Barrier; the writer sets
// 1..N-1 and each reader reads pairs until it has seen atom == N-1, printing
// "Reordered!" whenever atom > norm: a newer atom beside an older norm. With
// Release/Acquire that cannot happen; with Relaxed it may.
//
// In C++, `norm` cannot be a plain integer: one thread writing it while
// another reads it is a data race, and a data race is undefined behaviour
// whatever the hardware does (Rust's UnsafeCell version has the same race;
// `unsafe` only silences the compiler). So `norm` is a std::atomic accessed
// with memory_order_relaxed, which orders nothing: only the orderings on
// `atom` decide what a reader may see, exactly as the tutorial intends.
// tests/atomics/tsan_usizepair.cpp keeps the plain `norm` and lets
// ThreadSanitizer show the race. The orderings are template arguments, so
// the compiler sees them as constants.
//
// Usage: spindle_example_04_atomics [relaxed|acqrel]   (default: acqrel)

#include <spindle/sync.hpp>
#include <spindle/thread.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t reader_count = 8;
constexpr std::size_t n = 200'000;  // the writer sets 1..n-1

#if defined(__x86_64__) || defined(__i386__)
constexpr bool on_x86 = true;
#else
constexpr bool on_x86 = false;
#endif

template <std::memory_order Store, std::memory_order Load>
class UsizePair {
 public:
  // Writes norm, then atom.
  void set(std::size_t v) noexcept {
    norm_.store(v, std::memory_order_relaxed);
    atom_.store(v, Store);
  }

  // Reads atom, then norm: {atom, norm}.
  [[nodiscard]] std::pair<std::size_t, std::size_t> get() const noexcept {
    const std::size_t atom = atom_.load(Load);
    const std::size_t norm = norm_.load(std::memory_order_relaxed);
    return {atom, norm};
  }

 private:
  std::atomic<std::size_t> atom_{0};
  std::atomic<std::size_t> norm_{0};  // Rust: UnsafeCell<usize>; see above
};

struct ReaderReport {
  std::uint64_t reads = 0;
  std::uint64_t reordered = 0;
  std::size_t atom = 0;  // the first reordering this reader saw, if any
  std::size_t norm = 0;
};

// Runs the tutorial's experiment and returns what the readers saw.
template <std::memory_order Store, std::memory_order Load>
std::vector<ReaderReport> run() {
  UsizePair<Store, Load> pair;
  spindle::sync::Barrier barrier(reader_count + 1);
  std::vector<ReaderReport> reports;

  spindle::thread::scope([&](spindle::thread::Scope& s) {
    std::vector<spindle::thread::ScopedJoinHandle<ReaderReport>> readers;
    for (std::size_t i = 0; i < reader_count; ++i) {
      readers.push_back(s.spawn([&] {
        barrier.wait();
        ReaderReport report;
        std::size_t v = 0;
        while (v < n - 1) {
          const auto [atom, norm] = pair.get();
          ++report.reads;
          if (atom > norm) {  // a newer atom beside an older norm
            if (report.reordered++ == 0) {
              report.atom = atom;
              report.norm = norm;
            }
          }
          v = atom;
        }
        return report;
      }));
    }

    barrier.wait();  // the writer is the ninth thread at the starting line
    for (std::size_t v = 1; v < n; ++v) {
      pair.set(v);
    }

    for (auto& reader : readers) {
      reports.push_back(reader.join().unwrap());
    }
  });
  return reports;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "acqrel";
  std::vector<ReaderReport> reports;
  if (mode == "relaxed") {
    std::cout << "Ordering: relaxed (atom stored relaxed, loaded relaxed)\n";
    reports = run<std::memory_order_relaxed, std::memory_order_relaxed>();
  } else if (mode == "acqrel") {
    std::cout << "Ordering: acqrel (atom stored with release, loaded with acquire)\n";
    reports = run<std::memory_order_release, std::memory_order_acquire>();
  } else {
    std::cerr << "usage: " << argv[0] << " [relaxed|acqrel]\n";
    return 2;
  }

  std::uint64_t reads = 0;
  std::uint64_t reordered = 0;
  for (const ReaderReport& r : reports) {
    reads += r.reads;
    reordered += r.reordered;
  }
  std::cout << "Writer set 1.." << n - 1 << " while " << reader_count << " readers read " << reads << " pairs\n";
  int shown = 0;
  for (const ReaderReport& r : reports) {
    if (r.reordered > 0 && shown++ < 4) {
      std::cout << "Reordered! " << r.atom << " > " << r.norm << '\n';
    }
  }
  std::cout << "Reordered! observed " << reordered << " times\n";

  if (mode == "acqrel") {
    std::cout << "Release/acquire: a reader whose acquire load sees atom = v also sees the norm written\n"
                 "before the release store, so norm >= v: the count must be 0 on every machine.\n";
    if (reordered != 0) {
      std::cout << "MISMATCH: acquire/release observed a reordering\n";
      return 1;
    }
  } else if (on_x86) {
    std::cout << "This machine is x86: its total store order never reorders these two stores, nor\n"
                 "these two loads, so the count is 0 here even with relaxed. The C++ memory model\n"
                 "allows the reordering all the same, and ARM or POWER machines can show it.\n";
  } else {
    std::cout << "This machine is not x86: with relaxed, hardware such as ARM or POWER may make the\n"
                 "two stores visible, or serve the two loads, out of order, so a count above 0 is\n"
                 "allowed (and 0 is too: the model allows the reordering, it does not promise it).\n";
  }
  std::cout << "Done: " << mode << '\n';
  return 0;
}
