// SPDX-License-Identifier: MIT
// Models of spindle::mpsc's three flavours, run by relacy over the shipped
// channel code: small (2-3 threads, a few operations), in the manner of
// loom models, each aimed at one race.
#include "model.hpp"

#include <spindle/mpsc.hpp>

namespace {

namespace mpsc = spindle::mpsc;

// The channel under test lives in the test object, which relacy rebuilds
// for every iteration; the handles are optionals so that a thread can drop
// its own.
template <class Tx>
struct Handles {
  std::optional<Tx> tx;
  std::optional<mpsc::Receiver<int>> rx;
};

Handles<mpsc::SyncSender<int>> bounded(std::size_t capacity) {
  auto [tx, rx] = mpsc::sync_channel<int>(capacity);
  Handles<mpsc::SyncSender<int>> h;
  h.tx.emplace(std::move(tx));
  h.rx.emplace(std::move(rx));
  return h;
}

Handles<mpsc::Sender<int>> unbounded() {
  auto [tx, rx] = mpsc::channel<int>();
  Handles<mpsc::Sender<int>> h;
  h.tx.emplace(std::move(tx));
  h.rx.emplace(std::move(rx));
  return h;
}

// A sender sends two values and drops its handle; the receiver gets both,
// in order, then Disconnected: the last sender's drop racing the
// receiver's wait must neither lose a message nor leave it asleep.
template <class Make>
struct SendThenDrop : rl::test_suite<SendThenDrop<Make>, 2> {
  decltype(Make{}()) h;

  void before() { h = Make{}(); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(h.tx->send(1).is_ok());
      RL_ASSERT(h.tx->send(2).is_ok());
      h.tx.reset();
    } else {
      auto first = h.rx->recv();
      RL_ASSERT(first.is_ok() && *first == 1);
      auto second = h.rx->recv();
      RL_ASSERT(second.is_ok() && *second == 2);
      RL_ASSERT(h.rx->recv().is_err());
    }
  }
  void after() { h = {}; }
};

// The receiver drops while a sender may be blocked on a full channel: the
// sender must wake and get its value back.
struct ReceiverDropsWhileFull : rl::test_suite<ReceiverDropsWhileFull, 2> {
  Handles<mpsc::SyncSender<int>> h;

  void before() { h = bounded(1); }
  void thread(unsigned index) {
    if (index == 0) {
      const bool first = h.tx->send(1).is_ok();
      auto second = h.tx->send(2);  // blocks while the channel is full
      // Either the receiver took a message and then left, or it left first.
      RL_ASSERT(second.is_err() || first);
      if (second.is_err()) {
        RL_ASSERT(std::move(second).unwrap_err().into_inner() == 2);
      }
    } else {
      (void)h.rx->try_recv();
      h.rx.reset();
    }
  }
  void after() { h = {}; }
};

// Two senders on a capacity-1 channel and one receiver that takes both
// messages: the classic lost wake-up shape (a sender asleep on "full", the
// receiver asleep on "empty").
struct TwoSendersFull : rl::test_suite<TwoSendersFull, 3> {
  Handles<mpsc::SyncSender<int>> h;
  std::optional<mpsc::SyncSender<int>> second;

  void before() {
    h = bounded(1);
    second.emplace(*h.tx);
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(h.tx->send(1).is_ok());
      h.tx.reset();
    } else if (index == 1) {
      RL_ASSERT(second->send(2).is_ok());
      second.reset();
    } else {
      int sum = 0;
      for (int i = 0; i < 2; ++i) {
        auto v = h.rx->recv();
        RL_ASSERT(v.is_ok());
        sum += *v;
      }
      RL_ASSERT(sum == 3);
      RL_ASSERT(h.rx->recv().is_err());
    }
  }
  void after() {
    h = {};
    second.reset();
  }
};

// Rendezvous: each send hands its value to a receive; the sender returns
// only once it was taken.
struct Rendezvous : rl::test_suite<Rendezvous, 2> {
  Handles<mpsc::SyncSender<int>> h;

  void before() { h = bounded(0); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(h.tx->send(7).is_ok());
      RL_ASSERT(h.tx->send(8).is_ok());
      h.tx.reset();
    } else {
      auto a = h.rx->recv();
      auto b = h.rx->recv();
      RL_ASSERT(a.is_ok() && *a == 7 && b.is_ok() && *b == 8);
      RL_ASSERT(h.rx->recv().is_err());
    }
  }
  void after() { h = {}; }
};

// recv_timeout racing a send: a timeout neither loses the message nor
// hands it out twice (the std mpsc bug class).
struct RecvTimeoutRacesSend : rl::test_suite<RecvTimeoutRacesSend, 2> {
  Handles<mpsc::Sender<int>> h;

  void before() { h = unbounded(); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(h.tx->send(5).is_ok());
      h.tx.reset();
    } else {
      auto first = h.rx->recv_timeout(std::chrono::nanoseconds(0));
      if (first.is_ok()) {
        RL_ASSERT(*first == 5);
      } else {
        RL_ASSERT(first.unwrap_err() == mpsc::RecvTimeoutError::Timeout);
        auto second = h.rx->recv();
        RL_ASSERT(second.is_ok() && *second == 5);
      }
      RL_ASSERT(h.rx->recv().is_err());
    }
  }
  void after() { h = {}; }
};

// The unbounded list hands the receiver from one block to the next while
// the sender installs it: a payload of 80 bytes makes blocks of 31 slots,
// so 40 messages cross a block boundary.
struct Big {
  int value = 0;
  int pad[19] = {};
};

struct BlockHandOver : rl::test_suite<BlockHandOver, 2> {
  std::optional<mpsc::Sender<Big>> tx;
  std::optional<mpsc::Receiver<Big>> rx;

  void before() {
    auto [t, r] = mpsc::channel<Big>();
    tx.emplace(std::move(t));
    rx.emplace(std::move(r));
  }
  void thread(unsigned index) {
    if (index == 0) {
      for (int i = 0; i < 40; ++i) {
        Big b;
        b.value = i;
        RL_ASSERT(tx->send(b).is_ok());
      }
      tx.reset();
    } else {
      for (int i = 0; i < 40; ++i) {
        auto b = rx->recv();
        RL_ASSERT(b.is_ok() && b->value == i);
      }
      RL_ASSERT(rx->recv().is_err());
    }
  }
  void after() {
    tx.reset();
    rx.reset();
  }
};

struct MakeBounded1 {
  auto operator()() const { return bounded(1); }
};
struct MakeUnbounded {
  auto operator()() const { return unbounded(); }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<SendThenDrop<MakeUnbounded>>("unbounded: send, send, drop vs recv", rl::sched_random, 20000);
  ok &= run<SendThenDrop<MakeBounded1>>("bounded(1): send, send, drop vs recv", rl::sched_random, 20000);
  ok &= run<ReceiverDropsWhileFull>("bounded(1): receiver drops while full", rl::sched_random, 20000);
  ok &= run<TwoSendersFull>("bounded(1): two senders, one receiver", rl::sched_random, 20000);
  ok &= run<Rendezvous>("rendezvous: two hand-offs then drop", rl::sched_random, 20000);
  ok &= run<RecvTimeoutRacesSend>("unbounded: recv_timeout races send", rl::sched_random, 20000);
  ok &= run<BlockHandOver>("unbounded: 40 messages cross a block", rl::sched_random, 2000);
  ok &= run<SendThenDrop<MakeBounded1>>("bounded(1): send, send, drop vs recv", rl::sched_bound, 20000);
  ok &= run<Rendezvous>("rendezvous: two hand-offs then drop", rl::sched_bound, 20000);
  return ok ? 0 : 1;
}
