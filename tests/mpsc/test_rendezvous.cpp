// SPDX-License-Identifier: MIT
// The rendezvous flavour, sync_channel<T>(0): nothing is buffered; each send
// completes only by handing its message to a receive. try_send succeeds only
// when the receiver is waiting in a receive, and try_recv only when a sender
// is blocked in send.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
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
using spindle::test::since;
using spindle::test::wait_limit;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

TEST_CASE("rendezvous: send does not return before a receive takes the message", "[mpsc][rendezvous]") {
  Watchdog dog("send waits for its receive");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<bool> sent{false};
  th::scope([&](th::Scope& s) {
    auto sender = s.spawn([&sent, tx = tx]() mutable {
      const bool ok = tx.send(1).is_ok();
      sent = true;
      return ok;
    });
    th::sleep(20ms);
    REQUIRE_FALSE(sent.load());  // nobody received: the send cannot have completed
    auto r = rx.recv();
    REQUIRE(r.is_ok());
    REQUIRE(*r == 1);
    REQUIRE(eventually([&] { return sent.load(); }));
    REQUIRE(sender.join().unwrap());
  });
}

TEST_CASE("rendezvous: no send completes ahead of its receive", "[mpsc][rendezvous]") {
  Watchdog dog("send ordering");
  constexpr int senders = 3;
  constexpr int per_sender = 150;
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<int> completed{0};  // sends that returned Ok, over all senders
  int ahead = 0;
  int received = 0;
  th::scope([&](th::Scope& s) {
    std::vector<th::ScopedJoinHandle<bool>> hs;
    for (int t = 0; t < senders; ++t) {
      hs.push_back(s.spawn([&completed, tx = tx]() mutable {
        for (int i = 0; i < per_sender; ++i) {
          if (tx.send(i).is_err()) {
            return false;
          }
          completed.fetch_add(1);
        }
        return true;
      }));
    }
    drop(std::move(tx));
    for (int k = 0; k < senders * per_sender; ++k) {
      // k receives done: at most k sends can have completed.
      ahead += completed.load() > k ? 1 : 0;
      if (k % 40 == 0) {
        th::sleep(1ms);  // give senders every chance to run ahead
        ahead += completed.load() > k ? 1 : 0;
      }
      if (rx.recv().is_err()) {
        break;
      }
      ++received;
    }
    for (auto& h : hs) {
      REQUIRE(h.join().unwrap());
    }
  });
  REQUIRE(ahead == 0);
  REQUIRE(received == senders * per_sender);
  REQUIRE(completed.load() == senders * per_sender);
  REQUIRE(rx.recv().is_err());
}

TEST_CASE("rendezvous: try_send is Full when no receiver is waiting", "[mpsc][rendezvous]") {
  Watchdog dog("try_send full");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  for (int i = 0; i < 3; ++i) {
    auto r = tx.try_send(i);
    REQUIRE(r.is_err());
    REQUIRE(r.error().is_full());
    REQUIRE(std::move(r).unwrap_err().into_inner() == i);
  }
  // The offer was not kept: there is nothing to receive.
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  // A receive that timed out or found nothing leaves no receiver waiting.
  REQUIRE(rx.recv_timeout(5ms).error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(tx.try_send(10).error().is_full());
  REQUIRE(rx.recv_deadline(Clock::now() + 5ms).error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(tx.try_send(11).error().is_full());
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(tx.try_send(12).error().is_full());
  for (int v : rx.try_iter()) {
    FAIL("try_iter yielded " << v);
  }
  REQUIRE(tx.try_send(13).error().is_full());
}

TEST_CASE("rendezvous: try_send succeeds when the receiver is waiting in a receive", "[mpsc][rendezvous]") {
  Watchdog dog("try_send to a waiting receiver");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  SECTION("recv") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      std::vector<int> got;
      for (int i = 0; i < 20; ++i) {
        auto r = rx.recv();
        if (r.is_err()) {
          break;
        }
        got.push_back(*r);
      }
      return got;
    });
    for (int i = 0; i < 20; ++i) {
      REQUIRE(eventually([&] { return tx.try_send(i).is_ok(); }));
    }
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) {
      expected.push_back(i);
    }
    REQUIRE(consumer.join().unwrap() == expected);
  }
  SECTION("recv_timeout") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      auto r = rx.recv_timeout(wait_limit);
      return r.is_ok() ? *r : -1;
    });
    REQUIRE(eventually([&] { return tx.try_send(5).is_ok(); }));
    REQUIRE(consumer.join().unwrap() == 5);
  }
  SECTION("range-for") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      int sum = 0;
      for (int v : rx) {
        sum += v;
      }
      return sum;
    });
    for (int i = 1; i <= 4; ++i) {
      REQUIRE(eventually([&] { return tx.try_send(i).is_ok(); }));
    }
    drop(std::move(tx));
    REQUIRE(consumer.join().unwrap() == 10);
  }
}

TEST_CASE("rendezvous: try_recv takes the message of a blocked sender, and only then", "[mpsc][rendezvous]") {
  Watchdog dog("try_recv from a blocked sender");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  std::atomic<bool> sent{false};
  th::scope([&](th::Scope& s) {
    auto sender = s.spawn([&sent, tx = tx]() mutable {
      const bool ok = tx.send(5).is_ok();
      sent = true;
      return ok;
    });
    std::optional<int> got;
    REQUIRE(eventually([&] {
      auto r = rx.try_recv();
      if (r.is_ok()) {
        got = *r;
      }
      return got.has_value();
    }));
    REQUIRE(*got == 5);
    REQUIRE(eventually([&] { return sent.load(); }));
    REQUIRE(sender.join().unwrap());
  });
  // No sender blocked now (the main thread's sender is idle): Empty.
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  drop(std::move(tx));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEST_CASE("rendezvous: try_recv takes the blocked senders' messages one each", "[mpsc][rendezvous]") {
  Watchdog dog("try_recv from several blocked senders");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<bool>> senders;
  for (int t = 1; t <= 3; ++t) {
    senders.push_back(th::spawn([tx = tx, t]() mutable { return tx.send(t).is_ok(); }));
  }
  int sum = 0;
  int n = 0;
  REQUIRE(eventually([&] {
    for (int v : rx.try_iter()) {
      sum += v;
      ++n;
    }
    return n >= 3;
  }));
  for (auto& s : senders) {
    REQUIRE(s.join().unwrap());
  }
  REQUIRE(n == 3);
  REQUIRE(sum == 6);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
}

TEST_CASE("rendezvous: a receive whose time is already up still takes the message of a blocked sender",
          "[mpsc][rendezvous]") {
  // A sender blocked in send has a message ready for the receiver, as
  // try_recv shows; a receive with a zero or negative timeout, or a deadline
  // already past, must take it too (Rust's zero flavour pairs with a waiting
  // sender before it looks at the deadline; the buffered flavours here also
  // return a ready message whatever the deadline).
  Watchdog dog("expired receive versus blocked sender");
  using Expired = std::function<spindle::Result<int, mpsc::RecvTimeoutError>(mpsc::Receiver<int>&)>;
  const std::pair<const char*, Expired> ways[] = {
      {"recv_timeout(0ms)", [](mpsc::Receiver<int>& rx) { return rx.recv_timeout(0ms); }},
      {"recv_timeout(-1s)", [](mpsc::Receiver<int>& rx) { return rx.recv_timeout(-1s); }},
      {"recv_deadline(a second ago)", [](mpsc::Receiver<int>& rx) { return rx.recv_deadline(Clock::now() - 1s); }},
  };
  for (const auto& [name, expired_receive] : ways) {
    CAPTURE(name);
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::atomic<bool> sending{false};
    auto sender = th::spawn([&sending, tx = std::move(tx)]() mutable {
      sending = true;
      return tx.send(42).is_ok();
    });
    REQUIRE(eventually([&] { return sending.load(); }));
    // Give the sender ample time to block; retry with longer waits so that
    // only a receive that never pairs with a blocked sender fails.
    std::optional<int> got;
    for (int attempt = 0; attempt < 6 && !got; ++attempt) {
      th::sleep(std::chrono::milliseconds(5 << attempt));
      auto r = expired_receive(rx);
      if (r.is_ok()) {
        got = *r;
      } else {
        REQUIRE(r.error() == mpsc::RecvTimeoutError::Timeout);
      }
    }
    if (!got) {
      auto r = rx.recv();  // release the sender
      REQUIRE(r.is_ok());
    }
    REQUIRE(sender.join().unwrap());
    CHECK(got.value_or(-1) == 42);  // -1: every expired receive timed out
  }
}

TEST_CASE("rendezvous: recv_timeout times out when no sender comes", "[mpsc][rendezvous]") {
  Watchdog dog("recv_timeout without a sender");
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  for (auto timeout : {1ms, 10ms, 25ms}) {
    const auto start = Clock::now();
    auto r = rx.recv_timeout(timeout);
    REQUIRE(r.is_err());
    REQUIRE(r.error() == mpsc::RecvTimeoutError::Timeout);
    REQUIRE(since(start) >= timeout);
    REQUIRE(tx.try_send(1).error().is_full());  // and it is no longer waiting
  }
}

TEST_CASE("rendezvous: a sender blocked when the receiver goes fails with its message", "[mpsc][rendezvous][lifetime]") {
  Watchdog dog("receiver drop releases senders");
  LifetimeCheck check;
  auto tx_rx = mpsc::sync_channel<Counted>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<int>> blocked;
  for (int t = 1; t <= 3; ++t) {
    blocked.push_back(th::spawn([tx = tx, t]() mutable {
      auto r = tx.send(Counted(t * 10));
      return r.is_err() ? std::move(r).unwrap_err().into_inner().value() : -100;
    }));
  }
  th::sleep(20ms);
  drop(std::move(rx));
  int sum = 0;
  for (auto& h : blocked) {
    sum += h.join().unwrap();
  }
  REQUIRE(sum == 60);
  REQUIRE(check.live() == 0);
  auto r = tx.try_send(Counted(1));
  REQUIRE(r.error().is_disconnected());
  REQUIRE(r.error().value.value() == 1);
}

TEST_CASE("rendezvous: a receive that times out never loses a message a sender handed over", "[mpsc][rendezvous]") {
  Watchdog dog("timeout versus hand-over");
  // A sender offers (try_send) as fast as it can while the receiver keeps
  // timing out after very short waits. Every offer that succeeded must be
  // received exactly once: a claimed receiver cannot back out.
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<bool> stop{false};
  std::vector<int> received;
  const int accepted = th::scope([&](th::Scope& s) {
    spindle::test::SetOnExit stopper(stop);
    auto offerer = s.spawn([&stop, tx = std::move(tx)]() mutable {
      int ok = 0;
      for (int i = 0; i < 200'000 && !stop.load(); ++i) {
        if (tx.try_send(ok).is_ok()) {
          ++ok;
          if (ok == 300) {
            break;
          }
        }
      }
      return ok;
    });
    const auto give_up = Clock::now() + 10s;
    for (;;) {
      auto r = rx.recv_timeout(50us);
      if (r.is_ok()) {
        received.push_back(*r);
      } else if (r.error() == mpsc::RecvTimeoutError::Disconnected || Clock::now() > give_up) {
        break;
      }
    }
    stop = true;
    return offerer.join().unwrap();
  });
  REQUIRE(accepted > 0);
  REQUIRE(received.size() == static_cast<std::size_t>(accepted));
  for (std::size_t i = 0; i < received.size(); ++i) {
    REQUIRE(received[i] == static_cast<int>(i));
  }
}

TEST_CASE("rendezvous: a receive that finds nothing with try_recv never loses a message", "[mpsc][rendezvous]") {
  Watchdog dog("try_recv versus send");
  // A blocking sender against a receiver polling with try_recv: every send
  // that returned must have been received.
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  constexpr int n = 300;
  std::vector<int> received;
  auto sender = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < n; ++i) {
      if (tx.send(i).is_err()) {
        return i;
      }
    }
    return n;
  });
  const auto give_up = Clock::now() + wait_limit;
  while (Clock::now() < give_up) {
    auto r = rx.try_recv();
    if (r.is_ok()) {
      received.push_back(*r);
    } else if (r.error() == mpsc::TryRecvError::Disconnected) {
      break;
    }
  }
  REQUIRE(sender.join().unwrap() == n);
  REQUIRE(received.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    REQUIRE(received[static_cast<std::size_t>(i)] == i);
  }
}

TEST_CASE("rendezvous: sends alternate with receives in both directions", "[mpsc][rendezvous]") {
  Watchdog dog("ping-pong");
  auto ping_tx_ping_rx = mpsc::sync_channel<int>(0);
  auto& ping_tx = ping_tx_ping_rx.first;
  auto& ping_rx = ping_tx_ping_rx.second;
  auto pong_tx_pong_rx = mpsc::sync_channel<int>(0);
  auto& pong_tx = pong_tx_pong_rx.first;
  auto& pong_rx = pong_tx_pong_rx.second;
  auto echo = th::spawn([rx = std::move(ping_rx), tx = std::move(pong_tx)]() mutable {
    int n = 0;
    for (int v : rx) {
      if (tx.send(v + 1).is_err()) {
        break;
      }
      ++n;
    }
    return n;
  });
  int wrong = 0;
  for (int i = 0; i < 500; ++i) {
    wrong += ping_tx.send(2 * i).is_ok() ? 0 : 1;
    auto r = pong_rx.recv();
    wrong += (r.is_ok() && *r == 2 * i + 1) ? 0 : 1;
  }
  drop(std::move(ping_tx));
  REQUIRE(wrong == 0);
  REQUIRE(echo.join().unwrap() == 500);
  REQUIRE(pong_rx.recv().is_err());
}
