// SPDX-License-Identifier: MIT
// SyncSender::send_timeout and send_deadline on the bounded and rendezvous
// flavours. The "crossbeam" cases port crossbeam-channel 0.5.6's
// send_timeout tests (tests/array.rs, zero.rs) with flags in place of their
// sleeps, so that they do not depend on how loaded the machine is.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpsc = spindle::mpsc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::raised;
using spindle::test::wait_limit;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

// A message whose move takes a while, so that a timed receive gives up on a
// write in progress (which is then stashed, or taken back).
struct SlowWrite {
  explicit SlowWrite(int v) : counted(v) {}
  SlowWrite(SlowWrite&& other) noexcept : counted(std::move(other.counted)) {
    const auto until = Clock::now() + std::chrono::microseconds(2000);
    while (Clock::now() < until) {
    }
  }
  SlowWrite& operator=(SlowWrite&&) = delete;
  SlowWrite(const SlowWrite&) = delete;
  SlowWrite& operator=(const SlowWrite&) = delete;
  ~SlowWrite() = default;
  Counted counted;
};

}  // namespace

TEST_CASE("crossbeam send_timeout (array): a full channel times out, room lets the send through",
          "[mpsc][send_timeout][ported]") {
  Watchdog dog("send_timeout array");
  auto [tx, rx] = mpsc::sync_channel<int>(2);
  std::atomic<bool> timed_out{false};
  std::atomic<bool> drained{false};
  auto receiver = th::spawn([rx = std::move(rx), &timed_out, &drained]() mutable {
    if (!raised(timed_out)) {
      return false;
    }
    const bool first = rx.recv().unwrap() == 1 && rx.recv().unwrap() == 2;
    drained = true;
    return first && rx.recv_timeout(wait_limit).unwrap() == 4;
  });
  REQUIRE(tx.send_timeout(1, wait_limit).is_ok());
  REQUIRE(tx.send_timeout(2, wait_limit).is_ok());
  auto third = tx.send_timeout(3, 20ms);
  REQUIRE(third.is_err());
  REQUIRE(third.error().is_timeout());
  REQUIRE(std::move(third).unwrap_err().into_inner() == 3);
  timed_out = true;
  REQUIRE(raised(drained));
  REQUIRE(tx.send_timeout(4, wait_limit).is_ok());
  REQUIRE(receiver.join().unwrap());
  auto fifth = tx.send_timeout(5, wait_limit);  // the receiver is gone
  REQUIRE(fifth.error().is_disconnected());
  REQUIRE(fifth.error().value == 5);
}

TEST_CASE("crossbeam send_timeout (zero): no receiver times out, a receiver takes it, then disconnected",
          "[mpsc][send_timeout][ported]") {
  Watchdog dog("send_timeout zero");
  auto [tx, rx] = mpsc::sync_channel<int>(0);
  std::atomic<bool> timed_out{false};
  auto receiver = th::spawn([rx = std::move(rx), &timed_out]() mutable {
    return raised(timed_out) ? rx.recv_timeout(wait_limit).unwrap_or(-1) : -1;
  });
  auto seventh = tx.send_timeout(7, 20ms);
  REQUIRE(seventh.error().kind() == mpsc::SendTimeoutError<int>::Timeout);
  REQUIRE(seventh.error().value == 7);
  timed_out = true;
  REQUIRE(tx.send_timeout(8, wait_limit).is_ok());
  REQUIRE(receiver.join().unwrap() == 8);
  REQUIRE(tx.send_timeout(9, wait_limit).error().kind() == mpsc::SendTimeoutError<int>::Disconnected);
}

TEST_CASE("send_timeout waits at least its timeout, and its message stays the sender's", "[mpsc][send_timeout]") {
  LifetimeCheck lifetimes;
  auto [tx, rx] = mpsc::sync_channel<Counted>(1);
  REQUIRE(tx.send(Counted(1)).is_ok());
  const auto start = Clock::now();
  auto late = tx.send_timeout(Counted(2), 30ms);
  REQUIRE(Clock::now() - start >= 30ms);
  REQUIRE(late.error().is_timeout());
  REQUIRE(late.error().value.value() == 2);
  REQUIRE(rx.len() == 1);
  REQUIRE(rx.recv().unwrap().value() == 1);
}

TEST_CASE("send_deadline: a deadline passed still sends when no wait is needed", "[mpsc][send_timeout]") {
  auto [tx, rx] = mpsc::sync_channel<int>(1);
  const auto past = Clock::now() - 1s;
  REQUIRE(tx.send_deadline(1, past).is_ok());
  REQUIRE(tx.send_deadline(2, past).error().is_timeout());
  REQUIRE(tx.send_timeout(3, 0ms).error().is_timeout());
  REQUIRE(rx.recv().unwrap() == 1);
  REQUIRE(tx.send_timeout(4, Clock::duration::max()).is_ok());  // no overflow
  REQUIRE(rx.recv().unwrap() == 4);
  auto [ztx, zrx] = mpsc::sync_channel<int>(0);
  REQUIRE(ztx.send_deadline(5, past).error().is_timeout());  // no receiver waits
}

TEST_CASE("send_timeout: a receiver that goes wakes the blocked sender with its value", "[mpsc][send_timeout]") {
  Watchdog dog("send_timeout disconnect");
  for (const std::size_t capacity : {std::size_t{0}, std::size_t{1}}) {
    CAPTURE(capacity);
    auto [tx, rx] = mpsc::sync_channel<int>(capacity);
    if (capacity > 0) {
      REQUIRE(tx.send(0).is_ok());
    }
    std::atomic<bool> sending{false};
    auto sender = th::spawn([tx = tx, &sending]() mutable {
      sending = true;
      auto sent = tx.send_timeout(7, wait_limit);
      return sent.is_err() && sent.error().is_disconnected() && sent.error().value == 7;
    });
    REQUIRE(raised(sending));
    th::sleep(2ms);
    spindle::drop(std::move(rx));
    REQUIRE(sender.join().unwrap());
  }
}

TEST_CASE("send_timeout on a moved-from sender throws std::logic_error", "[mpsc][send_timeout]") {
  auto [tx, rx] = mpsc::sync_channel<int>(1);
  auto tx2 = std::move(tx);
  REQUIRE_THROWS_AS(tx.send_timeout(1, 1ms), std::logic_error);  // NOLINT(bugprone-use-after-move): on purpose
  REQUIRE_THROWS_AS(tx.send_deadline(1, Clock::now()), std::logic_error);  // NOLINT(bugprone-use-after-move)
  REQUIRE(tx2.send_timeout(1, 1ms).is_ok());
}

TEST_CASE("timed sends racing timed receives on a rendezvous: every message is received or handed back, once",
          "[mpsc][send_timeout]") {
  // Writes slow enough (2 ms) for a timed receive to give up on them, with
  // pauses after a receive times out, drive the hand-off into its corners:
  // a write given up on is taken up again by the next receive, or stashed;
  // then the sender's own deadline takes the stash back, or a receive takes
  // it up first; a sender whose deadline passed during its write takes it
  // back at once. Each message must be received once, in order, or come
  // back to its sender.
  Watchdog dog("timed rendezvous");
  LifetimeCheck lifetimes;
  constexpr int count = 150;
  int received = 0;
  th::JoinHandle<int> sender = [&] {
    auto [tx, rx] = mpsc::sync_channel<SlowWrite>(0);
    auto handle = th::spawn([tx = std::move(tx)]() mutable {
      int delivered = 0;
      for (int i = 0; i < count; ++i) {
        auto sent = tx.send_timeout(SlowWrite(i), std::chrono::microseconds((i * 397) % 8000));
        if (sent.is_ok()) {
          ++delivered;
        } else if (!sent.error().is_timeout() || sent.error().value.counted.value() != i) {
          return -1;
        }
      }
      return delivered;
    });
    int last = -1;
    for (int k = 0;; ++k) {
      auto got = rx.recv_timeout(std::chrono::microseconds(k % 7 == 0 ? 500 : 5));
      if (got.is_ok()) {
        const int value = got.unwrap().counted.value();
        REQUIRE(value > last);  // in order, each once
        last = value;
        ++received;
      } else if (got.unwrap_err() == mpsc::RecvTimeoutError::Disconnected) {
        break;
      } else {
        th::sleep(std::chrono::microseconds((k * 131) % 5000));
      }
    }
    return handle;
  }();
  REQUIRE(sender.join().unwrap() == received);
}
