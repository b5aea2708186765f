// SPDX-License-Identifier: MIT
//
// What a session type costs: one ping-pong, four ways. The benchmark's
// thread sends a u64 v, the echo answers v + 1, round_trips times per
// iteration:
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

#include <spindle/mpsc.hpp>
#include <spindle/session.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

namespace {

using u64 = std::uint64_t;
using Clock = std::chrono::steady_clock;

constexpr u64 round_trips = 10'000;  // per iteration

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_session: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

// Holds the freshly started echo thread until the clock starts. It spins
// (yielding), so the release, timed, is one store rather than a futex
// wake-up. As in bench_mpsc.
class StartGate {
 public:
  void arrive_and_wait() noexcept {
    arrived_.store(true, std::memory_order::relaxed);  // relaxed: only tells the timer to go on
    while (!open_.load(std::memory_order::acquire)) {  // acquire: pairs with the release in open()
      std::this_thread::yield();
    }
  }
  void wait_arrived() const noexcept {
    while (!arrived_.load(std::memory_order::relaxed)) {  // relaxed: no data rides on it
      std::this_thread::yield();
    }
  }
  void open() noexcept { open_.store(true, std::memory_order::release); }  // release: pairs with the acquire above

 private:
  std::atomic<bool> arrived_{false};
  std::atomic<bool> open_{false};
};

// --- the four ways ------------------------------------------------------------
//
// Each is a struct with make() -> {Client, Echo}.
//   Client::round_trip(v, between): sends v, calls between(), returns the
//     reply; Client::finish() ends the exchange (untimed).
//   Echo::answer_one(): answers one message, false once told to finish;
//     Echo::run() answers until the end.

namespace ss = spindle::session;

struct Session {
  static constexpr const char* name = "session";
  static constexpr bool echo_sees_finish = true;

  using Body = ss::Choose<ss::Send<u64, ss::Recv<u64, ss::Var<ss::Z>>>, ss::Eps>;
  using Protocol = ss::Rec<Body>;  // the client's; the echo thread speaks Dual<Protocol>

  struct Client {
    ss::Chan<Body, ss::Env<Protocol, Body>> chan;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      auto sent = std::move(chan).sel1().send(v);
      between();
      auto [rest, reply] = std::move(sent).recv();
      chan = std::move(rest).zero();
      return reply;
    }
    void finish() { std::move(chan).sel2().close(); }
  };

  struct Echo {
    ss::Chan<ss::Dual<Body>, ss::Env<ss::Dual<Protocol>, ss::Dual<Body>>> top;
    bool answer_one() {
      auto next = std::move(top).offer();
      if (next.index() != 0) {
        std::get<1>(std::move(next)).close();
        return false;
      }
      auto [rest, v] = std::get<0>(std::move(next)).recv();
      top = std::move(rest).send(v + 1).zero();
      return true;
    }
    void run() {
      while (answer_one()) {
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [client, echo] = ss::session_channel<Protocol>();
    return {Client{std::move(client).enter()}, Echo{std::move(echo).enter()}};
  }
};

struct SessionTransport {
  static constexpr const char* name = "session_transport";
  static constexpr bool echo_sees_finish = true;

  // The very message types the session above sends each way (an internal
  // name, used here so that the two cannot drift apart).
  using Out = ss::detail::Message<Session::Protocol, true>;  // monostate, Label, u64
  using In = ss::detail::Message<Session::Protocol, false>;  // monostate, u64
  using Label = ss::detail::Label;

  struct Client {
    spindle::mpsc::SyncSender<Out> tx;
    spindle::mpsc::Receiver<In> rx;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      if (tx.send(Out(std::in_place_type<Label>, Label{0})).is_err() ||
          tx.send(Out(std::in_place_type<u64>, v)).is_err()) {
        die("session_transport: send failed");
      }
      between();
      auto received = rx.recv();
      if (received.is_err()) {
        die("session_transport: recv failed");
      }
      const u64* reply = std::get_if<u64>(&*received);
      if (reply == nullptr) {
        die("session_transport: not a u64");
      }
      return *reply;
    }
    void finish() {
      if (tx.send(Out(std::in_place_type<Label>, Label{1})).is_err()) {
        die("session_transport: send failed");
      }
    }
  };

  struct Echo {
    spindle::mpsc::Receiver<Out> rx;
    spindle::mpsc::SyncSender<In> tx;
    bool answer_one() {
      auto choice = rx.recv();
      const Label* label = choice.is_ok() ? std::get_if<Label>(&*choice) : nullptr;
      if (label == nullptr || label->index > 1) {
        die("session_transport: not a label");
      }
      if (label->index == 1) {
        return false;
      }
      auto message = rx.recv();
      const u64* v = message.is_ok() ? std::get_if<u64>(&*message) : nullptr;
      if (v == nullptr) {
        die("session_transport: not a u64");
      }
      if (tx.send(In(std::in_place_type<u64>, *v + 1)).is_err()) {
        die("session_transport: send failed");
      }
      return true;
    }
    void run() {
      while (answer_one()) {
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [out_tx, out_rx] = spindle::mpsc::sync_channel<Out>(SPINDLE_SESSION_BUFFER);
    auto [in_tx, in_rx] = spindle::mpsc::sync_channel<In>(SPINDLE_SESSION_BUFFER);
    return {Client{std::move(out_tx), std::move(in_rx)}, Echo{std::move(out_rx), std::move(in_tx)}};
  }
};

// Two plain u64 channels; the echo thread answers exactly round_trips times.
template <bool bounded>
struct PlainU64 {
  static constexpr const char* name = bounded ? "sync_channel_u64" : "channel_u64";
  static constexpr bool echo_sees_finish = false;  // it stops after round_trips answers
  using Sender = std::conditional_t<bounded, spindle::mpsc::SyncSender<u64>, spindle::mpsc::Sender<u64>>;

  static auto channel() {
    if constexpr (bounded) {
      return spindle::mpsc::sync_channel<u64>(SPINDLE_SESSION_BUFFER);
    } else {
      return spindle::mpsc::channel<u64>();
    }
  }

  struct Client {
    Sender tx;
    spindle::mpsc::Receiver<u64> rx;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      if (tx.send(v).is_err()) {
        die("plain: send failed");
      }
      between();
      auto reply = rx.recv();
      if (reply.is_err()) {
        die("plain: recv failed");
      }
      return *reply;
    }
    void finish() {}
  };

  struct Echo {
    spindle::mpsc::Receiver<u64> rx;
    Sender tx;
    bool answer_one() {
      auto v = rx.recv();
      if (v.is_err() || tx.send(*v + 1).is_err()) {
        die("plain: echo failed");
      }
      return true;
    }
    void run() {
      for (u64 i = 0; i < round_trips; ++i) {
        answer_one();
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [ping_tx, ping_rx] = channel();
    auto [pong_tx, pong_rx] = channel();
    return {Client{std::move(ping_tx), std::move(pong_rx)}, Echo{std::move(ping_rx), std::move(pong_tx)}};
  }
};

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
      echo.run();
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
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
