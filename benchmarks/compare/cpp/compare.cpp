// SPDX-License-Identifier: MIT
//
// spindle beside its C++ peers, one run of one (workload, implementation)
// pair per process. scripts/bench runs it beside compare/rust, which defines
// the same workloads over the Rust peers: the same message counts, thread
// shapes, start gate and checks, so that a row of one language compares with
// a row of the other.
//
//   spindle_bench_compare --list                 the pairs of this build, "workload impl" a line
//   spindle_bench_compare WORKLOAD IMPL [--n N] [--cap C]
//   spindle_bench_compare --smoke                every pair once, on a few messages (a test)
//
// A run prints one line of key=value fields:
//
//   workload=spsc_unbounded impl=spindle n=1000000 threads=2 wall_ns=81234567 cpu_ns=160123456 check=ok
//
// n counts the operations (messages, round trips, lock operations); wall_ns
// is the time from the start gate's release to the end of the work, cpu_ns
// the CPU time of the whole process (all its threads) over the same span.
// Every run checks its result (sums, counts, no torn read) and a failed
// check aborts, so a broken implementation cannot post a time. Exit status:
// 0 on success, 2 on bad arguments.
//
// The workloads (n from --n, default 100000; C from --cap, default 1024):
//
//   channels  spsc_unbounded, mpsc2_unbounded, mpsc4_unbounded: 1, 2 or 4
//             producers send 1..=n between them (each a contiguous run),
//             the main thread receives all n and checks their sum and sum
//             of squares. spsc_bounded: the same, capacity C. rendezvous:
//             capacity 0. pingpong: the main thread sends i on one channel,
//             an echo thread answers i + 1 on another (both unbounded), n
//             round trips, each reply checked.
//   select    select2: two unbounded channels, one producer each (half of
//             1..=n); the main thread receives all n through one Select over
//             both receivers. A producer's channel, once it is done and
//             drained, is disconnected and is removed from the Select.
//   mpmc      mpmc2x2_unbounded, mpmc2x2_bounded (capacity C): 2 producers
//             send half of 1..=n each, then a 0; 2 consumers, each with its
//             own receiver handle, receive until the first 0 they take.
//             Both stopping means both 0s were taken, and each producer's 0
//             comes after its values, so all n were received: sum and count
//             over both consumers checked. Timed until both consumers end.
//   locks     mutex_uncontended, rwlock_write_uncontended: one thread, n
//             times lock, bump four counters, unlock. rwlock_read_uncontended:
//             one thread, n shared locks reading them. rwlock_read_heavy: 2
//             threads, n/2 operations each, every 100th a write (thread 0 at
//             i % 100 == 0, thread 1 at i % 100 == 50), the others reads.
//             rwlock_1w2r: 1 writer bumping, 2 readers reading (checking the
//             value never goes back), n/3 operations each; timed until all
//             three end. Every read checks that the four counters are equal.
//   sessions  session_pingpong: the ping-pong of support/session_ways.hpp,
//             four ways, the echo on another thread; session_inline: the
//             same with the echo called on the main thread between send and
//             receive, so nothing ever waits.
//
// spindle's select2 and mpmc2x2_* rows exist once its headers provide
// spindle::mpsc::Select (<spindle/select.hpp>, or <spindle/mpsc.hpp>) and
// spindle::mpmc::channel / sync_channel (<spindle/mpmc.hpp>): both are found
// by the feature tests below, so these rows appear with no change here.

#include <time.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <spindle/mpsc.hpp>

#if __has_include(<spindle/select.hpp>)
#include <spindle/select.hpp>
#endif

#include "support/channel_impls.hpp"
#include "support/common.hpp"
#include "support/lock_impls.hpp"
#include "support/session_ways.hpp"

// Feature test for spindle::mpsc::Select, as for spindle::mpmc in
// channel_impls.hpp: the placeholder is found only where spindle declares no
// Select of its own.
namespace spindle_bench::missing {
struct Select {};
}  // namespace spindle_bench::missing
namespace spindle::mpsc {
using namespace spindle_bench::missing;
}  // namespace spindle::mpsc

namespace {

using namespace spindle_bench;

struct Params {
  u64 n = 100'000;
  std::size_t cap = 1024;
};

struct Timing {
  u64 n = 0;  // operations done, when not exactly Params::n
  unsigned threads = 0;
  Clock::duration wall{};
  double cpu_ns = 0;
};

double process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Times the span between start() and stop(): wall clock and the process's
// CPU time.
class Stopwatch {
 public:
  void start() {
    cpu0_ = process_cpu_ns();
    t0_ = Clock::now();
  }
  Timing stop(u64 n, unsigned threads) {
    const auto t1 = Clock::now();
    const double cpu1 = process_cpu_ns();
    return Timing{n, threads, t1 - t0_, cpu1 - cpu0_};
  }

 private:
  Clock::time_point t0_{};
  double cpu0_ = 0;
};

// First value of producer p of `producers`, sending its share of 1..=n; the
// next producer starts where this one ends.
u64 first_of(u64 n, u64 p, u64 producers) { return 1 + n * p / producers; }

struct Checksum {
  u64 sum = 0;
  u64 squares = 0;  // wraps, as does the expected one
  void add(u64 v) {
    sum += v;
    squares += v * v;
  }
  static Checksum of_range(u64 n) {
    Checksum c;
    for (u64 v = 1; v <= n; ++v) {
      c.add(v);
    }
    return c;
  }
  bool operator==(const Checksum&) const = default;
};

// --- channels ------------------------------------------------------------------

template <class Make>
Timing stream(u64 n, unsigned producers, Make make) {
  auto chan = make();
  StartGate gate(producers);
  std::vector<std::thread> threads = start_producers(std::move(chan.tx), producers, n, gate);
  gate.wait_arrived();
  Stopwatch watch;
  Checksum got;
  watch.start();
  gate.open();
  for (u64 i = 0; i < n; ++i) {
    got.add(chan.rx.recv());
  }
  const Timing t = watch.stop(n, producers + 1);
  for (auto& th : threads) {
    th.join();
  }
  if (!(got == Checksum::of_range(n))) {
    die("stream: the received values are not 1..=n");
  }
  return t;
}

template <class Impl>
Timing pingpong(u64 n) {
  auto a = Impl::unbounded();
  auto b = Impl::unbounded();
  StartGate gate(1);
  std::thread echo([rx = std::move(a.rx), tx = std::move(b.tx), &gate, n]() mutable {
    gate.arrive_and_wait();
    for (u64 i = 0; i < n; ++i) {
      tx.send(rx.recv() + 1);
    }
  });
  gate.wait_arrived();
  Stopwatch watch;
  watch.start();
  gate.open();
  for (u64 i = 0; i < n; ++i) {
    a.tx.send(i);
    if (b.rx.recv() != i + 1) {
      die("pingpong: wrong reply");
    }
  }
  const Timing t = watch.stop(n, 2);
  echo.join();
  return t;
}

template <class Make>
Timing mpmc2x2(u64 n, Make make) {
  auto chan = make();
  struct alignas(64) Tally {  // one cache line per consumer
    Checksum got;
    u64 count = 0;
  };
  Tally tally[2];
  StartGate gate(4);
  std::vector<std::thread> producers;
  std::vector<std::thread> consumers;
  producers.reserve(2);
  consumers.reserve(2);
  auto tx2 = chan.tx;  // a copy: the second producer
  auto rx2 = chan.rx;  // a copy: the second consumer
  auto produce = [&gate](auto tx, u64 first, u64 last) {
    gate.arrive_and_wait();
    for (u64 v = first; v < last; ++v) {
      tx.send(v);
    }
    tx.send(0);  // this producer is done
  };
  producers.emplace_back(produce, std::move(chan.tx), first_of(n, 0, 2), first_of(n, 1, 2));
  producers.emplace_back(produce, std::move(tx2), first_of(n, 1, 2), first_of(n, 2, 2));
  auto consume = [&gate](auto rx, Tally* mine) {
    gate.arrive_and_wait();
    Tally local;
    for (u64 v; (v = rx.recv()) != 0;) {
      local.got.add(v);
      ++local.count;
    }
    *mine = local;
  };
  consumers.emplace_back(consume, std::move(chan.rx), &tally[0]);
  consumers.emplace_back(consume, std::move(rx2), &tally[1]);
  gate.wait_arrived();
  Stopwatch watch;
  watch.start();
  gate.open();
  for (auto& th : consumers) {
    th.join();
  }
  const Timing t = watch.stop(n, 4);
  for (auto& th : producers) {
    th.join();
  }
  Checksum both = tally[0].got;
  both.sum += tally[1].got.sum;
  both.squares += tally[1].got.squares;
  if (!(both == Checksum::of_range(n)) || tally[0].count + tally[1].count != n) {
    die("mpmc2x2: the received values are not 1..=n");
  }
  return t;
}

// Select is spindle::mpsc::Select; a template parameter so that nothing here
// is looked at unless have_spindle_select.
template <class Select>
Timing select2(u64 n) {
  std::vector<spindle::mpsc::Receiver<u64>> rxs;
  std::vector<std::thread> producers;
  rxs.reserve(2);
  producers.reserve(2);
  StartGate gate(2);
  for (u64 p = 0; p < 2; ++p) {
    auto chan = spindle::mpsc::channel<u64>();
    rxs.push_back(std::move(chan.second));
    producers.emplace_back(
        [tx = std::move(chan.first), &gate](u64 first, u64 last) mutable {
          gate.arrive_and_wait();
          for (u64 v = first; v < last; ++v) {
            if (!tx.send(v).is_ok()) {
              die("select2: send failed");
            }
          }
        },
        first_of(n, p, 2), first_of(n, p + 1, 2));
  }
  Select sel;
  for (auto& rx : rxs) {
    sel.recv(rx);
  }
  gate.wait_arrived();
  Stopwatch watch;
  Checksum got;
  u64 count = 0;
  unsigned removed = 0;
  watch.start();
  gate.open();
  while (count < n) {
    auto op = sel.select();
    const std::size_t i = op.index();
    auto r = op.recv(rxs[i]);
    if (r.is_ok()) {
      got.add(*r);
      ++count;
    } else {
      sel.remove(i);  // that producer is done and its channel drained
      if (++removed == rxs.size()) {
        die("select2: every channel disconnected before n values came");
      }
    }
  }
  const Timing t = watch.stop(n, 3);
  for (auto& th : producers) {
    th.join();
  }
  if (!(got == Checksum::of_range(n))) {
    die("select2: the received values are not 1..=n");
  }
  return t;
}

// --- locks ---------------------------------------------------------------------

template <class Lock>
Timing uncontended_write(u64 n) {
  Lock lock;
  Stopwatch watch;
  watch.start();
  for (u64 i = 0; i < n; ++i) {
    lock.write(bump);
  }
  const Timing t = watch.stop(n, 1);
  if (lock.read(read_sum) != n) {
    die("uncontended_write: lost writes");
  }
  return t;
}

template <class Lock>
Timing uncontended_read(u64 n) {
  Lock lock;
  lock.write(bump);
  Stopwatch watch;
  u64 sum = 0;
  watch.start();
  for (u64 i = 0; i < n; ++i) {
    sum += lock.read(read_sum);
  }
  const Timing t = watch.stop(n, 1);
  if (sum != n) {
    die("uncontended_read: wrong sum");
  }
  return t;
}

// How many of i in [0, m) have i % 100 == r.
u64 count_residue(u64 m, u64 r) { return m > r ? (m - 1 - r) / 100 + 1 : 0; }

template <class Lock>
Timing read_heavy(u64 n) {
  const u64 m = n / 2;  // per thread
  Lock lock;
  StartGate gate(2);
  u64 sums[2] = {};
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (u64 th = 0; th < 2; ++th) {
    threads.emplace_back([&lock, &gate, &sums, th, m] {
      gate.arrive_and_wait();
      const u64 write_at = 50 * th;
      u64 sum = 0;
      for (u64 i = 0; i < m; ++i) {
        if (i % 100 == write_at) {
          lock.write(bump);
        } else {
          sum += lock.read(read_sum);
        }
      }
      sums[th] = sum;
    });
  }
  gate.wait_arrived();
  Stopwatch watch;
  watch.start();
  gate.open();
  for (auto& th : threads) {
    th.join();
  }
  const Timing t = watch.stop(2 * m, 2);
  if (lock.read(read_sum) != count_residue(m, 0) + count_residue(m, 50)) {
    die("read_heavy: lost writes");
  }
  return t;
}

template <class Lock>
Timing one_writer_two_readers(u64 n) {
  const u64 m = n / 3;  // per thread
  Lock lock;
  StartGate gate(3);
  std::vector<std::thread> threads;
  threads.reserve(3);
  threads.emplace_back([&lock, &gate, m] {
    gate.arrive_and_wait();
    for (u64 i = 0; i < m; ++i) {
      lock.write(bump);
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&lock, &gate, m] {
      gate.arrive_and_wait();
      u64 last = 0;
      for (u64 i = 0; i < m; ++i) {
        const u64 v = lock.read(read_sum);
        if (v < last) {
          die("1w2r: a reader saw the value go back");
        }
        last = v;
      }
    });
  }
  gate.wait_arrived();
  Stopwatch watch;
  watch.start();
  gate.open();
  for (auto& th : threads) {
    th.join();
  }
  const Timing t = watch.stop(3 * m, 3);
  if (lock.read(read_sum) != m) {
    die("1w2r: lost writes");
  }
  return t;
}

// --- sessions ------------------------------------------------------------------

template <class Way>
Timing session_pingpong(u64 n) {
  auto ends = Way::make();
  auto client = std::move(ends.first);
  StartGate gate(1);
  std::thread echo_thread([echo = std::move(ends.second), &gate, n]() mutable {
    gate.arrive_and_wait();
    echo.run(n);
  });
  gate.wait_arrived();
  Stopwatch watch;
  watch.start();
  gate.open();
  for (u64 i = 0; i < n; ++i) {
    if (client.round_trip(i, [] {}) != i + 1) {
      die("session_pingpong: wrong reply");
    }
  }
  const Timing t = watch.stop(n, 2);
  client.finish();
  echo_thread.join();
  return t;
}

template <class Way>
Timing session_inline(u64 n) {
  auto ends = Way::make();
  auto client = std::move(ends.first);
  auto echo = std::move(ends.second);
  Stopwatch watch;
  watch.start();
  for (u64 i = 0; i < n; ++i) {
    if (client.round_trip(i, [&echo] { (void)echo.answer_one(); }) != i + 1) {
      die("session_inline: wrong reply");
    }
  }
  const Timing t = watch.stop(n, 1);
  client.finish();
  if constexpr (Way::echo_sees_finish) {
    if (echo.answer_one()) {
      die("session_inline: the echo missed the end");
    }
  }
  return t;
}

// --- the pairs -----------------------------------------------------------------

struct Pair {
  std::string workload;
  std::string impl;
  std::function<Timing(const Params&)> run;
  bool uses_cap = false;  // prints cap= too
};

std::vector<Pair>& pairs() {
  static std::vector<Pair> all;
  return all;
}

void add(const char* workload, std::string impl, std::function<Timing(const Params&)> run) {
  const bool uses_cap = std::strstr(workload, "_bounded") != nullptr;
  pairs().push_back(Pair{workload, std::move(impl), std::move(run), uses_cap});
}

// spindle's own rows are named "spindle"; a peer's "cpp/<its name>".
std::string impl_id(const char* name) {
  return std::strcmp(name, "spindle") == 0 ? std::string("spindle") : std::string("cpp/") + name;
}

template <class Impl>
void add_channel() {
  const std::string id = impl_id(Impl::name);
  add("spsc_unbounded", id, [](const Params& p) { return stream(p.n, 1, [] { return Impl::unbounded(); }); });
  add("mpsc2_unbounded", id, [](const Params& p) { return stream(p.n, 2, [] { return Impl::unbounded(); }); });
  add("mpsc4_unbounded", id, [](const Params& p) { return stream(p.n, 4, [] { return Impl::unbounded(); }); });
  if constexpr (Impl::has_bounded) {
    add("spsc_bounded", id, [](const Params& p) { return stream(p.n, 1, [&p] { return Impl::bounded(p.cap); }); });
  }
  if constexpr (Impl::has_rendezvous) {
    add("rendezvous", id, [](const Params& p) { return stream(p.n, 1, [] { return Impl::rendezvous(); }); });
  }
  add("pingpong", id, [](const Params& p) { return pingpong<Impl>(p.n); });
}

// Multi-consumer: every Impl whose receiver copies into another consumer.
template <class Impl>
void add_mpmc() {
  const std::string id = impl_id(Impl::name);
  using Rx = decltype(Impl::unbounded().rx);
  static_assert(std::is_copy_constructible_v<Rx>, "an mpmc row needs a receiver that copies");
  add("mpmc2x2_unbounded", id, [](const Params& p) { return mpmc2x2(p.n, [] { return Impl::unbounded(); }); });
  if constexpr (Impl::has_bounded) {
    add("mpmc2x2_bounded", id, [](const Params& p) { return mpmc2x2(p.n, [&p] { return Impl::bounded(p.cap); }); });
  }
}

template <template <class> class Lock>
void add_rwlock(const char* id) {
  add("rwlock_read_uncontended", id, [](const Params& p) { return uncontended_read<Lock<Data>>(p.n); });
  add("rwlock_write_uncontended", id, [](const Params& p) { return uncontended_write<Lock<Data>>(p.n); });
  add("rwlock_read_heavy", id, [](const Params& p) { return read_heavy<Lock<Data>>(p.n); });
  add("rwlock_1w2r", id, [](const Params& p) { return one_writer_two_readers<Lock<Data>>(p.n); });
}

// Select is spindle::mpsc::Select, or the placeholder: then, in a template,
// the discarded branch is not instantiated.
template <class Select>
void add_spindle_select() {
  if constexpr (!std::is_same_v<Select, missing::Select>) {
    add("select2", "spindle", [](const Params& p) { return select2<Select>(p.n); });
  }
}

// T is always u64: a template for the same reason.
template <class T>
void add_spindle_mpmc() {
  if constexpr (have_spindle_mpmc) {
    add_mpmc<SpindleMpmc<T>>();
  }
}

template <class Way>
void add_session() {
  const std::string id = std::string("spindle/") + Way::name;
  add("session_pingpong", id, [](const Params& p) { return session_pingpong<Way>(p.n); });
  if constexpr (SPINDLE_SESSION_BUFFER >= 2) {  // inline needs room for a label and a value
    add("session_inline", id, [](const Params& p) { return session_inline<Way>(p.n); });
  }
}

void register_all() {
  // In the order of scripts/bench's tables; it sorts them anyway.
  add_channel<Spindle>();
  add_channel<MutexDeque>();
#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
  add_channel<Moodycamel>();
#endif
#ifdef SPINDLE_BENCH_HAVE_TBB
  add_channel<Tbb>();
#endif
  add_spindle_select<spindle::mpsc::Select>();
  add_spindle_mpmc<u64>();
  add_mpmc<MutexDeque>();
#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
  add_mpmc<Moodycamel>();
#endif
#ifdef SPINDLE_BENCH_HAVE_TBB
  add_mpmc<Tbb>();
#endif
  add("mutex_uncontended", "spindle", [](const Params& p) { return uncontended_write<SpindleMutex<Data>>(p.n); });
  add("mutex_uncontended", "cpp/std_mutex", [](const Params& p) { return uncontended_write<StdMutex<Data>>(p.n); });
  add_rwlock<SpindleRw>("spindle");
  add_rwlock<StdShared>("cpp/std_shared_mutex");
  add_rwlock<PthreadRw>("cpp/pthread_rwlock");
  add_session<Session>();
  add_session<SessionTransport>();
  add_session<PlainU64<true>>();
  add_session<PlainU64<false>>();
}

void print(const Pair& pair, const Params& params, const Timing& t) {
  const double wall_ns = std::chrono::duration<double, std::nano>(t.wall).count();
  std::printf("workload=%s impl=%s n=%llu threads=%u wall_ns=%.0f cpu_ns=%.0f", pair.workload.c_str(),
              pair.impl.c_str(), static_cast<unsigned long long>(t.n ? t.n : params.n), t.threads, wall_ns, t.cpu_ns);
  if (pair.uses_cap) {
    std::printf(" cap=%zu", params.cap);
  }
  std::printf(" check=ok\n");
  std::fflush(stdout);
}

int usage() {
  std::fprintf(stderr,
               "usage: spindle_bench_compare --list\n"
               "       spindle_bench_compare WORKLOAD IMPL [--n N] [--cap C]\n"
               "       spindle_bench_compare --smoke\n");
  return 2;
}

bool parse_u64(const char* text, u64& out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0) {
    return false;
  }
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const auto& pair : pairs()) {
      std::printf("%s %s\n", pair.workload.c_str(), pair.impl.c_str());
    }
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "--smoke") == 0) {
    Params params;
    params.n = 1200;  // a multiple of 2, 3 and 4
    params.cap = 16;
    for (const auto& pair : pairs()) {
      print(pair, params, pair.run(params));
    }
    return 0;
  }
  if (argc < 3) {
    return usage();
  }
  Params params;
  for (int i = 3; i < argc; i += 2) {
    u64 v = 0;
    if (i + 1 >= argc || !parse_u64(argv[i + 1], v)) {
      return usage();
    }
    if (std::strcmp(argv[i], "--n") == 0) {
      params.n = v;
    } else if (std::strcmp(argv[i], "--cap") == 0) {
      params.cap = static_cast<std::size_t>(v);
    } else {
      return usage();
    }
  }
  start_one_thread();  // for the one-thread lock workloads
  for (const auto& pair : pairs()) {
    if (pair.workload == argv[1] && pair.impl == argv[2]) {
      print(pair, params, pair.run(params));
      return 0;
    }
  }
  std::fprintf(stderr, "spindle_bench_compare: no pair \"%s %s\" in this build (see --list)\n", argv[1], argv[2]);
  return 2;
}
