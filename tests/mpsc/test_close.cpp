// SPDX-License-Identifier: MIT
// Receiver::close() (the receiver closes the channel and drains it: crossbeam
// #236, tokio's Receiver::close) and recv_many / try_recv_many (tokio's
// recv_many), on every flavour.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/select.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpsc = spindle::mpsc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::Bounded1;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

// Starts a thread that sends `value` and returns whether the send failed
// with that very value handed back; `sending` is raised just before.
template <class Tx>
th::JoinHandle<bool> blocked_send(Tx tx, int value, std::atomic<bool>& sending) {
  return th::spawn([tx = std::move(tx), value, &sending]() mutable {
    sending = true;
    auto sent = tx.send(Counted(value));
    return sent.is_err() && sent.error().value.value() == value;
  });
}

}  // namespace

TEMPLATE_TEST_CASE("close: later sends fail with their value, what was sent before is still received", "[mpsc][close]",
                   Unbounded, Bounded, Bounded1) {
  LifetimeCheck lifetimes;
  auto [tx, rx] = TestType::template make<Counted>();
  const int sent = TestType::capacity < 3 ? static_cast<int>(TestType::capacity) : 3;
  for (int i = 0; i < sent; ++i) {
    REQUIRE(tx.send(Counted(i)).is_ok());
  }
  rx.close();
  auto refused = tx.send(Counted(99));
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().value.value() == 99);
  if constexpr (TestType::capacity != Unbounded::capacity) {
    auto tried = tx.try_send(Counted(98));
    REQUIRE(tried.is_err());
    REQUIRE(tried.error().kind() == mpsc::TrySendError<Counted>::Disconnected);
  }
  for (int i = 0; i < sent; ++i) {
    REQUIRE(rx.recv().unwrap().value() == i);
  }
  REQUIRE(rx.recv().is_err());
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Disconnected);
  REQUIRE(rx.recv_timeout(1ms).unwrap_err() == mpsc::RecvTimeoutError::Disconnected);
  rx.close();  // again: nothing more happens
  REQUIRE(rx.recv().is_err());
}

TEMPLATE_TEST_CASE("close: messages left unreceived are destroyed once, when the receiver goes", "[mpsc][close]",
                   Unbounded, Bounded) {
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = TestType::template make<Counted>();
    for (int i = 0; i < 4; ++i) {
      REQUIRE(tx.send(Counted(i)).is_ok());
    }
    rx.close();
    REQUIRE(rx.recv().unwrap().value() == 0);
    REQUIRE(lifetimes.live() == 3);
  }
  REQUIRE(lifetimes.live() == 0);
}

TEMPLATE_TEST_CASE("close: a sender blocked on a full or rendezvous channel wakes and fails with its value",
                   "[mpsc][close]", Bounded1, Rendezvous) {
  LifetimeCheck lifetimes;
  Watchdog dog("close wakes a blocked sender");
  std::optional<th::JoinHandle<bool>> sender;
  {
    auto [tx, rx] = TestType::template make<Counted>();
    if constexpr (TestType::capacity > 0) {
      REQUIRE(tx.send(Counted(1)).is_ok());  // now full
    }
    std::atomic<bool> sending{false};
    sender.emplace(blocked_send(tx, 7, sending));
    REQUIRE(spindle::test::raised(sending));
    th::sleep(2ms);  // most likely blocked by now
    rx.close();
    REQUIRE(sender->join().unwrap());
    if constexpr (TestType::capacity > 0) {
      REQUIRE(rx.recv().unwrap().value() == 1);
    }
    REQUIRE(rx.recv().is_err());
  }
  sender.reset();
}

TEST_CASE("close racing blocked senders: each message is received or handed back, exactly once", "[mpsc][close]") {
  // Several senders keep a small ring full while the receiver takes a few
  // and closes: every send either landed (and is received, drained after the
  // close) or failed with its value; nothing is lost or doubled.
  Watchdog dog("close racing senders");
  for (int round = 0; round < 50; ++round) {
    LifetimeCheck lifetimes;
    std::vector<th::JoinHandle<int>> senders;
    int received = 0;
    {
      auto [tx, rx] = mpsc::sync_channel<Counted>(round % 2 == 0 ? 0 : 2);
      for (int s = 0; s < 3; ++s) {
        senders.push_back(th::spawn([tx = tx]() mutable {
          int delivered = 0;
          for (int i = 0; i < 100; ++i) {
            auto sent = tx.send(Counted(i));
            if (sent.is_err()) {
              return sent.error().value.value() == i ? delivered : -1000;
            }
            ++delivered;
          }
          return delivered;
        }));
      }
      for (int i = 0; i < round; ++i) {
        received += rx.recv_timeout(wait_limit).is_ok() ? 1 : 0;
      }
      rx.close();
      while (rx.recv_timeout(wait_limit).is_ok()) {
        ++received;
      }
    }
    int delivered = 0;
    for (auto& s : senders) {
      delivered += s.join().unwrap();
    }
    REQUIRE(delivered == received);
  }
}

TEST_CASE("close: a select over a closed receiver is ready, and its receive fails", "[mpsc][close][select]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto [ztx, zrx] = mpsc::sync_channel<int>(0);
  rx.close();
  zrx.close();
  mpsc::Select sel;
  sel.recv(rx);
  auto op = sel.select_timeout(wait_limit).unwrap();
  REQUIRE(op.recv(rx).is_err());
  const bool closed = mpsc::select(mpsc::on_recv(zrx, [](auto r) { return r.is_err(); }),
                                   mpsc::on_timeout(wait_limit, [] { return false; }));
  REQUIRE(closed);
  REQUIRE(ztx.try_send(1).unwrap_err().kind() == mpsc::TrySendError<int>::Disconnected);
}

TEST_CASE("close: a timer closed gives no more ticks", "[mpsc][close][timers]") {
  auto ticks = mpsc::tick(1ms);
  ticks.close();
  REQUIRE(ticks.recv().is_err());
  REQUIRE(ticks.len() == 0);
}

TEST_CASE("close on a moved-from receiver throws std::logic_error", "[mpsc][close]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto rx2 = std::move(rx);
  REQUIRE_THROWS_AS(rx.close(), std::logic_error);  // NOLINT(bugprone-use-after-move): on purpose
  rx2.close();
  REQUIRE(tx.send(1).is_err());
}

TEMPLATE_TEST_CASE("recv_many: blocks for the first message, then takes what is ready, up to max", "[mpsc][recv_many]",
                   Unbounded, Bounded) {
  Watchdog dog("recv_many");
  auto [tx, rx] = TestType::template make<int>();
  std::vector<int> out{-1};  // appended to, not replaced
  auto late = th::spawn([tx = tx]() mutable {
    th::sleep(5ms);
    return tx.send(0).is_ok();
  });
  REQUIRE(rx.recv_many(out, 10) == 1);  // waited for the one message
  REQUIRE(late.join().unwrap());
  REQUIRE(out == std::vector<int>{-1, 0});
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(tx.send(i).is_ok());
  }
  REQUIRE(rx.recv_many(out, 2) == 2);
  REQUIRE(rx.try_recv_many(out, 10) == 1);
  REQUIRE(out == std::vector<int>{-1, 0, 1, 2, 3});
  REQUIRE(rx.try_recv_many(out, 10) == 0);  // nothing ready
  REQUIRE(rx.recv_many(out, 0) == 0);       // asked for none
  REQUIRE(tx.send(4).is_ok());
  spindle::drop(std::move(tx));
  REQUIRE(rx.recv_many(out, 10) == 1);
  REQUIRE(rx.recv_many(out, 10) == 0);  // disconnected and drained
  REQUIRE(rx.try_recv_many(out, 10) == 0);
  REQUIRE(out.back() == 4);
}

TEST_CASE("recv_many on a rendezvous channel takes one message per blocked sender", "[mpsc][recv_many]") {
  Watchdog dog("recv_many rendezvous");
  auto [tx, rx] = mpsc::sync_channel<int>(0);
  std::atomic<bool> sending{false};
  auto sender = th::spawn([tx = tx, &sending]() mutable {
    sending = true;
    return tx.send(5).is_ok();
  });
  std::vector<int> out;
  REQUIRE(rx.recv_many(out, 4) == 1);
  REQUIRE(sender.join().unwrap());
  REQUIRE(out == std::vector<int>{5});
}

TEST_CASE("recv_many: a stream arrives whole and in order through batches", "[mpsc][recv_many]") {
  Watchdog dog("recv_many stream");
  constexpr int count = 50'000;
  auto [tx, rx] = mpsc::sync_channel<int>(64);
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < count; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::vector<int> out;
  while (rx.recv_many(out, 100) != 0) {
  }
  REQUIRE(producer.join().unwrap());
  REQUIRE(out.size() == static_cast<std::size_t>(count));
  bool in_order = true;
  for (int i = 0; i < count; ++i) {
    in_order = in_order && out[static_cast<std::size_t>(i)] == i;
  }
  REQUIRE(in_order);
}
