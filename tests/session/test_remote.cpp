// SPDX-License-Identifier: MIT
//
// spindle::session over ZeroMQ (<spindle/session/zmq.hpp>), both sides in
// this process, on threads: sessions over inproc, tcp on 127.0.0.1 and
// ipc; the fingerprint check at connect; the peer's endpoint gone mid-
// protocol; hostile input from a raw ZeroMQ client; the size limit; timed
// steps; several clients at once. Every wait is bounded: the remote steps
// run with a short heartbeat and timeout, and a Watchdog bounds each test.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <unistd.h>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>
#include <spindle/thread.hpp>

namespace remote = spindle::session::remote;
using spindle::session::Chan;
using spindle::session::Choose;
using spindle::session::Disconnected;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;
using spindle::test::Watchdog;
using namespace std::chrono_literals;

namespace {

// A peer that says nothing for `timeout` is gone: long enough that a
// loaded machine (a sanitizer, other builds) never stalls a live peer that
// long. No test here waits for it: a peer that leaves says so, or its
// connection drops.
remote::Options quick() {
  remote::Options options;
  options.heartbeat = 100ms;
  options.timeout = 8s;
  options.connect_timeout = 8s;
  return options;
}

// An ipc path of this process's own, removed at the end.
class IpcPath {
 public:
  explicit IpcPath(const std::string& name)
      : path_("/tmp/spindle-test-" + std::to_string(::getpid()) + "-" + name + ".ipc") {}
  IpcPath(const IpcPath&) = delete;
  IpcPath& operator=(const IpcPath&) = delete;
  ~IpcPath() { std::remove(path_.c_str()); }
  [[nodiscard]] std::string endpoint() const { return "ipc://" + path_; }

 private:
  std::string path_;
};

// Adds one to each number until the client quits; returns how many.
using Adder = Rec<Offer<Recv<std::uint64_t, Send<std::uint64_t, Var<Z>>>, Eps>>;

std::uint64_t serve_adder(Chan<Adder> c) {
  auto menu = std::move(c).enter();
  for (std::uint64_t served = 0;; ++served) {
    auto choice = std::move(menu).offer();
    if (choice.index() == 1) {
      std::get<1>(std::move(choice)).close();
      return served;
    }
    auto [rest, x] = std::get<0>(std::move(choice)).recv();
    menu = std::move(rest).send(x + 1).zero();
  }
}

// Sends 0, 1, ... `rounds` times; returns the sum of the answers.
std::uint64_t use_adder(Chan<Dual<Adder>> c, std::uint64_t rounds) {
  auto menu = std::move(c).enter();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    auto [rest, y] = std::move(menu).sel1().send(i).recv();
    sum += y;
    menu = std::move(rest).zero();
  }
  std::move(menu).sel2().close();
  return sum;
}

void round_trips_over(const std::string& endpoint) {
  Watchdog watchdog("round trips over " + endpoint);
  remote::Listener<Adder> listener(endpoint, quick());
  auto server = spindle::thread::spawn([&listener] { return serve_adder(listener.accept()); });
  const std::uint64_t rounds = 200;
  const std::uint64_t sum = use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), quick()), rounds);
  auto served = server.join();
  REQUIRE(served.is_ok());
  CHECK(std::move(served).unwrap() == rounds);
  CHECK(sum == rounds * (rounds + 1) / 2);
}

}  // namespace

TEST_CASE("session remote: round trips over inproc, tcp and ipc", "[session][remote]") {
  SECTION("inproc") { round_trips_over("inproc://spindle-test-round-trips"); }
  SECTION("tcp") { round_trips_over("tcp://127.0.0.1:*"); }
  SECTION("ipc") {
    const IpcPath path("round-trips");
    round_trips_over(path.endpoint());
  }
}

namespace {

// A protocol with the codec's types, a choice each way and a loop.
using Words = std::vector<std::string>;
using Shouter = Rec<Offer<Recv<std::tuple<Words, std::optional<std::int32_t>, bool>,
                               Choose<Send<Words, Var<Z>>, Send<std::string, Var<Z>>>>,
                          Eps>>;

void serve_shouter(Chan<Shouter> c) {
  auto menu = std::move(c).enter();
  for (;;) {
    auto choice = std::move(menu).offer();
    if (choice.index() == 1) {
      std::get<1>(std::move(choice)).close();
      return;
    }
    auto [rest, request] = std::get<0>(std::move(choice)).recv();
    auto [words, repeat, refuse] = std::move(request);
    if (refuse) {
      menu = std::move(rest).sel2().send(std::string("refused")).zero();
      continue;
    }
    Words loud;
    for (int i = 0; i < repeat.value_or(1); ++i) {
      for (std::string word : words) {
        for (char& letter : word) {
          letter = static_cast<char>(letter >= 'a' && letter <= 'z' ? letter - 'a' + 'A' : letter);
        }
        loud.push_back(word);
      }
    }
    menu = std::move(rest).sel1().send(std::move(loud)).zero();
  }
}

}  // namespace

TEST_CASE("session remote: strings, vectors, optionals and choices both ways", "[session][remote]") {
  Watchdog watchdog("shouter");
  remote::Listener<Shouter> listener("tcp://127.0.0.1:*", quick());
  auto server = spindle::thread::spawn([&listener] { serve_shouter(listener.accept()); });
  auto menu = remote::dial<Dual<Shouter>>(listener.endpoint(), quick()).enter();

  auto answer = std::move(menu).sel1().send(std::tuple{Words{"hello", "world"}, std::optional<std::int32_t>(2), false})
                    .offer();
  REQUIRE(answer.index() == 0);
  auto [rest, loud] = std::get<0>(std::move(answer)).recv();
  CHECK(loud == Words{"HELLO", "WORLD", "HELLO", "WORLD"});

  auto refused = std::move(rest).zero().sel1().send(std::tuple{Words{}, std::optional<std::int32_t>(), true}).offer();
  REQUIRE(refused.index() == 1);
  auto [after, why] = std::get<1>(std::move(refused)).recv();
  CHECK(why == "refused");

  std::move(after).zero().sel2().close();
  CHECK(server.join().is_ok());
}

TEST_CASE("session remote: a client whose protocol is not the dual is refused on both sides", "[session][remote]") {
  Watchdog watchdog("refusal");
  std::mutex mutex;
  std::vector<std::string> refusals;
  remote::Options options = quick();
  options.on_refused = [&](const std::string& refusal) {
    const std::lock_guard<std::mutex> lock(mutex);
    refusals.push_back(refusal);
  };
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", options);
  // The listener answers while a thread waits on it: here, in accept.
  std::atomic<bool> done{false};
  auto acceptor = spindle::thread::spawn([&] {
    std::optional<Chan<Adder>> accepted;
    while (!done.load() && !accepted) {
      accepted = listener.accept_timeout(20ms);
    }
    return accepted ? serve_adder(std::move(*accepted)) : std::uint64_t{0};
  });
  const spindle::test::SetOnExit release(done);

  // Adder's client, but with u32 where u64 is: not the dual.
  using Wrong = Rec<Choose<Send<std::uint32_t, Recv<std::uint64_t, Var<Z>>>, Eps>>;
  std::string what;
  try {
    auto c = remote::dial<Wrong>(listener.endpoint(), quick());
    std::move(c).enter().sel2().close();
  } catch (const remote::Refused& error) {
    what = error.what();
  }
  CHECK(what.find("not dual") != std::string::npos);
  CHECK(what.find("Rec<Choose<Send<u32,Recv<u64,Var<0>>>,Eps>>") != std::string::npos);  // this side's
  CHECK(what.find("Rec<Offer<Recv<u64,Send<u64,Var<0>>>,Eps>>") != std::string::npos);   // the listener's

  // The listener goes on: a client that speaks the dual is served.
  CHECK(use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), quick()), 3) == 6);
  auto served = acceptor.join();
  REQUIRE(served.is_ok());
  CHECK(std::move(served).unwrap() == 3);

  const std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].find("not the dual") != std::string::npos);
  CHECK(refusals[0].find("Rec<Choose<Send<u32,Recv<u64,Var<0>>>,Eps>>") != std::string::npos);
}

TEST_CASE("session remote: dialing where nothing listens fails within the connect timeout", "[session][remote]") {
  Watchdog watchdog("dial nowhere");
  remote::Options options = quick();
  options.connect_timeout = 200ms;
  const IpcPath nowhere("nowhere");
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(remote::dial<Dual<Adder>>(nowhere.endpoint(), options), remote::ConnectError);
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);
  CHECK_THROWS_AS(remote::dial<Dual<Adder>>("nonsense://x", options), remote::ConnectError);
  CHECK_THROWS_AS(remote::Listener<Adder>("nonsense://x", options), remote::ConnectError);
}

TEST_CASE("session remote: a peer gone mid-protocol ends the session with Disconnected", "[session][remote]") {
  Watchdog watchdog("peer gone");
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", quick());
  auto server = spindle::thread::spawn([&listener] {
    try {
      serve_adder(listener.accept());
      return std::string("served to the end?!");
    } catch (const Disconnected& error) {
      return std::string(error.what());
    }
  });
  {
    // The client unwinds in the middle of the loop: no violation, the
    // server's next step throws Disconnected.
    auto menu = remote::dial<Dual<Adder>>(listener.endpoint(), quick()).enter();
    auto [rest, y] = std::move(menu).sel1().send(std::uint64_t{41}).recv();
    CHECK(y == 42);
    try {
      auto unfinished = std::move(rest).zero().sel1();
      throw std::runtime_error("the client fails");
    } catch (const std::runtime_error&) {  // NOLINT(bugprone-empty-catch): the failure is the test
    }
  }
  auto outcome = server.join();
  REQUIRE(outcome.is_ok());
  CHECK(std::move(outcome).unwrap().find("disconnected") != std::string::npos);
}

TEST_CASE("session remote: timed steps hand the endpoint back, and the session goes on", "[session][remote]") {
  Watchdog watchdog("timed steps");
  using Late = Recv<std::string, Send<std::string, Eps>>;
  remote::Listener<Late> listener("inproc://spindle-test-timed", quick());
  std::atomic<bool> go{false};
  auto client = spindle::thread::spawn([&] {
    auto c = remote::dial<Dual<Late>>(listener.endpoint(), quick());
    if (!spindle::test::raised(go)) {
      return std::string("never told to go");
    }
    auto [end, answer] = std::move(c).send(std::string("late")).recv();
    std::move(end).close();
    return answer;
  });
  auto c = listener.accept();
  auto early = std::move(c).recv_timeout(30ms);
  REQUIRE(early.is_err());
  go.store(true);
  auto later = std::move(early).unwrap_err().recv_timeout(10s);
  REQUIRE(later.is_ok());
  auto [rest, word] = std::move(later).unwrap();
  CHECK(word == "late");
  std::move(rest).send(word + "!").close();
  auto answer = client.join();
  REQUIRE(answer.is_ok());
  CHECK(std::move(answer).unwrap() == "late!");
}

TEST_CASE("session remote: a message over the peer's size limit ends the session", "[session][remote]") {
  Watchdog watchdog("size limit");
  using Upload = Recv<std::string, Send<bool, Eps>>;
  remote::Options small = quick();
  small.max_message = 1024;
  remote::Listener<Upload> listener("tcp://127.0.0.1:*", small);
  auto server = spindle::thread::spawn([&listener] {
    try {
      auto [rest, data] = listener.accept().recv();
      std::move(rest).send(true).close();
      return std::string("received ") + std::to_string(data.size());
    } catch (const Disconnected& error) {
      return std::string(error.what());
    }
  });
  // The limit is the listener's, told at connect: the client's send fails
  // before anything goes out, and the server's recv sees Disconnected.
  auto c = remote::dial<Dual<Upload>>(listener.endpoint(), quick());
  CHECK_THROWS_AS(std::move(c).send(std::string(2048, 'x')), std::length_error);
  auto outcome = server.join();
  REQUIRE(outcome.is_ok());
  CHECK(std::move(outcome).unwrap().find("disconnected") != std::string::npos);
}

TEST_CASE("session remote: a sender waits while its window of unread messages is full", "[session][remote]") {
  Watchdog watchdog("window");
  using Stream = Rec<Recv<std::uint32_t, Var<Z>>>;  // the client streams numbers, forever
  remote::Options narrow = quick();
  narrow.window = 8;
  remote::Listener<Stream> listener("inproc://spindle-test-window", narrow);
  std::atomic<std::uint32_t> sent{0};
  auto client = spindle::thread::spawn([&] {
    auto c = remote::dial<Dual<Stream>>(listener.endpoint(), quick()).enter();
    try {
      for (std::uint32_t i = 0;; ++i) {
        c = std::move(c).send(i).zero();
        sent.store(i + 1);
      }
    } catch (const Disconnected&) {
      return true;
    }
  });
  auto c = listener.accept().enter();
  // Nothing read yet: the client sends its window, then waits.
  REQUIRE(spindle::test::session_support::eventually([&] { return sent.load() >= 8; }));
  std::this_thread::sleep_for(50ms);
  CHECK(sent.load() == 8);
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto [rest, x] = std::move(c).recv();
    CHECK(x == i);
    c = std::move(rest).zero();
  }
  CHECK(sent.load() >= 100);
  {
    const spindle::test::session_support::RecordViolations violations;  // c is dropped mid-protocol
    { auto dropped = std::move(c); }
    CHECK(violations.count() == 1);
  }
  auto ended = client.join();
  REQUIRE(ended.is_ok());
  CHECK(std::move(ended).unwrap());
}

TEST_CASE("session remote: one listener serves many clients at once", "[session][remote]") {
  Watchdog watchdog("many clients");
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", quick());
  constexpr int clients = 20;
  auto acceptor = spindle::thread::spawn([&listener] {
    std::vector<spindle::thread::JoinHandle<std::uint64_t>> servers;
    for (int i = 0; i < clients; ++i) {
      servers.push_back(spindle::thread::spawn([c = listener.accept()]() mutable { return serve_adder(std::move(c)); }));
    }
    std::uint64_t served = 0;
    for (auto& server : servers) {
      served += server.join().unwrap();
    }
    return served;
  });
  std::vector<spindle::thread::JoinHandle<std::uint64_t>> users;
  for (int i = 0; i < clients; ++i) {
    users.push_back(spindle::thread::spawn([&listener] {
      return use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), quick()), 50);
    }));
  }
  for (auto& user : users) {
    auto sum = user.join();
    REQUIRE(sum.is_ok());
    CHECK(std::move(sum).unwrap() == 50 * 51 / 2);
  }
  auto served = acceptor.join();
  if (served.is_err()) {
    FAIL(served.unwrap_err().what());
  }
  CHECK(std::move(served).unwrap() == clients * 50);
}
