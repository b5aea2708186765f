// SPDX-License-Identifier: MIT
//
// spindle::mpsc beside other channels, in one run, on 8-byte messages:
//
//   spsc_unbounded   one producer, one consumer, unbounded
//   mpsc2_unbounded  two producers, one consumer, unbounded
//   mpsc4_unbounded  four producers, one consumer, unbounded
//   spsc_bounded     one producer, one consumer, capacity 1024
//   rendezvous       one producer, one consumer, capacity 0
//   pingpong         a -> echo thread -> b, both unbounded; per round trip
//
// Each workload is written once, over a small adapter (Impl::unbounded(),
// bounded(n), rendezvous() give a {tx, rx}; tx.send(u64), rx.recv() -> u64;
// copying tx adds a producer), so every implementation runs the same code:
//
//   spindle      spindle::mpsc (channel / sync_channel)
//   mutex_deque  std::mutex + std::condition_variable + std::deque, below
//   moodycamel   moodycamel::BlockingConcurrentQueue, if found at build time
//                (no blocking bounded send: unbounded and pingpong rows only)
//   tbb          tbb::concurrent_bounded_queue, if found at build time
//                (set_capacity(0) is no rendezvous: no rendezvous row)
//
// One iteration moves a fixed batch of messages from freshly started threads,
// held at a start gate until the clock starts; the time is manual, from the
// release to the last receive. The received values are checksummed. The
// figure to read is the counter ns_per_msg (ns per round trip for
// pingpong). rx_cswitch_per_1k (Linux) counts the receiving thread's context
// switches per 1000 messages: near 0 when it spins, near 1000 when it sleeps
// (or yields to a thread on its own core) for every message. A label marks
// rows that run more threads than there are cores.
//
// On a machine with few cores, results depend on where the scheduler puts
// the threads: two threads that share a core hand off by context switch
// (microseconds) instead of through the cache (~100 ns), and a wake-up of a
// thread on another, idle vCPU can cost tens of microseconds. Compare rows
// of one run, repeat (--benchmark_repetitions), and keep the machine quiet.
//
// Filter a workload across implementations with e.g.
//   --benchmark_filter=spsc_unbounded/

#include <benchmark/benchmark.h>

#include <spindle/mpsc.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
#if __has_include(<concurrentqueue/moodycamel/blockingconcurrentqueue.h>)
#include <concurrentqueue/moodycamel/blockingconcurrentqueue.h>
#else
#include <concurrentqueue/blockingconcurrentqueue.h>
#endif
#endif

#ifdef SPINDLE_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

namespace {

using u64 = std::uint64_t;
using Clock = std::chrono::steady_clock;

constexpr u64 throughput_batch = 100'000;  // messages per iteration, streaming
constexpr u64 round_trip_batch = 10'000;   // rendezvous hand-offs / ping-pongs
constexpr std::size_t bounded_capacity = 1024;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_mpsc: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

template <class Tx, class Rx>
struct Channel {
  Tx tx;
  Rx rx;
};

// --- spindle --------------------------------------------------------------------

struct Spindle {
  static constexpr const char* name = "spindle";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = true;

  template <class S>
  struct Tx {
    S sender;
    void send(u64 v) {
      if (!sender.send(v).is_ok()) {
        die("spindle: send failed");
      }
    }
  };
  struct Rx {
    spindle::mpsc::Receiver<u64> receiver;
    u64 recv() {
      auto r = receiver.recv();
      if (!r.is_ok()) {
        die("spindle: recv failed");
      }
      return *r;
    }
  };

  static auto unbounded() {
    auto [tx, rx] = spindle::mpsc::channel<u64>();
    return Channel<Tx<spindle::mpsc::Sender<u64>>, Rx>{{std::move(tx)}, {std::move(rx)}};
  }
  static auto bounded(std::size_t capacity) {
    auto [tx, rx] = spindle::mpsc::sync_channel<u64>(capacity);
    return Channel<Tx<spindle::mpsc::SyncSender<u64>>, Rx>{{std::move(tx)}, {std::move(rx)}};
  }
  static auto rendezvous() { return bounded(0); }
};

// --- the mutex + condition variable + deque baseline ----------------------------

// What one writes without a concurrency library. capacity: unbounded_cap for
// an unbounded channel, 0 for a rendezvous (the sender waits until its value
// has been taken), otherwise send waits while `capacity` values are queued.
class MutexDequeChannel {
 public:
  static constexpr std::size_t unbounded_cap = std::numeric_limits<std::size_t>::max();

  explicit MutexDequeChannel(std::size_t capacity) : capacity_(capacity) {}

  void send(u64 v) {
    std::unique_lock lock(mutex_);
    if (capacity_ == 0) {
      const u64 ticket = pushed_++;
      queue_.push_back(v);
      lock.unlock();
      not_empty_.notify_one();
      lock.lock();
      taken_.wait(lock, [&] { return popped_ > ticket; });
      return;
    }
    if (capacity_ != unbounded_cap) {
      not_full_.wait(lock, [&] { return queue_.size() < capacity_; });
    }
    ++pushed_;
    queue_.push_back(v);
    lock.unlock();
    not_empty_.notify_one();
  }

  u64 recv() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    const u64 v = queue_.front();
    queue_.pop_front();
    ++popped_;
    lock.unlock();
    if (capacity_ == 0) {
      taken_.notify_all();  // senders wait on different tickets
    } else if (capacity_ != unbounded_cap) {
      not_full_.notify_one();
    }
    return v;
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable taken_;
  std::deque<u64> queue_;
  u64 pushed_ = 0;
  u64 popped_ = 0;
};

struct MutexDeque {
  static constexpr const char* name = "mutex_deque";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = true;

  struct Tx {
    std::shared_ptr<MutexDequeChannel> chan;
    void send(u64 v) { chan->send(v); }
  };
  struct Rx {
    std::shared_ptr<MutexDequeChannel> chan;
    u64 recv() { return chan->recv(); }
  };

  static Channel<Tx, Rx> make(std::size_t capacity) {
    auto chan = std::make_shared<MutexDequeChannel>(capacity);
    return {{chan}, {chan}};
  }
  static auto unbounded() { return make(MutexDequeChannel::unbounded_cap); }
  static auto bounded(std::size_t capacity) { return make(capacity); }
  static auto rendezvous() { return make(0); }
};

// --- moodycamel::BlockingConcurrentQueue ------------------------------------------

#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
// Plain enqueue / wait_dequeue: an implicit producer per sending thread, no
// tokens.
struct Moodycamel {
  static constexpr const char* name = "moodycamel";
  static constexpr bool has_bounded = false;
  static constexpr bool has_rendezvous = false;

  using Queue = moodycamel::BlockingConcurrentQueue<u64>;
  struct Tx {
    std::shared_ptr<Queue> queue;
    void send(u64 v) {
      if (!queue->enqueue(v)) {
        die("moodycamel: enqueue failed");
      }
    }
  };
  struct Rx {
    std::shared_ptr<Queue> queue;
    u64 recv() {
      u64 v = 0;
      queue->wait_dequeue(v);
      return v;
    }
  };

  static Channel<Tx, Rx> unbounded() {
    auto queue = std::make_shared<Queue>();
    return {{queue}, {queue}};
  }
};
#endif

// --- tbb::concurrent_bounded_queue ------------------------------------------------

#ifdef SPINDLE_BENCH_HAVE_TBB
struct Tbb {
  static constexpr const char* name = "tbb";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = false;

  using Queue = tbb::concurrent_bounded_queue<u64>;
  struct Tx {
    std::shared_ptr<Queue> queue;
    void send(u64 v) { queue->push(v); }
  };
  struct Rx {
    std::shared_ptr<Queue> queue;
    u64 recv() {
      u64 v = 0;
      queue->pop(v);
      return v;
    }
  };

  static Channel<Tx, Rx> unbounded() {
    auto queue = std::make_shared<Queue>();
    return {{queue}, {queue}};
  }
  static Channel<Tx, Rx> bounded(std::size_t capacity) {
    auto queue = std::make_shared<Queue>();
    queue->set_capacity(static_cast<std::ptrdiff_t>(capacity));
    return {{queue}, {queue}};
  }
};
#endif

// --- the workloads ----------------------------------------------------------------

// Holds freshly started threads until the clock starts. The waiters spin
// (yielding), so the release, timed, is one store: no futex wake-up, which
// costs tens of microseconds on a VM and lets the kernel move the woken
// thread onto the waker's core.
class StartGate {
 public:
  explicit StartGate(unsigned threads) : arriving_(threads) {}
  // In each held thread.
  void arrive_and_wait() noexcept {
    arriving_.fetch_sub(1, std::memory_order::relaxed);
    while (!open_.load(std::memory_order::acquire)) {
      std::this_thread::yield();
    }
  }
  // In the timing thread: wait until every held thread is at the gate.
  void wait_arrived() const noexcept {
    while (arriving_.load(std::memory_order::relaxed) != 0) {
      std::this_thread::yield();
    }
  }
  void open() noexcept { open_.store(true, std::memory_order::release); }

 private:
  std::atomic<unsigned> arriving_;
  std::atomic<bool> open_{false};
};

// The receiving thread's context switches (voluntary: it slept; involuntary:
// it yielded or was preempted), to tell spinning from sleeping. Linux only.
long context_switches() noexcept {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) == 0) {
    return usage.ru_nvcsw + usage.ru_nivcsw;
  }
#endif
  return 0;
}

void label_oversubscription(benchmark::State& state, unsigned threads) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores != 0 && threads > cores) {
    state.SetLabel("oversubscribed: " + std::to_string(threads) + " threads on " + std::to_string(cores) + " cores");
  }
}

void report(benchmark::State& state, double seconds, [[maybe_unused]] long switches, u64 per_iteration) {
  const double messages = static_cast<double>(per_iteration) * static_cast<double>(state.iterations());
  if (messages > 0) {
    state.counters["ns_per_msg"] = seconds * 1e9 / messages;
#if defined(__linux__) && defined(RUSAGE_THREAD)
    state.counters["rx_cswitch_per_1k"] = static_cast<double>(switches) * 1000 / messages;
#endif
  }
}

// `producers` threads send the values 1..n between them (each a contiguous
// run, in order); the benchmark's thread receives all n.
template <class Make>
void stream(benchmark::State& state, unsigned producers, u64 n, Make make) {
  label_oversubscription(state, producers + 1);
  u64 expect_sum = 0;
  u64 expect_squares = 0;
  for (u64 v = 1; v <= n; ++v) {
    expect_sum += v;
    expect_squares += v * v;  // wraps; as does the receiver's
  }
  double seconds = 0;
  long switches = 0;
  for (auto _ : state) {
    auto chan = make();
    using Tx = decltype(chan.tx);
    std::vector<Tx> txs;
    txs.reserve(producers);
    txs.push_back(std::move(chan.tx));
    for (unsigned p = 1; p < producers; ++p) {
      txs.push_back(txs.front());  // a copy: one more producer
    }

    StartGate gate(producers);
    std::vector<std::thread> threads;
    threads.reserve(producers);
    for (unsigned p = 0; p < producers; ++p) {
      const u64 first = 1 + n * p / producers;
      const u64 last = 1 + n * (p + 1) / producers;
      threads.emplace_back([tx = std::move(txs[p]), &gate, first, last]() mutable {
        gate.arrive_and_wait();
        for (u64 v = first; v < last; ++v) {
          tx.send(v);
        }
      });
    }
    gate.wait_arrived();

    u64 sum = 0;
    u64 squares = 0;
    const long switches0 = context_switches();
    const auto t0 = Clock::now();
    gate.open();
    for (u64 i = 0; i < n; ++i) {
      const u64 v = chan.rx.recv();
      sum += v;
      squares += v * v;
    }
    const auto t1 = Clock::now();
    switches += context_switches() - switches0;

    for (auto& t : threads) {
      t.join();
    }
    if (sum != expect_sum || squares != expect_squares) {
      die("checksum of the received values is wrong");
    }
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
  }
  report(state, seconds, switches, n);
}

// The benchmark's thread sends i on a, an echo thread answers i + 1 on b.
template <class Impl>
void pingpong(benchmark::State& state, u64 n) {
  label_oversubscription(state, 2);
  double seconds = 0;
  long switches = 0;
  for (auto _ : state) {
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

    const long switches0 = context_switches();
    const auto t0 = Clock::now();
    gate.open();
    for (u64 i = 0; i < n; ++i) {
      a.tx.send(i);
      if (b.rx.recv() != i + 1) {
        die("pingpong: wrong reply");
      }
    }
    const auto t1 = Clock::now();
    switches += context_switches() - switches0;

    echo.join();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
  }
  report(state, seconds, switches, n);
}

// --- registration: workloads outermost, so the table groups them --------------------

template <class Fn>
void add(const char* workload, const char* impl, Fn fn) {
  const std::string name = std::string(workload) + "/" + impl;
  benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond);
}

template <class Impl, unsigned Producers>
void add_unbounded(const char* workload) {
  add(workload, Impl::name,
      [](benchmark::State& s) { stream(s, Producers, throughput_batch, [] { return Impl::unbounded(); }); });
}

template <class Impl>
void add_bounded() {
  if constexpr (Impl::has_bounded) {
    add("spsc_bounded", Impl::name,
        [](benchmark::State& s) { stream(s, 1, throughput_batch, [] { return Impl::bounded(bounded_capacity); }); });
  }
}

template <class Impl>
void add_rendezvous() {
  if constexpr (Impl::has_rendezvous) {
    add("rendezvous", Impl::name,
        [](benchmark::State& s) { stream(s, 1, round_trip_batch, [] { return Impl::rendezvous(); }); });
  }
}

template <class Impl>
void add_pingpong() {
  add("pingpong", Impl::name, [](benchmark::State& s) { pingpong<Impl>(s, round_trip_batch); });
}

template <class... Impls>
void register_all() {
  (add_unbounded<Impls, 1>("spsc_unbounded"), ...);
  (add_unbounded<Impls, 2>("mpsc2_unbounded"), ...);
  (add_unbounded<Impls, 4>("mpsc4_unbounded"), ...);
  (add_bounded<Impls>(), ...);
  (add_rendezvous<Impls>(), ...);
  (add_pingpong<Impls>(), ...);
}

}  // namespace

int main(int argc, char** argv) {
  register_all<Spindle, MutexDeque
#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
               ,
               Moodycamel
#endif
#ifdef SPINDLE_BENCH_HAVE_TBB
               ,
               Tbb
#endif
               >();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
