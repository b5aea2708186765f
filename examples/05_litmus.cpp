// SPDX-License-Identifier: MIT
//
// Tutorial section 4, continued: "Atomics and Memory Ordering", as litmus
// tests.
//
// The tutorial's UsizePair is one instance of a pattern with a name. Litmus
// tests are the smallest programs that tell memory orderings apart: two
// threads, two shared locations x and y (both 0 at first), two accesses each,
// and the question "which values can the two loads return?". Rust's
// Ordering::{Relaxed, Release, Acquire, SeqCst} are C++'s memory_order_*
// under other names, and the C++ memory model (which Rust adopted) answers
// the question for each ordering:
//
//   MP  (message passing)  T0: x = 1; y = 1     T1: r1 = y; r2 = x
//       r1 = 1, r2 = 0 (the flag without the message) is allowed only with
//       relaxed; release/acquire forbids it. This is the tutorial's
//       UsizePair: atom is the flag y, norm the message x.
//   SB  (store buffering)  T0: x = 1; r1 = y    T1: y = 1; r2 = x
//       r1 = 0, r2 = 0 (each thread misses the other's store) is forbidden
//       only by seq_cst. Release/acquire does not order a store before a
//       later load of another location.
//   LB  (load buffering)   T0: r1 = x; y = 1    T1: r2 = y; x = 1
//       r1 = 1, r2 = 1 (each load sees the other thread's later store) is
//       allowed with relaxed, forbidden with release/acquire and seq_cst.
//
// Each test runs many times per ordering, on fresh locations each time. The
// two threads run on two different CPUs (pinned, on Linux) and start each
// iteration at the same moment (see StartLine), so that their accesses
// overlap in time: without that, the outcomes that need overlap hardly ever
// show, whatever the ordering allows. What the machine shows is a
// subset of what the model allows: an allowed outcome may never appear (x86
// never shows MP's or LB's), but a forbidden one must never appear, and the
// example exits non-zero if one does.
//
// In C++ as in Rust, these locations must be atomics: the same test on plain
// ints is a data race, undefined behaviour, with no outcomes to speak of.
//
// Usage: spindle_example_05_litmus [iterations]   (default: 100000)

#include <spindle/thread.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace {

#if defined(__x86_64__) || defined(__i386__)
constexpr bool on_x86 = true;
#else
constexpr bool on_x86 = false;
#endif

// Unoptimised GCC falls back to seq_cst for an atomic access whose ordering
// it cannot see as a constant, and libstdc++ hands the ordering to the
// builtin through a function parameter: in such a build every access below
// is seq_cst, whatever it asks for. Clang, and optimised GCC, honour it.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__)
constexpr bool all_seq_cst = true;
#else
constexpr bool all_seq_cst = false;
#endif

enum class Ordering { relaxed, acq_rel, seq_cst };
constexpr std::array<Ordering, 3> orderings = {Ordering::relaxed, Ordering::acq_rel, Ordering::seq_cst};

const char* name(Ordering o) {
  switch (o) {
    case Ordering::relaxed:
      return "relaxed";
    case Ordering::acq_rel:
      return "acquire/release";
    case Ordering::seq_cst:
      return "seq_cst";
  }
  return "?";
}

constexpr std::memory_order store_order(Ordering o) {
  return o == Ordering::relaxed   ? std::memory_order_relaxed
         : o == Ordering::acq_rel ? std::memory_order_release
                                  : std::memory_order_seq_cst;
}
constexpr std::memory_order load_order(Ordering o) {
  return o == Ordering::relaxed   ? std::memory_order_relaxed
         : o == Ordering::acq_rel ? std::memory_order_acquire
                                  : std::memory_order_seq_cst;
}

// The CPUs the two threads of a test run on, or -1: unpinned. Set by main
// before any test thread starts.
std::array<int, 2> pinned_cpus = {-1, -1};

// Litmus tools pin the two threads to two different CPUs: two threads left
// to the scheduler on a busy machine may share one CPU for a whole run, and
// then they never overlap. Linux only; elsewhere the threads float.
std::array<int, 2> choose_cpus() {
  std::array<int, 2> chosen = {-1, -1};
#if defined(__linux__)
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    std::size_t found = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && found < chosen.size(); ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) {
        chosen.at(found++) = cpu;
      }
    }
    if (found < chosen.size()) {
      chosen = {-1, -1};  // one CPU: nothing to pin to
    }
  }
#endif
  return chosen;
}

// Pins the calling thread to pinned_cpus[which], if there is one.
void pin_this_thread(std::size_t which) {
#if defined(__linux__)
  if (const int cpu = pinned_cpus.at(which); cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);  // best effort
  }
#else
  (void)which;
#endif
}

// One location, alone on its cache line.
struct alignas(64) Cell {
  std::atomic<int> v{0};
};

// The two threads start each iteration together. Spinning on each other's
// iteration counters is not enough: the thread that arrives last sees the
// other's counter at once and runs first, while the other still waits for
// the news, and the two settle into a stagger in which their accesses never
// overlap. So thread 0, once thread 1 is ready, names a start time a little
// ahead on the steady clock, and both spin until it comes: they leave within
// a clock reading of each other. Each wait yields after many fruitless spins
// so that a busy machine (or a single core) does not stall it.
class StartLine {
 public:
  // Thread 0, before iteration `iteration` (counted from 1).
  void lead(std::uint64_t iteration) noexcept {
    wait_for(ready_.v, iteration);
    const std::int64_t start = now_ns() + lead_time_ns;
    start_at_.v.store(start, std::memory_order_relaxed);
    go_.v.store(iteration, std::memory_order_release);  // publishes start_at_
    wait_until(start);
  }

  // Thread 1, before iteration `iteration`.
  void follow(std::uint64_t iteration) noexcept {
    ready_.v.store(iteration, std::memory_order_release);
    wait_for(go_.v, iteration);
    wait_until(start_at_.v.load(std::memory_order_relaxed));
  }

 private:
  static constexpr std::int64_t lead_time_ns = 500;

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static void wait_for(const std::atomic<std::uint64_t>& counter, std::uint64_t iteration) noexcept {
    int spins = 0;
    while (counter.load(std::memory_order_acquire) < iteration) {
      if (++spins > 2000) {
        spindle::thread::yield_now();
        spins = 0;
      }
    }
  }

  static void wait_until(std::int64_t start) noexcept {
    while (now_ns() < start) {
    }
  }

  template <class T>
  struct alignas(64) Padded {
    std::atomic<T> v{0};
  };
  Padded<std::uint64_t> ready_;     // thread 1 has reached this iteration
  Padded<std::uint64_t> go_;        // thread 0 has set start_at_ for this iteration
  Padded<std::int64_t> start_at_;  // when this iteration starts
};

// How often each outcome (r1, r2) in {0,1}^2 was observed.
struct Outcomes {
  std::array<std::uint64_t, 4> count{};  // index r1 * 2 + r2
};

// Runs `iterations` rounds of a test whose threads are T0(x, y, r1, r2) and
// T1(x, y, r1, r2), each writing its own results.
template <class T0, class T1>
Outcomes run_test(std::size_t iterations, T0 t0, T1 t1) {
  // Fresh, zeroed locations for every iteration: nothing to reset between
  // rounds, so nothing to synchronise but the start.
  const std::unique_ptr<Cell[]> x(new Cell[iterations]);
  const std::unique_ptr<Cell[]> y(new Cell[iterations]);
  std::vector<unsigned char> r1(iterations);
  std::vector<unsigned char> r2(iterations);
  StartLine start_line;

  spindle::thread::scope([&](spindle::thread::Scope& s) {
    auto first = s.spawn([&] {
      pin_this_thread(0);
      for (std::size_t i = 0; i < iterations; ++i) {
        start_line.lead(i + 1);
        t0(x[i].v, y[i].v, r1[i], r2[i]);
      }
    });
    auto second = s.spawn([&] {
      pin_this_thread(1);
      for (std::size_t i = 0; i < iterations; ++i) {
        start_line.follow(i + 1);
        t1(x[i].v, y[i].v, r1[i], r2[i]);
      }
    });
    first.join().unwrap();
    second.join().unwrap();
  });

  Outcomes out;
  for (std::size_t i = 0; i < iterations; ++i) {
    ++out.count.at(static_cast<std::size_t>(r1[i] * 2 + r2[i]));
  }
  return out;
}

using Reg = unsigned char;

template <Ordering O>
Outcomes message_passing(std::size_t iterations) {
  return run_test(
      iterations,
      [](std::atomic<int>& x, std::atomic<int>& y, Reg&, Reg&) {
        x.store(1, std::memory_order_relaxed);  // the message: ordered only by y's ordering
        y.store(1, store_order(O));             // the flag
      },
      [](std::atomic<int>& x, std::atomic<int>& y, Reg& r1, Reg& r2) {
        r1 = static_cast<Reg>(y.load(load_order(O)));
        r2 = static_cast<Reg>(x.load(std::memory_order_relaxed));
      });
}

template <Ordering O>
Outcomes store_buffering(std::size_t iterations) {
  return run_test(
      iterations,
      [](std::atomic<int>& x, std::atomic<int>& y, Reg& r1, Reg&) {
        x.store(1, store_order(O));
        r1 = static_cast<Reg>(y.load(load_order(O)));
      },
      [](std::atomic<int>& x, std::atomic<int>& y, Reg&, Reg& r2) {
        y.store(1, store_order(O));
        r2 = static_cast<Reg>(x.load(load_order(O)));
      });
}

template <Ordering O>
Outcomes load_buffering(std::size_t iterations) {
  return run_test(
      iterations,
      [](std::atomic<int>& x, std::atomic<int>& y, Reg& r1, Reg&) {
        r1 = static_cast<Reg>(x.load(load_order(O)));
        y.store(1, store_order(O));
      },
      [](std::atomic<int>& x, std::atomic<int>& y, Reg&, Reg& r2) {
        r2 = static_cast<Reg>(y.load(load_order(O)));
        x.store(1, store_order(O));
      });
}

// One litmus test: its name, its code, the outcome the orderings disagree
// on and which orderings allow it (the other three outcomes are allowed by
// all), and the test compiled for each ordering.
struct Test {
  const char* title;
  const char* code;
  int special;  // the outcome index (r1 * 2 + r2) the orderings disagree on
  std::array<bool, 3> special_allowed;  // per ordering: relaxed, acq_rel, seq_cst
  const char* special_meaning;
  std::array<Outcomes (*)(std::size_t), 3> run;  // per ordering
};

// Prints one ordering's histogram; returns false if a forbidden outcome
// appeared.
bool report(const Test& test, std::size_t k, const Outcomes& out) {
  std::cout << "  " << name(orderings.at(k)) << ":\n";
  bool ok = true;
  for (int r1 = 0; r1 < 2; ++r1) {
    for (int r2 = 0; r2 < 2; ++r2) {
      const int index = r1 * 2 + r2;
      const bool allowed = index != test.special || test.special_allowed.at(k);
      const std::uint64_t seen = out.count.at(static_cast<std::size_t>(index));
      std::cout << "    r1=" << r1 << " r2=" << r2 << "  " << std::setw(9) << seen << "  "
                << (allowed ? "allowed  " : "forbidden");
      if (index == test.special) {
        std::cout << "  <- " << test.special_meaning;
      }
      if (!allowed && seen != 0) {
        std::cout << "  MISMATCH: a forbidden outcome was observed";
        ok = false;
      }
      std::cout << '\n';
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t iterations = 100'000;
  if (argc > 1) {
    char* end = nullptr;
    const unsigned long long parsed = std::strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || parsed == 0) {
      std::cerr << "usage: " << argv[0] << " [iterations]\n";
      return 2;
    }
    iterations = static_cast<std::size_t>(parsed);
  }

  const std::array<Test, 3> tests = {{
      {"Message passing (MP)",
       "T0: x = 1 (relaxed); y = 1      T1: r1 = y; r2 = x (relaxed)",
       1 * 2 + 0,
       {true, false, false},
       "flag without message",
       {&message_passing<Ordering::relaxed>, &message_passing<Ordering::acq_rel>,
        &message_passing<Ordering::seq_cst>}},
      {"Store buffering (SB)",
       "T0: x = 1; r1 = y               T1: y = 1; r2 = x",
       0 * 2 + 0,
       {true, true, false},
       "both loads missed both stores",
       {&store_buffering<Ordering::relaxed>, &store_buffering<Ordering::acq_rel>,
        &store_buffering<Ordering::seq_cst>}},
      {"Load buffering (LB)",
       "T0: r1 = x; y = 1               T1: r2 = y; x = 1",
       1 * 2 + 1,
       {true, false, false},
       "both loads saw the later stores",
       {&load_buffering<Ordering::relaxed>, &load_buffering<Ordering::acq_rel>,
        &load_buffering<Ordering::seq_cst>}},
  }};

  pinned_cpus = choose_cpus();
  std::cout << "Litmus tests, " << iterations << " iterations per ordering; x = y = 0 at the start\n";
  if (pinned_cpus[0] >= 0) {
    std::cout << "The two threads of each test run pinned to CPUs " << pinned_cpus[0] << " and " << pinned_cpus[1]
              << '\n';
  } else {
    std::cout << "The two threads of each test run wherever the scheduler puts them\n";
  }
  bool ok = true;
  std::array<std::uint64_t, 3> sb_both_zero{};
  for (std::size_t t = 0; t < tests.size(); ++t) {
    const Test& test = tests.at(t);
    std::cout << "== " << test.title << " ==\n  " << test.code << '\n';
    for (std::size_t k = 0; k < orderings.size(); ++k) {
      const Outcomes out = test.run.at(k)(iterations);
      ok = report(test, k, out) && ok;
      if (t == 1) {
        sb_both_zero.at(k) = out.count[0];
      }
    }
  }

  std::cout << "== Store buffering on this machine ==\n";
  std::cout << "  r1=0 r2=0 observed: " << sb_both_zero[0] << " (relaxed), " << sb_both_zero[1]
            << " (acquire/release), " << sb_both_zero[2] << " (seq_cst)\n";
  if (on_x86) {
    std::cout << "  x86 lets a store wait in the core's store buffer while a later load of another\n"
                 "  location goes ahead, so SB shows both zero under relaxed and acquire/release (given\n"
                 "  enough overlap between the threads); never under seq_cst, whose stores are XCHG or\n"
                 "  MOV + MFENCE and drain the buffer. Store-then-load is the only reordering x86 makes,\n"
                 "  which is why MP's and LB's relaxed outcomes, allowed by the model, do not show here.\n";
  } else {
    std::cout << "  Not x86: ARM and POWER reorder more than x86 does, so MP's and even LB's relaxed\n"
                 "  outcomes may appear here as well as SB's.\n";
  }
  if (all_seq_cst) {
    std::cout << "  But this build is GCC without optimisation, which makes every atomic access here\n"
                 "  seq_cst (it cannot see the ordering argument as a constant), so none of those\n"
                 "  reorderings can show in this build. An optimised build (the examples preset) shows them.\n";
  }

  if (!ok) {
    std::cout << "MISMATCH: a forbidden outcome was observed\n";
    return 1;
  }
  std::cout << "No forbidden outcome observed\n";
  return 0;
}
