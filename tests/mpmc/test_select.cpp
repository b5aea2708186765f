// SPDX-License-Identifier: MIT
// Select over spindle::mpmc channels: receive and send arms on every
// capacity, mixed with spindle::mpsc channels and timers; several selecting
// receivers sharing one channel take each message once; a look pairs with
// no sender; a started receive that is given up puts its message back.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpmc.hpp>
#include <spindle/select.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpmc = spindle::mpmc;
namespace mpsc = spindle::mpsc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

constexpr std::size_t mpmc_sel_unbounded = static_cast<std::size_t>(-1);

std::pair<mpmc::Sender<int>, mpmc::Receiver<int>> mpmc_sel_make(std::size_t capacity) {
  return capacity == mpmc_sel_unbounded ? mpmc::channel<int>() : mpmc::sync_channel<int>(capacity);
}

}  // namespace

TEST_CASE("mpmc select: selecting senders and selecting receivers over two channels, each message once",
          "[mpmc][select]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_sel_unbounded, 0, 1}));
  CAPTURE(capacity);
  Watchdog dog("mpmc select exactly once");
  constexpr int per_producer = 1000;
  auto a = mpmc_sel_make(capacity);
  auto b = mpmc_sel_make(capacity);
  std::vector<th::JoinHandle<bool>> producers;
  for (int p = 0; p < 2; ++p) {
    producers.push_back(th::spawn([ta = a.first, tb = b.first, p]() mutable {
      for (int i = 0; i < per_producer; ++i) {
        mpmc::Select sel;
        sel.send(ta);
        sel.send(tb);
        auto op = sel.select();
        const int value = p * per_producer + i + 1;
        const bool sent = op.index() == 0 ? op.send(ta, int{value}).is_ok() : op.send(tb, int{value}).is_ok();
        if (!sent) {
          return false;
        }
      }
      return true;
    }));
  }
  std::vector<th::JoinHandle<std::vector<int>>> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.push_back(th::spawn([ra = a.second, rb = b.second]() mutable {
      std::vector<int> got;
      mpmc::Select sel;
      sel.recv(ra);
      sel.recv(rb);
      int open = 2;
      while (open > 0) {
        auto op = sel.select();
        const std::size_t i = op.index();
        auto r = i == 0 ? op.recv(ra) : op.recv(rb);
        if (r.is_ok()) {
          got.push_back(*r);
        } else {
          sel.remove(i);
          --open;
        }
      }
      return got;
    }));
  }
  { auto gone_a = std::move(a); }
  { auto gone_b = std::move(b); }
  for (auto& p : producers) {
    REQUIRE(p.join().unwrap());
  }
  std::vector<int> all;
  for (auto& c : consumers) {
    auto got = c.join().unwrap();
    all.insert(all.end(), got.begin(), got.end());
  }
  std::sort(all.begin(), all.end());
  REQUIRE(all.size() == 2U * per_producer);
  for (std::size_t i = 0; i < all.size(); ++i) {
    REQUIRE(all[i] == static_cast<int>(i) + 1);
  }
}

TEST_CASE("mpmc select: mixed with an mpsc channel and a timer, in the one-call form", "[mpmc][select]") {
  Watchdog dog("mpmc select mixed");
  auto work = mpmc::sync_channel<int>(4);
  auto quit = mpsc::channel<int>();
  REQUIRE(work.first.send(1).is_ok());
  REQUIRE(work.first.send(2).is_ok());
  int sum = 0;
  int timeouts = 0;
  for (int round = 0; round < 3; ++round) {
    mpmc::select(mpmc::on_recv(work.second, [&](spindle::Result<int, mpmc::RecvError> r) { sum += r.unwrap(); }),
                 mpsc::on_recv(quit.second, [&](spindle::Result<int, mpsc::RecvError> r) { sum += 100 * r.unwrap(); }),
                 mpmc::on_timeout(1ms, [&] { ++timeouts; }));
  }
  REQUIRE(sum == 3);
  REQUIRE(timeouts == 1);
  // A send arm on a full channel waits; the receive arm of another takes.
  auto full = mpmc::sync_channel<int>(1);
  REQUIRE(full.first.send(0).is_ok());
  REQUIRE(quit.first.send(5).is_ok());
  const int which = mpmc::select(mpmc::on_send(full.first, 9, [](spindle::Result<void, mpmc::SendError<int>>) { return 1; }),
                                 mpsc::on_recv(quit.second, [](spindle::Result<int, mpsc::RecvError>) { return 2; }));
  REQUIRE(which == 2);
}

TEST_CASE("mpmc select: a look at a rendezvous receiver pairs with no sender", "[mpmc][select]") {
  Watchdog dog("mpmc look pairs with nobody");
  LifetimeCheck lifetimes;
  auto ends = mpmc::sync_channel<Counted>(0);
  auto looker = th::spawn([rx = ends.second]() mutable {
    mpmc::Select sel;
    sel.recv(rx);
    return sel.ready_timeout(wait_limit).unwrap();
  });  // the look's receiver goes with the thread; ends.second stays
  th::sleep(2ms);  // the look most likely sleeps by now
  std::atomic<bool> sending{false};
  auto sender = th::spawn([tx = ends.first, &sending]() mutable {
    sending = true;
    return tx.send_timeout(Counted(7), wait_limit).is_ok();
  });
  REQUIRE(looker.join().unwrap() == 0);
  REQUIRE(spindle::test::raised(sending));
  // The send completes only into this receive.
  REQUIRE(ends.second.recv_timeout(wait_limit).unwrap().value() == 7);
  REQUIRE(sender.join().unwrap());
}

TEST_CASE("mpmc select: a rendezvous select with both ends of one channel does not meet itself", "[mpmc][select]") {
  auto ends = mpmc::sync_channel<int>(0);
  mpmc::Select sel;
  sel.send(ends.first);
  sel.recv(ends.second);
  REQUIRE(sel.select_timeout(2ms).is_err());
  REQUIRE(sel.ready_timeout(2ms).is_err());
}

TEST_CASE("mpmc select: a started receive given up while unwinding puts its message back", "[mpmc][select]") {
  LifetimeCheck lifetimes;
  auto ends = mpmc::sync_channel<Counted>(2);
  REQUIRE(ends.first.send(Counted(1)).is_ok());
  REQUIRE(ends.first.send(Counted(2)).is_ok());
  auto other = ends.second;
  REQUIRE_THROWS_AS(
      [&] {
        mpmc::Select sel;
        sel.recv(ends.second);
        auto op = sel.select();
        throw std::runtime_error("the handler failed");  // op is dropped while unwinding
      }(),
      std::runtime_error);
  // The message went back to the front: another receiver gets both, in order.
  REQUIRE(other.try_recv().unwrap().value() == 1);
  REQUIRE(other.try_recv().unwrap().value() == 2);
}

TEST_CASE("mpmc select: a disconnected channel's arms are ready with the error", "[mpmc][select]") {
  auto ends = mpmc::sync_channel<int>(0);
  auto rx = ends.second;
  { auto gone = std::move(ends.first); }
  mpmc::Select sel;
  sel.recv(rx);
  auto op = sel.select();
  REQUIRE(op.recv(rx).is_err());
  auto back = mpmc::sync_channel<int>(1);
  { auto gone = std::move(back.second); }
  mpmc::Select sending;
  sending.send(back.first);
  auto sop = sending.select();
  auto refused = sop.send(back.first, 4);
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().value == 4);
}

TEST_CASE("mpmc select: a selecting sender meets a blocking receive on a rendezvous channel", "[mpmc][select]") {
  Watchdog dog("mpmc selecting rendezvous send");
  auto ends = mpmc::sync_channel<int>(0);
  auto receiver = th::spawn([rx = ends.second]() mutable { return rx.recv_timeout(wait_limit).unwrap(); });
  mpmc::Select sel;
  sel.send(ends.first);
  auto op = sel.select_timeout(wait_limit).unwrap();
  REQUIRE(op.send(ends.first, 11).is_ok());
  REQUIRE(receiver.join().unwrap() == 11);
}
