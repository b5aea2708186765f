// SPDX-License-Identifier: MIT
// Deadlines hold whatever another thread's move costs, and a throwing move
// strands nobody.
//
// A message whose move blocks until the test opens a gate stands in for a
// slow move: a receive that returns while the sender is still inside that
// move has, by construction, not waited for it, whatever the machine's load.
// Before the fix these receives waited for the write (and so for the gate,
// which the test opens only after they return): the watchdog fired.

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/fragile_move.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::FragileMove;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

namespace {

/// Holds the first move of a Gated message after arm() until open().
class Gate {
 public:
  void arm() { armed_ = true; }
  void open() { open_ = true; }
  [[nodiscard]] bool entered() const { return entered_; }
  [[nodiscard]] bool timed_out() const { return timed_out_; }

  void pass() {
    if (!armed_.exchange(false)) {
      return;
    }
    entered_ = true;
    // Bounded: a test that never opens the gate fails rather than hangs.
    if (!eventually([this] { return open_.load(); })) {
      timed_out_ = true;
    }
  }

 private:
  std::atomic<bool> armed_{false};
  std::atomic<bool> entered_{false};
  std::atomic<bool> open_{false};
  std::atomic<bool> timed_out_{false};
};

struct Gated {
  Gated(Gate* g, int v) : gate(g), payload(v) {}
  // Not noexcept: a move that may block may also throw, and the channels
  // take their exception-safe path for it.
  Gated(Gated&& other) : gate(other.gate), payload(std::move(other.payload)) {  // NOLINT
    gate->pass();
  }
  Gated& operator=(Gated&&) = delete;
  Gated(const Gated&) = delete;
  Gated& operator=(const Gated&) = delete;
  ~Gated() = default;

  Gate* gate;
  Counted payload;
};

}  // namespace

TEMPLATE_TEST_CASE("a receive's deadline holds while a sender is inside a slow move", "[mpsc][deadline]", Unbounded,
                   Bounded, Rendezvous) {
  Watchdog dog("receive during a slow move");
  LifetimeCheck check;
  {
    Gate gate;
    auto tx_rx = TestType::template make<Gated>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    gate.arm();
    auto sender = th::spawn([tx = std::move(tx), &gate]() mutable { return tx.send(Gated(&gate, 7)).is_ok(); });
    if constexpr (spindle::test::buffered<TestType>) {
      // The sender claims its slot without a receiver, then blocks in the move.
      REQUIRE(eventually([&] { return gate.entered(); }));
      auto r = rx.recv_timeout(10ms);
      REQUIRE(r.is_err());
      REQUIRE(r.error() == mpsc::RecvTimeoutError::Timeout);
      REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
      auto d = rx.recv_deadline(std::chrono::steady_clock::now() - 1s);
      REQUIRE(d.error() == mpsc::RecvTimeoutError::Timeout);
    } else {
      // The sender pairs with this receive, then blocks in the move: the
      // receive times out regardless (retried, since the sender may pair
      // only after a first receive gave up).
      bool timed_out_inside_move = false;
      for (int attempt = 0; attempt < 200 && !timed_out_inside_move; ++attempt) {
        auto r = rx.recv_timeout(20ms);
        REQUIRE(r.is_err());
        REQUIRE(r.error() == mpsc::RecvTimeoutError::Timeout);
        timed_out_inside_move = gate.entered();
      }
      REQUIRE(timed_out_inside_move);
      REQUIRE(rx.try_recv().is_err());  // the write is still going on
    }
    REQUIRE(!gate.timed_out());
    gate.open();
    // The message was not lost: the next receive takes it, and only then
    // does a rendezvous send complete.
    auto got = rx.recv_timeout(wait_limit);
    REQUIRE(got.is_ok());
    REQUIRE(got->payload.value() == 7);
    REQUIRE(sender.join().unwrap());
    REQUIRE(!gate.timed_out());
  }
  REQUIRE(check.balanced());
}

TEST_CASE("rendezvous: a send whose receive gave up during its move fails with its message if the receiver goes",
          "[mpsc][rendezvous][deadline]") {
  Watchdog dog("abandoned hand-off, then the receiver goes");
  LifetimeCheck check;
  {
    Gate gate;
    auto tx_rx = mpsc::sync_channel<Gated>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    gate.arm();
    auto sender = th::spawn([tx = std::move(tx), &gate]() mutable {
      auto r = tx.send(Gated(&gate, 11));
      return r.is_err() ? std::optional<int>(r.error().value.payload.value()) : std::nullopt;
    });
    while (!gate.entered()) {
      REQUIRE(rx.recv_timeout(20ms).error() == mpsc::RecvTimeoutError::Timeout);
    }
    gate.open();
    drop(std::move(rx));
    const std::optional<int> returned = sender.join().unwrap();
    REQUIRE(returned == std::optional<int>(11));  // the send failed, and its value came back whole
  }
  REQUIRE(check.balanced());
}

TEST_CASE("rendezvous: a try_send whose receive gave up during its move fails as Full with its message",
          "[mpsc][rendezvous][deadline]") {
  Watchdog dog("abandoned try_send");
  LifetimeCheck check;
  {
    Gate gate;
    auto tx_rx = mpsc::sync_channel<Gated>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::atomic<bool> stop{false};
    auto sender = th::spawn([tx = std::move(tx), &gate, &stop]() mutable {
      // Full without entering the move: no receiver was waiting; try again.
      // Full after entering it: the receive gave up on this hand-off.
      while (!stop) {
        gate.arm();
        auto r = tx.try_send(Gated(&gate, 5));
        if (r.is_ok()) {
          return -1;  // paired and completed: the receive should have timed out
        }
        if (gate.entered()) {
          if (r.error().kind() != mpsc::TrySendError<Gated>::Full) {
            return -3;
          }
          return std::move(r).unwrap_err().into_inner().payload.value();
        }
      }
      return -2;
    });
    const spindle::test::SetOnExit stop_on_exit(stop);
    while (!gate.entered()) {
      REQUIRE(rx.recv_timeout(20ms).error() == mpsc::RecvTimeoutError::Timeout);
    }
    gate.open();
    REQUIRE(sender.join().unwrap() == 5);
    // Nothing was left behind in the channel; its one sender is gone.
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
  }
  REQUIRE(check.balanced());
}

TEST_CASE("rendezvous: a sender whose move throws leaves the receive to the other blocked senders",
          "[mpsc][rendezvous][lifetime]") {
  // The first sender to block is the first woken by the receive; its move
  // throws. Before the fix, the receive went back to waiting but the other
  // sender slept on: recv_timeout never returned, try_recv never did either.
  Watchdog dog("throwing move with another sender asleep");
  LifetimeCheck check;
  for (const bool with_try_recv : {false, true}) {
    CAPTURE(with_try_recv);
    auto tx_rx = mpsc::sync_channel<FragileMove>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::atomic<bool> breaker_done{false};
    auto breaker = th::spawn([tx = tx, &breaker_done]() mutable {
      const spindle::test::SetOnExit done(breaker_done);
      try {
        (void)tx.send(FragileMove(-1, 0));  // its first move throws
      } catch (const spindle::test::MoveFailed&) {
        return true;
      }
      return false;
    });
    th::sleep(50ms);  // lets it block first, and fall asleep
    auto good =
        th::spawn([tx = std::move(tx)]() mutable { return tx.send(FragileMove(7, FragileMove::plenty)).is_ok(); });
    th::sleep(50ms);
    std::optional<int> got;
    if (with_try_recv) {
      REQUIRE(eventually([&] {
        auto r = rx.try_recv();
        if (r.is_ok()) {
          got = r->value();
        }
        return got.has_value();
      }));
    } else {
      for (int attempt = 0; attempt < 50 && !got; ++attempt) {
        auto r = rx.recv_timeout(200ms);
        if (r.is_ok()) {
          got = r->value();
        }
      }
    }
    REQUIRE(got == std::optional<int>(7));
    // Where wake-ups are not first come, first served (the portable parking
    // wakes every sleeper), the good sender may have paired first: then the
    // breaker needs a receive of its own, which its move leaves empty.
    REQUIRE(eventually([&] {
      if (!breaker_done) {
        auto r = rx.recv_timeout(10ms);
        REQUIRE(r.is_err());
      }
      return breaker_done.load();
    }));
    REQUIRE(breaker.join().unwrap());
    REQUIRE(good.join().unwrap());
  }
  REQUIRE(check.balanced());
}

TEMPLATE_TEST_CASE("try_recv and an expired receive do not wait for a write in progress", "[mpsc][deadline]", Unbounded,
                   Bounded) {
  // Messages sent before the slow one are received; the slow one is not yet
  // sent, so the receives report nothing more, and the message after it
  // waits behind it.
  Watchdog dog("receives behind a slow move");
  LifetimeCheck check;
  {
    Gate gate;
    auto tx_rx = TestType::template make<Gated>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.send(Gated(&gate, 1)).is_ok());
    gate.arm();
    auto slow = th::spawn([tx = tx, &gate]() mutable { return tx.send(Gated(&gate, 2)).is_ok(); });
    REQUIRE(eventually([&] { return gate.entered(); }));
    REQUIRE(rx.try_recv()->payload.value() == 1);
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
    REQUIRE(rx.recv_timeout(0ms).error() == mpsc::RecvTimeoutError::Timeout);
    gate.open();
    REQUIRE(rx.recv_timeout(wait_limit)->payload.value() == 2);
    REQUIRE(slow.join().unwrap());
  }
  REQUIRE(check.balanced());
}
