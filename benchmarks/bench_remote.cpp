// SPDX-License-Identifier: MIT
//
// What a remote session costs beside ZeroMQ itself: spindle's sessions
// over ZeroMQ (<spindle/session/zmq.hpp>) against the same exchange
// written directly with cppzmq, raw frames and no spindle, over the same
// transport. Both ends live in this process, on two threads, each with its
// own socket; the transports are ipc (a path in the temporary directory with the pid in
// its name, removed after) and tcp on 127.0.0.1 (a port ZeroMQ picks).
//
//   roundtrip/<transport>/spindle   the server's protocol is
//                       Rec<Offer<Recv<u64, Send<u64, Var<Z>>>, Eps>>: it
//                       answers x with x + 1. The client (the benchmark's
//                       thread) picks branch 0 and sends in one step,
//                       select<0>(x), one frame, then receives; branch 1 at
//                       the end.
//   roundtrip/<transport>/spindle_two_steps   the same with
//                       select<0>().send(x): the choice goes at once in a
//                       frame of its own, so two frames go there.
//   roundtrip/<transport>/raw_zmq   the same exchange by hand: the server a
//                       ROUTER (bound), the client a DEALER (connected),
//                       one 8-byte frame each way.
//   stream8/<transport>/<way>       a one-way stream of 8-byte messages
//   stream4k/<transport>/<way>      a one-way stream of 4096-byte messages
//                       spindle: the server's protocol is
//                       Rec<Offer<Recv<Msg, Var<Z>>, Send<u64, Var<Z>>, Eps>>
//                       (Msg u64, or a std::string of 4096 bytes); raw: a
//                       DEALER sends frames of 8 or 4096 bytes to a ROUTER.
//
// Why ROUTER and DEALER for the raw rows: it is what a user writes for a
// server with many clients and a client that need not wait for each
// answer (REQ/REP adds an empty delimiter frame and forbids pipelining, so
// the stream would need another pair of sockets), and it is spindle's own
// wire: a listener is a ROUTER, a dialer a DEALER. With select<0>(message)
// spindle sends one frame a message, as raw does, and the difference
// between the rows is spindle's own work (its lock and poll loop, the tag
// bytes, the codec, the copies into and out of a std::string, the credit
// frames of its window); stream8/<transport>/spindle_two_steps sends the
// choice and the message in two steps, two frames.
//
// A stream is timed in batches of `batch` messages, each batch ended by a
// round trip in which the server says how many messages it has received:
// without it only the sender's queueing would be timed. Spindle's sync is
// the protocol's branch 1 (Send<u64> from the server); raw's is an empty
// frame, answered with the count. Every message carries its sequence
// number in its first 8 bytes, and the server checks it (and the size):
// each side really receives each message, in order. Spindle decodes the
// 4096 bytes into a std::string (a copy, the price of a typed value); raw
// reads them in place.
//
// The connection is made once per run of a benchmark, before its timed
// loop (the dial's handshake is not timed; the raw client makes one round
// trip first, to be connected likewise), and closed after it, both sides
// at their protocol's end (spindle's Eps, raw's quit frame and its answer),
// so nothing is left in flight. Time is real time (UseRealTime): the
// benchmark's thread spends most of a round trip blocked, so its CPU time
// is not the latency (the CPU column, the client's thread only, is still
// worth a look: it is the work each way does there, and moves less with
// the machine's load). ns_per_round_trip is that real time over the round
// trips; the streams report items_per_second (messages) and
// bytes_per_second (payload bytes).
//
// Both ways use one ZeroMQ context with its default one I/O thread
// (Options::context for spindle), which carries both ends' sockets. So the
// benchmark's thread, the server's thread and ZeroMQ's I/O thread all run
// at once: on a machine with 2 cores they oversubscribe it, and the figures
// depend on where the scheduler puts them. Compare rows of one run, repeat,
// interleave, and keep the machine quiet:
//
//   cmake -S . -B build/bench-remote -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_BENCHMARKS=ON
//   cmake --build build/bench-remote --target spindle_bench_remote
//   build/bench-remote/benchmarks/spindle_bench_remote --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// (one command line; --benchmark_filter=roundtrip/tcp for one pair). It is
// built only where the CMake target spindle_zmq exists. A run that stops
// making progress for `stall_limit` aborts, so no run hangs.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>
#include <spindle/thread.hpp>

#include "support/common.hpp"
#include "support/main.hpp"

namespace {

using namespace spindle_bench;
namespace remote = spindle::session::remote;
using spindle::session::Chan;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;

constexpr u64 batch = 4096;  // messages a stream iteration sends, then syncs
constexpr auto stall_limit = std::chrono::seconds(30);

// --- what both ways share ------------------------------------------------------------

// One context for every socket of both ways, never destroyed (as spindle's
// own shared one), so that no static destructor waits on a socket.
zmq::context_t& context() {
  static auto* shared = new zmq::context_t();  // NOLINT(cppcoreguidelines-owning-memory): on purpose
  return *shared;
}

remote::Options options() {
  remote::Options chosen;  // the defaults, on the context the raw rows use
  chosen.context = &context();
  return chosen;
}

// Where a run listens: "tcp://127.0.0.1:*", or an ipc path of this process
// and run, removed when the run ends.
class Place {
 public:
  explicit Place(bool ipc) {
    if (ipc) {
      static std::atomic<unsigned> runs{0};
      path_ = (std::filesystem::temp_directory_path() / "spindle-bench-remote-").string() + std::to_string(::getpid()) +
              "-" + std::to_string(runs.fetch_add(1, std::memory_order::relaxed)) + ".ipc";  // relaxed: a name only
    }
  }
  Place(const Place&) = delete;
  Place& operator=(const Place&) = delete;
  ~Place() {
    if (!path_.empty()) {
      std::remove(path_.c_str());
    }
  }
  [[nodiscard]] std::string address() const { return path_.empty() ? "tcp://127.0.0.1:*" : "ipc://" + path_; }

 private:
  std::string path_;
};

// Aborts the process when a run makes no progress for stall_limit: no run
// hangs, however long it is meant to last. Sleeps meanwhile (one wake-up
// each stall_limit), so it takes no core from the threads measured.
class Watchdog {
 public:
  explicit Watchdog(const char* what) : what_(what), thread_([this] { watch(); }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // From the benchmark's thread only.
  void tick() noexcept {
    // relaxed: one writer (no read-modify-write needed); the watchdog only
    // compares counts, and no data rides on them.
    progress_.store(progress_.load(std::memory_order::relaxed) + 1, std::memory_order::relaxed);
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    u64 seen = progress_.load(std::memory_order::relaxed);  // relaxed: see tick()
    while (!cv_.wait_for(lock, stall_limit, [this] { return done_; })) {
      const u64 now = progress_.load(std::memory_order::relaxed);  // relaxed: see tick()
      if (now == seen) {
        std::fprintf(stderr, "%s: no progress for %lld s\n", what_,
                     static_cast<long long>(std::chrono::seconds(stall_limit).count()));
        die("a remote benchmark stalled");
      }
      seen = now;
    }
  }

  const char* what_;
  std::atomic<u64> progress_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is made
};

// Joins a server thread, which must have returned `expected`.
template <class Handle>
void join_server(Handle& server, u64 expected) {
  auto outcome = server.join();
  if (!outcome.is_ok()) {
    std::fprintf(stderr, "server: %s\n", outcome.unwrap_err().what());
    die("the server failed");
  }
  if (std::move(outcome).unwrap() != expected) {
    die("the server counted another number of messages");
  }
}

// --- round trip ----------------------------------------------------------------------

using Adder = Rec<Offer<Recv<u64, Send<u64, Var<Z>>>, Eps>>;  // the server's protocol

// Answers x with x + 1 until the client quits; returns how many it answered.
u64 serve_adder(Chan<Adder> c) {
  auto menu = std::move(c).enter();
  for (u64 served = 0;; ++served) {
    auto choice = std::move(menu).offer();
    if (choice.index() == 1) {
      std::get<1>(std::move(choice)).close();
      return served;
    }
    auto [rest, x] = std::get<0>(std::move(choice)).recv();
    menu = std::move(rest).send(x + 1).zero();
  }
}

void report_round_trips(benchmark::State& state, Clock::duration elapsed) {
  if (state.iterations() > 0) {
    state.counters["ns_per_round_trip"] =
        std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(state.iterations());
  }
}

// How the client chooses and sends: in one step, select<0>(value) (one
// frame), or in two, select<0>().send(value) (the choice goes in a frame of
// its own).
enum class Steps : std::uint8_t { one, two };

template <Steps How, class M, class V>
auto choose_and_send(M&& menu, V&& value) {
  if constexpr (How == Steps::one) {
    return std::forward<M>(menu).template select<0>(std::forward<V>(value));
  } else {
    return std::forward<M>(menu).template select<0>().send(std::forward<V>(value));
  }
}

template <Steps How>
void roundtrip_spindle(benchmark::State& state, bool ipc) {
  Watchdog watchdog("roundtrip/spindle");
  const Place place(ipc);
  remote::Listener<Adder> listener(place.address(), options());
  auto server = spindle::thread::spawn([&listener] { return serve_adder(listener.accept()); });
  auto menu = remote::dial<Dual<Adder>>(listener.endpoint(), options()).enter();

  u64 i = 0;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    auto [rest, y] = choose_and_send<How>(std::move(menu), i).recv();
    if (y != i + 1) {
      die("spindle: wrong answer");
    }
    menu = std::move(rest).zero();
    ++i;
    watchdog.tick();
  }
  const auto t1 = Clock::now();

  std::move(menu).select<1>().close();
  join_server(server, i);
  report_round_trips(state, t1 - t0);
}

// Answers each 8-byte frame x with x + 1; an empty frame quits (and is
// answered, so that nothing is in flight when the sockets close). Returns
// how many it answered, not counting the first (the client's warm-up).
u64 raw_echo(zmq::socket_t& router) {
  zmq::message_t id;
  zmq::message_t body;
  for (u64 served = 0;; ++served) {
    if (!router.recv(id) || !id.more() || !router.recv(body) || body.more()) {
      die("raw: malformed message");
    }
    if (body.size() == 0) {
      (void)router.send(id, zmq::send_flags::sndmore);
      (void)router.send(zmq::message_t(), zmq::send_flags::none);
      return served - 1;
    }
    if (body.size() != sizeof(u64)) {
      die("raw: not 8 bytes");
    }
    u64 x = 0;
    std::memcpy(&x, body.data(), sizeof x);
    ++x;
    (void)router.send(id, zmq::send_flags::sndmore);
    (void)router.send(zmq::buffer(&x, sizeof x), zmq::send_flags::none);
  }
}

// One 8-byte frame there and back on a DEALER.
u64 raw_round_trip(zmq::socket_t& dealer, u64 x) {
  (void)dealer.send(zmq::buffer(&x, sizeof x), zmq::send_flags::none);
  u64 y = 0;
  const auto got = dealer.recv(zmq::buffer(&y, sizeof y));
  if (!got || got->truncated() || got->size != sizeof y) {
    die("raw: not 8 bytes");
  }
  return y;
}

void roundtrip_raw(benchmark::State& state, bool ipc) {
  Watchdog watchdog("roundtrip/raw_zmq");
  const Place place(ipc);
  zmq::socket_t router(context(), zmq::socket_type::router);
  router.bind(place.address());
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  auto server = spindle::thread::spawn([&router] { return raw_echo(router); });
  zmq::socket_t dealer(context(), zmq::socket_type::dealer);
  dealer.connect(endpoint);
  if (raw_round_trip(dealer, 0) != 1) {  // connected, as a dialed session is
    die("raw: wrong answer");
  }

  u64 i = 0;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    if (raw_round_trip(dealer, i) != i + 1) {
      die("raw: wrong answer");
    }
    ++i;
    watchdog.tick();
  }
  const auto t1 = Clock::now();

  (void)dealer.send(zmq::message_t(), zmq::send_flags::none);
  zmq::message_t bye;
  if (!dealer.recv(bye) || bye.size() != 0) {
    die("raw: no answer to quit");
  }
  join_server(server, i);
  report_round_trips(state, t1 - t0);
}

// --- one-way stream ------------------------------------------------------------------

// A message of the stream: its sequence number in its first 8 bytes.
template <std::size_t Bytes>
struct Payload;
template <>
struct Payload<8> {
  using Msg = u64;
  static Msg make() { return 0; }
  static void stamp(Msg& message, u64 i) { message = i; }
  static bool is(const Msg& message, u64 i) { return message == i; }
};
template <>
struct Payload<4096> {
  using Msg = std::string;
  static Msg make() { return std::string(4096, 's'); }
  static void stamp(Msg& message, u64 i) { std::memcpy(message.data(), &i, sizeof i); }
  static bool is(const Msg& message, u64 i) {
    u64 stamped = 0;
    return message.size() == 4096 && (std::memcpy(&stamped, message.data(), sizeof stamped), stamped == i);
  }
};

// The server's protocol: a message (branch 0), a sync (branch 1: the
// server says how many it has received), or the end (branch 2).
template <class Msg>
using Sink = Rec<Offer<Recv<Msg, Var<Z>>, Send<u64, Var<Z>>, Eps>>;

template <std::size_t Bytes>
u64 serve_sink(Chan<Sink<typename Payload<Bytes>::Msg>> c) {
  auto menu = std::move(c).enter();
  u64 received = 0;
  for (;;) {
    auto choice = std::move(menu).offer();
    if (choice.index() == 0) {
      auto [rest, message] = std::get<0>(std::move(choice)).recv();
      if (!Payload<Bytes>::is(message, received)) {
        die("spindle: a message out of order, or of another size");
      }
      ++received;
      menu = std::move(rest).zero();
    } else if (choice.index() == 1) {
      menu = std::get<1>(std::move(choice)).send(received).zero();
    } else {
      std::get<2>(std::move(choice)).close();
      return received;
    }
  }
}

void report_stream(benchmark::State& state, std::size_t bytes) {
  const auto messages = static_cast<std::int64_t>(batch) * state.iterations();
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(messages * static_cast<std::int64_t>(bytes));
}

template <std::size_t Bytes, Steps How>
void stream_spindle(benchmark::State& state, bool ipc) {
  using P = Payload<Bytes>;
  Watchdog watchdog("stream/spindle");
  const Place place(ipc);
  remote::Listener<Sink<typename P::Msg>> listener(place.address(), options());
  auto server = spindle::thread::spawn([&listener] { return serve_sink<Bytes>(listener.accept()); });
  auto menu = remote::dial<Dual<Sink<typename P::Msg>>>(listener.endpoint(), options()).enter();
  typename P::Msg message = P::make();

  u64 i = 0;
  for (auto _ : state) {
    for (const u64 end = i + batch; i < end; ++i) {
      P::stamp(message, i);
      menu = choose_and_send<How>(std::move(menu), message).zero();
    }
    auto [rest, received] = std::move(menu).template select<1>().recv();
    if (received != i) {
      die("spindle: the server received another number of messages");
    }
    menu = std::move(rest).zero();
    watchdog.tick();
  }

  std::move(menu).template select<2>().close();
  join_server(server, i);
  report_stream(state, Bytes);
}

// Counts frames of `Bytes` bytes, each checked; an empty frame asks for
// the count, a 1-byte frame quits (and is answered).
template <std::size_t Bytes>
u64 raw_sink(zmq::socket_t& router) {
  static_assert(Bytes > 1);
  zmq::message_t id;
  zmq::message_t body;
  for (u64 received = 0;;) {
    if (!router.recv(id) || !id.more() || !router.recv(body) || body.more()) {
      die("raw: malformed message");
    }
    if (body.size() == Bytes) {
      u64 stamped = 0;
      std::memcpy(&stamped, body.data(), sizeof stamped);
      if (stamped != received) {
        die("raw: a message out of order");
      }
      ++received;
      continue;
    }
    if (body.size() > 1) {
      die("raw: a message of another size");
    }
    (void)router.send(id, zmq::send_flags::sndmore);
    (void)router.send(zmq::buffer(&received, sizeof received), zmq::send_flags::none);
    if (body.size() == 1) {
      return received;
    }
  }
}

// Sends an empty frame (sync) or a 1-byte one (quit); returns the count
// the server answers with.
u64 raw_ask(zmq::socket_t& dealer, std::size_t size) {
  const char quit = 'q';
  (void)dealer.send(zmq::buffer(&quit, size), zmq::send_flags::none);
  u64 received = 0;
  const auto got = dealer.recv(zmq::buffer(&received, sizeof received));
  if (!got || got->truncated() || got->size != sizeof received) {
    die("raw: no count");
  }
  return received;
}

template <std::size_t Bytes>
void stream_raw(benchmark::State& state, bool ipc) {
  Watchdog watchdog("stream/raw_zmq");
  const Place place(ipc);
  zmq::socket_t router(context(), zmq::socket_type::router);
  router.bind(place.address());
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  auto server = spindle::thread::spawn([&router] { return raw_sink<Bytes>(router); });
  zmq::socket_t dealer(context(), zmq::socket_type::dealer);
  dealer.connect(endpoint);
  if (raw_ask(dealer, 0) != 0) {  // connected, as a dialed session is
    die("raw: the server received messages never sent");
  }
  std::string message(Bytes, 's');

  u64 i = 0;
  for (auto _ : state) {
    for (const u64 end = i + batch; i < end; ++i) {
      std::memcpy(message.data(), &i, sizeof i);
      (void)dealer.send(zmq::buffer(message), zmq::send_flags::none);
    }
    if (raw_ask(dealer, 0) != i) {
      die("raw: the server received another number of messages");
    }
    watchdog.tick();
  }

  if (raw_ask(dealer, 1) != i) {
    die("raw: the server received another number of messages");
  }
  join_server(server, i);
  report_stream(state, Bytes);
}

// --- registration --------------------------------------------------------------------

void add(const std::string& name, void (*run)(benchmark::State&, bool), bool ipc, benchmark::TimeUnit unit) {
  benchmark::RegisterBenchmark(name.c_str(), run, ipc)->UseRealTime()->Unit(unit);
}

void register_all() {
  for (const bool ipc : {true, false}) {
    const std::string transport = ipc ? "/ipc" : "/tcp";
    add("roundtrip" + transport + "/spindle", roundtrip_spindle<Steps::one>, ipc, benchmark::kMicrosecond);
    add("roundtrip" + transport + "/spindle_two_steps", roundtrip_spindle<Steps::two>, ipc, benchmark::kMicrosecond);
    add("roundtrip" + transport + "/raw_zmq", roundtrip_raw, ipc, benchmark::kMicrosecond);
    add("stream8" + transport + "/spindle", stream_spindle<8, Steps::one>, ipc, benchmark::kMillisecond);
    add("stream8" + transport + "/spindle_two_steps", stream_spindle<8, Steps::two>, ipc, benchmark::kMillisecond);
    add("stream8" + transport + "/raw_zmq", stream_raw<8>, ipc, benchmark::kMillisecond);
    add("stream4k" + transport + "/spindle", stream_spindle<4096, Steps::one>, ipc, benchmark::kMillisecond);
    add("stream4k" + transport + "/raw_zmq", stream_raw<4096>, ipc, benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return spindle_bench::run_benchmarks(argc, argv);
}
