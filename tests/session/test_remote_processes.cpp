// SPDX-License-Identifier: MIT
//
// spindle::session over ZeroMQ (<spindle/session/zmq.hpp>) between two real
// processes: this test and the remote_peer program (remote_peer.cpp), which
// it spawns. Sessions over tcp on 127.0.0.1 and over ipc, each side the
// listener in turn; the peer killed (SIGKILL) or stopped (SIGSTOP) in the
// middle of the protocol, and how soon this side's step throws Disconnected;
// a peer whose protocol is not the dual, refused; 100 clients from 4
// processes at once against one listener.
//
// Every wait is bounded: a child's output is read with poll() and a
// deadline, its exit waited for with WNOHANG polls, a Watchdog bounds each
// test, and a Child kills (SIGKILL) and reaps its process on every path out.
// The peer ends itself within 30 s whatever happens. Loopback addresses
// only. Options that must not take a live peer for dead are generous (8 s):
// only the test of a silent peer uses a short timeout, on the side that
// waits for the stopped peer.

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "session/common.hpp"
#include "session/remote_common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>
#include <spindle/thread.hpp>

#ifndef SPINDLE_REMOTE_PEER
#error "SPINDLE_REMOTE_PEER: the path of the remote_peer program (tests/CMakeLists.txt defines it)"
#endif

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace remote = spindle::session::remote;
using spindle::session::Chan;
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
using spindle::test::remote_support::sum_of_answers;
using spindle::test::remote_support::use_adder;
using spindle::test::session_support::contains;
using spindle::test::session_support::scaled;
using spindle::test::session_support::step_limit;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// --- the child process ---------------------------------------------------------------

// remote_peer running in a process of its own, its stdout on a pipe that
// this side reads. Its stderr is this process's: what it says there shows
// in the test's output. Destroying a Child kills its process (SIGKILL,
// which also ends a stopped one) and reaps it. Use it from one thread; the
// test's main thread spawns every child (the peer asks to be killed when
// the thread that spawned it ends).
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {  // CLOEXEC: no other child holds this pipe open
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    out_ = fds[0];
    std::vector<std::string> argv_strings{SPINDLE_REMOTE_PEER};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_strings.size() + 1);
    for (std::string& arg : argv_strings) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const int failed = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (failed != 0) {
      ::close(out_);
      throw std::system_error(failed, std::generic_category(), "posix_spawn " + argv_strings[0]);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      (void)wait(10s);  // SIGKILL ends it at once: this is only a bound
    }
    ::close(out_);
  }

  /// Sends `signal`; returns when it was sent.
  Clock::time_point signal(int signal) const {
    const auto now = Clock::now();
    ::kill(pid_, signal);
    return now;
  }

  /// The next line the child prints, without its '\n'; nothing when its
  /// output ends, or nothing more comes within `limit`.
  std::optional<std::string> line(std::chrono::milliseconds limit = step_limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      if (eof_ || !fill(deadline)) {
        if (buffer_.empty()) {
          return std::nullopt;
        }
        return std::exchange(buffer_, {});  // a last line with no '\n'
      }
    }
  }

  /// Every line until the child's output ends (or `limit` passes).
  std::vector<std::string> rest(std::chrono::milliseconds limit = step_limit) {
    const auto deadline = Clock::now() + limit;
    std::vector<std::string> lines;
    while (auto next = line(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()))) {
      lines.push_back(std::move(*next));
    }
    return lines;
  }

  /// wait(): the process still runs.
  static constexpr int running = -1;

  /// Waits for the process to end: its exit code, 128 + the signal that
  /// killed it, or `running` if it still runs after `limit`.
  int wait(std::chrono::milliseconds limit = step_limit) {
    const auto deadline = Clock::now() + limit;
    while (!status_) {
      int status = 0;
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (reaped < 0 && errno != EINTR) {
        status_ = 255;  // not ours (cannot happen): never wait for it again
      } else if (Clock::now() >= deadline) {
        return running;
      } else {
        std::this_thread::sleep_for(2ms);
      }
    }
    return *status_;
  }

 private:
  // Reads what the pipe has, waiting until `deadline` at most; false if
  // nothing came.
  bool fill(Clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return false;
      }
      pollfd fd{out_, POLLIN, 0};
      const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (ready < 0 && errno != EINTR) {
        throw std::system_error(errno, std::generic_category(), "poll");
      }
      if (ready <= 0) {
        continue;
      }
      char bytes[4096];
      const ssize_t got = ::read(out_, bytes, sizeof bytes);
      if (got > 0) {
        buffer_.append(bytes, static_cast<std::size_t>(got));
        return true;
      }
      if (got == 0 || errno != EINTR) {
        eof_ = true;
        return false;
      }
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> status_;
};

// The peer's first line when it listens: "listening <endpoint>"; returns
// the endpoint ("" if the line is something else).
std::string listening(Child& child) {
  const auto line = child.line();
  const std::string_view prefix = "listening ";
  if (!line || line->rfind(prefix, 0) != 0) {
    return {};
  }
  return line->substr(prefix.size());
}

// --- options ---------------------------------------------------------------------------

// For the side that waits for a peer that goes silent: heartbeats every
// 100 ms, a peer that answers none for 1 s is gone.
remote::Options watchful() {
  remote::Options options = generous();
  options.timeout = 1s;
  return options;
}

// --- round trips -------------------------------------------------------------------

const std::uint64_t round_trips = static_cast<std::uint64_t>(scaled(200));

// This process listens at `endpoint`; a child dials and runs the rounds.
void child_dials(const std::string& endpoint) {
  Watchdog watchdog("a child dials " + endpoint);
  remote::Listener<Adder> listener(endpoint, generous());
  Child child({"dial", listener.endpoint(), std::to_string(round_trips)});
  auto c = listener.accept_timeout(step_limit);
  REQUIRE(c);
  CHECK(serve_adder(std::move(*c)) == round_trips);
  CHECK(child.rest() == std::vector<std::string>{"sum " + std::to_string(sum_of_answers(round_trips))});
  CHECK(child.wait() == 0);
}

// A child listens at `endpoint`; this process dials and runs the rounds.
void test_dials(const std::string& endpoint) {
  Watchdog watchdog("the test dials a child at " + endpoint);
  Child child({"serve", endpoint, "1"});
  const std::string bound = listening(child);
  REQUIRE(!bound.empty());
  if (endpoint.find('*') == std::string::npos) {
    CHECK(bound == endpoint);
  } else {
    CHECK(bound.rfind("tcp://127.0.0.1:", 0) == 0);
  }
  CHECK(use_adder(remote::dial<Dual<Adder>>(bound, generous()), round_trips) == sum_of_answers(round_trips));
  CHECK(child.rest() == std::vector<std::string>{"served " + std::to_string(round_trips)});
  CHECK(child.wait() == 0);
}

}  // namespace

TEST_CASE("session remote processes: round trips with a child process over tcp and ipc", "[session][remote]") {
  SECTION("tcp, the test listens") { child_dials("tcp://127.0.0.1:*"); }
  SECTION("tcp, the child listens") { test_dials("tcp://127.0.0.1:*"); }
  SECTION("ipc, the test listens") {
    const IpcPath path("child-dials");
    child_dials(path.endpoint());
  }
  SECTION("ipc, the child listens") {
    const IpcPath path("test-dials");
    test_dials(path.endpoint());
  }
}

namespace {

// --- a peer killed or stopped mid-protocol ------------------------------------------

// What a step blocked on a dead or silent peer saw: Disconnected's what(),
// and when it was thrown.
struct Ended {
  std::string what;
  Clock::time_point at;
};

// Runs `step` (a step that must throw Disconnected) on a thread of its own.
template <class Step>
spindle::thread::JoinHandle<Ended> blocked_in(Step step) {
  return spindle::thread::spawn([step = std::move(step)]() mutable {
    try {
      step();
    } catch (const Disconnected& error) {
      return Ended{error.what(), Clock::now()};
    }
    throw std::logic_error("the step returned");
  });
}

// This process listens; the child dials, plays one round and holds the
// session. Returns the thread blocked in the next step here: the child's
// choice.
spindle::thread::JoinHandle<Ended> test_waits_for_child_dialer(remote::Listener<Adder>& listener, Child& child) {
  auto c = listener.accept_timeout(step_limit);
  if (!c) {
    throw std::runtime_error("the child did not dial");
  }
  auto choice = std::move(*c).enter().offer();
  if (choice.index() != 0) {
    throw std::runtime_error("the child quit at once");
  }
  auto [rest, x] = std::get<0>(std::move(choice)).recv();
  auto next = std::move(rest).send(x + 1).zero();
  if (child.line() != "ready-to-die") {
    throw std::runtime_error("the child did not hold the session");
  }
  return blocked_in([c = std::move(next)]() mutable {
    auto chosen = std::move(c).offer();
    throw std::logic_error("the child chose a branch " + std::to_string(chosen.index()));
  });
}

// The child listens; this process dials, plays one round, and blocks in
// the next: a recv.
spindle::thread::JoinHandle<Ended> test_waits_for_child_listener(const std::string& bound,
                                                                 const remote::Options& options, Child& child) {
  auto menu = remote::dial<Dual<Adder>>(bound, options).enter();
  auto [rest, y] = std::move(menu).sel1().send(std::uint64_t{41}).recv();
  if (y != 42) {
    throw std::runtime_error("the child answered " + std::to_string(y) + " to 41");
  }
  if (child.line() != "ready-to-die") {
    throw std::runtime_error("the child did not hold the session");
  }
  return blocked_in([c = std::move(rest).zero()]() mutable {
    auto [after, answer] = std::move(c).sel1().send(std::uint64_t{1}).recv();
    throw std::logic_error("the child answered " + std::to_string(answer));
  });
}

// Lets `waiting` block in its step, sends `signal` to the child, and
// returns how long after it the step threw Disconnected.
std::chrono::milliseconds detection(spindle::thread::JoinHandle<Ended> waiting, Child& child, int signal,
                                    const std::string& what) {
  std::this_thread::sleep_for(100ms);  // the step most likely waits by now; if not, it starts after the signal
  const auto sent = child.signal(signal);
  INFO(what);
  REQUIRE(spindle::test::session_support::eventually([&] { return waiting.is_finished(); }));  // else it hangs
  auto ended = waiting.join();
  if (ended.is_err()) {
    FAIL(what << ": " << ended.unwrap_err().what());
  }
  const Ended outcome = std::move(ended).unwrap();
  INFO(what << ": " << outcome.what);
  CHECK(contains(outcome.what, "disconnected"));
  if (signal == SIGKILL) {
    CHECK(child.wait() == 128 + SIGKILL);  // it died of the signal, not of its own accord
  } else {
    CHECK(child.wait(0ms) == Child::running);  // stopped, not gone: its silence told
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(outcome.at - sent);
  (void)std::printf("%s: Disconnected %lld ms after the signal\n", what.c_str(),
                    static_cast<long long>(elapsed.count()));
  (void)std::fflush(stdout);
  return elapsed;
}

// The peer's Options for the silent-peer tests, as its arguments: they must
// not change how soon this side notices.
std::vector<std::string> peer_options(bool slow) {
  return slow ? std::vector<std::string>{"--heartbeat", "10000", "--timeout", "20000"}
              : std::vector<std::string>{"--heartbeat", "100", "--timeout", "8000"};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The child dials this process's listener at `endpoint`, holds the session
// and gets `signal`: the step blocked here must throw Disconnected.
std::chrono::milliseconds child_dialer_gets(int signal, const std::string& endpoint, const remote::Options& options,
                                            const std::vector<std::string>& peer_args, const std::string& what) {
  remote::Listener<Adder> listener(endpoint, options);
  Child child(peer_args + std::vector<std::string>{"hold-dial", listener.endpoint()});
  return detection(test_waits_for_child_dialer(listener, child), child, signal, what);
}

// The child listens at `endpoint`, this process dials, the child holds the
// session and gets `signal`.
std::chrono::milliseconds child_listener_gets(int signal, const std::string& endpoint, const remote::Options& options,
                                              const std::vector<std::string>& peer_args, const std::string& what) {
  Child child(peer_args + std::vector<std::string>{"hold-serve", endpoint});
  const std::string bound = listening(child);
  REQUIRE(!bound.empty());
  return detection(test_waits_for_child_listener(bound, options, child), child, signal, what);
}

}  // namespace

TEST_CASE("session remote processes: a peer killed mid-protocol ends the session with Disconnected",
          "[session][remote]") {
  Watchdog watchdog("peer killed");
  // The kernel closes a killed process's connections: this side learns at
  // once (the listener at its next heartbeat), well within the bound.
  std::chrono::milliseconds elapsed{};
  SECTION("tcp, the test listens") {
    elapsed = child_dialer_gets(SIGKILL, "tcp://127.0.0.1:*", generous(), {}, "kill -9, tcp, the test listens");
  }
  SECTION("tcp, the child listens") {
    elapsed = child_listener_gets(SIGKILL, "tcp://127.0.0.1:*", generous(), {}, "kill -9, tcp, the child listens");
  }
  SECTION("ipc, the test listens") {
    const IpcPath path("killed-dialer");
    elapsed = child_dialer_gets(SIGKILL, path.endpoint(), generous(), {}, "kill -9, ipc, the test listens");
  }
  SECTION("ipc, the child listens") {
    const IpcPath path("killed-listener");
    elapsed = child_listener_gets(SIGKILL, path.endpoint(), generous(), {}, "kill -9, ipc, the child listens");
  }
  // Before this side's heartbeat timeout (8 s) could have said so: the
  // closed connection did. (Milliseconds in practice; the rest is slack.)
  CHECK(elapsed < generous().timeout);
}

TEST_CASE("session remote processes: a peer that goes silent mid-protocol ends the session within the timeout",
          "[session][remote]") {
  Watchdog watchdog("peer stopped");
  // SIGSTOP: the peer's connection stays open and its kernel still acks,
  // but nothing in it answers heartbeats. This side's Options (every
  // 100 ms, gone after 1 s) decide how soon it notices, not the peer's: a
  // peer that pings every 10 s and waits 20 s is noticed as soon.
  const remote::Options options = watchful();
  std::chrono::milliseconds elapsed{};
  SECTION("tcp, the test listens, the peer's options as generous as the test's") {
    elapsed = child_dialer_gets(SIGSTOP, "tcp://127.0.0.1:*", options, peer_options(false),
                                "SIGSTOP, tcp, the test listens, the peer's heartbeat 100 ms");
  }
  SECTION("tcp, the test listens, the peer's heartbeats slow") {
    elapsed = child_dialer_gets(SIGSTOP, "tcp://127.0.0.1:*", options, peer_options(true),
                                "SIGSTOP, tcp, the test listens, the peer's heartbeat 10 s");
  }
  SECTION("tcp, the child listens, the peer's options as generous as the test's") {
    elapsed = child_listener_gets(SIGSTOP, "tcp://127.0.0.1:*", options, peer_options(false),
                                  "SIGSTOP, tcp, the child listens, the peer's heartbeat 100 ms");
  }
  SECTION("tcp, the child listens, the peer's heartbeats slow") {
    elapsed = child_listener_gets(SIGSTOP, "tcp://127.0.0.1:*", options, peer_options(true),
                                  "SIGSTOP, tcp, the child listens, the peer's heartbeat 10 s");
  }
  SECTION("ipc, the test listens, the peer's heartbeats slow") {
    const IpcPath path("stopped-dialer");
    elapsed = child_dialer_gets(SIGSTOP, path.endpoint(), options, peer_options(true),
                                "SIGSTOP, ipc, the test listens, the peer's heartbeat 10 s");
  }
  // This side's heartbeat + timeout is 1.1 s; 4 s more is slack for a
  // loaded machine, and still short of the peer's own timeouts (8 s, 20 s):
  // had those decided, this fails.
  CHECK(elapsed < options.heartbeat + options.timeout + 4s);
}

TEST_CASE("session remote processes: a child whose protocol is not the dual is refused, and the listener goes on",
          "[session][remote]") {
  Watchdog watchdog("refused child");
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
    const auto deadline = Clock::now() + step_limit;
    std::optional<Chan<Adder>> accepted;
    while (!done.load() && !accepted && Clock::now() < deadline) {
      accepted = listener.accept_timeout(20ms);
    }
    return accepted ? serve_adder(std::move(*accepted)) : std::uint64_t{0};
  });
  const spindle::test::SetOnExit release(done);

  {
    Child wrong({"wrong", listener.endpoint()});
    const auto lines = wrong.rest();
    REQUIRE(lines.size() == 1);
    INFO(lines[0]);
    CHECK(lines[0].rfind("refused ", 0) == 0);
    CHECK(contains(lines[0], "not dual"));
    CHECK(contains(lines[0], "Rec<Choose<Send<u32,Recv<u64,Var<0>>>,Eps>>"));  // the child's
    CHECK(contains(lines[0], "Rec<Offer<Recv<u64,Send<u64,Var<0>>>,Eps>>"));   // the listener's
    CHECK(wrong.wait() == 0);
  }

  // The listener goes on: a child that speaks the dual is served.
  Child good({"dial", listener.endpoint(), "3"});
  CHECK(good.rest() == std::vector<std::string>{"sum 6"});
  CHECK(good.wait() == 0);
  auto served = acceptor.join();
  REQUIRE(served.is_ok());
  CHECK(served.unwrap() == 3);

  const std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(refusals.size() == 1);
  INFO(refusals[0]);
  CHECK(contains(refusals[0], "not the dual"));
  CHECK(contains(refusals[0], "Rec<Choose<Send<u32,Recv<u64,Var<0>>>,Eps>>"));
  CHECK(contains(refusals[0], "Rec<Offer<Recv<u64,Send<u64,Var<0>>>,Eps>>"));
}

namespace {

// What the listener's side of the 100 sessions saw.
struct Served {
  int sessions = 0;
  int failed = 0;
  std::uint64_t rounds = 0;
  std::string first_error;
};

}  // namespace

TEST_CASE("session remote processes: 100 clients from 4 processes at once against one listener", "[session][remote]") {
  Watchdog watchdog("100 clients");
  constexpr int children = 4;
  constexpr int clients_each = 25;
  constexpr int sessions = children * clients_each;
  const auto each = static_cast<std::uint64_t>(scaled(20));
  remote::Listener<Adder> listener("tcp://127.0.0.1:*", generous());
  // Each session accepted is served on a thread of its own.
  auto acceptor = spindle::thread::spawn([&listener] {
    const auto deadline = Clock::now() + step_limit;
    std::vector<spindle::thread::JoinHandle<std::uint64_t>> servers;
    while (servers.size() < static_cast<std::size_t>(sessions)) {
      auto c = listener.accept_deadline(deadline);
      if (!c) {
        break;
      }
      servers.push_back(spindle::thread::spawn([c = std::move(*c)]() mutable { return serve_adder(std::move(c)); }));
    }
    Served served;
    for (auto& server : servers) {
      auto rounds = server.join();
      ++served.sessions;
      if (rounds.is_ok()) {
        served.rounds += std::move(rounds).unwrap();
      } else if (served.failed++ == 0) {
        served.first_error = rounds.unwrap_err().what();
      }
    }
    return served;
  });

  std::deque<Child> clients;  // a Child does not move
  for (int i = 0; i < children; ++i) {
    clients.emplace_back(
        std::vector<std::string>{"dial", listener.endpoint(), std::to_string(each), std::to_string(clients_each)});
  }
  const std::string expected = "sum " + std::to_string(sum_of_answers(each));
  int answered = 0;
  for (Child& child : clients) {
    const auto lines = child.rest();
    for (const std::string& line : lines) {
      INFO(line);
      CHECK(line == expected);
      answered += line == expected ? 1 : 0;
    }
    CHECK(child.wait() == 0);
  }
  CHECK(answered == sessions);

  auto served = acceptor.join();
  REQUIRE(served.is_ok());
  const Served outcome = std::move(served).unwrap();
  INFO(outcome.first_error);
  CHECK(outcome.sessions == sessions);
  CHECK(outcome.failed == 0);
  CHECK(outcome.rounds == sessions * each);
}
