// SPDX-License-Identifier: MIT
#pragma once

// What the tests of sessions over ZeroMQ share (test_remote.cpp,
// test_remote_processes.cpp and the remote_peer program): the Adder
// protocol and its two sides, Options generous enough for a loaded machine,
// and an ipc path of the process's own. The peer program and the tests
// must agree on Adder: were they to drift apart, the fingerprint check at
// connect would refuse every session, and the tests would fail.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>

namespace spindle::test::remote_support {

using spindle::session::Chan;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;

/// Adds one to each number until the client quits.
using Adder = Rec<Offer<Recv<std::uint64_t, Send<std::uint64_t, Var<Z>>>, Eps>>;

/// Adder's server: returns how many numbers it answered.
inline std::uint64_t serve_adder(Chan<Adder> c) {
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

/// Adder's client: sends 0, 1, ... `rounds` times, then quits; returns the
/// sum of the answers (sum_of_answers(rounds)).
inline std::uint64_t use_adder(Chan<Dual<Adder>> c, std::uint64_t rounds) {
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

constexpr std::uint64_t sum_of_answers(std::uint64_t rounds) { return rounds * (rounds + 1) / 2; }

/// For a peer that must not be taken for dead: a loaded machine (a
/// sanitizer, other builds) never stalls a live process 8 s. No test waits
/// for the timeout: a peer that leaves says so, or its connection drops.
inline spindle::session::remote::Options generous() {
  using namespace std::chrono_literals;
  spindle::session::remote::Options options;
  options.heartbeat = 100ms;
  options.timeout = 8s;
  options.connect_timeout = 8s;
  return options;
}

/// An ipc path of this process's own, removed at the end.
class IpcPath {
 public:
  explicit IpcPath(const std::string& name)
      : path_((std::filesystem::temp_directory_path() / "spindle-test-").string() + std::to_string(::getpid()) + "-" +
              name + ".ipc") {}
  IpcPath(const IpcPath&) = delete;
  IpcPath& operator=(const IpcPath&) = delete;
  ~IpcPath() { (void)std::remove(path_.c_str()); }
  [[nodiscard]] std::string endpoint() const { return "ipc://" + path_; }

 private:
  std::string path_;
};

}  // namespace spindle::test::remote_support
