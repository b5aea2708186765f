// SPDX-License-Identifier: MIT
// Timers: after, at, tick and never are receivers whose messages come from
// the clock. Only lower bounds on time are checked (a message never comes
// early); how late it comes depends on the machine's load.

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

TEST_CASE("after(d) delivers one message, the time it was due, no earlier", "[mpsc][timers]") {
  Watchdog dog("after");
  const auto start = Clock::now();
  auto rx = mpsc::after(20ms);
  const auto due = rx.recv().unwrap();
  const auto received = Clock::now();
  REQUIRE(due >= start + 20ms);
  REQUIRE(received >= due);
  // One message only, and never disconnected: nothing more comes.
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
  REQUIRE(rx.recv_timeout(5ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
}

TEST_CASE("after(d) is empty before its time", "[mpsc][timers]") {
  auto rx = mpsc::after(1h);
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
  REQUIRE(rx.recv_timeout(2ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
}

TEST_CASE("at(t) for a time already past is ready at once, with t", "[mpsc][timers]") {
  const auto t = Clock::now() - 1s;
  auto rx = mpsc::at(t);
  REQUIRE(rx.try_recv().unwrap() == t);
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
}

TEST_CASE("a timer too far away to represent never fires", "[mpsc][timers]") {
  auto rx = mpsc::after(std::chrono::hours::max());
  REQUIRE(rx.recv_timeout(2ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
  auto far = mpsc::at(Clock::time_point::max());
  REQUIRE(far.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
}

TEST_CASE("tick(d) delivers on a fixed grid of periods after the first tick", "[mpsc][timers]") {
  Watchdog dog("tick");
  const auto start = Clock::now();
  auto rx = mpsc::tick(5ms);
  const auto first = rx.recv().unwrap();
  REQUIRE(first >= start + 5ms);
  auto previous = first;
  const Clock::duration period = std::chrono::duration_cast<Clock::duration>(5ms);
  for (int i = 0; i < 5; ++i) {
    const auto next = rx.recv().unwrap();
    // One period after the last, or, for a receive late by more than a
    // period (a loaded machine), a later point of the same grid.
    REQUIRE(next > previous);
    REQUIRE((next - previous) % period == Clock::duration::zero());
    REQUIRE(Clock::now() >= next);
    previous = next;
  }
}

TEST_CASE("a late receive of tick(d) gets the latest tick due, and the grid does not move", "[mpsc][timers]") {
  Watchdog dog("late tick");
  const Clock::duration period = std::chrono::duration_cast<Clock::duration>(4ms);
  auto rx = mpsc::tick(period);
  const auto first = rx.recv().unwrap();
  spindle::thread::sleep(period * 5 + period / 2);
  const auto before = Clock::now();
  // Ticks missed meanwhile were dropped but the latest: the one waiting is
  // on the grid, due at most a period before we looked.
  const auto waiting = rx.try_recv().unwrap();
  const auto after = Clock::now();
  REQUIRE((waiting - first) % period == Clock::duration::zero());
  REQUIRE(waiting > first + period);
  REQUIRE(waiting <= after);
  REQUIRE(waiting > before - period);
  // The next is still on the grid: the late receive did not push it back
  // (a period after the one waiting, unless this thread was held up again).
  const auto next = rx.recv().unwrap();
  REQUIRE(next > waiting);
  REQUIRE((next - waiting) % period == Clock::duration::zero());
}

TEST_CASE("tick() refuses a period that is not positive", "[mpsc][timers]") {
  REQUIRE_THROWS_AS(mpsc::tick(0ms), std::invalid_argument);
  REQUIRE_THROWS_AS(mpsc::tick(-1s), std::invalid_argument);
}

TEST_CASE("never<T>() never delivers and is never disconnected, for any T", "[mpsc][timers]") {
  auto ints = mpsc::never<int>();
  REQUIRE(ints.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
  REQUIRE(ints.recv_timeout(2ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
  auto owned = mpsc::never<std::unique_ptr<std::string>>();
  REQUIRE(owned.recv_deadline(Clock::now() + 1ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(owned.try_iter().begin() == std::default_sentinel);
}

TEST_CASE("a timer receiver can be moved, and a moved-from one refuses to receive", "[mpsc][timers]") {
  auto rx = mpsc::at(Clock::now());
  auto moved = std::move(rx);
  REQUIRE(moved.recv().is_ok());
  REQUIRE_THROWS_AS(rx.try_recv(), std::logic_error);  // NOLINT(bugprone-use-after-move): on purpose
}
