// SPDX-License-Identifier: MIT
// Round-based stress with stalled threads, for sessions over ZeroMQ
// (<spindle/session/zmq.hpp>): hunts lost wake-ups in the hub's hand-over
// of frames (a thread polls the socket for all the sessions on it, the
// others sleep until their frame comes) and in the credit window (a sender
// waits for the peer's credit, which the peer sends as it reads).
//
// Two sessions share one listener, so their two server threads take turns
// polling its socket; each client dials its own. The rounds are
// session/stall_rounds.hpp's, with every thread stalled at random
// instructions by its own timer and poked by its peer: the signals also
// interrupt ZeroMQ's calls, which must not end a session. The window is 2
// messages each way, and a peer is told of every message read, so a
// stream of 3 values waits for credit whenever the receiver lags. A lost
// wake-up leaves a step waiting; the watchdog ends the test with what each
// thread was doing.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "session/common.hpp"
#include "session/remote_common.hpp"
#include "session/stall_rounds.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/stall.hpp"

#include <spindle/session.hpp>
#include <spindle/session/zmq.hpp>
#include <spindle/thread.hpp>

// The rounds' values cross as two numbers.
template <>
struct spindle::session::Codec<spindle::test::stall_rounds::Value> {
  static void encode(Writer& out, const spindle::test::stall_rounds::Value& value) {
    spindle::session::encode(out, value.round);
    spindle::session::encode(out, value.seq);
  }
  static spindle::test::stall_rounds::Value decode(Reader& in) {
    const auto round = spindle::session::decode<long>(in);
    return {round, spindle::session::decode<long>(in)};
  }
};

namespace ss = spindle::session;
namespace remote = spindle::session::remote;
namespace th = spindle::thread;
namespace stall = spindle::test::stall;
namespace rounds = spindle::test::stall_rounds;
using spindle::test::ProgressWatchdog;
using spindle::test::session_support::RecordViolations;
using stall::Crew;

namespace {

constexpr std::size_t pairs = 2;
constexpr std::size_t window = 2;

}  // namespace

TEST_CASE("stall: rounds each way over two remote sessions on one listener, all sides stalled",
          "[session][remote][stall]") {
  RecordViolations violations;  // a side that fails drops its endpoint: the other must hear of it
  const std::uint64_t seed = stall::random_seed();
  std::vector<std::string> names;
  for (std::size_t k = 0; k < pairs; ++k) {
    names.push_back("client " + std::to_string(k));
    names.push_back("server " + std::to_string(k));
  }
  Crew crew("remote session", names, stall::stress_seconds(rounds::default_seconds), rounds::barrier_limit);
  remote::Options options = spindle::test::remote_support::generous();
  options.window = window;
  remote::Listener<ss::Dual<rounds::Turns>> listener("tcp://127.0.0.1:*", options);

  using Handle = th::JoinHandle<rounds::Outcome>;
  std::vector<Handle> clients;
  std::vector<Handle> servers;
  std::vector<rounds::Outcome> outcomes;
  {
    const ProgressWatchdog dog(
        "remote session: stalled rounds", [&crew] { return crew.progress(); }, [&crew] { return crew.describe(); },
        rounds::step_limit);
    for (std::size_t k = 0; k < pairs; ++k) {
      const rounds::Seats seats{2 * k, 2 * k + 1, window + 1};
      // One client dials at a time, so the session accepted is its own.
      clients.push_back(
          th::spawn([&crew, &options, seats, seed, s = stall::random_seed(), address = listener.endpoint()]() mutable {
            return rounds::run_client(crew, seats, remote::dial<rounds::Turns>(address, options), seed, s);
          }));
      std::optional<ss::Chan<ss::Dual<rounds::Turns>>> accepted = listener.accept_timeout(rounds::step_limit);
      REQUIRE(accepted.has_value());
      servers.push_back(th::spawn([&crew, seats, seed, s = stall::random_seed(), end = std::move(*accepted)]() mutable {
        return rounds::run_server(crew, seats, std::move(end), seed, s);
      }));
    }
    for (Handle& handle : clients) {
      outcomes.push_back(handle.join().unwrap());
    }
    for (Handle& handle : servers) {
      outcomes.push_back(handle.join().unwrap());
    }
  }
  long values = 0;
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  for (const rounds::Outcome& outcome : outcomes) {
    REQUIRE(outcome.timer_error == 0);  // every thread had its timer
    values += outcome.values;
    stalls += outcome.stalls;
    interrupts += outcome.interrupts;
  }
  INFO("seed " << seed << "; " << crew.met() << " rounds, " << values << " values, " << stalls << " stalls, "
               << interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(failure);
  }
  REQUIRE(violations.count() == 0);
  REQUIRE(stalls > 0);
  REQUIRE(interrupts > 0);
  REQUIRE(crew.met() > 1);
}
