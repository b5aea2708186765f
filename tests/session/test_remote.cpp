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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.hpp>

#include "session/common.hpp"
#include "session/remote_common.hpp"
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
using spindle::test::remote_support::Adder;
using spindle::test::remote_support::generous;
using spindle::test::remote_support::IpcPath;
using spindle::test::remote_support::serve_adder;
using spindle::test::remote_support::use_adder;
using namespace std::chrono_literals;

namespace {

void round_trips_over(const std::string& endpoint) {
  Watchdog watchdog("round trips over " + endpoint);
  remote::Listener<Adder> listener(endpoint, generous());
  auto server = spindle::thread::spawn([&listener] { return serve_adder(listener.accept()); });
  const std::uint64_t rounds = 200;
  const std::uint64_t sum = use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), generous()), rounds);
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
using Shouter = Rec<Offer<
    Recv<std::tuple<Words, std::optional<std::int32_t>, bool>, Choose<Send<Words, Var<Z>>, Send<std::string, Var<Z>>>>,
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
  remote::Listener<Shouter> listener("tcp://127.0.0.1:*", generous());
  auto server = spindle::thread::spawn([&listener] { serve_shouter(listener.accept()); });
  auto menu = remote::dial<Dual<Shouter>>(listener.endpoint(), generous()).enter();

  auto answer =
      std::move(menu).sel1().send(std::tuple{Words{"hello", "world"}, std::optional<std::int32_t>(2), false}).offer();
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
  remote::Options options = generous();
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
    auto c = remote::dial<Wrong>(listener.endpoint(), generous());
    std::move(c).enter().sel2().close();
  } catch (const remote::Refused& error) {
    what = error.what();
  }
  CHECK(what.find("not dual") != std::string::npos);
  CHECK(what.find("Rec<Choose<Send<u32,Recv<u64,Var<0>>>,Eps>>") != std::string::npos);  // this side's
  CHECK(what.find("Rec<Offer<Recv<u64,Send<u64,Var<0>>>,Eps>>") != std::string::npos);   // the listener's

  // The listener goes on: a client that speaks the dual is served.
  CHECK(use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), generous()), 3) == 6);
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
  remote::Options options = generous();
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
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", generous());
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
    auto menu = remote::dial<Dual<Adder>>(listener.endpoint(), generous()).enter();
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
  remote::Listener<Late> listener("inproc://spindle-test-timed", generous());
  std::atomic<bool> go{false};
  auto client = spindle::thread::spawn([&] {
    auto c = remote::dial<Dual<Late>>(listener.endpoint(), generous());
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
  remote::Options small = generous();
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
  auto c = remote::dial<Dual<Upload>>(listener.endpoint(), generous());
  CHECK_THROWS_AS(std::move(c).send(std::string(2048, 'x')), std::length_error);
  auto outcome = server.join();
  REQUIRE(outcome.is_ok());
  CHECK(std::move(outcome).unwrap().find("disconnected") != std::string::npos);
}

TEST_CASE("session remote: a sender waits while its window of unread messages is full", "[session][remote]") {
  Watchdog watchdog("window");
  using Stream = Rec<Recv<std::uint32_t, Var<Z>>>;  // the client streams numbers, forever
  remote::Options narrow = generous();
  narrow.window = 8;
  remote::Listener<Stream> listener("inproc://spindle-test-window", narrow);
  std::atomic<std::uint32_t> sent{0};
  auto client = spindle::thread::spawn([&] {
    auto c = remote::dial<Dual<Stream>>(listener.endpoint(), generous()).enter();
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
  // Reading let the client go on (its counter moves just after each send).
  CHECK(spindle::test::session_support::eventually([&] { return sent.load() >= 100; }));
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
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", generous());
  constexpr int clients = 20;
  auto acceptor = spindle::thread::spawn([&listener] {
    std::vector<spindle::thread::JoinHandle<std::uint64_t>> servers;
    for (int i = 0; i < clients; ++i) {
      servers.push_back(
          spindle::thread::spawn([c = listener.accept()]() mutable { return serve_adder(std::move(c)); }));
    }
    std::uint64_t served = 0;
    for (auto& server : servers) {
      served += server.join().unwrap();
    }
    return served;
  });
  std::vector<spindle::thread::JoinHandle<std::uint64_t>> users;
  for (int i = 0; i < clients; ++i) {
    users.push_back(spindle::thread::spawn(
        [&listener] { return use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), generous()), 50); }));
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

TEST_CASE("session remote: nested choices, before a send, a recv and the end", "[session][remote]") {
  Watchdog watchdog("choices");
  // Two choices before a send, two before a recv, one before Eps.
  using Server = Rec<Offer<Offer<Recv<std::uint8_t, Var<Z>>, Send<std::uint8_t, Var<Z>>>, Eps>>;
  remote::Listener<Server> listener("inproc://spindle-test-choices", generous());
  auto server = spindle::thread::spawn([&listener] {
    auto menu = listener.accept().enter();
    std::string seen;
    for (;;) {
      auto outer = std::move(menu).offer();
      if (outer.index() == 1) {
        std::get<1>(std::move(outer)).close();
        return seen + "end";
      }
      auto inner = std::get<0>(std::move(outer)).offer();
      if (inner.index() == 0) {
        auto [rest, x] = std::get<0>(std::move(inner)).recv();
        seen += "recv " + std::to_string(x) + ", ";
        menu = std::move(rest).zero();
      } else {
        seen += "send, ";
        menu = std::get<1>(std::move(inner)).send(std::uint8_t{7}).zero();
      }
    }
  });
  auto menu = remote::dial<Dual<Server>>(listener.endpoint(), generous()).enter();
  menu = std::move(menu).sel1().sel1().send(std::uint8_t{1}).zero();
  auto [rest, y] = std::move(menu).sel1().sel2().recv();
  CHECK(y == 7);
  menu = std::move(rest).zero().sel1().sel1().send(std::uint8_t{2}).zero();
  std::move(menu).sel2().close();
  auto seen = server.join();
  REQUIRE(seen.is_ok());
  CHECK(std::move(seen).unwrap() == "recv 1, send, recv 2, end");
}

TEST_CASE("session remote: a choice reaches the peer before the chooser's next step", "[session][remote]") {
  Watchdog watchdog("choice at once");
  // The client chooses, then waits for the server to have seen the choice
  // before it sends: a choice kept back for the send's frame would leave
  // both waiting.
  using Server = Offer<Recv<std::uint8_t, Eps>, Eps>;
  remote::Listener<Server> listener("inproc://spindle-test-choice-at-once", generous());
  std::atomic<bool> offered{false};
  auto server = spindle::thread::spawn([&] {
    auto choice = listener.accept().offer();
    offered.store(true);
    if (choice.index() != 0) {
      std::get<1>(std::move(choice)).close();
      return -1;
    }
    auto [end, x] = std::get<0>(std::move(choice)).recv();
    std::move(end).close();
    return static_cast<int>(x);
  });
  auto chosen = remote::dial<Dual<Server>>(listener.endpoint(), generous()).sel1();
  const bool seen = spindle::test::session_support::eventually([&] { return offered.load(); });
  std::move(chosen).send(std::uint8_t{5}).close();
  CHECK(seen);
  auto got = server.join();
  REQUIRE(got.is_ok());
  CHECK(std::move(got).unwrap() == 5);
}

TEST_CASE("session remote: select<I>(value) chooses and sends in one step", "[session][remote]") {
  Watchdog watchdog("select with a value");
  using Server = Rec<Offer<Recv<std::uint64_t, Var<Z>>, Recv<std::string, Send<std::string, Var<Z>>>, Eps>>;
  remote::Listener<Server> listener("inproc://spindle-test-select-value", generous());
  auto server = spindle::thread::spawn([&listener] {
    auto menu = listener.accept().enter();
    std::uint64_t sum = 0;
    for (;;) {
      auto choice = std::move(menu).offer();
      if (choice.index() == 0) {
        auto [rest, x] = std::get<0>(std::move(choice)).recv();
        sum += x;
        menu = std::move(rest).zero();
      } else if (choice.index() == 1) {
        auto [rest, text] = std::get<1>(std::move(choice)).recv();
        menu = std::move(rest).send(text + "!").zero();
      } else {
        std::get<2>(std::move(choice)).close();
        return sum;
      }
    }
  });
  auto menu = remote::dial<Dual<Server>>(listener.endpoint(), generous()).enter();
  for (std::uint64_t i = 1; i <= 100; ++i) {
    menu = std::move(menu).select<0>(i).zero();
  }
  auto [rest, echo] = std::move(menu).select<1>(std::string("hi")).recv();
  CHECK(echo == "hi!");
  std::move(rest).zero().select<2>().close();
  auto sum = server.join();
  REQUIRE(sum.is_ok());
  CHECK(std::move(sum).unwrap() == 5050);
}

namespace {

// A ZeroMQ DEALER that speaks spindle's wire by hand: the hostile client.
class RawClient {
 public:
  explicit RawClient(const std::string& endpoint)
      : socket_(remote::detail::shared_context(), zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }

  void send(const std::string& bytes) { socket_.send(zmq::buffer(bytes), zmq::send_flags::none); }

  // The next frame, or nothing within `limit`.
  std::optional<std::string> recv(std::chrono::milliseconds limit) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, limit) == 0) {
      return std::nullopt;
    }
    zmq::message_t message;
    (void)socket_.recv(message, zmq::recv_flags::none);
    return message.to_string();
  }

  // Says hello as a dialer of `protocol` would, taking at most `window`
  // unread messages; true once welcomed. It never sends a credit.
  bool handshake(const std::string& protocol, std::uint64_t window = 1024) {
    send(frame(remote::detail::hello, remote::detail::magic, remote::detail::version, window, std::uint64_t{1} << 24,
               std::uint64_t{1} << 20, protocol));
    const auto answer = recv(10s);
    return answer && !answer->empty() && static_cast<std::uint8_t>((*answer)[0]) == remote::detail::welcome;
  }

  template <class... T>
  static std::string frame(std::uint8_t kind, const T&... fields) {
    std::string bytes(1, static_cast<char>(kind));
    spindle::session::Writer out(bytes);
    (spindle::session::encode(out, fields), ...);
    return bytes;
  }

 private:
  zmq::socket_t socket_;
};

// What Adder's server receives, as tags: a choice, and a number.
using AdderIn = spindle::session::detail::Message<Adder, false>;
constexpr auto label_tag =
    static_cast<std::uint8_t>(spindle::session::detail::index_in<spindle::session::detail::Label, AdderIn>);
constexpr auto number_tag = static_cast<std::uint8_t>(spindle::session::detail::index_in<std::uint64_t, AdderIn>);

}  // namespace

TEST_CASE("session remote: hostile input ends that session only, and the listener goes on", "[session][remote]") {
  Watchdog watchdog("hostile input", 60s);
  remote::Options options = generous();
  options.max_message = 4096;
  options.window = 16;
  std::mutex mutex;
  std::vector<std::string> outcomes;  // each accepted session's end, in order
  std::vector<std::string> refusals;
  options.on_refused = [&](const std::string& refusal) {
    const std::lock_guard<std::mutex> lock(mutex);
    refusals.push_back(refusal);
  };
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", options);
  std::atomic<bool> stop{false};
  auto acceptor = spindle::thread::spawn([&] {
    while (!stop.load()) {
      std::optional<Chan<Adder>> c = listener.accept_timeout(20ms);
      if (!c) {
        continue;
      }
      std::string outcome;
      try {
        outcome = "served " + std::to_string(serve_adder(std::move(*c)));
      } catch (const Disconnected& error) {
        outcome = error.what();
      }
      const std::lock_guard<std::mutex> lock(mutex);
      outcomes.push_back(outcome);
    }
  });
  const spindle::test::SetOnExit release(stop);
  const auto ended = [&](std::size_t n) {
    return spindle::test::session_support::eventually([&] {
      const std::lock_guard<std::mutex> lock(mutex);
      return outcomes.size() >= n;
    });
  };
  const std::string protocol = spindle::session::fingerprint<Dual<Adder>>();
  const std::string number = RawClient::frame(number_tag, std::uint64_t{5});
  const std::string choose_first = RawClient::frame(label_tag, std::uint8_t{0});

  // Before any hello: junk, an empty frame, a hello that is not one, a
  // session that never began. None is accepted; the malformed hello and
  // the wrong protocol are reported.
  {
    RawClient junk(listener.endpoint());
    junk.send("");
    junk.send(std::string("\xF0\x01", 2));
    junk.send(number);
    junk.send(RawClient::frame(remote::detail::hello, remote::detail::magic, remote::detail::version, std::uint64_t{1},
                               std::uint64_t{1}, std::uint64_t{1}, std::string("Eps")));
    // A message of no session is answered with a bye, the other hello
    // with a refusal.
    std::string kinds;
    for (auto answer = junk.recv(10s); answer; answer = junk.recv(200ms)) {
      kinds += std::to_string(static_cast<std::uint8_t>((*answer)[0])) + " ";
    }
    CHECK(kinds == std::to_string(remote::detail::bye) + " " + std::to_string(remote::detail::refuse) + " ");
  }
  // A plain TCP client that sends random bytes never gets past ZeroMQ's
  // handshake.
  {
    const std::string address = listener.endpoint();
    const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0);
    std::string noise(4096, '\0');
    std::uint32_t state = 12345;
    for (char& byte : noise) {
      state = state * 1103515245U + 12345U;
      byte = static_cast<char>(state >> 24);
    }
    CHECK(::write(fd, noise.data(), noise.size()) > 0);
    ::close(fd);
  }

  // Welcomed, then out of the protocol: each ends its own session.
  struct Hostile {
    std::string why;                  // what the session's end must say
    std::vector<std::string> frames;  // what the client sends
    std::uint64_t window = 1024;      // what it says it takes
  };
  std::vector<std::string> rounds;  // valid requests, more than the window
  for (int i = 0; i < 20; ++i) {
    rounds.push_back(choose_first);
    rounds.push_back(number);
  }
  const std::vector<Hostile> hostile = {
      {"another type than this step's", {number}},
      {"malformed", {std::string(1, static_cast<char>(label_tag))}},
      {"branch the protocol does not have", {RawClient::frame(label_tag, std::uint8_t{9})}},
      {"malformed", {choose_first, number + "junk"}},
      {"another type than this step's", {RawClient::frame(0)}},
      {"another type than this step's", {RawClient::frame(0xEF)}},
      {"unknown kind", {RawClient::frame(0xFE)}},
      {"size limit", {choose_first, RawClient::frame(number_tag, std::string(5000, 'x'))}},
      // Over what the socket takes at all: ZeroMQ drops the connection.
      {"connection is gone", {choose_first, RawClient::frame(number_tag, std::string(100'000, 'x'))}},
      // The client takes one answer and never credits it: the server's
      // second answer waits, reading no more requests, while they pile up
      // past its window of 16. However the threads are scheduled.
      {"window", rounds, 1},
      {"credit for messages never sent",
       {RawClient::frame(remote::detail::credit, std::uint64_t{5}, std::uint64_t{5})}},
  };
  std::size_t expected = 0;
  for (const auto& [why, frames, window] : hostile) {
    RawClient client(listener.endpoint());
    REQUIRE(client.handshake(protocol, window));
    for (const std::string& bytes : frames) {
      client.send(bytes);
    }
    REQUIRE(ended(++expected));
    const std::lock_guard<std::mutex> lock(mutex);
    INFO("expected an end for: " << why);
    INFO("the session ended with: " << outcomes.back());
    CHECK(outcomes.back().find("disconnected") != std::string::npos);
    CHECK(outcomes.back().find(why) != std::string::npos);
  }

  // The listener still serves a client that keeps to the protocol.
  CHECK(use_adder(remote::dial<Dual<Adder>>(listener.endpoint(), generous()), 3) == 6);
  REQUIRE(ended(++expected));
  stop.store(true);
  REQUIRE(acceptor.join().is_ok());
  const std::lock_guard<std::mutex> lock(mutex);
  CHECK(outcomes.back() == "served 3");
  REQUIRE(refusals.size() == 2);
  CHECK(refusals[0].find("malformed hello") != std::string::npos);
  CHECK(refusals[1].find("not the dual") != std::string::npos);
}
