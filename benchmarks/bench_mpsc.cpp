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
// and, for spindle alone (no other C++ channel here has a select):
//
//   spsc_unbounded/spindle_select1  spsc_unbounded, each receive a select of
//                                   one arm: the cost of select over recv
//   select4_unbounded               four producers, each on its own unbounded
//                                   channel; the consumer selects over the
//                                   four receivers (crossbeam's Select
//                                   workload of the peers harness)
//   pingpong_select                 pingpong, each side receiving by a select
//                                   over its channel and a timer
//   drain_bounded/{spindle,spindle_mpmc}_{recv_many64,try_recv}
//                                   one thread drains a full channel of
//                                   capacity 1024: recv_many(out, 64) calls
//                                   against one try_recv() per message
//
// Each workload is written once, over a small adapter (Impl::unbounded(),
// bounded(n), rendezvous() give a {tx, rx}; tx.send(u64), rx.recv() -> u64;
// copying tx adds a producer; support/channel_impls.hpp, shared with the
// comparison in compare/), so every implementation runs the same code:
//
//   spindle      spindle::mpsc (channel / sync_channel)
//   mutex_deque  std::mutex + std::condition_variable + std::deque
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

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

#include <spindle/mpmc.hpp>
#include <spindle/select.hpp>

#include "support/channel_impls.hpp"
#include "support/common.hpp"
#include "support/main.hpp"

namespace {

using namespace spindle_bench;

constexpr u64 throughput_batch = 100'000;  // messages per iteration, streaming
constexpr u64 round_trip_batch = 10'000;   // rendezvous hand-offs / ping-pongs
constexpr std::size_t bounded_capacity = 1024;

// --- the workloads ----------------------------------------------------------------

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

// The benchmark loop of every workload (`threads` counts this one too):
// iteration(timed) starts one iteration's threads, held at a StartGate,
// and calls timed(gate, work), which opens the gate and runs work (this
// thread's part) on the clock; then it joins the threads and checks.
template <class Iteration>
void run(benchmark::State& state, unsigned threads, u64 per_iteration, Iteration iteration) {
  label_oversubscription(state, threads);
  double seconds = 0;
  long switches = 0;
  auto timed = [&state, &seconds, &switches](StartGate& gate, auto work) {
    const long switches0 = context_switches();
    const auto t0 = Clock::now();
    gate.open();
    work();
    const auto t1 = Clock::now();
    switches += context_switches() - switches0;
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
  };
  for (auto _ : state) {
    iteration(timed);
  }
  report(state, seconds, switches, per_iteration);
}

// `producers` threads send the values 1..n between them (each a contiguous
// run, in order); the benchmark's thread receives all n.
template <class Make>
void stream(benchmark::State& state, unsigned producers, u64 n, Make make) {
  u64 expect_sum = 0;
  u64 expect_squares = 0;
  for (u64 v = 1; v <= n; ++v) {
    expect_sum += v;
    expect_squares += v * v;  // wraps; as does the receiver's
  }
  run(state, producers + 1, n, [&](auto timed) {
    auto chan = make();
    StartGate gate(producers);
    std::vector<std::thread> threads = start_producers(std::move(chan.tx), producers, n, gate);
    gate.wait_arrived();

    u64 sum = 0;
    u64 squares = 0;
    timed(gate, [&] {
      for (u64 i = 0; i < n; ++i) {
        const u64 v = chan.rx.recv();
        sum += v;
        squares += v * v;
      }
    });

    for (auto& t : threads) {
      t.join();
    }
    if (sum != expect_sum || squares != expect_squares) {
      die("checksum of the received values is wrong");
    }
  });
}

// The benchmark's thread sends i on a, an echo thread answers i + 1 on b.
template <class Impl>
void pingpong(benchmark::State& state, u64 n) {
  run(state, 2, n, [&](auto timed) {
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

    timed(gate, [&] {
      for (u64 i = 0; i < n; ++i) {
        a.tx.send(i);
        if (b.rx.recv() != i + 1) {
          die("pingpong: wrong reply");
        }
      }
    });

    echo.join();
  });
}

// --- spindle's select ----------------------------------------------------------------

namespace mpsc = spindle::mpsc;

// spsc_unbounded, every receive a select of one arm.
void select1(benchmark::State& state, u64 n) {
  run(state, 2, n, [&](auto timed) {
    auto [tx, rx] = mpsc::channel<u64>();
    StartGate gate(1);
    std::thread producer([tx = std::move(tx), &gate, n]() mutable {
      gate.arrive_and_wait();
      for (u64 v = 1; v <= n; ++v) {
        if (tx.send(v).is_err()) {
          die("select1: send failed");
        }
      }
    });
    gate.wait_arrived();
    mpsc::Select sel;
    sel.recv(rx);
    u64 sum = 0;
    timed(gate, [&, &rx = rx] {
      for (u64 i = 0; i < n; ++i) {
        auto op = sel.select();
        sum += op.recv(rx).unwrap();
      }
    });
    producer.join();
    if (sum != n * (n + 1) / 2) {
      die("select1: checksum of the received values is wrong");
    }
  });
}

// Four producers, one unbounded channel each, sending a quarter of 1..n;
// the consumer selects over the four receivers, removing a channel once it
// is disconnected and drained.
void select4(benchmark::State& state, u64 n) {
  constexpr unsigned producers = 4;
  run(state, producers + 1, n, [&](auto timed) {
    std::vector<mpsc::Receiver<u64>> rxs;
    std::vector<std::thread> threads;
    StartGate gate(producers);
    for (unsigned p = 0; p < producers; ++p) {
      auto [tx, rx] = mpsc::channel<u64>();
      rxs.push_back(std::move(rx));
      const u64 first = n / producers * p + 1;
      const u64 last = p + 1 == producers ? n : n / producers * (p + 1);
      threads.emplace_back([tx = std::move(tx), &gate, first, last]() mutable {
        gate.arrive_and_wait();
        for (u64 v = first; v <= last; ++v) {
          if (tx.send(v).is_err()) {
            die("select4: send failed");
          }
        }
      });
    }
    gate.wait_arrived();
    mpsc::Select sel;
    for (auto& rx : rxs) {
      sel.recv(rx);
    }
    u64 sum = 0;
    u64 received = 0;
    timed(gate, [&] {
      while (received < n) {
        auto op = sel.select();
        const std::size_t i = op.index();
        auto got = op.recv(rxs[i]);
        if (got.is_ok()) {
          sum += *got;
          ++received;
        } else {
          sel.remove(i);
        }
      }
    });
    for (auto& t : threads) {
      t.join();
    }
    if (sum != n * (n + 1) / 2) {
      die("select4: checksum of the received values is wrong");
    }
  });
}

// pingpong, each side receiving through select(on_recv, on_recv(timer)).
void pingpong_select(benchmark::State& state, u64 n) {
  run(state, 2, n, [&](auto timed) {
    auto [atx, arx] = mpsc::channel<u64>();
    auto [btx, brx] = mpsc::channel<u64>();
    StartGate gate(1);
    std::thread echo([rx = std::move(arx), tx = std::move(btx), &gate, n]() mutable {
      auto timer = mpsc::after(std::chrono::hours(1));
      gate.arrive_and_wait();
      for (u64 i = 0; i < n; ++i) {
        const u64 v = mpsc::select(mpsc::on_recv(rx, [](auto r) { return r.unwrap(); }),
                                   mpsc::on_recv(timer, [](auto) -> u64 { die("pingpong_select: timer"); }));
        if (tx.send(v + 1).is_err()) {
          die("pingpong_select: send failed");
        }
      }
    });
    gate.wait_arrived();
    auto timer = mpsc::after(std::chrono::hours(1));
    timed(gate, [&, &atx = atx, &brx = brx] {
      for (u64 i = 0; i < n; ++i) {
        if (atx.send(i).is_err()) {
          die("pingpong_select: send failed");
        }
        const u64 v = mpsc::select(mpsc::on_recv(brx, [](auto r) { return r.unwrap(); }),
                                   mpsc::on_recv(timer, [](auto) -> u64 { die("pingpong_select: timer"); }));
        if (v != i + 1) {
          die("pingpong_select: wrong reply");
        }
      }
    });
    echo.join();
  });
}

// --- registration: workloads outermost, so the table groups them --------------------

// One thread fills a bounded channel of capacity `bounded_capacity`, then
// drains it, timed: by recv_many(out, 64) calls (`batch`), or by one
// try_recv() per message. The fill is not timed.
template <class Make>
void drain(benchmark::State& state, bool batch, Make make) {
  auto [tx, rx] = make();
  std::vector<u64> out;
  out.reserve(bounded_capacity);
  u64 sum = 0;
  double total = 0;  // seconds
  for (auto _ : state) {
    for (u64 i = 0; i < bounded_capacity; ++i) {
      if (tx.try_send(i).is_err()) {
        die("drain: the fill found the channel full");
      }
    }
    out.clear();
    const auto start = std::chrono::steady_clock::now();
    if (batch) {
      while (out.size() < bounded_capacity) {
        if (rx.try_recv_many(out, 64) == 0) {
          die("drain: recv_many found nothing");
        }
      }
    } else {
      for (u64 i = 0; i < bounded_capacity; ++i) {
        out.push_back(rx.try_recv().unwrap());
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
    sum += out.back();
  }
  benchmark::DoNotOptimize(sum);
  const double messages = static_cast<double>(bounded_capacity) * static_cast<double>(state.iterations());
  if (messages > 0) {
    state.counters["ns_per_msg"] = total * 1e9 / messages;
  }
}

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
  add("spsc_unbounded", "spindle_select1", [](benchmark::State& s) { select1(s, throughput_batch); });
  (add_unbounded<Impls, 2>("mpsc2_unbounded"), ...);
  (add_unbounded<Impls, 4>("mpsc4_unbounded"), ...);
  (add_bounded<Impls>(), ...);
  (add_rendezvous<Impls>(), ...);
  (add_pingpong<Impls>(), ...);
  add("select4_unbounded", "spindle", [](benchmark::State& s) { select4(s, throughput_batch); });
  add("pingpong_select", "spindle", [](benchmark::State& s) { pingpong_select(s, round_trip_batch); });
  for (const bool batch : {true, false}) {
    add("drain_bounded", batch ? "spindle_recv_many64" : "spindle_try_recv", [batch](benchmark::State& s) {
      drain(s, batch, [] { return spindle::mpsc::sync_channel<u64>(bounded_capacity); });
    });
    add("drain_bounded", batch ? "spindle_mpmc_recv_many64" : "spindle_mpmc_try_recv", [batch](benchmark::State& s) {
      drain(s, batch, [] { return spindle::mpmc::sync_channel<u64>(bounded_capacity); });
    });
  }
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
  return spindle_bench::run_benchmarks(argc, argv);
}
