// SPDX-License-Identifier: MIT
// Scenarios ported from Rust's std::sync::mpsc tests
// (library/std/src/sync/mpsc/tests.rs for channel(), sync_tests.rs for
// sync_channel()) and from Go's channel tests (src/runtime/chan_test.go,
// test/chan/*.go), rewritten for spindle::mpsc. Each test names its origin.
// Counts and sleeps are scaled down so the suite stays quick under
// ThreadSanitizer; Rust's detached threads are joined here; Go tests that
// need select, several receivers, or a sender-side close are left out or
// adapted as noted.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
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
using spindle::test::buffered;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::has_try_send;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::since;
using spindle::test::TxOf;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

namespace {

/// sync_channel(1), the bounded channel of Rust's sync_tests.rs.
struct Sync1 {
  static constexpr std::size_t capacity = 1;
  template <class T>
  static auto make() {
    return mpsc::sync_channel<T>(1);
  }
};

/// Rust's `()`.
struct Unit {};

/// Go's zerosize.go: an element type with no data.
struct Nothing {};

/// TestChanSendInterface: values of an "interface" type.
struct Base {
  virtual ~Base() = default;
};
struct Mt : Base {};

/// TestSelfSelect: what the receiving thread saw.
struct Tally {
  int sent = 0;
  int received = 0;
  int self_received = 0;
};

bool mentions(const spindle::Panic& p, const std::string& text) {
  return std::string(p.what()).find(text) != std::string::npos;
}

}  // namespace

// ============================================================================
// Rust: library/std/src/sync/mpsc/tests.rs and sync_tests.rs
// ============================================================================

TEMPLATE_TEST_CASE("rust: smoke", "[mpsc][ported][rust]", Unbounded, Sync1) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(1).is_ok());
  REQUIRE(rx.recv().unwrap() == 1);
}

TEMPLATE_TEST_CASE("rust: drop_full and drop_full_shared", "[mpsc][ported][rust][lifetime]", Unbounded, Sync1) {
  // The channel goes with a message still in it; nothing leaks.
  LifetimeCheck check;
  SECTION("drop_full") {
    auto tx_rx = TestType::template make<std::unique_ptr<Counted>>();
    auto& tx = tx_rx.first;
    // (rx stays alive in the pair)
    REQUIRE(tx.send(std::make_unique<Counted>(1)).is_ok());
    REQUIRE(check.live() == 1);
  }
  SECTION("drop_full_shared") {
    auto tx_rx = TestType::template make<std::unique_ptr<Counted>>();
    auto& tx = tx_rx.first;
    // (rx stays alive in the pair)
    drop(TxOf<TestType, std::unique_ptr<Counted>>(tx));
    drop(TxOf<TestType, std::unique_ptr<Counted>>(tx));
    REQUIRE(tx.send(std::make_unique<Counted>(1)).is_ok());
  }
  REQUIRE(check.live() == 0);
}

TEMPLATE_TEST_CASE("rust: smoke_shared", "[mpsc][ported][rust]", Unbounded, Sync1) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(1).is_ok());
  REQUIRE(rx.recv().unwrap() == 1);
  auto tx2 = tx;
  REQUIRE(tx2.send(1).is_ok());
  REQUIRE(rx.recv().unwrap() == 1);
}

TEMPLATE_TEST_CASE("rust: smoke_threads", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("smoke_threads");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto t = th::spawn([tx = std::move(tx)]() mutable { return tx.send(1).is_ok(); });
  REQUIRE(rx.recv().unwrap() == 1);
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: smoke_port_gone, smoke_shared_port_gone and smoke_shared_port_gone2", "[mpsc][ported][rust]",
                   Unbounded, Rendezvous) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  drop(std::move(rx));
  REQUIRE(tx.send(1).is_err());
  auto tx2 = tx;
  drop(std::move(tx));
  REQUIRE(tx2.send(1).is_err());
}

TEMPLATE_TEST_CASE("rust: port_gone_concurrent and port_gone_concurrent_shared", "[mpsc][ported][rust]", Unbounded,
                   Rendezvous) {
  // The receiver takes one message and goes; the senders keep sending until
  // a send fails, which must happen.
  Watchdog dog("port_gone_concurrent");
  SECTION("port_gone_concurrent") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([rx = std::move(rx)]() mutable { return rx.recv().is_ok(); });
    long sent = 0;
    while (tx.send(1).is_ok()) {
      ++sent;
    }
    REQUIRE(sent >= 1);
    REQUIRE(t.join().unwrap());
  }
  SECTION("port_gone_concurrent_shared") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto tx2 = tx;
    auto t = th::spawn([rx = std::move(rx)]() mutable { return rx.recv().is_ok(); });
    while (tx.send(1).is_ok() && tx2.send(1).is_ok()) {
    }
    REQUIRE(t.join().unwrap());
    REQUIRE(tx.send(1).is_err());
    REQUIRE(tx2.send(1).is_err());
  }
}

TEMPLATE_TEST_CASE("rust: smoke_chan_gone and smoke_chan_gone_shared", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("smoke_chan_gone");
  SECTION("smoke_chan_gone") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(tx));
    REQUIRE(rx.recv().is_err());
  }
  SECTION("smoke_chan_gone_shared") {
    auto tx_rx = TestType::template make<Unit>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto tx2 = tx;
    drop(std::move(tx));
    drop(std::move(tx2));
    REQUIRE(rx.recv().is_err());
  }
}

TEMPLATE_TEST_CASE("rust: chan_gone_concurrent", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("chan_gone_concurrent");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto t = th::spawn([tx = std::move(tx)]() mutable { return tx.send(1).is_ok() && tx.send(1).is_ok(); });
  int received = 0;
  while (rx.recv().is_ok()) {
    ++received;
  }
  REQUIRE(received == 2);
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("stress");
  constexpr int count = 10'000;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto t = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < count; ++i) {
      if (tx.send(1).is_err()) {
        return false;
      }
    }
    return true;
  });
  int ones = 0;
  for (int i = 0; i < count; ++i) {
    auto r = rx.recv();
    ones += (r.is_ok() && *r == 1) ? 1 : 0;
  }
  REQUIRE(ones == count);
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: stress_shared", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("stress_shared");
  constexpr int amt = std::is_same_v<TestType, Unbounded> ? 2000 : 300;
  constexpr int nthreads = 8;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  // The receiver on its own thread, as in the original.
  auto receiver = th::spawn([rx = std::move(rx)]() mutable {
    for (int i = 0; i < amt * nthreads; ++i) {
      auto r = rx.recv();
      if (r.is_err() || *r != 1) {
        return false;
      }
    }
    return rx.try_recv().is_err();
  });
  std::vector<th::JoinHandle<bool>> senders;
  for (int t = 0; t < nthreads; ++t) {
    senders.push_back(th::spawn([tx = tx]() mutable {
      for (int i = 0; i < amt; ++i) {
        if (tx.send(1).is_err()) {
          return false;
        }
      }
      return true;
    }));
  }
  drop(std::move(tx));
  REQUIRE(receiver.join().unwrap());
  for (auto& s : senders) {
    REQUIRE(s.join().unwrap());
  }
}

TEST_CASE("rust: send_from_outside_runtime and recv_from_outside_runtime", "[mpsc][ported][rust]") {
  Watchdog dog("outside runtime");
  auto tx1_rx1 = mpsc::channel<Unit>();
  auto& tx1 = tx1_rx1.first;
  auto& rx1 = tx1_rx1.second;
  auto tx2_rx2 = mpsc::channel<int>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto t1 = th::spawn([tx1 = std::move(tx1), rx2 = std::move(rx2)]() mutable {
    if (tx1.send(Unit{}).is_err()) {
      return false;
    }
    for (int i = 0; i < 40; ++i) {
      auto r = rx2.recv();
      if (r.is_err() || *r != 1) {
        return false;
      }
    }
    return true;
  });
  REQUIRE(rx1.recv().is_ok());
  auto t2 = th::spawn([tx2 = std::move(tx2)]() mutable {
    for (int i = 0; i < 40; ++i) {
      if (tx2.send(1).is_err()) {
        return false;
      }
    }
    return true;
  });
  REQUIRE(t1.join().unwrap());
  REQUIRE(t2.join().unwrap());
}

TEST_CASE("rust: no_runtime", "[mpsc][ported][rust]") {
  Watchdog dog("no_runtime");
  auto tx1_rx1 = mpsc::channel<int>();
  auto& tx1 = tx1_rx1.first;
  auto& rx1 = tx1_rx1.second;
  auto tx2_rx2 = mpsc::channel<int>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto t1 = th::spawn([rx1 = std::move(rx1), tx2 = std::move(tx2)]() mutable {
    auto r = rx1.recv();
    return r.is_ok() && *r == 1 && tx2.send(2).is_ok();
  });
  auto t2 = th::spawn([tx1 = std::move(tx1), rx2 = std::move(rx2)]() mutable {
    if (tx1.send(1).is_err()) {
      return false;
    }
    auto r = rx2.recv();
    return r.is_ok() && *r == 2;
  });
  REQUIRE(t1.join().unwrap());
  REQUIRE(t2.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_close_port_first and close_chan_first", "[mpsc][ported][rust]",
                   Unbounded, Rendezvous) {
  // Closing without sending, either side first: nothing to observe but
  // that it works (and, under the sanitizers, leaks nothing).
  SECTION("close_port_first") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(rx));
    REQUIRE(tx.send(0).is_err());
  }
  SECTION("close_chan_first") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(tx));
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
  }
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_send_port_close", "[mpsc][ported][rust][lifetime]", Unbounded,
                   Rendezvous) {
  // The sender cleans up the payload if the receiver is closed.
  LifetimeCheck check;
  {
    auto tx_rx = TestType::template make<std::unique_ptr<Counted>>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(rx));
    REQUIRE(tx.send(std::make_unique<Counted>(0)).is_err());
  }
  REQUIRE(check.balanced());
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_recv_chan_close", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  // Receiving on a closed channel "panics" (unwrap throws) in the thread.
  Watchdog dog("recv_chan_close");
  auto res = th::spawn([] {
               auto tx_rx = TestType::template make<int>();
               auto& tx = tx_rx.first;
               auto& rx = tx_rx.second;
               drop(std::move(tx));
               (void)rx.recv().unwrap();
             }).join();
  REQUIRE(res.is_err());
  REQUIRE(mentions(res.error(), "receiving on a closed channel"));
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_send_then_recv", "[mpsc][ported][rust]", Unbounded, Sync1) {
  auto tx_rx = TestType::template make<std::unique_ptr<int>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(std::make_unique<int>(10)).is_ok());
  REQUIRE(*rx.recv().unwrap() == 10);
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_try_send_open", "[mpsc][ported][rust]", Unbounded, Sync1) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  if constexpr (has_try_send<TestType>) {
    REQUIRE(tx.try_send(10).is_ok());
  } else {
    REQUIRE(tx.send(10).is_ok());
  }
  REQUIRE(rx.recv().unwrap() == 10);
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_try_send_closed", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  drop(std::move(rx));
  if constexpr (has_try_send<TestType>) {
    auto r = tx.try_send(10);
    REQUIRE(r.error().kind() == mpsc::TrySendError<int>::Disconnected);
    REQUIRE(r.error().value == 10);
  } else {
    REQUIRE(tx.send(10).error().value == 10);
  }
}

TEST_CASE("rust: oneshot_single_thread_try_send_closed2", "[mpsc][ported][rust]") {
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  // (rx stays alive in the pair)
  auto r = tx.try_send(10);
  REQUIRE(r.error().kind() == mpsc::TrySendError<int>::Full);
  REQUIRE(r.error().value == 10);
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_try_recv_open and try_recv_closed", "[mpsc][ported][rust]",
                   Unbounded, Sync1) {
  Watchdog dog("try_recv_open");
  SECTION("try_recv_open") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.send(10).is_ok());
    REQUIRE(rx.recv().unwrap() == 10);
  }
  SECTION("try_recv_closed") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(tx));
    REQUIRE(rx.recv().is_err());
  }
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_try_recv_closed_with_data", "[mpsc][ported][rust]", Unbounded, Sync1) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(10).is_ok());
  drop(std::move(tx));
  REQUIRE(rx.try_recv().unwrap() == 10);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("rust: oneshot_single_thread_peek_data, peek_close and peek_open", "[mpsc][ported][rust]",
                   Unbounded, Sync1, Rendezvous) {
  SECTION("peek_data") {
    if constexpr (buffered<TestType>) {
      auto tx_rx = TestType::template make<int>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
      REQUIRE(tx.send(10).is_ok());
      REQUIRE(rx.try_recv().unwrap() == 10);
    }
  }
  SECTION("peek_close") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(tx));
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
  }
  SECTION("peek_open") {
    auto tx_rx = TestType::template make<int>();
    // (tx stays alive in the pair)
    auto& rx = tx_rx.second;
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  }
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_task_recv_then_send", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("recv_then_send");
  auto tx_rx = TestType::template make<std::unique_ptr<int>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto t = th::spawn([rx = std::move(rx)]() mutable {
    auto r = rx.recv();
    return r.is_ok() && **r == 10;
  });
  REQUIRE(tx.send(std::make_unique<int>(10)).is_ok());
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_task_recv_then_close", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("recv_then_close");
  auto tx_rx = TestType::template make<std::unique_ptr<int>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto closer = th::spawn([tx = std::move(tx)]() mutable { drop(std::move(tx)); });
  auto res = th::spawn([rx = std::move(rx)]() mutable { return *rx.recv().unwrap() == 10; }).join();
  REQUIRE(res.is_err());  // the receive failed: unwrap threw
  REQUIRE(mentions(res.error(), "receiving on a closed channel"));
  REQUIRE(closer.join().is_ok());
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_thread_close_stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("close_stress");
  int joined = 0;
  for (int i = 0; i < 100; ++i) {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); });
    drop(std::move(tx));
    joined += t.join().is_ok() ? 1 : 0;
  }
  REQUIRE(joined == 100);
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_thread_send_close_stress", "[mpsc][ported][rust][lifetime]", Unbounded,
                   Rendezvous) {
  Watchdog dog("send_close_stress");
  LifetimeCheck check;
  int finished = 0;
  for (int i = 0; i < 100; ++i) {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto dropper = th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); });
    // The send may land before the receiver goes or fail after; either way
    // it returns and the message is destroyed once.
    auto sender = th::spawn([tx = std::move(tx)]() mutable { return tx.send(Counted(1)).is_ok(); });
    finished += sender.join().is_ok() ? 1 : 0;
    REQUIRE(dropper.join().is_ok());
  }
  REQUIRE(finished == 100);
  REQUIRE(check.live() == 0);
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_thread_recv_close_stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("recv_close_stress");
  int failed_as_expected = 0;
  for (int i = 0; i < 50; ++i) {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto outer = th::spawn([rx = std::move(rx)]() mutable {
      auto res = th::spawn([rx = std::move(rx)]() mutable { (void)rx.recv().unwrap(); }).join();
      return res.is_err();
    });
    auto dropper = th::spawn([tx = std::move(tx)]() mutable {
      return th::spawn([tx = std::move(tx)]() mutable { drop(std::move(tx)); }).join().is_ok();
    });
    failed_as_expected += outer.join().unwrap() ? 1 : 0;
    REQUIRE(dropper.join().unwrap());
  }
  REQUIRE(failed_as_expected == 50);
}

TEMPLATE_TEST_CASE("rust: oneshot_multi_thread_send_recv_stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("send_recv_stress");
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    auto tx_rx = TestType::template make<std::unique_ptr<int>>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([tx = std::move(tx)]() mutable { return tx.send(std::make_unique<int>(10)).is_ok(); });
    auto r = rx.recv();
    ok += (r.is_ok() && **r == 10) ? 1 : 0;
    REQUIRE(t.join().unwrap());
  }
  REQUIRE(ok == 100);
}

namespace {

// stream_send_recv_stress: each thread sends (or receives) one message, then
// hands its end of the channel to a new thread for the next one.
template <class Tx>
bool send_chain(Tx tx, int i) {
  if (i == 10) {
    return true;
  }
  return th::spawn([](Tx mine, int n) {
           if (mine.send(std::make_unique<int>(n)).is_err()) {
             return false;
           }
           return send_chain(std::move(mine), n + 1);
         },
                   std::move(tx), i)
      .join()
      .unwrap_or(false);
}

bool recv_chain(mpsc::Receiver<std::unique_ptr<int>> rx, int i) {
  if (i == 10) {
    return true;
  }
  return th::spawn([](mpsc::Receiver<std::unique_ptr<int>> mine, int n) {
           auto r = mine.recv();
           if (r.is_err() || **r != n) {
             return false;
           }
           return recv_chain(std::move(mine), n + 1);
         },
                   std::move(rx), i)
      .join()
      .unwrap_or(false);
}

}  // namespace

TEMPLATE_TEST_CASE("rust: stream_send_recv_stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("stream_send_recv_stress");
  for (int round = 0; round < 3; ++round) {
    auto tx_rx = TestType::template make<std::unique_ptr<int>>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto sending = th::spawn([tx = std::move(tx)]() mutable { return send_chain(std::move(tx), 0); });
    REQUIRE(recv_chain(std::move(rx), 0));
    REQUIRE(sending.join().unwrap());
  }
}

TEST_CASE("rust: oneshot_single_thread_recv_timeout and sync recv_timeout", "[mpsc][ported][rust]") {
  SECTION("channel") {
    auto tx_rx = mpsc::channel<Unit>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.send(Unit{}).is_ok());
    REQUIRE(rx.recv_timeout(1ms).is_ok());
    REQUIRE(rx.recv_timeout(1ms).error() == mpsc::RecvTimeoutError::Timeout);
    REQUIRE(tx.send(Unit{}).is_ok());
    REQUIRE(rx.recv_timeout(1ms).is_ok());
  }
  SECTION("sync_channel(1)") {
    auto tx_rx = mpsc::sync_channel<int>(1);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(rx.recv_timeout(1ms).error() == mpsc::RecvTimeoutError::Timeout);
    REQUIRE(tx.send(1).is_ok());
    REQUIRE(rx.recv_timeout(1ms).unwrap() == 1);
  }
}

TEST_CASE("rust: stress_recv_timeout_two_threads", "[mpsc][ported][rust]") {
  Watchdog dog("stress_recv_timeout_two_threads");
  SECTION("channel: a slow sender, a receiver that keeps timing out") {
    constexpr int stress = 20;
    const auto timeout = 2ms;
    auto tx_rx = mpsc::channel<std::size_t>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([tx = std::move(tx), timeout]() mutable {
      for (int i = 0; i < stress; ++i) {
        if (i % 2 == 0) {
          th::sleep(timeout * 2);
        }
        if (tx.send(1).is_err()) {
          return false;
        }
      }
      return true;
    });
    int recv_count = 0;
    int timeouts = 0;
    for (;;) {
      auto r = rx.recv_timeout(timeout);
      if (r.is_ok()) {
        REQUIRE(*r == 1);
        ++recv_count;
      } else if (r.error() == mpsc::RecvTimeoutError::Timeout) {
        ++timeouts;
      } else {
        break;
      }
    }
    REQUIRE(recv_count == stress);
    (void)timeouts;  // usually several; how many is up to the scheduler
    REQUIRE(t.join().unwrap());
  }
  SECTION("sync_channel(0): a fast sender, a receiver with short timeouts") {
    constexpr int count = 2000;
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([tx = std::move(tx)]() mutable {
      for (int i = 0; i < count; ++i) {
        if (tx.send(1).is_err()) {
          return false;
        }
      }
      return true;
    });
    int recv_count = 0;
    for (;;) {
      auto r = rx.recv_timeout(1ms);
      if (r.is_ok()) {
        recv_count += *r;
      } else if (r.error() == mpsc::RecvTimeoutError::Disconnected) {
        break;
      }
    }
    REQUIRE(recv_count == count);
    REQUIRE(t.join().unwrap());
  }
}

TEST_CASE("rust: recv_timeout_upgrade", "[mpsc][ported][rust]") {
  auto tx_rx = mpsc::channel<Unit>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto tx_clone = tx;
  const auto start = Clock::now();
  REQUIRE(rx.recv_timeout(1ms).error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(since(start) >= 1ms);
}

TEST_CASE("rust: stress_recv_timeout_shared", "[mpsc][ported][rust]") {
  Watchdog dog("stress_recv_timeout_shared");
  SECTION("channel: staggered senders") {
    constexpr int stress = 20;
    auto tx_rx = mpsc::channel<std::size_t>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::vector<th::JoinHandle<bool>> senders;
    for (int i = 0; i < stress; ++i) {
      senders.push_back(th::spawn([tx = tx, i]() mutable {
        th::sleep(std::chrono::milliseconds(i * 2));
        return tx.send(1).is_ok();
      }));
    }
    drop(std::move(tx));
    std::size_t recv_count = 0;
    for (;;) {
      auto r = rx.recv_timeout(10ms);
      if (r.is_ok()) {
        recv_count += *r;
      } else if (r.error() == mpsc::RecvTimeoutError::Disconnected) {
        break;
      }
    }
    REQUIRE(recv_count == stress);
    for (auto& s : senders) {
      REQUIRE(s.join().unwrap());
    }
  }
  SECTION("sync_channel(0): a receiving thread, eight senders") {
    constexpr int amt = 200;
    constexpr int nthreads = 8;
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto dtx_drx = mpsc::sync_channel<bool>(0);
    auto& dtx = dtx_drx.first;
    auto& drx = dtx_drx.second;
    auto receiver = th::spawn([rx = std::move(rx), dtx = std::move(dtx)]() mutable {
      int recv_count = 0;
      bool ok = true;
      for (;;) {
        auto r = rx.recv_timeout(10ms);
        if (r.is_ok()) {
          ok = ok && *r == 1;
          ++recv_count;
        } else if (r.error() == mpsc::RecvTimeoutError::Disconnected) {
          break;
        }
      }
      ok = ok && recv_count == amt * nthreads && rx.try_recv().is_err();
      return dtx.send(ok).is_ok();
    });
    std::vector<th::JoinHandle<bool>> senders;
    for (int t = 0; t < nthreads; ++t) {
      senders.push_back(th::spawn([tx = tx]() mutable {
        for (int i = 0; i < amt; ++i) {
          if (tx.send(1).is_err()) {
            return false;
          }
        }
        return true;
      }));
    }
    drop(std::move(tx));
    auto verdict = drx.recv();
    REQUIRE(verdict.is_ok());
    REQUIRE(*verdict);
    REQUIRE(receiver.join().unwrap());
    for (auto& s : senders) {
      REQUIRE(s.join().unwrap());
    }
  }
}

TEST_CASE("rust: very_long_recv_timeout_wont_panic", "[mpsc][ported][rust]") {
  Watchdog dog("very_long_recv_timeout_wont_panic");
  auto tx_rx = mpsc::channel<Unit>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto handle = th::spawn([rx = std::move(rx)]() mutable {
    // Duration::from_secs(u64::MAX)
    return rx.recv_timeout(std::chrono::duration<std::uint64_t>(UINT64_MAX)).is_ok();
  });
  th::sleep(50ms);
  REQUIRE(tx.send(Unit{}).is_ok());
  REQUIRE(handle.join().unwrap());
}

TEST_CASE("rust: recv_a_lot", "[mpsc][ported][rust]") {
  constexpr int count = 10'000;
  SECTION("channel") {
    auto tx_rx = mpsc::channel<Unit>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    for (int i = 0; i < count; ++i) {
      REQUIRE(tx.send(Unit{}).is_ok());
    }
    int received = 0;
    for (int i = 0; i < count; ++i) {
      received += rx.recv().is_ok() ? 1 : 0;
    }
    REQUIRE(received == count);
  }
  SECTION("sync_channel(count)") {
    auto tx_rx = mpsc::sync_channel<Unit>(count);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    for (int i = 0; i < count; ++i) {
      REQUIRE(tx.send(Unit{}).is_ok());
    }
    int received = 0;
    for (int i = 0; i < count; ++i) {
      received += rx.recv().is_ok() ? 1 : 0;
    }
    REQUIRE(received == count);
  }
}

TEST_CASE("rust: shared_recv_timeout", "[mpsc][ported][rust]") {
  Watchdog dog("shared_recv_timeout");
  auto tx_rx = mpsc::channel<Unit>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  constexpr int total = 5;
  std::vector<th::JoinHandle<bool>> senders;
  for (int i = 0; i < total; ++i) {
    senders.push_back(th::spawn([tx = tx]() mutable { return tx.send(Unit{}).is_ok(); }));
  }
  for (int i = 0; i < total; ++i) {
    REQUIRE(rx.recv().is_ok());
  }
  REQUIRE(rx.recv_timeout(1ms).error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(tx.send(Unit{}).is_ok());
  REQUIRE(rx.recv_timeout(1ms).is_ok());
  for (auto& s : senders) {
    REQUIRE(s.join().unwrap());
  }
}

TEMPLATE_TEST_CASE("rust: shared_chan_stress", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("shared_chan_stress");
  constexpr int total = 101;
  auto tx_rx = TestType::template make<Unit>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<bool>> senders;
  for (int i = 0; i < total; ++i) {
    senders.push_back(th::spawn([tx = tx]() mutable { return tx.send(Unit{}).is_ok(); }));
  }
  int received = 0;
  for (int i = 0; i < total; ++i) {
    received += rx.recv().is_ok() ? 1 : 0;
  }
  REQUIRE(received == total);
  for (auto& s : senders) {
    REQUIRE(s.join().unwrap());
  }
}

TEMPLATE_TEST_CASE("rust: test_nested_recv_iter", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("test_nested_recv_iter");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto total_tx_total_rx = TestType::template make<int>();
  auto& total_tx = total_tx_total_rx.first;
  auto& total_rx = total_tx_total_rx.second;
  auto t = th::spawn([rx = std::move(rx), total_tx = std::move(total_tx)]() mutable {
    int acc = 0;
    for (int x : rx.iter()) {
      acc += x;
    }
    return total_tx.send(acc).is_ok();
  });
  REQUIRE(tx.send(3).is_ok());
  REQUIRE(tx.send(1).is_ok());
  REQUIRE(tx.send(2).is_ok());
  drop(std::move(tx));
  REQUIRE(total_rx.recv().unwrap() == 6);
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: test_recv_iter_break", "[mpsc][ported][rust]", Unbounded, Rendezvous) {
  Watchdog dog("test_recv_iter_break");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto count_tx_count_rx = TestType::template make<int>();
  auto& count_tx = count_tx_count_rx.first;
  auto& count_rx = count_tx_count_rx.second;
  auto t = th::spawn([rx = std::move(rx), count_tx = std::move(count_tx)]() mutable {
    int count = 0;
    for (int x : rx.iter()) {
      if (count >= 3) {
        break;
      }
      count += x;
    }
    return count_tx.send(count).is_ok();
  });
  REQUIRE(tx.send(2).is_ok());
  REQUIRE(tx.send(2).is_ok());
  REQUIRE(tx.send(2).is_ok());
  if constexpr (has_try_send<TestType>) {
    (void)tx.try_send(2);  // the receiver may be gone or not waiting
  } else {
    (void)tx.send(2);
  }
  drop(std::move(tx));
  REQUIRE(count_rx.recv().unwrap() == 4);
  REQUIRE(t.join().unwrap());
}

TEST_CASE("rust: test_recv_try_iter", "[mpsc][ported][rust]") {
  Watchdog dog("test_recv_try_iter");
  auto request_tx_request_rx = mpsc::channel<Unit>();
  auto& request_tx = request_tx_request_rx.first;
  auto& request_rx = request_tx_request_rx.second;
  auto response_tx_response_rx = mpsc::channel<int>();
  auto& response_tx = response_tx_response_rx.first;
  auto& response_rx = response_tx_response_rx.second;
  // Request `x`s until we have 6.
  auto t = th::spawn([request_tx = std::move(request_tx), response_rx = std::move(response_rx)]() mutable {
    int count = 0;
    for (;;) {
      for (int x : response_rx.try_iter()) {
        count += x;
        if (count == 6) {
          return count;
        }
      }
      if (request_tx.send(Unit{}).is_err()) {
        return -1;
      }
    }
  });
  for ([[maybe_unused]] Unit u : request_rx.iter()) {
    if (response_tx.send(2).is_err()) {
      break;
    }
  }
  REQUIRE(t.join().unwrap() == 6);
}

TEST_CASE("rust: test_recv_into_iter_owned and test_recv_into_iter_borrowed", "[mpsc][ported][rust]") {
  SECTION("owned: iterate a receiver that outlived its channel's creation scope") {
    auto rx = [] {
      auto tx_rx = mpsc::channel<int>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      (void)tx.send(1);
      (void)tx.send(2);
      return std::move(rx);
    }();
    auto it = rx.begin();
    REQUIRE(it != rx.end());
    REQUIRE(*it == 1);
    ++it;
    REQUIRE(it != rx.end());
    REQUIRE(*it == 2);
    ++it;
    REQUIRE(it == rx.end());
  }
  SECTION("borrowed") {
    auto tx_rx = mpsc::channel<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.send(1).is_ok());
    REQUIRE(tx.send(2).is_ok());
    drop(std::move(tx));
    auto range = rx.iter();
    auto it = range.begin();
    REQUIRE(*it == 1);
    ++it;
    REQUIRE(*it == 2);
    ++it;
    REQUIRE(it == range.end());
  }
}

TEMPLATE_TEST_CASE("rust: try_recv_states", "[mpsc][ported][rust]", Unbounded, Sync1) {
  Watchdog dog("try_recv_states");
  auto tx1_rx1 = TestType::template make<int>();
  auto& tx1 = tx1_rx1.first;
  auto& rx1 = tx1_rx1.second;
  auto tx2_rx2 = TestType::template make<Unit>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto tx3_rx3 = TestType::template make<Unit>();
  auto& tx3 = tx3_rx3.first;
  auto& rx3 = tx3_rx3.second;
  auto t = th::spawn(
      [tx1 = std::move(tx1), rx2 = std::move(rx2), tx3 = std::move(tx3)]() mutable {
        if (rx2.recv().is_err() || tx1.send(1).is_err() || tx3.send(Unit{}).is_err() || rx2.recv().is_err()) {
          return false;
        }
        drop(std::move(tx1));
        return tx3.send(Unit{}).is_ok();
      });
  REQUIRE(rx1.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(tx2.send(Unit{}).is_ok());
  REQUIRE(rx3.recv().is_ok());
  REQUIRE(rx1.try_recv().unwrap() == 1);
  REQUIRE(rx1.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(tx2.send(Unit{}).is_ok());
  REQUIRE(rx3.recv().is_ok());
  REQUIRE(rx1.try_recv().error() == mpsc::TryRecvError::Disconnected);
  REQUIRE(t.join().unwrap());
}

TEMPLATE_TEST_CASE("rust: destroy_upgraded_shared_port_when_sender_still_active", "[mpsc][ported][rust]", Unbounded,
                   Rendezvous) {
  // Once a livelock in the receiver's destructor.
  Watchdog dog("destroy_upgraded_shared_port");
  auto tx_rx = TestType::template make<Unit>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto tx2_rx2 = TestType::template make<Unit>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto t = th::spawn([rx = std::move(rx), tx2 = std::move(tx2)]() mutable {
    if (rx.recv().is_err()) {  // wait on a oneshot
      return false;
    }
    drop(std::move(rx));  // destroy a shared
    return tx2.send(Unit{}).is_ok();
  });
  // Make sure the other thread has gone to sleep.
  for (int i = 0; i < 5000; ++i) {
    std::this_thread::yield();
  }
  // "Upgrade" to a shared channel and send a message.
  auto copy = tx;
  drop(std::move(tx));
  REQUIRE(copy.send(Unit{}).is_ok());
  // Wait for the child thread to exit before we exit.
  REQUIRE(rx2.recv().is_ok());
  REQUIRE(t.join().unwrap());
}

TEST_CASE("rust: issue_32114", "[mpsc][ported][rust]") {
  auto tx_rx = mpsc::channel<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  drop(std::move(rx));  // let (tx, _) = channel();
  (void)tx.send(123);
  auto r = tx.send(123);
  REQUIRE(r.is_err());
  REQUIRE(r.error().value == 123);
}

TEST_CASE("rust: sync send1, send2, send3 and send4", "[mpsc][ported][rust]") {
  Watchdog dog("sync send1-4");
  SECTION("send1: a rendezvous send to a receiving thread succeeds") {
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([rx = std::move(rx)]() mutable { return rx.recv().is_ok(); });
    REQUIRE(tx.send(1).is_ok());
    REQUIRE(t.join().unwrap());
  }
  SECTION("send2: a rendezvous send fails when the receiver goes") {
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto t = th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); });
    REQUIRE(tx.send(1).is_err());
    REQUIRE(t.join().is_ok());
  }
  SECTION("send3: a send to a full channel fails when the receiver goes") {
    auto tx_rx = mpsc::sync_channel<int>(1);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.send(1).is_ok());
    auto t = th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); });
    REQUIRE(tx.send(1).is_err());
    REQUIRE(t.join().is_ok());
  }
  SECTION("send4: two blocked senders both fail when the receiver goes") {
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto tx2 = tx;
    auto done_donerx = mpsc::channel<bool>();
    auto& done = done_donerx.first;
    auto& donerx = done_donerx.second;
    auto done2 = done;
    auto a = th::spawn([tx = std::move(tx), done = std::move(done)]() mutable {
      return done.send(tx.send(1).is_err()).is_ok();
    });
    auto b = th::spawn([tx2 = std::move(tx2), done2 = std::move(done2)]() mutable {
      return done2.send(tx2.send(2).is_err()).is_ok();
    });
    drop(std::move(rx));
    REQUIRE(donerx.recv().unwrap());
    REQUIRE(donerx.recv().unwrap());
    REQUIRE(a.join().unwrap());
    REQUIRE(b.join().unwrap());
  }
}

TEST_CASE("rust: sync try_send1, try_send2 and try_send3", "[mpsc][ported][rust]") {
  SECTION("try_send1") {
    auto tx_rx = mpsc::sync_channel<int>(0);
    auto& tx = tx_rx.first;
    // (rx stays alive in the pair)
    auto r = tx.try_send(1);
    REQUIRE(r.error().is_full());
    REQUIRE(r.error().value == 1);
  }
  SECTION("try_send2") {
    auto tx_rx = mpsc::sync_channel<int>(1);
    auto& tx = tx_rx.first;
    // (rx stays alive in the pair)
    REQUIRE(tx.try_send(1).is_ok());
    auto r = tx.try_send(1);
    REQUIRE(r.error().is_full());
    REQUIRE(r.error().value == 1);
  }
  SECTION("try_send3") {
    auto tx_rx = mpsc::sync_channel<int>(1);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(tx.try_send(1).is_ok());
    drop(std::move(rx));
    auto r = tx.try_send(1);
    REQUIRE(r.error().is_disconnected());
    REQUIRE(r.error().value == 1);
  }
}

TEST_CASE("rust: issue_15761", "[mpsc][ported][rust]") {
  Watchdog dog("issue_15761");
  auto repro = [] {
    auto tx1_rx1 = mpsc::sync_channel<Unit>(3);
    auto& tx1 = tx1_rx1.first;
    auto& rx1 = tx1_rx1.second;
    auto tx2_rx2 = mpsc::sync_channel<Unit>(3);
    auto& tx2 = tx2_rx2.first;
    auto& rx2 = tx2_rx2.second;
    auto t = th::spawn([rx1 = std::move(rx1), tx2 = std::move(tx2)]() mutable {
      return rx1.recv().is_ok() && tx2.try_send(Unit{}).is_ok();
    });
    const bool sent = tx1.try_send(Unit{}).is_ok();
    const bool received = rx2.recv().is_ok();
    return sent && received && t.join().unwrap_or(false);
  };
  int good = 0;
  for (int i = 0; i < 100; ++i) {
    good += repro() ? 1 : 0;
  }
  REQUIRE(good == 100);
}

TEST_CASE("rust: drop_unreceived", "[mpsc][ported][rust]") {
  auto tx_rx = mpsc::sync_channel<std::shared_ptr<Unit>>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto msg = std::make_shared<Unit>();
  std::weak_ptr<Unit> weak = msg;
  REQUIRE(tx.send(std::move(msg)).is_ok());
  drop(std::move(rx));
  // Messages are dropped as soon as the receiver is.
  REQUIRE(weak.expired());
  drop(std::move(tx));
}

// ============================================================================
// Go: src/runtime/chan_test.go
// ============================================================================

TEST_CASE("go: TestChan, for capacities 0 to 20", "[mpsc][ported][go]") {
  // Adapted: one receiver instead of Go's several; "closing" is every
  // sender going; len/cap are not part of this API.
  Watchdog dog("TestChan");
  for (std::size_t cap = 0; cap <= 20; ++cap) {
    CAPTURE(cap);
    {
      // A receive from an empty channel blocks; a non-blocking one does not.
      auto tx_rx = mpsc::sync_channel<int>(cap);
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
      std::atomic<bool> received{false};
      th::scope([&](th::Scope& s) {
        auto receiver = s.spawn([&received, rx = std::move(rx)]() mutable {
          auto r = rx.recv();
          received = true;
          return r.is_ok();
        });
        th::sleep(1ms);
        REQUIRE_FALSE(received.load());
        REQUIRE(tx.send(0).is_ok());
        REQUIRE(receiver.join().unwrap());
      });
    }
    {
      // A send to a full channel blocks; a non-blocking one does not.
      auto tx_rx = mpsc::sync_channel<int>(cap);
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      for (std::size_t i = 0; i < cap; ++i) {
        REQUIRE(tx.send(static_cast<int>(i)).is_ok());
      }
      std::atomic<bool> sent{false};
      th::scope([&](th::Scope& s) {
        auto sender = s.spawn([&sent, tx = tx]() mutable {
          const bool ok = tx.send(0).is_ok();
          sent = true;
          return ok;
        });
        th::sleep(1ms);
        REQUIRE_FALSE(sent.load());
        REQUIRE(tx.try_send(0).error().is_full());
        REQUIRE(rx.recv().is_ok());
        REQUIRE(sender.join().unwrap());
      });
    }
    {
      // After "close", the values still buffered come out in order, then
      // receives fail.
      auto tx_rx = mpsc::sync_channel<int>(cap);
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      for (std::size_t i = 0; i < cap; ++i) {
        REQUIRE(tx.send(static_cast<int>(i)).is_ok());
      }
      drop(std::move(tx));
      for (std::size_t i = 0; i < cap; ++i) {
        REQUIRE(rx.recv().unwrap() == static_cast<int>(i));
      }
      REQUIRE(rx.recv().is_err());
      REQUIRE(rx.recv().is_err());
    }
    {
      // "Close" unblocks a receive.
      auto tx_rx = mpsc::sync_channel<int>(cap);
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      auto receiver = th::spawn([rx = std::move(rx)]() mutable { return rx.recv().is_err(); });
      th::sleep(1ms);
      drop(std::move(tx));
      REQUIRE(receiver.join().unwrap());
    }
    {
      // 100 integers arrive uncorrupted in FIFO order, twice (Go: recv and recv2).
      auto tx_rx = mpsc::sync_channel<int>(cap);
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      auto sender = th::spawn([tx = tx]() mutable {
        for (int i = 0; i < 200; ++i) {
          if (tx.send(i % 100).is_err()) {
            return false;
          }
        }
        return true;
      });
      int wrong = 0;
      for (int i = 0; i < 100; ++i) {
        auto r = rx.recv();
        wrong += (r.is_ok() && *r == i) ? 0 : 1;
      }
      for (int i = 0; i < 100; ++i) {
        auto r = rx.recv_timeout(wait_limit);
        wrong += (r.is_ok() && *r == i) ? 0 : 1;
      }
      REQUIRE(wrong == 0);
      REQUIRE(sender.join().unwrap());

      // 4 senders of 0..L-1 each: every value arrives 4 times.
      constexpr int p_count = 4;
      constexpr int l_count = 200;
      std::vector<th::JoinHandle<bool>> senders;
      for (int p = 0; p < p_count; ++p) {
        senders.push_back(th::spawn([tx = tx]() mutable {
          for (int i = 0; i < l_count; ++i) {
            if (tx.send(i).is_err()) {
              return false;
            }
          }
          return true;
        }));
      }
      std::map<int, int> recv;
      for (int i = 0; i < p_count * l_count; ++i) {
        auto r = rx.recv();
        if (r.is_err()) {
          break;
        }
        ++recv[*r];
      }
      for (auto& s : senders) {
        REQUIRE(s.join().unwrap());
      }
      REQUIRE(recv.size() == static_cast<std::size_t>(l_count));
      for (auto [value, times] : recv) {
        CAPTURE(value);
        REQUIRE(times == p_count);
      }
    }
  }
}

TEST_CASE("go: TestNonblockRecvRace", "[mpsc][ported][go]") {
  // A message sent before the receiving thread starts is ready for its
  // non-blocking receive, even while the sender is going ("close") at the
  // same moment: try_recv must return it, not Empty or Disconnected.
  Watchdog dog("TestNonblockRecvRace");
  auto run = [](auto make) {
    int missed = 0;
    for (int i = 0; i < 300; ++i) {
      auto tx_rx = make();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      (void)tx.send(1);
      auto t = th::spawn([rx = std::move(rx)]() mutable { return rx.try_recv().is_ok(); });
      drop(std::move(tx));
      missed += t.join().unwrap_or(false) ? 0 : 1;
    }
    return missed;
  };
  CHECK(run([] { return mpsc::sync_channel<int>(1); }) == 0);
  CHECK(run([] { return mpsc::channel<int>(); }) == 0);
}

TEST_CASE("go: TestSelfSelect, without select", "[mpsc][ported][go]") {
  // Adapted: the receiving thread also sends on its own channel, by
  // non-blocking operations, alongside another sender. On a rendezvous
  // channel it can never receive its own message (it is not waiting when it
  // offers one); nothing deadlocks; every accepted message is received once.
  Watchdog dog("TestSelfSelect");
  for (std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
    CAPTURE(cap);
    auto tx_rx = mpsc::sync_channel<int>(cap);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::atomic<bool> other_done{false};
    auto [self, other_sent] = th::scope([&](th::Scope& s) {
      spindle::test::SetOnExit finish(other_done);
      auto other = s.spawn([&other_done, tx = tx]() mutable {
        int sent = 0;
        for (int i = 0; i < 1000; ++i) {
          sent += tx.try_send(1).is_ok() ? 1 : 0;
          if (i % 2 == 0) {
            std::this_thread::yield();
          }
        }
        other_done = true;
        return sent;
      });
      auto me = s.spawn([&other_done, tx = tx, rx = std::move(rx)]() mutable {
        Tally t;
        for (int i = 0; i < 1000; ++i) {
          if (i % 2 == 0 && tx.try_send(0).is_ok()) {
            ++t.sent;
          }
          if (auto r = rx.try_recv(); r.is_ok()) {
            ++t.received;
            t.self_received += *r == 0 ? 1 : 0;
          }
        }
        // Drain what is left once the other sender is done.
        (void)eventually([&] { return other_done.load(); });
        for (int v : rx.try_iter()) {
          ++t.received;
          t.self_received += v == 0 ? 1 : 0;
        }
        return t;
      });
      Tally mine = me.join().unwrap_or(Tally{});
      return std::pair<Tally, int>(mine, other.join().unwrap_or(-1));
    });
    REQUIRE(other_sent >= 0);
    REQUIRE(self.received == self.sent + other_sent);
    if (cap == 0) {
      REQUIRE(self.sent == 0);
      REQUIRE(self.self_received == 0);
    }
  }
}

TEST_CASE("go: TestChanSendInterface", "[mpsc][ported][go]") {
  // Values of an interface type (here a shared_ptr to a base) through a
  // channel of one, with non-blocking sends onto it while it is full.
  auto m = std::make_shared<Mt>();
  auto tx_rx = mpsc::sync_channel<std::shared_ptr<Base>>(1);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(tx.send(m).is_ok());
  auto first = tx.try_send(m);
  REQUIRE(first.error().is_full());
  REQUIRE(first.error().value.get() == m.get());  // handed back, not lost
  auto second = tx.try_send(std::make_shared<Mt>());
  REQUIRE(second.error().is_full());
  drop(std::move(first));
  drop(std::move(second));
  REQUIRE(m.use_count() == 2);  // ours and the one in the channel
  REQUIRE(rx.recv().unwrap().get() == m.get());
  REQUIRE(m.use_count() == 1);
}

namespace {

// Uses a good deal of stack, briefly.
int stack_growth_recursive(int n) {
  std::array<volatile char, 1024> pad{};
  pad[0] = static_cast<char>(n);
  if (n == 0) {
    return pad[0];
  }
  return stack_growth_recursive(n - 1) + pad[0];
}

}  // namespace

TEST_CASE("go: TestShrinkStackDuringBlockedSend", "[mpsc][ported][go]") {
  // A sender uses a lot of stack between its blocking sends; the receiver
  // takes its time. The values must come through in order.
  Watchdog dog("TestShrinkStackDuringBlockedSend");
  constexpr int n = 10;
  auto tx_rx = mpsc::sync_channel<int>(0);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto done_tx_done_rx = mpsc::sync_channel<Unit>(0);
  auto& done_tx = done_tx_done_rx.first;
  auto& done_rx = done_tx_done_rx.second;
  auto t = th::spawn([tx = std::move(tx), done_tx = std::move(done_tx)]() mutable {
    int sink = 0;
    for (int i = 0; i < n; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
      sink += stack_growth_recursive(20);
    }
    return done_tx.send(Unit{}).is_ok() && sink >= 0;
  });
  for (int i = 0; i < n; ++i) {
    REQUIRE(rx.recv().unwrap() == i);
    th::sleep(1ms);
  }
  REQUIRE(done_rx.recv().is_ok());
  REQUIRE(t.join().unwrap());
}

TEST_CASE("go: TestMultiConsumer, as fan-out and fan-in", "[mpsc][ported][go]") {
  // Adapted: mpsc has one receiver per channel, so the feeder deals the work
  // round-robin to one channel per worker; the workers share the results
  // channel. The "closes" cascade: the feeder's senders go, so the workers'
  // loops end, so theirs go, so the consumer's loop ends.
  Watchdog dog("TestMultiConsumer");
  constexpr int nwork = 8;
  constexpr int niter = 10'000;
  const std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  auto r_tx_r_rx = mpsc::sync_channel<int>(nwork * 3);
  auto& r_tx = r_tx_r_rx.first;
  auto& r_rx = r_tx_r_rx.second;
  std::vector<mpsc::SyncSender<int>> queues;
  std::vector<th::JoinHandle<void>> workers;
  for (int w = 0; w < nwork; ++w) {
    auto q_tx_q_rx = mpsc::sync_channel<int>(3);
    auto& q_tx = q_tx_q_rx.first;
    auto& q_rx = q_tx_q_rx.second;
    queues.push_back(std::move(q_tx));
    workers.push_back(th::spawn([w, pn, q_rx = std::move(q_rx), r_tx = r_tx]() mutable {
      for (int v : q_rx) {
        if (pn[static_cast<std::size_t>(w) % pn.size()] == v) {
          std::this_thread::yield();  // mess with the order
        }
        if (r_tx.send(v).is_err()) {
          return;
        }
      }
    }));
  }
  drop(std::move(r_tx));
  auto feeder = th::spawn([pn, queues = std::move(queues)]() mutable {
    long expect = 0;
    for (int i = 0; i < niter; ++i) {
      const int v = pn[static_cast<std::size_t>(i) % pn.size()];
      expect += v;
      if (queues[static_cast<std::size_t>(i) % queues.size()].send(v).is_err()) {
        return -1L;
      }
    }
    return expect;  // the queues' senders go with the thread: no more work
  });
  int n = 0;
  long s = 0;
  for (int v : r_rx) {
    ++n;
    s += v;
  }
  const long expect = feeder.join().unwrap();
  for (auto& w : workers) {
    REQUIRE(w.join().is_ok());
  }
  REQUIRE(n == niter);
  REQUIRE(s == expect);
}

// ============================================================================
// Go: test/chan/*.go
// ============================================================================

TEST_CASE("go: test/chan/fifo.go AsynchFifo", "[mpsc][ported][go]") {
  constexpr int n = 10;
  auto tx_rx = mpsc::sync_channel<int>(n);
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  for (int i = 0; i < n; ++i) {
    REQUIRE(tx.send(i).is_ok());
  }
  for (int i = 0; i < n; ++i) {
    REQUIRE(rx.recv().unwrap() == i);
  }
}

TEST_CASE("go: test/chan/fifo.go SynchFifo", "[mpsc][ported][go]") {
  // A daisy chain of threads reads the values of an unbuffered channel in
  // sequence. Adapted: each link receives the channel's one Receiver from
  // the previous link, takes its value, and passes the Receiver on.
  Watchdog dog("SynchFifo");
  constexpr int n = 10;
  using Rx = mpsc::Receiver<int>;
  auto ch_tx_ch_rx = mpsc::sync_channel<int>(0);
  auto& ch_tx = ch_tx_ch_rx.first;
  auto& ch_rx = ch_tx_ch_rx.second;
  auto start_tx_in_rx = mpsc::sync_channel<Rx>(0);
  auto& start_tx = start_tx_in_rx.first;
  auto& in_rx = start_tx_in_rx.second;
  std::vector<th::JoinHandle<bool>> links;
  for (int i = 0; i < n; ++i) {
    auto out_tx_out_rx = mpsc::sync_channel<Rx>(0);
    auto& out_tx = out_tx_out_rx.first;
    auto& out_rx = out_tx_out_rx.second;
    links.push_back(th::spawn([i, in = std::move(in_rx), out = std::move(out_tx)]() mutable {
      auto ch = in.recv();
      if (ch.is_err()) {
        return false;
      }
      auto v = ch->recv();
      if (v.is_err() || *v != i) {
        return false;
      }
      return out.send(std::move(*ch)).is_ok();
    }));
    in_rx = std::move(out_rx);
  }
  auto feeder = th::spawn([tx = std::move(ch_tx)]() mutable {
    for (int i = 0; i < n; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  REQUIRE(start_tx.send(std::move(ch_rx)).is_ok());
  auto back = in_rx.recv();  // the Receiver, home again
  REQUIRE(back.is_ok());
  REQUIRE(feeder.join().unwrap());
  REQUIRE(back->recv().is_err());  // every value taken, the feeder gone
  for (auto& link : links) {
    REQUIRE(link.join().unwrap());
  }
}

TEST_CASE("go: test/chan/goroutines.go", "[mpsc][ported][go]") {
  // Many threads threaded together by unbuffered channels, each passing one
  // value leftwards; torn down cleanly.
  Watchdog dog("goroutines.go");
  constexpr int n = 200;
  auto leftmost_tx_leftmost_rx = mpsc::sync_channel<int>(0);
  auto& leftmost_tx = leftmost_tx_leftmost_rx.first;
  auto& leftmost_rx = leftmost_tx_leftmost_rx.second;
  mpsc::SyncSender<int> left = std::move(leftmost_tx);
  std::vector<th::JoinHandle<bool>> threads;
  for (int i = 0; i < n; ++i) {
    auto right_tx_right_rx = mpsc::sync_channel<int>(0);
    auto& right_tx = right_tx_right_rx.first;
    auto& right_rx = right_tx_right_rx.second;
    threads.push_back(th::spawn([left = std::move(left), right = std::move(right_rx)]() mutable {
      auto v = right.recv();
      return v.is_ok() && left.send(*v + 1).is_ok();
    }));
    left = std::move(right_tx);
  }
  auto first = th::spawn([right = std::move(left)]() mutable { return right.send(1).is_ok(); });
  REQUIRE(leftmost_rx.recv().unwrap() == 1 + n);
  REQUIRE(first.join().unwrap());
  int ok = 0;
  for (auto& t : threads) {
    ok += t.join().unwrap_or(false) ? 1 : 0;
  }
  REQUIRE(ok == n);
}

namespace {

template <class T>
struct NonblockValues;
template <>
struct NonblockValues<std::int32_t> {
  static std::int32_t to_receiver() { return 123; }
  static std::int32_t from_sender() { return 234; }
};
template <>
struct NonblockValues<std::int64_t> {
  static std::int64_t to_receiver() { return 123456; }
  static std::int64_t from_sender() { return 234567; }
};
template <>
struct NonblockValues<bool> {
  static bool to_receiver() { return true; }
  static bool from_sender() { return true; }
};
template <>
struct NonblockValues<std::string> {
  static std::string to_receiver() { return "hello"; }
  static std::string from_sender() { return "hello again"; }
};

}  // namespace

TEMPLATE_TEST_CASE("go: test/chan/nonblock.go", "[mpsc][ported][go]", std::int32_t, std::int64_t, bool, std::string) {
  // Non-blocking operations of several element types on buffers 0 and 1.
  // Go sleeps to let the other goroutine block; here the non-blocking
  // operation is retried until it succeeds, within the limit.
  Watchdog dog("nonblock.go");
  using V = NonblockValues<TestType>;
  for (std::size_t buffer = 0; buffer < 2; ++buffer) {
    CAPTURE(buffer);
    auto tx_rx = mpsc::sync_channel<TestType>(buffer);
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);  // nothing from a blocked sender

    // A receiver waits; a non-blocking send gets through to it.
    auto strobe_tx_strobe_rx = mpsc::sync_channel<bool>(0);
    auto& strobe_tx = strobe_tx_strobe_rx.first;
    auto& strobe_rx = strobe_tx_strobe_rx.second;
    auto receiver = th::spawn([rx = std::move(rx), strobe = std::move(strobe_tx)]() mutable {
      auto v = rx.recv();
      (void)strobe.send(v.is_ok() && *v == V::to_receiver());
      return std::move(rx);  // hand the receiver back for the second half
    });
    REQUIRE(eventually([&] { return tx.try_send(V::to_receiver()).is_ok(); }));
    REQUIRE(strobe_rx.recv().unwrap());
    auto rx_back = receiver.join().unwrap();

    // A sender sends; a non-blocking receive gets its value.
    auto sender = th::spawn([tx = tx]() mutable { return tx.send(V::from_sender()).is_ok(); });
    if (buffer > 0) {
      REQUIRE(sender.join().unwrap());  // the buffered send completes alone
    }
    std::optional<TestType> got;
    REQUIRE(eventually([&] {
      if (auto r = rx_back.try_recv(); r.is_ok()) {
        got = std::move(*r);
      }
      return got.has_value();
    }));
    REQUIRE(*got == V::from_sender());
    if (buffer == 0) {
      REQUIRE(sender.join().unwrap());
    }
  }
}

TEMPLATE_TEST_CASE("go: test/chan/sieve1.go", "[mpsc][ported][go]", Unbounded, Rendezvous) {
  // The classic concurrent prime sieve: a chain of filter threads. Go leaves
  // the pipeline running; here dropping the last receiver makes the last
  // filter's send fail, and the failure cascades back to the generator, so
  // every thread ends.
  Watchdog dog("sieve1.go");
  const std::vector<int> expected{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41,
                                  43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
  std::vector<th::JoinHandle<bool>> threads;
  auto gen_tx_gen_rx = TestType::template make<int>();
  auto& gen_tx = gen_tx_gen_rx.first;
  auto& gen_rx = gen_tx_gen_rx.second;
  threads.push_back(th::spawn([tx = std::move(gen_tx)]() mutable {
    const auto give_up = Clock::now() + wait_limit;
    for (int i = 2; Clock::now() < give_up; ++i) {
      if (tx.send(i).is_err()) {
        return true;  // the sieve is done
      }
      if (i > 10'000) {
        th::sleep(100us);  // an unbounded channel would take numbers without end
      }
    }
    return false;
  }));
  auto ch = std::move(gen_rx);
  std::vector<int> primes;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto prime = ch.recv();
    REQUIRE(prime.is_ok());
    primes.push_back(*prime);
    auto out_tx_out_rx = TestType::template make<int>();
    auto& out_tx = out_tx_out_rx.first;
    auto& out_rx = out_tx_out_rx.second;
    threads.push_back(th::spawn([p = *prime, in = std::move(ch), out = std::move(out_tx)]() mutable {
      for (int i : in) {
        if (i % p != 0 && out.send(i).is_err()) {
          return true;  // downstream is done: so are we
        }
      }
      return false;  // upstream ended first: not how this sieve stops
    }));
    ch = std::move(out_rx);
  }
  REQUIRE(primes == expected);
  drop(std::move(ch));
  int stopped = 0;
  for (auto& t : threads) {
    stopped += t.join().unwrap_or(false) ? 1 : 0;
  }
  REQUIRE(stopped == static_cast<int>(threads.size()));
}

TEMPLATE_TEST_CASE("go: test/chan/zerosize.go", "[mpsc][ported][go]", Unbounded, Sync1, Rendezvous) {
  // Channels of element types with no data.
  Watchdog dog("zerosize.go");
  auto tx_rx = TestType::template make<Nothing>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto tx2_rx2 = TestType::template make<std::array<int, 0>>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto t = th::spawn([tx = std::move(tx), tx2 = std::move(tx2)]() mutable {
    return tx.send(Nothing{}).is_ok() && tx2.send(std::array<int, 0>{}).is_ok();
  });
  REQUIRE(rx.recv().is_ok());
  REQUIRE(rx2.recv().is_ok());
  REQUIRE(t.join().unwrap());
  REQUIRE(rx.recv().is_err());
  REQUIRE(rx2.recv().is_err());
}

namespace {
template <class H>
concept CanSend = requires(H h) { h.send(0); };
template <class H>
concept CanTrySend = requires(H h) { h.try_send(0); };
template <class H>
concept CanRecv = requires(H h) { h.recv(); };
}  // namespace

TEST_CASE("go: test/chan/perm.go, direction checks at compile time", "[mpsc][ported][go]") {
  // Go's perm.go checks that a send-only channel cannot receive and a
  // receive-only one cannot send. Here the halves are distinct types.
  using S = mpsc::Sender<int>;
  using SS = mpsc::SyncSender<int>;
  using R = mpsc::Receiver<int>;
  STATIC_REQUIRE(CanSend<S>);
  STATIC_REQUIRE(CanSend<SS>);
  STATIC_REQUIRE(CanTrySend<SS>);
  STATIC_REQUIRE_FALSE(CanTrySend<S>);  // an unbounded send never needs trying
  STATIC_REQUIRE_FALSE(CanRecv<S>);
  STATIC_REQUIRE_FALSE(CanRecv<SS>);
  STATIC_REQUIRE(CanRecv<R>);
  STATIC_REQUIRE_FALSE(CanSend<R>);
  // Senders copy; the one receiver only moves; none is made from nothing.
  STATIC_REQUIRE(std::is_copy_constructible_v<S>);
  STATIC_REQUIRE(std::is_copy_constructible_v<SS>);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<R>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<R>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<R>);
  STATIC_REQUIRE_FALSE(std::is_default_constructible_v<S>);
  STATIC_REQUIRE_FALSE(std::is_default_constructible_v<SS>);
  STATIC_REQUIRE_FALSE(std::is_default_constructible_v<R>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<S, SS>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<SS, S>);
}
