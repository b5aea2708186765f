// SPDX-License-Identifier: MIT
// Select and select(arms...): receives and sends on every flavour and on
// timers, mixed; each message taken exactly once; disconnection is ready;
// misuse is refused loudly.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/select.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Watchdog;

TEST_CASE("select receives from every flavour, each message exactly once", "[select]") {
  Watchdog dog("select three flavours");
  constexpr int count = 3000;
  auto [tx1, rx1] = mpsc::channel<int>();
  auto [tx2, rx2] = mpsc::sync_channel<int>(2);
  auto [tx3, rx3] = mpsc::sync_channel<int>(0);
  auto producer = th::spawn([tx1 = std::move(tx1), tx2 = std::move(tx2), tx3 = std::move(tx3)]() mutable {
    for (int i = 0; i < count; ++i) {
      if (tx1.send(i).is_err() || tx2.send(i).is_err() || tx3.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::vector<int> got[3];
  mpsc::Select sel;
  REQUIRE(sel.recv(rx1) == 0);
  REQUIRE(sel.recv(rx2) == 1);
  REQUIRE(sel.recv(rx3) == 2);
  int open = 3;
  while (open > 0) {
    auto op = sel.select();
    const std::size_t i = op.index();
    auto result = i == 0 ? op.recv(rx1) : i == 1 ? op.recv(rx2) : op.recv(rx3);
    if (result.is_ok()) {
      got[i].push_back(*result);
    } else {
      sel.remove(i);  // disconnected and drained: stop watching it
      --open;
    }
  }
  REQUIRE(producer.join().unwrap());
  for (const auto& values : got) {
    REQUIRE(values.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      REQUIRE(values[static_cast<std::size_t>(i)] == i);
    }
  }
}

TEST_CASE("a biased select takes the first ready operation, a fair one spreads", "[select]") {
  auto [tx1, rx1] = mpsc::channel<int>();
  auto [tx2, rx2] = mpsc::channel<int>();
  for (int i = 0; i < 200; ++i) {
    REQUIRE(tx1.send(i).is_ok());
    REQUIRE(tx2.send(i).is_ok());
  }
  auto biased = mpsc::Select::biased();
  biased.recv(rx1);
  biased.recv(rx2);
  for (int i = 0; i < 100; ++i) {
    auto op = biased.select();
    REQUIRE(op.index() == 0);
    REQUIRE(op.recv(rx1).unwrap() == i);
  }
  mpsc::Select fair;
  fair.recv(rx1);
  fair.recv(rx2);
  int first = 0;
  for (int i = 0; i < 200; ++i) {
    auto op = fair.select();
    if (op.index() == 0) {
      ++first;
      REQUIRE(op.recv(rx1).is_ok());
    } else {
      REQUIRE(op.recv(rx2).is_ok());
    }
  }
  // 100 of rx1's messages remained: with both always ready, a fair choice
  // takes some of each (a fixed order would take all 100 from one).
  REQUIRE(first > 20);
  REQUIRE(first <= 100);
}

TEST_CASE("a fair select takes each of the ready operations equally often, wherever they are", "[select]") {
  // Operations 0 and 1 always ready, 2 and 3 never: a look starting at a
  // random operation and taking the first ready one would take 0 three
  // times in four; a shuffled order takes each half the time.
  auto a = mpsc::channel<int>();
  auto b = mpsc::channel<int>();
  auto c = mpsc::channel<int>();
  auto d = mpsc::channel<int>();
  constexpr int rounds = 10000;
  for (int i = 0; i < rounds; ++i) {
    REQUIRE(a.first.send(i).is_ok());
    REQUIRE(b.first.send(i).is_ok());
  }
  mpsc::Select sel;
  sel.recv(a.second);
  sel.recv(b.second);
  sel.recv(c.second);
  sel.recv(d.second);
  int first = 0;
  for (int i = 0; i < rounds; ++i) {
    auto op = sel.select();
    REQUIRE(op.index() < 2);
    first += op.index() == 0 ? 1 : 0;
    REQUIRE((op.index() == 0 ? op.recv(a.second) : op.recv(b.second)).is_ok());
  }
  // Binomial(10000, 1/2): 4000 and 6000 are twenty standard deviations out.
  REQUIRE(first > 4000);
  REQUIRE(first < 6000);
}

TEST_CASE("try_select, select_timeout and the ready family on idle channels", "[select]") {
  auto [tx, rx] = mpsc::channel<int>();
  mpsc::Select sel;
  sel.recv(rx);
  REQUIRE(sel.try_select().unwrap_err() == mpsc::TrySelectError{});
  REQUIRE(sel.select_timeout(2ms).unwrap_err() == mpsc::SelectTimeoutError{});
  REQUIRE(sel.select_deadline(std::chrono::steady_clock::now()).is_err());
  REQUIRE(sel.try_ready().unwrap_err() == mpsc::TryReadyError{});
  REQUIRE(sel.ready_timeout(1ms).unwrap_err() == mpsc::ReadyTimeoutError{});
  REQUIRE(tx.send(4).is_ok());
  REQUIRE(sel.ready() == 0);  // looks ready, takes nothing
  REQUIRE(sel.try_ready().unwrap() == 0);
  auto op = sel.try_select().unwrap();
  REQUIRE(op.recv(rx).unwrap() == 4);
}

TEST_CASE("a disconnected channel's operation is ready and completes with the error", "[select]") {
  auto [tx, rx] = mpsc::sync_channel<std::string>(0);
  auto [utx, urx] = mpsc::channel<int>();
  { auto gone = std::move(tx); }
  mpsc::Select sel;
  sel.recv(urx);
  sel.recv(rx);
  auto op = sel.select_timeout(spindle::test::wait_limit).unwrap();
  REQUIRE(op.index() == 1);
  REQUIRE(op.recv(rx).is_err());
  (void)utx;
}

TEST_CASE("a select blocked on idle channels wakes when a sender goes", "[select]") {
  for (int flavour = 0; flavour < 3; ++flavour) {
    INFO("flavour " << flavour);
    Watchdog dog("disconnect wakes select");
    auto rx1_pair = mpsc::channel<int>();
    auto& tx1 = rx1_pair.first;
    auto& rx1 = rx1_pair.second;
    auto rx2_pair = mpsc::sync_channel<int>(flavour == 0 ? 1 : 0);
    auto& tx2 = rx2_pair.first;
    auto& rx2 = rx2_pair.second;
    auto rx3_pair = mpsc::channel<int>();
    auto& tx3 = rx3_pair.first;
    auto& rx3 = rx3_pair.second;
    std::atomic<bool> selecting{false};
    auto selector = th::spawn([&selecting, &rx1, &rx2, &rx3, flavour]() {
      mpsc::Select sel;
      sel.recv(rx1);
      sel.recv(rx2);
      sel.recv(rx3);
      selecting = true;
      auto op = sel.select();
      const std::size_t index = op.index();
      const bool err = index == 0 ? op.recv(rx1).is_err() : index == 1 ? op.recv(rx2).is_err() : op.recv(rx3).is_err();
      return err && static_cast<int>(index) == (flavour == 2 ? 2 : 1);
    });
    while (!selecting) {
      th::yield_now();
    }
    th::sleep(1ms);  // most likely asleep by now; either way it must end
    if (flavour == 2) {
      auto gone = std::move(tx3);
    } else {
      auto gone = std::move(tx2);
    }
    REQUIRE(selector.join().unwrap());
    (void)tx1;
  }
}

TEST_CASE("a select wakes for a message sent to any of its channels", "[select]") {
  for (int which = 0; which < 3; ++which) {
    INFO("channel " << which);
    Watchdog dog("message wakes select");
    auto rx1_pair = mpsc::channel<int>();
    auto& tx1 = rx1_pair.first;
    auto& rx1 = rx1_pair.second;
    auto rx2_pair = mpsc::sync_channel<int>(1);
    auto& tx2 = rx2_pair.first;
    auto& rx2 = rx2_pair.second;
    auto rx3_pair = mpsc::sync_channel<int>(0);
    auto& tx3 = rx3_pair.first;
    auto& rx3 = rx3_pair.second;
    auto sender = th::spawn([&, which] {
      th::sleep(1ms);
      return which == 0 ? tx1.send(10).is_ok() : which == 1 ? tx2.send(11).is_ok() : tx3.send(12).is_ok();
    });
    mpsc::Select sel;
    sel.recv(rx1);
    sel.recv(rx2);
    sel.recv(rx3);
    auto op = sel.select();
    REQUIRE(op.index() == static_cast<std::size_t>(which));
    const std::size_t i = op.index();
    REQUIRE((i == 0 ? op.recv(rx1) : i == 1 ? op.recv(rx2) : op.recv(rx3)).unwrap() == 10 + which);
    REQUIRE(sender.join().unwrap());
  }
}

TEST_CASE("send operations: a full bounded channel and a rendezvous wait for the receiver", "[select]") {
  Watchdog dog("select send");
  auto brx_pair = mpsc::sync_channel<std::string>(1);
  auto& btx = brx_pair.first;
  auto& brx = brx_pair.second;
  auto zrx_pair = mpsc::sync_channel<std::string>(0);
  auto& ztx = zrx_pair.first;
  auto& zrx = zrx_pair.second;
  REQUIRE(btx.try_send("fills it").is_ok());
  mpsc::Select sel;
  sel.send(btx);
  sel.send(ztx);
  REQUIRE(sel.try_select().is_err());  // full, and nobody receives
  auto receiver = th::spawn([&zrx] { return zrx.recv().unwrap(); });
  auto op = sel.select();
  REQUIRE(op.index() == 1);
  REQUIRE(op.send(ztx, std::string("handed")).is_ok());
  REQUIRE(receiver.join().unwrap() == "handed");
  REQUIRE(brx.recv().unwrap() == "fills it");
  auto op2 = sel.select();
  REQUIRE(op2.index() == 0);
  REQUIRE(op2.send(btx, std::string("second")).is_ok());
  REQUIRE(brx.recv().unwrap() == "second");
}

TEST_CASE("a send operation on a channel whose receiver is gone hands the value back", "[select]") {
  auto [tx, rx] = mpsc::sync_channel<std::string>(1);
  auto [utx, urx] = mpsc::channel<std::string>();
  { auto gone = std::move(rx); }
  { auto gone = std::move(urx); }
  mpsc::Select sel;
  sel.send(tx);
  sel.send(utx);
  for (int i = 0; i < 2; ++i) {
    auto op = sel.select();
    auto result = op.index() == 0 ? op.send(tx, std::string("back")) : op.send(utx, std::string("back"));
    REQUIRE(std::move(result).unwrap_err().into_inner() == "back");
    sel.remove(op.index());
  }
}

TEST_CASE("timers in a select: the earliest fires, never() is never chosen", "[select][timers]") {
  Watchdog dog("select timers");
  const auto start = std::chrono::steady_clock::now();
  auto slow = mpsc::after(1h);
  auto soon = mpsc::after(3ms);
  auto off = mpsc::never<std::chrono::steady_clock::time_point>();
  mpsc::Select sel;
  sel.recv(slow);
  sel.recv(off);
  sel.recv(soon);
  auto op = sel.select();
  REQUIRE(op.index() == 2);
  REQUIRE(op.recv(soon).unwrap() >= start + 3ms);
  REQUIRE(sel.select_timeout(2ms).is_err());  // the one-shot timer fired once
}

TEST_CASE("select(arms...) runs exactly one handler and returns its result", "[select]") {
  Watchdog dog("select arms");
  auto [tx, rx] = mpsc::channel<int>();
  auto [stx, srx] = mpsc::sync_channel<int>(1);
  // Nothing ready: on_default runs.
  int ran = 0;
  const int idle = mpsc::select(mpsc::on_recv(rx,
                                              [&](auto) {
                                                ++ran;
                                                return 1;
                                              }),
                                mpsc::on_default([&] {
                                  ++ran;
                                  return 2;
                                }));
  REQUIRE(idle == 2);
  REQUIRE(ran == 1);
  // Nothing ready in time: on_timeout runs.
  const std::string late = mpsc::select(mpsc::on_recv(rx, [](auto) { return std::string("msg"); }),
                                        mpsc::on_timeout(2ms, [] { return std::string("timeout"); }));
  REQUIRE(late == "timeout");
  // A deadline kept across calls: on_deadline runs once it has passed.
  const auto deadline = std::chrono::steady_clock::now() + 3ms;
  int calls = 0;
  while (!mpsc::select(mpsc::on_recv(rx, [](auto) { return false; }),
                       mpsc::on_deadline(deadline, [&] { return ++calls > 0; }))) {
  }
  REQUIRE(calls == 1);
  REQUIRE(std::chrono::steady_clock::now() >= deadline);
  // A message: its handler gets the Result.
  REQUIRE(tx.send(41).is_ok());
  const int got = mpsc::select(mpsc::on_recv(rx, [](spindle::Result<int, mpsc::RecvError> r) { return *r + 1; }),
                               mpsc::on_timeout(spindle::test::wait_limit, [] { return -1; }));
  REQUIRE(got == 42);
  // A send arm, biased ahead of a ready receive.
  REQUIRE(tx.send(1).is_ok());
  bool sent = false;
  mpsc::select_biased(mpsc::on_send(stx, 9, [&](spindle::Result<void, mpsc::SendError<int>> r) { sent = r.is_ok(); }),
                      mpsc::on_recv(rx, [&](auto) { sent = false; }));
  REQUIRE(sent);
  REQUIRE(srx.recv().unwrap() == 9);
  REQUIRE(rx.recv().unwrap() == 1);
}

TEST_CASE("select(arms...) takes a temporary receiver, such as a timer made for that call", "[select][timers]") {
  Watchdog dog("temporary timer arm");
  auto [tx, rx] = mpsc::channel<int>();
  const auto start = std::chrono::steady_clock::now();
  const int which = mpsc::select(mpsc::on_recv(rx, [](auto) { return 1; }),
                                 mpsc::on_recv(mpsc::after(2ms), [](auto due) { return due.is_ok() ? 2 : 0; }));
  REQUIRE(which == 2);
  REQUIRE(std::chrono::steady_clock::now() >= start + 2ms);
  REQUIRE(tx.send(5).is_ok());
  const int got = mpsc::select(mpsc::on_recv(mpsc::never<int>(), [](auto) { return -1; }),
                               mpsc::on_recv(rx, [](spindle::Result<int, mpsc::RecvError> r) { return *r; }));
  REQUIRE(got == 5);
}

TEST_CASE("misuse of a select is refused with std::logic_error or std::out_of_range", "[select]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto [tx2, rx2] = mpsc::channel<int>();
  mpsc::Select empty;
  REQUIRE_THROWS_AS(empty.select(), std::logic_error);
  REQUIRE_THROWS_AS(empty.ready(), std::logic_error);
  REQUIRE(empty.try_select().is_err());
  mpsc::Select sel;
  sel.recv(rx);
  REQUIRE_THROWS_AS(sel.recv(rx), std::logic_error);  // a receiver waits in one place
  REQUIRE_THROWS_AS(sel.remove(5), std::out_of_range);
  REQUIRE(tx.send(3).is_ok());
  {
    auto op = sel.select();
    REQUIRE_THROWS_AS(op.recv(rx2), std::logic_error);    // another channel
    REQUIRE_THROWS_AS(op.send(tx, 1), std::logic_error);  // another kind of operation
    REQUIRE(op.recv(rx).unwrap() == 3);
    REQUIRE_THROWS_AS(op.recv(rx), std::logic_error);  // completed already
  }
  sel.remove(0);
  REQUIRE_THROWS_AS(sel.remove(0), std::out_of_range);
  mpsc::Select later;
  later.recv(rx2);
  auto moved = std::move(rx2);
  REQUIRE_THROWS_AS(later.try_select(), std::logic_error);  // its handle was moved from
  auto gone = std::move(tx2);
  REQUIRE_THROWS_AS(later.recv(rx2), std::logic_error);  // NOLINT(bugprone-use-after-move): on purpose
}

TEST_CASE("ready() on a rendezvous send passes its wake-up on: a blocked sender still meets the receive", "[select]") {
  // A receive that announces itself wakes one sleeping sender. If that one
  // is a select's look (ready(), which sends nothing), the wake-up must go
  // on to a sender that will send.
  Watchdog dog("ready passes the wake-up on");
  auto ends = mpsc::sync_channel<int>(0, spindle::WaitPolicy::park);
  auto& tx = ends.first;
  auto& rx = ends.second;
  mpsc::SyncSender<int> blocked_tx = tx;
  std::atomic<bool> sending{false};
  auto sender = th::spawn([&sending, blocked_tx = std::move(blocked_tx)]() mutable {
    sending = true;
    return blocked_tx.send(5).is_ok();
  });
  while (!sending) {
    th::yield_now();
  }
  th::sleep(2ms);  // most likely asleep by now
  std::atomic<bool> looking{false};
  auto looker = th::spawn([&looking, &tx] {
    mpsc::Select sel;
    sel.send(tx);
    looking = true;
    return sel.ready();
  });
  while (!looking) {
    th::yield_now();
  }
  th::sleep(2ms);
  REQUIRE(rx.recv_timeout(spindle::test::wait_limit).unwrap() == 5);
  REQUIRE(sender.join().unwrap());
  // Which of the two sleepers that receive woke first is not fixed (a
  // spurious wake-up re-registers the sender ahead of the look): if it was
  // the sender, the look sleeps on, as nothing can be sent now. Receives
  // that time out wake it.
  const bool looked = spindle::test::eventually([&] {
    if (!looker.is_finished()) {
      REQUIRE(rx.recv_timeout(1ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
    }
    return looker.is_finished();
  });
  REQUIRE(looked);
  REQUIRE(looker.join().unwrap() == 0);
}

TEST_CASE("ready() pairs with nobody: a blocked rendezvous send completes only into a receive", "[select]") {
  Watchdog dog("ready pairs with nobody");
  spindle::test::LifetimeCheck lifetimes;
  std::optional<th::JoinHandle<bool>> sender;
  {
    auto ends = mpsc::sync_channel<spindle::test::Counted>(0);
    auto& rx = ends.second;
    std::atomic<bool> sending{false};
    sender.emplace(th::spawn([&sending, tx = std::move(ends.first)]() mutable {
      sending = true;
      return tx.send(spindle::test::Counted(7)).is_ok();
    }));
    while (!sending) {
      th::yield_now();
    }
    mpsc::Select sel;
    sel.recv(rx);
    REQUIRE(sel.ready_timeout(spindle::test::wait_limit).unwrap() == 0);  // the sender looks ready
  }  // the receiver goes without receiving: the send must fail
  REQUIRE_FALSE(sender->join().unwrap());
}

TEST_CASE("ready() asleep when a rendezvous send comes: the send waits for a receive", "[select]") {
  // The look sleeps first, registered, when the sender comes: it must wake
  // the look and wait, not pair with it. The receiver then goes without
  // receiving: the send must fail.
  Watchdog dog("a sleeping look pairs with nobody");
  spindle::test::LifetimeCheck lifetimes;
  auto ends = mpsc::sync_channel<spindle::test::Counted>(0);
  auto looker = th::spawn([rx = std::move(ends.second)]() mutable {
    mpsc::Select sel;
    sel.recv(rx);
    return sel.ready_timeout(spindle::test::wait_limit).unwrap();
  });
  th::sleep(2ms);  // the look most likely sleeps by now
  auto sent = ends.first.send(spindle::test::Counted(7));
  REQUIRE(sent.is_err());
  REQUIRE(looker.join().unwrap() == 0);
}

TEST_CASE("a select holding a claimed slot does not hold a timed receive past its deadline", "[select]") {
  // The select claims the slot the sleeping receiver waits for, then waits
  // for that receive to end before it writes: the receive must end (by its
  // deadline), not wait for the write.
  Watchdog dog("claimed slot and a timed receive");
  auto ends = mpsc::sync_channel<int>(1);
  auto& tx = ends.first;
  auto& rx = ends.second;
  std::atomic<bool> receive_done{false};
  auto selector = th::spawn([&tx, &receive_done] {
    th::sleep(5ms);  // the receiver most likely sleeps by now
    mpsc::Select sel;
    sel.send(tx);
    auto op = sel.select();
    const bool ended = spindle::test::eventually([&receive_done] { return receive_done.load(); });
    return op.send(tx, 42).is_ok() && ended;
  });
  const auto first = rx.recv_timeout(50ms);  // ends at its deadline, or with 42 if written in time
  receive_done = true;
  REQUIRE(selector.join().unwrap());
  if (first.is_err()) {
    REQUIRE(rx.recv_timeout(spindle::test::wait_limit).unwrap() == 42);
  } else {
    REQUIRE(*first == 42);
  }
}
