// SPDX-License-Identifier: MIT
// Round-based stress with stalled threads, for a session: hunts lost
// wake-ups in its transport, one bounded channel each way with a single
// sender each. The rounds are session/stall_rounds.hpp's; a value and its
// choice are two messages here, so up to SPINDLE_SESSION_BUFFER + 1 values
// a direction fill the buffer whenever the receiver lags. See
// mpsc/test_stall.cpp for the channels alone.

#include <chrono>
#include <cstdint>
#include <string>

#include "session/common.hpp"
#include "session/stall_rounds.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/stall.hpp"

#include <spindle/session.hpp>
#include <spindle/thread.hpp>

namespace ss = spindle::session;
namespace th = spindle::thread;
namespace stall = spindle::test::stall;
namespace rounds = spindle::test::stall_rounds;
using spindle::test::ProgressWatchdog;
using spindle::test::session_support::RecordViolations;
using stall::Crew;

namespace {

constexpr rounds::Seats seats{0, 1, SPINDLE_SESSION_BUFFER + 1};

}  // namespace

TEST_CASE("stall: rounds each way over a session, both sides stalled", "[session][stall]") {
  RecordViolations violations;  // a side that fails drops its endpoint: the other must hear of it
  const std::uint64_t seed = stall::random_seed();
  Crew crew("session", {"client", "server"}, stall::stress_seconds(rounds::default_seconds), rounds::barrier_limit);
  auto [client_end, server_end] = ss::session_channel<rounds::Turns>();
  auto client = th::spawn([&crew, end = std::move(client_end), seed, s = stall::random_seed()]() mutable {
    return rounds::run_client(crew, seats, std::move(end), seed, s);
  });
  auto server = th::spawn([&crew, end = std::move(server_end), seed, s = stall::random_seed()]() mutable {
    return rounds::run_server(crew, seats, std::move(end), seed, s);
  });
  rounds::Outcome c;
  rounds::Outcome s;
  {
    // A session's steps have no timeout: a side stuck in one ends the
    // process, with what both were doing.
    const ProgressWatchdog dog(
        "session: stalled rounds", [&crew] { return crew.progress(); }, [&crew] { return crew.describe(); },
        rounds::step_limit);
    c = client.join().unwrap();
    s = server.join().unwrap();
  }
  INFO("seed " << seed << "; " << crew.met() << " rounds, " << c.values + s.values << " values, " << c.stalls + s.stalls
               << " stalls, " << c.interrupts + s.interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(failure);
  }
  REQUIRE(violations.count() == 0);
  REQUIRE(c.timer_error == 0);  // both threads had their timers
  REQUIRE(s.timer_error == 0);
  REQUIRE(c.stalls + s.stalls > 0);
  REQUIRE(c.interrupts + s.interrupts > 0);
  REQUIRE(crew.met() > 1);
}
