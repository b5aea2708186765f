// SPDX-License-Identifier: MIT
//
// What a session type costs: one ping-pong, four ways. The benchmark's
// thread sends a u64 v, the echo answers v + 1, round_trips times per
// iteration. The four ways (support/session_ways.hpp, shared with the
// comparison in compare/):
//
//   session             spindle::session; the client's protocol is
//                       Rec<Choose<Send<u64, Recv<u64, Var<Z>>>, Eps>>: sel1,
//                       send, recv and zero each round trip, sel2 and close
//                       at the end
//   session_transport   what the session runs on, by hand: two sync_channels
//                       (bound SPINDLE_SESSION_BUFFER) of the session's own
//                       std::variant message types; a label message, then
//                       the value, each round trip, checked as the session
//                       checks them
//   sync_channel_u64    two sync_channel<u64> (the same bound), no label
//   channel_u64         two unbounded channel<u64>, no label
//
// Two workloads run each of them:
//
//   pingpong/<way>   the echo is another thread. Each iteration makes fresh
//                    channels and starts the echo thread, which waits at a
//                    start gate until the clock starts; the time is manual,
//                    from the gate's release to the last reply, so starting
//                    and joining the thread is not timed.
//   inline/<way>     the echo runs on the benchmark's thread, between the
//                    client's send and its receive, so nothing ever waits:
//                    the CPU cost of the calls alone, without the hand-off
//                    between threads (which dominates pingpong and varies
//                    with where the scheduler puts the two threads).
//
// session against session_transport is the cost of the typed API itself;
// session_transport against sync_channel_u64 is the cost of the label
// message and the variant. The figure to read is the counter
// ns_per_round_trip. On a machine with few cores, pingpong figures move a
// lot from run to run: compare rows of one run, repeat
// (--benchmark_repetitions), and keep the machine quiet.

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "support/common.hpp"
#include "support/main.hpp"
#include "support/session_ways.hpp"

namespace {

using namespace spindle_bench;

constexpr u64 round_trips = 10'000;  // per iteration

// --- the workload -------------------------------------------------------------

void report(benchmark::State& state, double seconds) {
  const double trips = static_cast<double>(round_trips) * static_cast<double>(state.iterations());
  if (trips > 0) {
    state.counters["ns_per_round_trip"] = seconds * 1e9 / trips;
  }
}

template <class Way>
void pingpong(benchmark::State& state) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores != 0 && cores < 2) {
    state.SetLabel("oversubscribed: 2 threads on 1 core");
  }
  double seconds = 0;
  for (auto _ : state) {
    auto [client, echo] = Way::make();
    StartGate gate;
    std::thread echo_thread([echo = std::move(echo), &gate]() mutable {
      gate.arrive_and_wait();
      echo.run(round_trips);
    });
    gate.wait_arrived();

    const auto t0 = Clock::now();
    gate.open();
    for (u64 i = 0; i < round_trips; ++i) {
      if (client.round_trip(i, [] {}) != i + 1) {
        die("wrong reply");
      }
    }
    const auto t1 = Clock::now();

    client.finish();
    echo_thread.join();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
  }
  report(state, seconds);
}

// Both ends on the benchmark's thread: the client sends, the echo answers,
// the client receives, and nothing ever waits, as each direction holds at
// least two messages (with a smaller SPINDLE_SESSION_BUFFER these rows are
// left out). No thread hands off to another, so this is the CPU cost of the
// calls alone.
template <class Way>
void inline_pingpong(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) {
    auto [client, echo] = Way::make();
    const auto t0 = Clock::now();
    for (u64 i = 0; i < round_trips; ++i) {
      if (client.round_trip(i, [&echo = echo] { (void)echo.answer_one(); }) != i + 1) {
        die("wrong reply");
      }
    }
    const auto t1 = Clock::now();
    client.finish();
    if constexpr (Way::echo_sees_finish) {
      if (echo.answer_one()) {
        die("the echo missed the end");
      }
    }
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    seconds += dt;
  }
  report(state, seconds);
}

template <class Way>
void add(const char* workload, void (*run)(benchmark::State&)) {
  const std::string name = std::string(workload) + "/" + Way::name;
  benchmark::RegisterBenchmark(name.c_str(), run)->UseManualTime()->Unit(benchmark::kMillisecond);
}

template <class... Ways>
void register_all() {
  (add<Ways>("pingpong", pingpong<Ways>), ...);
  // inline needs room for the label and the value in each direction.
  if constexpr (SPINDLE_SESSION_BUFFER >= 2) {
    (add<Ways>("inline", inline_pingpong<Ways>), ...);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all<Session, SessionTransport, PlainU64<true>, PlainU64<false>>();
  return spindle_bench::run_benchmarks(argc, argv);
}
