// SPDX-License-Identifier: MIT
// len(), is_empty(), is_full() and capacity() on every handle of every
// flavour. The "crossbeam" cases port tests of crossbeam-channel 0.5.6
// (tests/list.rs, array.rs, zero.rs: capacity, len_empty_full, len), in
// spindle's words; the rest are spindle's own.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Watchdog;

// What every handle of one channel reports at once.
template <class Tx>
void require_sizes(const Tx& tx, const mpsc::Receiver<int>& rx, std::size_t len, bool full) {
  CAPTURE(len, full);
  REQUIRE(tx.len() == len);
  REQUIRE(rx.len() == len);
  REQUIRE(tx.is_empty() == (len == 0));
  REQUIRE(rx.is_empty() == (len == 0));
  REQUIRE(tx.is_full() == full);
  REQUIRE(rx.is_full() == full);
}

}  // namespace

TEST_CASE("crossbeam capacity: each flavour reports its bound on both ends", "[mpsc][introspection][ported]") {
  for (std::size_t n = 1; n < 10; ++n) {
    auto [tx, rx] = mpsc::sync_channel<int>(n);
    REQUIRE(tx.capacity() == std::optional<std::size_t>(n));
    REQUIRE(rx.capacity() == std::optional<std::size_t>(n));
  }
  auto [utx, urx] = mpsc::channel<int>();
  REQUIRE_FALSE(utx.capacity().has_value());
  REQUIRE_FALSE(urx.capacity().has_value());
  auto [ztx, zrx] = mpsc::sync_channel<int>(0);
  REQUIRE(ztx.capacity() == std::optional<std::size_t>(0));
  REQUIRE(zrx.capacity() == std::optional<std::size_t>(0));
}

TEST_CASE("crossbeam len_empty_full: a bounded channel of two, filled and drained", "[mpsc][introspection][ported]") {
  auto [tx, rx] = mpsc::sync_channel<int>(2);
  require_sizes(tx, rx, 0, false);
  REQUIRE(tx.send(1).is_ok());
  require_sizes(tx, rx, 1, false);
  REQUIRE(tx.send(2).is_ok());
  require_sizes(tx, rx, 2, true);
  REQUIRE(rx.recv().unwrap() == 1);
  require_sizes(tx, rx, 1, false);
}

TEST_CASE("crossbeam len_empty_full: an unbounded channel is never full", "[mpsc][introspection][ported]") {
  auto [tx, rx] = mpsc::channel<int>();
  require_sizes(tx, rx, 0, false);
  REQUIRE(tx.send(1).is_ok());
  require_sizes(tx, rx, 1, false);
  REQUIRE(rx.recv().unwrap() == 1);
  require_sizes(tx, rx, 0, false);
}

TEST_CASE("crossbeam len_empty_full: a rendezvous channel is empty and full at once", "[mpsc][introspection][ported]") {
  auto [tx, rx] = mpsc::sync_channel<int>(0);
  require_sizes(tx, rx, 0, true);
  Watchdog dog("rendezvous sizes");
  // A sender blocked in send() buffers nothing either.
  auto sender = spindle::thread::spawn([tx = tx]() mutable { return tx.send(7).is_ok(); });
  spindle::thread::sleep(2ms);
  require_sizes(tx, rx, 0, true);
  REQUIRE(rx.recv_timeout(spindle::test::wait_limit).unwrap() == 7);
  REQUIRE(sender.join().unwrap());
  require_sizes(tx, rx, 0, true);
}

TEST_CASE("crossbeam len: counts exact across laps of a ring and blocks of a list", "[mpsc][introspection][ported]") {
  constexpr std::size_t cap = 1000;
  SECTION("sync_channel(1000)") {
    auto [tx, rx] = mpsc::sync_channel<int>(cap);
    for (std::size_t round = 0; round < cap / 10; ++round) {
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(tx.send(static_cast<int>(i)).is_ok());
        REQUIRE(tx.len() == i + 1);
      }
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(rx.recv().is_ok());
        REQUIRE(rx.len() == 50 - i - 1);
      }
    }
    for (std::size_t i = 0; i < cap; ++i) {
      REQUIRE(tx.send(static_cast<int>(i)).is_ok());
      REQUIRE(tx.len() == i + 1);
    }
    REQUIRE(tx.is_full());
    for (std::size_t i = 0; i < cap; ++i) {
      REQUIRE(rx.recv().is_ok());
    }
    require_sizes(tx, rx, 0, false);
  }
  SECTION("channel()") {
    // Blocks of a list hold about a hundred messages: this crosses many.
    auto [tx, rx] = mpsc::channel<int>();
    for (std::size_t round = 0; round < cap / 10; ++round) {
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(tx.send(static_cast<int>(i)).is_ok());
        REQUIRE(tx.len() == i + 1);
      }
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(rx.recv().is_ok());
        REQUIRE(rx.len() == 50 - i - 1);
      }
    }
    for (std::size_t i = 0; i < 10 * cap; ++i) {
      REQUIRE(tx.send(static_cast<int>(i)).is_ok());
    }
    REQUIRE(tx.len() == 10 * cap);
    for (std::size_t i = 0; i < 10 * cap; ++i) {
      REQUIRE(rx.len() == 10 * cap - i);
      REQUIRE(rx.recv().is_ok());
    }
    require_sizes(tx, rx, 0, false);
  }
}

TEST_CASE("crossbeam len: while a sender and the receiver run, len stays within the bound",
          "[mpsc][introspection][ported]") {
  Watchdog dog("len while running");
  constexpr int count = 25'000;
  constexpr std::size_t cap = 1000;
  auto [tx, rx] = mpsc::sync_channel<int>(cap);
  auto sender = spindle::thread::spawn([tx = tx]() mutable {
    bool within = true;
    for (int i = 0; i < count; ++i) {
      within = tx.send(i).is_ok() && tx.len() <= cap && within;
    }
    return within;
  });
  bool in_order = true;
  bool within = true;
  for (int i = 0; i < count; ++i) {
    in_order = rx.recv_timeout(spindle::test::wait_limit).unwrap_or(-1) == i && in_order;
    within = rx.len() <= cap && within;
  }
  REQUIRE(sender.join().unwrap());
  REQUIRE(in_order);
  REQUIRE(within);
  require_sizes(tx, rx, 0, false);
}

TEST_CASE("len seen from a third thread is a count that existed: never above what was sent, never below what stays",
          "[mpsc][introspection]") {
  // The sender sends 0..count-1 and then stops; the receiver takes half. A
  // watcher reads len() throughout: any value must lie between what was
  // ever unreceived (at most count) and zero, and once both are done it is
  // exact.
  Watchdog dog("len from a watcher");
  constexpr int count = 20'000;
  auto [tx, rx] = mpsc::channel<int>();
  std::atomic<bool> done{false};
  auto watcher = spindle::thread::spawn([&done, watch = tx]() {
    std::size_t highest = 0;
    while (!done.load()) {
      const std::size_t len = watch.len();
      highest = len > highest ? len : highest;
    }
    return highest;
  });
  auto sender = spindle::thread::spawn([tx = tx]() mutable {
    for (int i = 0; i < count; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  for (int i = 0; i < count / 2; ++i) {
    REQUIRE(rx.recv_timeout(spindle::test::wait_limit).unwrap() == i);
  }
  REQUIRE(sender.join().unwrap());
  done = true;
  REQUIRE(watcher.join().unwrap() <= static_cast<std::size_t>(count));
  require_sizes(tx, rx, count / 2, false);
}

TEST_CASE("a receiver's drop empties the channel: its senders see len 0", "[mpsc][introspection]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto [stx, srx] = mpsc::sync_channel<int>(3);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(tx.send(i).is_ok());
  }
  REQUIRE(stx.send(1).is_ok());
  REQUIRE(stx.send(2).is_ok());
  REQUIRE(tx.len() == 300);
  REQUIRE(stx.len() == 2);
  spindle::drop(std::move(rx));
  spindle::drop(std::move(srx));
  REQUIRE(tx.len() == 0);
  REQUIRE(stx.len() == 0);
  REQUIRE_FALSE(stx.is_full());
}

TEST_CASE("timers hold at most one message", "[mpsc][introspection][timers]") {
  Watchdog dog("timer sizes");
  auto timer = mpsc::after(1ms);
  REQUIRE(timer.capacity() == std::optional<std::size_t>(1));
  REQUIRE(spindle::test::eventually([&] { return timer.len() == 1; }));
  REQUIRE(timer.is_full());
  REQUIRE(timer.recv().is_ok());
  REQUIRE(timer.len() == 0);
  REQUIRE(timer.capacity() == std::optional<std::size_t>(1));
  auto off = mpsc::never<int>();
  REQUIRE(off.len() == 0);
  REQUIRE(off.capacity() == std::optional<std::size_t>(0));
}

TEST_CASE("introspection on a moved-from handle throws std::logic_error", "[mpsc][introspection]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto [stx, srx] = mpsc::sync_channel<int>(1);
  auto tx2 = std::move(tx);
  auto stx2 = std::move(stx);
  auto rx2 = std::move(rx);
  // NOLINTBEGIN(bugprone-use-after-move): on purpose
  REQUIRE_THROWS_AS(tx.len(), std::logic_error);
  REQUIRE_THROWS_AS(stx.is_full(), std::logic_error);
  REQUIRE_THROWS_AS(rx.capacity(), std::logic_error);
  REQUIRE_THROWS_AS(rx.is_empty(), std::logic_error);
  // NOLINTEND(bugprone-use-after-move)
  REQUIRE(tx2.is_empty());
  REQUIRE(stx2.capacity() == std::optional<std::size_t>(1));
  REQUIRE(rx2.is_empty());
  REQUIRE(srx.is_empty());
}
