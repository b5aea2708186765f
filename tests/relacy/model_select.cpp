// SPDX-License-Identifier: MIT
// Models of spindle::mpsc's select over the shipped code: one Waiter
// registered with several channels of different flavours, woken by exactly
// one, unregistered from all. Each model aims at one race: a value taken by
// exactly one select, a disconnect waking a selecting thread, a select
// racing a timeout, and a waiter unregistered after another channel woke it
// (which must wait until that channel's waker has handed the registration
// back).
#include "model.hpp"

#include <spindle/mpsc.hpp>

namespace {

namespace mpsc = spindle::mpsc;

template <class Tx>
struct Chan {
  std::optional<Tx> tx;
  std::optional<mpsc::Receiver<int>> rx;

  void make(std::pair<Tx, mpsc::Receiver<int>> pair) {
    tx.emplace(std::move(pair.first));
    rx.emplace(std::move(pair.second));
  }
};

// Completes the selected receive on whichever of the two receivers it is.
spindle::Result<int, mpsc::RecvError> complete(mpsc::SelectedOperation& op, mpsc::Receiver<int>& a,
                                               mpsc::Receiver<int>& b) {
  return op.index() == 0 ? op.recv(a) : op.recv(b);
}

// Two producers, each on its own flavour, send one value and go; the
// selecting thread takes both values, each once, then sees both channels
// disconnected.
template <std::size_t Capacity>
struct TakesEachOnce : rl::test_suite<TakesEachOnce<Capacity>, 3> {
  Chan<mpsc::Sender<int>> a;
  Chan<mpsc::SyncSender<int>> b;

  void before() {
    a.make(mpsc::channel<int>());
    b.make(mpsc::sync_channel<int>(Capacity));
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(a.tx->send(1).is_ok());
      a.tx.reset();
    } else if (index == 1) {
      RL_ASSERT(b.tx->send(2).is_ok());
      b.tx.reset();
    } else {
      mpsc::Select sel;
      sel.recv(*a.rx);
      sel.recv(*b.rx);
      int sum = 0;
      int values = 0;
      int open = 2;
      while (open > 0) {
        auto op = sel.select();
        const std::size_t i = op.index();
        auto got = complete(op, *a.rx, *b.rx);
        if (got.is_ok()) {
          sum += *got;
          ++values;
        } else {
          sel.remove(i);
          --open;
        }
      }
      RL_ASSERT(values == 2 && sum == 3);
    }
  }
  void after() {
    a = {};
    b = {};
  }
};

// The only sender of each of two channels (unbounded, rendezvous) goes
// while the other thread selects on both: the select must wake and report
// a disconnected channel.
struct DisconnectWakes : rl::test_suite<DisconnectWakes, 2> {
  Chan<mpsc::Sender<int>> a;
  Chan<mpsc::SyncSender<int>> b;

  void before() {
    a.make(mpsc::channel<int>());
    b.make(mpsc::sync_channel<int>(0));
  }
  void thread(unsigned index) {
    if (index == 0) {
      b.tx.reset();
      a.tx.reset();
    } else {
      mpsc::Select sel;
      sel.recv(*a.rx);
      sel.recv(*b.rx);
      auto op = sel.select();
      RL_ASSERT(complete(op, *a.rx, *b.rx).is_err());
    }
  }
  void after() {
    a = {};
    b = {};
  }
};

// A select that may time out races a send: a timeout loses nothing (the
// value is received afterwards), and the value is never taken twice. With
// Timeout 0 the select looks once; with a long one its timed sleep may end
// early (the checker decides), so it registers and unregisters repeatedly.
template <int TimeoutMs>
struct TimeoutRacesSend : rl::test_suite<TimeoutRacesSend<TimeoutMs>, 2> {
  Chan<mpsc::SyncSender<int>> a;
  Chan<mpsc::Sender<int>> b;

  void before() {
    a.make(mpsc::sync_channel<int>(1));
    b.make(mpsc::channel<int>());
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(a.tx->send(5).is_ok());
      a.tx.reset();
    } else {
      mpsc::Select sel;
      sel.recv(*a.rx);
      sel.recv(*b.rx);
      auto result = sel.select_timeout(std::chrono::milliseconds(TimeoutMs));
      if (result.is_ok()) {
        auto op = std::move(result).unwrap();
        RL_ASSERT(op.index() == 0);
        auto got = op.recv(*a.rx);
        RL_ASSERT(got.is_ok() && *got == 5);
      } else {
        auto got = a.rx->recv();
        RL_ASSERT(got.is_ok() && *got == 5);
      }
      RL_ASSERT(a.rx->recv().is_err());
    }
  }
  void after() {
    a = {};
    b = {};
  }
};

// Both channels of a select get a message at once (a bounded and a
// rendezvous one): one wakes the select, the other's wake finds it claimed.
// The select takes one value, then receives the other plainly; the channel
// that lost the race must have handed the registration back before the
// select's frame went (a waker touching a dead Waiter is an error the
// checker reports).
struct BothWake : rl::test_suite<BothWake, 3> {
  Chan<mpsc::SyncSender<int>> a;
  Chan<mpsc::SyncSender<int>> b;

  void before() {
    a.make(mpsc::sync_channel<int>(1));
    b.make(mpsc::sync_channel<int>(0));
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(a.tx->send(1).is_ok());
    } else if (index == 1) {
      RL_ASSERT(b.tx->send(2).is_ok());
    } else {
      int first = 0;
      {
        mpsc::Select sel;
        sel.recv(*a.rx);
        sel.recv(*b.rx);
        auto op = sel.select();
        auto got = complete(op, *a.rx, *b.rx);
        RL_ASSERT(got.is_ok());
        first = *got;
      }
      auto other = first == 1 ? b.rx->recv() : a.rx->recv();
      RL_ASSERT(other.is_ok() && *other + first == 3);
    }
  }
  void after() {
    a = {};
    b = {};
  }
};

// A select sends on a full bounded channel or a rendezvous channel nobody
// receives from: the receiver of the bounded one frees its slot, which
// wakes the select, whose send then lands.
struct SendWhenFreed : rl::test_suite<SendWhenFreed, 2> {
  Chan<mpsc::SyncSender<int>> a;
  Chan<mpsc::SyncSender<int>> b;

  void before() {
    a.make(mpsc::sync_channel<int>(1));
    b.make(mpsc::sync_channel<int>(0));
    RL_ASSERT(a.tx->try_send(7).is_ok());
  }
  void thread(unsigned index) {
    if (index == 0) {
      mpsc::Select sel;
      sel.send(*a.tx);
      sel.send(*b.tx);
      auto op = sel.select();
      RL_ASSERT(op.index() == 0);
      RL_ASSERT(op.send(*a.tx, 8).is_ok());
    } else {
      auto first = a.rx->recv();
      RL_ASSERT(first.is_ok() && *first == 7);
      auto second = a.rx->recv();
      RL_ASSERT(second.is_ok() && *second == 8);
    }
  }
  void after() {
    a = {};
    b = {};
  }
};

// A select's send on a rendezvous channel meets a plain receive.
struct RendezvousSend : rl::test_suite<RendezvousSend, 2> {
  Chan<mpsc::SyncSender<int>> a;

  void before() { a.make(mpsc::sync_channel<int>(0)); }
  void thread(unsigned index) {
    if (index == 0) {
      mpsc::Select sel;
      sel.send(*a.tx);
      auto op = sel.select();
      RL_ASSERT(op.send(*a.tx, 3).is_ok());
    } else {
      auto got = a.rx->recv();
      RL_ASSERT(got.is_ok() && *got == 3);
    }
  }
  void after() { a = {}; }
};

// Two rendezvous senders race for one select over both their channels;
// the select takes one value, then both receivers go. A rendezvous send
// completes only into a receive that takes it: exactly one send succeeds,
// the other gets its value back.
struct RendezvousSendsOne : rl::test_suite<RendezvousSendsOne, 3> {
  Chan<mpsc::SyncSender<int>> a;
  Chan<mpsc::SyncSender<int>> b;
  rl::var<int> sent_a;
  rl::var<int> sent_b;

  void before() {
    a.make(mpsc::sync_channel<int>(0));
    b.make(mpsc::sync_channel<int>(0));
  }
  void thread(unsigned index) {
    if (index == 0) {
      sent_a($) = a.tx->send(1).is_ok() ? 1 : 0;
    } else if (index == 1) {
      sent_b($) = b.tx->send(2).is_ok() ? 1 : 0;
    } else {
      {
        mpsc::Select sel;
        sel.recv(*a.rx);
        sel.recv(*b.rx);
        auto op = sel.select();
        RL_ASSERT(complete(op, *a.rx, *b.rx).is_ok());
      }
      a.rx.reset();
      b.rx.reset();
    }
  }
  void after() {
    RL_ASSERT(sent_a($) + sent_b($) == 1);
    a = {};
    b = {};
  }
};


// A look (Select::ready()) on a rendezvous receiver pairs with nobody: a
// send blocked meanwhile completes only into a receive. With `Receive` the
// receiver takes the message after the look; without, it goes, and the
// send must fail.
template <bool Receive>
struct LookPairsWithNobody : rl::test_suite<LookPairsWithNobody<Receive>, 2> {
  Chan<mpsc::SyncSender<int>> a;
  rl::var<int> sent;

  void before() { a.make(mpsc::sync_channel<int>(0)); }
  void thread(unsigned index) {
    if (index == 0) {
      sent($) = a.tx->send(5).is_ok() ? 1 : 0;
    } else {
      {
        mpsc::Select sel;
        sel.recv(*a.rx);
        RL_ASSERT(sel.ready() == 0);
      }
      if (Receive) {
        auto got = a.rx->recv();
        RL_ASSERT(got.is_ok() && *got == 5);
      }
      a.rx.reset();
    }
  }
  void after() {
    RL_ASSERT(sent($) == (Receive ? 1 : 0));
    a = {};
  }
};

// The only sender of a rendezvous channel goes while its receiver looks:
// the look wakes, and the receive that follows sees the disconnect.
struct LookSeesDisconnect : rl::test_suite<LookSeesDisconnect, 2> {
  Chan<mpsc::SyncSender<int>> a;

  void before() { a.make(mpsc::sync_channel<int>(0)); }
  void thread(unsigned index) {
    if (index == 0) {
      a.tx.reset();
    } else {
      mpsc::Select sel;
      sel.recv(*a.rx);
      RL_ASSERT(sel.ready() == 0);
      RL_ASSERT(a.rx->recv().is_err());
    }
  }
  void after() { a = {}; }
};

// A select waiting to send on a rendezvous channel makes a look at its
// receiver ready, and the receive that follows pairs with it. (Random
// scheduler only: the bounded search finds executions where relacy's
// spurious futex returns make both sides withdraw and register again, in
// turn, until the execution passes relacy's length limit, which it reports
// as a livelock; each withdrawal there follows a spurious return.)
struct LookSeesSelectingSender : rl::test_suite<LookSeesSelectingSender, 2> {
  Chan<mpsc::SyncSender<int>> a;

  void before() { a.make(mpsc::sync_channel<int>(0)); }
  void thread(unsigned index) {
    if (index == 0) {
      mpsc::Select sel;
      sel.send(*a.tx);
      auto op = sel.select();
      RL_ASSERT(op.send(*a.tx, 6).is_ok());
    } else {
      {
        mpsc::Select sel;
        sel.recv(*a.rx);
        RL_ASSERT(sel.ready() == 0);
      }
      auto got = a.rx->recv();
      RL_ASSERT(got.is_ok() && *got == 6);
    }
  }
  void after() { a = {}; }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<TakesEachOnce<1>>("select: unbounded + bounded(1), each once", rl::sched_random, 10000);
  ok &= run<TakesEachOnce<0>>("select: unbounded + rendezvous, each once", rl::sched_random, 10000);
  ok &= run<DisconnectWakes>("select: a disconnect wakes it", rl::sched_random, 20000);
  ok &= run<TimeoutRacesSend<0>>("select: timeout 0 races a send", rl::sched_random, 20000);
  ok &= run<TimeoutRacesSend<3600000>>("select: timed sleeps race a send", rl::sched_random, 20000);
  ok &= run<BothWake>("select: both channels wake it", rl::sched_random, 10000);
  ok &= run<SendWhenFreed>("select: send waits for a free slot", rl::sched_random, 20000);
  ok &= run<RendezvousSend>("select: send meets a receive", rl::sched_random, 20000);
  ok &= run<RendezvousSendsOne>("select: one of two rendezvous sends lands", rl::sched_random, 10000);
  ok &= run<LookPairsWithNobody<false>>("select: a look pairs with nobody", rl::sched_random, 20000);
  ok &= run<LookPairsWithNobody<true>>("select: a look, then the receive", rl::sched_random, 20000);
  ok &= run<LookSeesDisconnect>("select: a look sees the senders go", rl::sched_random, 20000);
  ok &= run<LookSeesSelectingSender>("select: a look sees a selecting sender", rl::sched_random, 20000);
  // The exhaustive search, for the models of two threads.
  ok &= run<DisconnectWakes>("select: a disconnect wakes it", rl::sched_bound, 20000);
  ok &= run<TimeoutRacesSend<0>>("select: timeout 0 races a send", rl::sched_bound, 20000);
  ok &= run<SendWhenFreed>("select: send waits for a free slot", rl::sched_bound, 20000);
  ok &= run<RendezvousSend>("select: send meets a receive", rl::sched_bound, 20000);
  ok &= run<LookPairsWithNobody<false>>("select: a look pairs with nobody", rl::sched_bound, 20000);
  ok &= run<LookPairsWithNobody<true>>("select: a look, then the receive", rl::sched_bound, 20000);
  ok &= run<LookSeesDisconnect>("select: a look sees the senders go", rl::sched_bound, 20000);
  return ok ? 0 : 1;
}
