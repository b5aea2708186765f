// SPDX-License-Identifier: MIT
// Models of spindle::mpmc over the shipped channel code: two receivers
// racing for one message on each capacity (plain, and one in a select),
// close racing a blocked send, a timed receive racing a send, and a
// selecting rendezvous send meeting a receive after a look.
#include "model.hpp"

#include <spindle/mpmc.hpp>

namespace {

namespace mpmc = spindle::mpmc;

// Capacity -1 stands for the unbounded channel.
std::pair<mpmc::Sender<int>, mpmc::Receiver<int>> make(int capacity) {
  return capacity < 0 ? mpmc::channel<int>() : mpmc::sync_channel<int>(static_cast<std::size_t>(capacity));
}

struct Ends {
  std::optional<mpmc::Sender<int>> tx;
  std::optional<mpmc::Receiver<int>> rx1;
  std::optional<mpmc::Receiver<int>> rx2;

  void make_all(int capacity) {
    auto ends = make(capacity);
    rx2.emplace(ends.second);
    tx.emplace(std::move(ends.first));
    rx1.emplace(std::move(ends.second));
  }
};

// One sender sends one value and goes; two receivers each receive once:
// exactly one gets the value, the other sees the channel disconnected.
template <int Capacity>
struct TwoReceiversRaceForOne : rl::test_suite<TwoReceiversRaceForOne<Capacity>, 3> {
  Ends e;
  rl::var<int> got1;
  rl::var<int> got2;

  void before() { e.make_all(Capacity); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(e.tx->send(7).is_ok());
      e.tx.reset();
    } else if (index == 1) {
      auto r = e.rx1->recv();
      got1($) = r.is_ok() ? *r : 0;
    } else {
      auto r = e.rx2->recv();
      got2($) = r.is_ok() ? *r : 0;
    }
  }
  void after() {
    RL_ASSERT(got1($) + got2($) == 7);
    e = {};
  }
};

// A send blocked on a full (or rendezvous) channel races a receiver's
// close(): the send fails with its value, and what was buffered before is
// still received by the other receiver copy.
template <int Capacity>
struct CloseRacesBlockedSend : rl::test_suite<CloseRacesBlockedSend<Capacity>, 2> {
  Ends e;

  void before() {
    e.make_all(Capacity);
    if (Capacity > 0) {
      RL_ASSERT(e.tx->send(1).is_ok());
    }
  }
  void thread(unsigned index) {
    if (index == 0) {
      auto sent = e.tx->send(2);
      RL_ASSERT(sent.is_err() && sent.error().value == 2);
    } else {
      e.rx1->close();
      if (Capacity > 0) {
        auto first = e.rx2->recv();
        RL_ASSERT(first.is_ok() && *first == 1);
      }
      RL_ASSERT(e.rx2->recv().is_err());
    }
  }
  void after() { e = {}; }
};

// A receive that may time out races a send to two receivers: the value is
// received exactly once, whichever receive takes it.
template <int Capacity>
struct TimedRecvRacesSend : rl::test_suite<TimedRecvRacesSend<Capacity>, 3> {
  Ends e;
  rl::var<int> got1;
  rl::var<int> got2;

  void before() { e.make_all(Capacity); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(e.tx->send(7).is_ok());
      e.tx.reset();
    } else if (index == 1) {
      auto r = e.rx1->recv_timeout(std::chrono::hours(1));  // the checker may end its sleeps early
      got1($) = r.is_ok() ? *r : 0;
    } else {
      auto r = e.rx2->recv();
      got2($) = r.is_ok() ? *r : 0;
    }
  }
  void after() {
    RL_ASSERT(got1($) + got2($) == 7 || (got1($) == 0 && got2($) == 7));
    e = {};
  }
};

// A select's receive and a plain receive race for one message (on each
// capacity): exactly one of them gets it, the other sees the disconnect.
template <int Capacity>
struct SelectRaceForOne : rl::test_suite<SelectRaceForOne<Capacity>, 3> {
  Ends e;
  rl::var<int> got1;
  rl::var<int> got2;

  void before() { e.make_all(Capacity); }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(e.tx->send(7).is_ok());
      e.tx.reset();
    } else if (index == 1) {
      mpmc::Select sel;
      sel.recv(*e.rx1);
      auto op = sel.select();
      auto r = op.recv(*e.rx1);
      got1($) = r.is_ok() ? *r : 0;
    } else {
      auto r = e.rx2->recv();
      got2($) = r.is_ok() ? *r : 0;
    }
  }
  void after() {
    RL_ASSERT(got1($) + got2($) == 7);
    e = {};
  }
};

// On a rendezvous channel a selecting sender meets a plain receive, and a
// look (Select::ready()) at a receiver pairs with no sender: the send
// completes only into the receive that follows.
struct RendezvousSelectSend : rl::test_suite<RendezvousSelectSend, 2> {
  Ends e;

  void before() { e.make_all(0); }
  void thread(unsigned index) {
    if (index == 0) {
      mpmc::Select sel;
      sel.send(*e.tx);
      auto op = sel.select();
      RL_ASSERT(op.send(*e.tx, 3).is_ok());
    } else {
      {
        mpmc::Select sel;
        sel.recv(*e.rx1);
        RL_ASSERT(sel.ready() == 0);
      }
      auto got = e.rx1->recv();
      RL_ASSERT(got.is_ok() && *got == 3);
    }
  }
  void after() { e = {}; }
};

// Selects on both sides of a rendezvous channel: a selecting send meets a
// selecting receive (neither can take from the other without the other
// registered), the value once.
struct RendezvousSelectsMeet : rl::test_suite<RendezvousSelectsMeet, 2> {
  Ends e;

  void before() { e.make_all(0); }
  void thread(unsigned index) {
    if (index == 0) {
      mpmc::Select sel;
      sel.send(*e.tx);
      auto op = sel.select();
      RL_ASSERT(op.send(*e.tx, 4).is_ok());
    } else {
      mpmc::Select sel;
      sel.recv(*e.rx1);
      auto op = sel.select();
      auto got = op.recv(*e.rx1);
      RL_ASSERT(got.is_ok() && *got == 4);
    }
  }
  void after() { e = {}; }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<TwoReceiversRaceForOne<-1>>("mpmc unbounded: two receivers race for one", rl::sched_random, 4000);
  ok &= run<TwoReceiversRaceForOne<1>>("mpmc bounded(1): two receivers race for one", rl::sched_random, 4000);
  ok &= run<TwoReceiversRaceForOne<0>>("mpmc rendezvous: two receivers race for one", rl::sched_random, 4000);
  ok &= run<TimedRecvRacesSend<-1>>("mpmc unbounded: a timed receive races a send", rl::sched_random, 4000);
  ok &= run<TimedRecvRacesSend<0>>("mpmc rendezvous: a timed receive races a send", rl::sched_random, 4000);
  ok &= run<CloseRacesBlockedSend<1>>("mpmc bounded(1): close races a blocked send", rl::sched_random, 4000);
  ok &= run<CloseRacesBlockedSend<0>>("mpmc rendezvous: close races a blocked send", rl::sched_random, 4000);
  ok &= run<SelectRaceForOne<-1>>("mpmc unbounded: a select and a receive race for one", rl::sched_random, 4000);
  ok &= run<SelectRaceForOne<1>>("mpmc bounded(1): a select and a receive race for one", rl::sched_random, 4000);
  ok &= run<SelectRaceForOne<0>>("mpmc rendezvous: a select and a receive race for one", rl::sched_random, 4000);
  // Where every wait sleeps, the two selects' exhaustive searches take a
  // minute alone (four under a loaded build): they run in the long runs,
  // and the random scheduler runs five times longer instead.
  const int select_random = spindle::model_test::sleepy_build ? 20000 : 4000;
  ok &= run<RendezvousSelectSend>("mpmc rendezvous: a selecting send, a look, a receive", rl::sched_random,
                                  select_random);
  ok &= run<RendezvousSelectsMeet>("mpmc rendezvous: selects on both sides meet", rl::sched_random, select_random);
  // The exhaustive search, for the models of two threads.
  ok &= run<CloseRacesBlockedSend<1>>("mpmc bounded(1): close races a blocked send", rl::sched_bound, 20000);
  ok &= run<CloseRacesBlockedSend<0>>("mpmc rendezvous: close races a blocked send", rl::sched_bound, 20000);
#if SPINDLE_CHANNEL_SPIN_STEPS == 0 && SPINDLE_CHANNEL_YIELD_STEPS == 0
  // Without spinning only: with it, the bounded search's executions of two
  // selects that spin and yield between their looks pass relacy's
  // execution length limit (reported as a livelock) before they end.
  if (spindle::model_test::long_runs()) {
    ok &= run<RendezvousSelectSend>("mpmc rendezvous: a selecting send, a look, a receive", rl::sched_bound, 20000);
    ok &= run<RendezvousSelectsMeet>("mpmc rendezvous: selects on both sides meet", rl::sched_bound, 20000);
  }
#endif
  return ok ? 0 : 1;
}
