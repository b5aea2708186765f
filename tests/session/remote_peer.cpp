// SPDX-License-Identifier: MIT
//
// The other process of tests/session/test_remote_processes.cpp: plays one
// side of a remote session (<spindle/session/zmq.hpp>), chosen by its
// arguments, and prints what it saw on stdout, one line each:
//
//   remote_peer [--heartbeat MS] [--timeout MS] <mode> <endpoint> [args]
//
//   serve <endpoint> <sessions>   listens, prints "listening <endpoint bound>",
//                                 serves that many Adder sessions one after
//                                 another: "served <rounds>" each
//   dial <endpoint> <rounds> [<clients>]
//                                 opens <clients> (1) sessions at once, each on
//                                 its own thread, runs <rounds> rounds in each:
//                                 "sum <answers' sum>" each
//   wrong <endpoint>              dials with a protocol that is not the dual of
//                                 Adder: "refused <Refused::what()>"
//   hold-dial <endpoint>          dials, runs one round (41 -> 42), prints
//                                 "ready-to-die" and waits to be killed
//   hold-serve <endpoint>         listens ("listening ..."), serves one round,
//                                 prints "ready-to-die" and waits to be killed
//
// --heartbeat and --timeout set its Options (100 ms and 8 s otherwise: a
// live test process is never taken for dead). A step that fails prints
// "error <what>" and exits 1. Whatever happens, it ends by itself within
// 30 s (an alarm), and on Linux when the process that spawned it dies:
// no orphan outlives a test.

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <latch>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>
#include <spindle/thread.hpp>

#include "session/remote_common.hpp"

namespace remote = spindle::session::remote;
using spindle::session::Chan;
using spindle::session::Choose;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;
using namespace std::chrono_literals;
using spindle::test::remote_support::Adder;
using spindle::test::remote_support::serve_adder;
using spindle::test::remote_support::use_adder;

namespace {

constexpr unsigned lifetime_seconds = 30;

// Adder's client with u32 where u64 is: not the dual.
using Wrong = Rec<Choose<Send<std::uint32_t, Recv<std::uint64_t, Var<Z>>>, Eps>>;

// One line on stdout, at once: the test reads it while this process runs.
void say(const std::string& line) {
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  (void)std::printf("%s\n", line.c_str());
  (void)std::fflush(stdout);
}

// Mid-protocol, with the session `held` open: waits for the test's signal.
// Ends the process without unwinding (the endpoint is not at Eps), should
// none come.
template <class Held>
[[noreturn]] void wait_to_be_killed(Held /*held*/) {
  say("ready-to-die");
  for (int i = 0; i < 250; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  say("error nobody killed this process");
  std::_Exit(1);
}

remote::Listener<Adder> listen(const std::string& endpoint, const remote::Options& options) {
  remote::Listener<Adder> listener(endpoint, options);
  say("listening " + listener.endpoint());
  return listener;
}

Chan<Adder> accept(remote::Listener<Adder>& listener) {
  auto c = listener.accept_timeout(20s);
  if (!c) {
    throw std::runtime_error("no client came within 20 s");
  }
  return std::move(*c);
}

int serve(const std::string& endpoint, int sessions, const remote::Options& options) {
  auto listener = listen(endpoint, options);
  for (int i = 0; i < sessions; ++i) {
    say("served " + std::to_string(serve_adder(accept(listener))));
  }
  return 0;
}

int dial(const std::string& endpoint, std::uint64_t rounds, int clients, const remote::Options& options) {
  std::latch start(clients);  // the clients dial at once
  std::vector<spindle::thread::JoinHandle<std::uint64_t>> threads;
  threads.reserve(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i) {
    threads.push_back(spindle::thread::spawn([&] {
      start.arrive_and_wait();
      return use_adder(remote::dial<Dual<Adder>>(endpoint, options), rounds);
    }));
  }
  int failed = 0;
  for (auto& thread : threads) {
    auto sum = thread.join();
    if (sum.is_ok()) {
      say("sum " + std::to_string(std::move(sum).unwrap()));
    } else {
      say(std::string("error ") + sum.unwrap_err().what());
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}

int dial_wrong(const std::string& endpoint, const remote::Options& options) {
  try {
    auto c = remote::dial<Wrong>(endpoint, options);
    std::move(c).enter().sel2().close();
  } catch (const remote::Refused& error) {
    say(std::string("refused ") + error.what());
    return 0;
  }
  say("error the listener accepted a protocol that is not the dual of its own");
  return 1;
}

[[noreturn]] void hold_dial(const std::string& endpoint, const remote::Options& options) {
  auto menu = remote::dial<Dual<Adder>>(endpoint, options).enter();
  auto [rest, y] = std::move(menu).sel1().send(std::uint64_t{41}).recv();
  if (y != 42) {
    say("error the listener answered " + std::to_string(y) + " to 41");
    std::_Exit(1);
  }
  wait_to_be_killed(std::move(rest).zero());  // the listener waits for a choice
}

[[noreturn]] void hold_serve(const std::string& endpoint, const remote::Options& options) {
  auto listener = listen(endpoint, options);
  auto choice = accept(listener).enter().offer();
  if (choice.index() != 0) {
    say("error the client quit at once");
    std::_Exit(1);
  }
  auto [rest, x] = std::get<0>(std::move(choice)).recv();
  wait_to_be_killed(std::move(rest).send(x + 1).zero());  // the client's turn
}

int usage() {
  (void)std::fprintf(stderr,
                     "usage: remote_peer [--heartbeat MS] [--timeout MS] serve <endpoint> <sessions>\n"
                     "       | dial <endpoint> <rounds> [<clients>] | wrong <endpoint>\n"
                     "       | hold-dial <endpoint> | hold-serve <endpoint>\n");
  return 2;
}

int run(std::vector<std::string> args) {
  remote::Options options;
  options.heartbeat = 100ms;
  options.timeout = 8s;
  options.connect_timeout = 8s;
  while (args.size() >= 2 && (args[0] == "--heartbeat" || args[0] == "--timeout")) {
    const std::chrono::milliseconds value(std::stol(args[1]));
    (args[0] == "--heartbeat" ? options.heartbeat : options.timeout) = value;
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() < 2) {
    return usage();
  }
  const std::string& mode = args[0];
  const std::string& endpoint = args[1];
  if (mode == "serve" && args.size() == 3) {
    return serve(endpoint, std::stoi(args[2]), options);
  }
  if (mode == "dial" && (args.size() == 3 || args.size() == 4)) {
    return dial(endpoint, std::stoull(args[2]), args.size() == 4 ? std::stoi(args[3]) : 1, options);
  }
  if (mode == "wrong" && args.size() == 2) {
    return dial_wrong(endpoint, options);
  }
  if (mode == "hold-dial" && args.size() == 2) {
    hold_dial(endpoint, options);
  }
  if (mode == "hold-serve" && args.size() == 2) {
    hold_serve(endpoint, options);
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  // SIGALRM's default action ends the process, wherever its threads wait.
  ::alarm(lifetime_seconds);
#if defined(__linux__)
  // Killed with the test process: even stopped (SIGSTOP), which the alarm
  // could not end. (Tied to the thread that spawned this process: the test
  // spawns from its main thread.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& error) {
    say(std::string("error ") + error.what());
    return 1;
  }
}
