// SPDX-License-Identifier: MIT
// The bounded flavour, sync_channel<T>(n) with n >= 1: exactly n messages
// fit; send blocks while full and resumes when the receiver frees a slot;
// the receiver going releases blocked senders with their messages.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "mpsc/heap.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::LifetimeCheck;
using spindle::test::SetOnExit;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

namespace {

// Fills the channel with try_send, counting up from `first`, until it
// reports Full (or `limit` sends succeeded). Returns how many fitted.
std::size_t fill(mpsc::SyncSender<int>& tx, int first, std::size_t limit = 1'000'000) {
  std::size_t n = 0;
  while (n < limit) {
    auto r = tx.try_send(first + static_cast<int>(n));
    if (r.is_err()) {
      break;
    }
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("bounded: capacity 1 holds exactly one message", "[mpsc][bounded]") {
  auto tx_rx = mpsc::sync_channel<int>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.try_send(1).is_ok());
  auto full = tx.try_send(2);
  REQUIRE(full.is_err());
  REQUIRE(full.error().kind() == mpsc::TrySendError<int>::Full);
  REQUIRE(full.error().is_full());
  REQUIRE(std::move(full).unwrap_err().into_inner() == 2);
  REQUIRE(rx.try_recv().unwrap() == 1);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(tx.try_send(3).is_ok());
  REQUIRE(tx.try_send(4).is_err());
  REQUIRE(rx.try_recv().unwrap() == 3);
}

TEST_CASE("bounded: capacity 3 holds exactly three messages", "[mpsc][bounded]") {
  auto tx_rx = mpsc::sync_channel<int>(3);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 0) == 3);
  REQUIRE(tx.try_send(99).error().is_full());
  // One receive frees exactly one slot.
  REQUIRE(rx.try_recv().unwrap() == 0);
  REQUIRE(fill(tx, 3) == 1);
  for (int expected : {1, 2, 3}) {
    REQUIRE(rx.try_recv().unwrap() == expected);
  }
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(fill(tx, 4) == 3);
}

TEST_CASE("bounded: every capacity is honoured exactly, lap after lap", "[mpsc][bounded]") {
  const std::size_t cap = GENERATE(as<std::size_t>{}, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000);
  CAPTURE(cap);
  auto tx_rx = mpsc::sync_channel<int>(cap);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 0) == cap);
  // Slide the window round the ring several times: receive one, exactly
  // one fits again.
  int next_send = static_cast<int>(cap);
  int next_recv = 0;
  int wrong = 0;
  for (std::size_t i = 0; i < 3 * cap + 5; ++i) {
    auto r = rx.try_recv();
    wrong += (r.is_ok() && *r == next_recv++) ? 0 : 1;
    wrong += tx.try_send(next_send++).is_ok() ? 0 : 1;
    wrong += tx.try_send(-1).is_err() ? 0 : 1;
  }
  REQUIRE(wrong == 0);
  // Drain: exactly cap left, in order.
  std::size_t left = 0;
  for (int v : rx.try_iter()) {
    wrong += v == next_recv++ ? 0 : 1;
    ++left;
  }
  REQUIRE(left == cap);
  REQUIRE(wrong == 0);
}

TEST_CASE("bounded: a large capacity takes that many messages without a receive", "[mpsc][bounded]") {
  constexpr std::size_t cap = 100'000;
  auto tx_rx = mpsc::sync_channel<int>(cap);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 0) == cap);
  REQUIRE(tx.try_send(-1).error().is_full());
  int wrong = 0;
  for (int i = 0; i < static_cast<int>(cap); ++i) {
    auto r = rx.try_recv();
    wrong += (r.is_ok() && *r == i) ? 0 : 1;
  }
  REQUIRE(wrong == 0);
}

TEST_CASE("bounded: send and try_send interleave in one order", "[mpsc][bounded]") {
  auto tx_rx = mpsc::sync_channel<int>(2);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(0).is_ok());
  REQUIRE(tx.try_send(1).is_ok());
  REQUIRE(tx.try_send(2).error().is_full());
  REQUIRE(rx.recv().unwrap() == 0);
  REQUIRE(tx.try_send(2).is_ok());
  REQUIRE(rx.recv().unwrap() == 1);
  REQUIRE(tx.send(3).is_ok());
  REQUIRE(rx.recv().unwrap() == 2);
  REQUIRE(rx.recv().unwrap() == 3);
}

TEST_CASE("bounded: send blocks while the channel is full and resumes when a slot frees", "[mpsc][bounded]") {
  Watchdog dog("send blocks while full");
  auto tx_rx = mpsc::sync_channel<int>(2);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 0) == 2);
  std::atomic<bool> sent{false};
  th::scope([&](th::Scope& s) {
    auto sender = s.spawn([&sent, tx = tx]() mutable {
      const bool ok = tx.send(99).is_ok();
      sent = true;
      return ok;
    });
    th::sleep(20ms);
    REQUIRE_FALSE(sent.load());  // full, and nothing received: it cannot have returned
    REQUIRE(rx.recv().unwrap() == 0);
    REQUIRE(eventually([&] { return sent.load(); }));
    REQUIRE(sender.join().unwrap());
  });
  REQUIRE(rx.recv().unwrap() == 1);
  REQUIRE(rx.recv().unwrap() == 99);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
}

TEST_CASE("bounded: freeing one slot lets exactly one blocked sender through", "[mpsc][bounded]") {
  Watchdog dog("one slot, one sender");
  auto tx_rx = mpsc::sync_channel<int>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.try_send(0).is_ok());
  std::atomic<int> completed{0};
  th::scope([&](th::Scope& s) {
    auto a = s.spawn([&completed, tx = tx]() mutable {
      const bool ok = tx.send(1).is_ok();
      ++completed;
      return ok;
    });
    auto b = s.spawn([&completed, tx = tx]() mutable {
      const bool ok = tx.send(2).is_ok();
      ++completed;
      return ok;
    });
    th::sleep(20ms);
    REQUIRE(completed.load() == 0);
    REQUIRE(rx.recv().unwrap() == 0);
    REQUIRE(eventually([&] { return completed.load() >= 1; }));
    th::sleep(20ms);
    REQUIRE(completed.load() == 1);  // the one slot is taken again: the other still waits
    auto first = rx.recv();
    REQUIRE(first.is_ok());
    REQUIRE(eventually([&] { return completed.load() == 2; }));
    auto second = rx.recv();
    REQUIRE(second.is_ok());
    REQUIRE(*first + *second == 3);
    REQUIRE(a.join().unwrap());
    REQUIRE(b.join().unwrap());
  });
}

TEST_CASE("bounded: a sender never gets more than the capacity ahead of the receiver", "[mpsc][bounded]") {
  Watchdog dog("capacity ahead");
  constexpr int cap = 3;
  constexpr int n = 300;
  auto tx_rx = mpsc::sync_channel<int>(cap);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<int> progress{0};  // sends that returned
  int too_far_ahead = 0;
  th::scope([&](th::Scope& s) {
    auto producer = s.spawn([&progress, tx = std::move(tx)]() mutable {
      for (int i = 0; i < n; ++i) {
        if (tx.send(i).is_err()) {
          return false;
        }
        progress = i + 1;
      }
      return true;
    });
    for (int k = 0; k < n; ++k) {
      // k received so far: at most k + cap sends can have completed.
      too_far_ahead += progress.load() > k + cap ? 1 : 0;
      if (k % 50 == 0) {
        th::sleep(1ms);  // let the producer run into the full channel
        too_far_ahead += progress.load() > k + cap ? 1 : 0;
      }
      auto r = rx.recv();
      if (r.is_err() || *r != k) {
        ++too_far_ahead;
        break;
      }
    }
    REQUIRE(producer.join().unwrap());
  });
  REQUIRE(too_far_ahead == 0);
}

TEST_CASE("bounded: senders blocked on a full channel fail with their messages when the receiver goes",
          "[mpsc][bounded][lifetime]") {
  Watchdog dog("blocked senders released");
  LifetimeCheck check;
  auto tx_rx = mpsc::sync_channel<Counted>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(Counted(0)).is_ok());
  std::vector<th::JoinHandle<int>> blocked;
  for (int t = 1; t <= 3; ++t) {
    blocked.push_back(th::spawn([tx = tx, t]() mutable {
      auto r = tx.send(Counted(100 + t));
      return r.is_err() ? r.error().value.value() : -1;
    }));
  }
  th::sleep(20ms);
  REQUIRE(check.live() >= 1);
  drop(std::move(rx));
  int sum = 0;
  for (auto& h : blocked) {
    sum += h.join().unwrap();
  }
  REQUIRE(sum == 101 + 102 + 103);  // every one failed, each with its own message
  REQUIRE(check.live() == 0);       // including the buffered one
  // Sends after that fail at once, even on the full-looking channel.
  REQUIRE(tx.send(Counted(9)).is_err());
  REQUIRE(tx.try_send(Counted(9)).error().is_disconnected());
}

TEST_CASE("bounded: a full channel whose receiver is gone fails sends instead of blocking", "[mpsc][bounded]") {
  Watchdog dog("full and disconnected");
  auto tx_rx = mpsc::sync_channel<int>(2);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 0) == 2);
  REQUIRE(tx.try_send(5).error().is_full());  // full while the receiver lives
  drop(std::move(rx));
  auto t = tx.try_send(6);
  REQUIRE(t.error().is_disconnected());  // disconnected wins over full
  REQUIRE(std::move(t).unwrap_err().into_inner() == 6);
  auto r = tx.send(7);  // must not block
  REQUIRE(r.is_err());
  REQUIRE(r.error().value == 7);
}

TEST_CASE("bounded: a full channel is drained after its senders go", "[mpsc][bounded]") {
  auto tx_rx = mpsc::sync_channel<int>(3);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(fill(tx, 10) == 3);
  drop(std::move(tx));
  std::vector<int> got;
  for (int v : rx) {  // ends: disconnected and drained
    got.push_back(v);
  }
  REQUIRE(got == std::vector<int>{10, 11, 12});
}

TEST_CASE("bounded: capacity 1 with many producers delivers each message once, in each producer's order",
          "[mpsc][bounded]") {
  Watchdog dog("capacity 1, many producers");
  constexpr int producers = 4;
  constexpr int per_producer = 1000;
  auto tx_rx = mpsc::sync_channel<std::pair<int, int>>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<int>> handles;
  for (int p = 0; p < producers; ++p) {
    handles.push_back(th::spawn([tx = tx, p]() mutable {
      int sent = 0;
      for (int i = 0; i < per_producer && tx.send({p, i}).is_ok(); ++i) {
        ++sent;
      }
      return sent;
    }));
  }
  drop(std::move(tx));
  std::array<int, producers> next{};
  int wrong = 0;
  int total = 0;
  for (auto [p, i] : rx) {
    if (p < 0 || p >= producers || next[static_cast<std::size_t>(p)] != i) {
      ++wrong;
      continue;
    }
    next[static_cast<std::size_t>(p)] = i + 1;
    ++total;
  }
  for (auto& h : handles) {
    REQUIRE(h.join().unwrap() == per_producer);
  }
  REQUIRE(wrong == 0);
  REQUIRE(total == producers * per_producer);
}

TEST_CASE("bounded: absurd bounds throw std::length_error", "[mpsc][bounded]") {
  constexpr std::size_t limit = std::size_t{1} << 40;
  for (std::size_t bound : {limit + 1, limit * 2, std::numeric_limits<std::size_t>::max() / 2,
                            std::numeric_limits<std::size_t>::max()}) {
    CAPTURE(bound);
    REQUIRE_THROWS_AS(mpsc::sync_channel<int>(bound), std::length_error);
    REQUIRE_THROWS_AS(mpsc::sync_channel<std::string>(bound), std::length_error);
  }
  try {
    (void)mpsc::sync_channel<int>(std::numeric_limits<std::size_t>::max());
    FAIL("sync_channel with an absurd bound returned");
  } catch (const std::length_error& e) {
    REQUIRE(std::string(e.what()).find(std::to_string(std::numeric_limits<std::size_t>::max())) !=
            std::string::npos);
  }
  // Nothing leaked by the throw, and ordinary bounds still work.
  auto tx_rx = mpsc::sync_channel<int>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.try_send(1).is_ok());
  REQUIRE(rx.try_recv().unwrap() == 1);
}

TEST_CASE("bounded: a receiver blocked on an empty channel is woken by each send", "[mpsc][bounded]") {
  Watchdog dog("receiver woken");
  auto tx_rx = mpsc::sync_channel<int>(8);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto ack_tx_ack_rx = mpsc::sync_channel<int>(1);
  auto& ack_tx = ack_tx_ack_rx.first;
  auto& ack_rx = ack_tx_ack_rx.second;
  auto producer = th::spawn([tx = std::move(tx), ack_rx = std::move(ack_rx)]() mutable {
    for (int i = 0; i < 200; ++i) {
      if (tx.send(i).is_err() || ack_rx.recv_timeout(wait_limit).is_err()) {
        return false;
      }
    }
    return true;
  });
  int wrong = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = rx.recv();  // empty each time: the receiver waits for every message
    wrong += (r.is_ok() && *r == i) ? 0 : 1;
    wrong += ack_tx.send(i).is_ok() ? 0 : 1;
  }
  REQUIRE(wrong == 0);
  REQUIRE(producer.join().unwrap());
}

#if SPINDLE_TEST_COUNTS_HEAP
TEST_CASE("bounded: the channel allocates when made, and never while in use", "[mpsc][bounded][memory]") {
  namespace heap = spindle::test::heap;
  const heap::Snapshot before = heap::snapshot();
  auto tx_rx = mpsc::sync_channel<std::uint64_t>(16);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  const heap::Snapshot made = heap::snapshot();
  int wrong = 0;
  std::uint64_t next_send = 0;
  std::uint64_t next_recv = 0;
  for (int round = 0; round < 10'000; ++round) {
    const int burst = 1 + round % 16;
    for (int i = 0; i < burst; ++i) {
      wrong += tx.try_send(next_send++).is_ok() ? 0 : 1;
    }
    for (int i = 0; i < burst; ++i) {
      auto r = rx.try_recv();
      wrong += (r.is_ok() && *r == next_recv++) ? 0 : 1;
    }
  }
  const heap::Snapshot used = heap::snapshot();
  REQUIRE(wrong == 0);
  REQUIRE(made.allocations > before.allocations);
  REQUIRE(used.allocations == made.allocations);
  REQUIRE(used.live_bytes == made.live_bytes);
}
#endif
