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

// Two senders blocked on the one slot of a full bounded(1) channel: each
// sleeps on the slot's waiter flag (the second finds it already set), and
// the receiver frees the slot three times. A freed slot that a sender
// sleeps through leaves it asleep while the receiver sleeps on the empty
// channel: a deadlock.
struct TwoSendersBlocked : rl::test_suite<TwoSendersBlocked, 3> {
  Handles<mpsc::SyncSender<int>> h;
  std::optional<mpsc::SyncSender<int>> second;

  void before() {
    h = bounded(1);
    second.emplace(*h.tx);
    RL_ASSERT(h.tx->try_send(0).is_ok());  // the slot is full
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(h.tx->send(1).is_ok());
      h.tx.reset();
    } else if (index == 1) {
      RL_ASSERT(second->send(2).is_ok());
      second.reset();
    } else {
      auto first = h.rx->recv();
      RL_ASSERT(first.is_ok() && *first == 0);
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

// Three senders on a rendezvous channel, one message each: they race to
// claim each announcement of the receiver, and the losers sleep until the
// next one. Every message is handed over once, and each send returns only
// after its receive.
struct RendezvousSenders : rl::test_suite<RendezvousSenders, 4> {
  Handles<mpsc::SyncSender<int>> h;
  std::optional<mpsc::SyncSender<int>> more[2];

  void before() {
    h = bounded(0);
    more[0].emplace(*h.tx);
    more[1].emplace(*h.tx);
  }
  void thread(unsigned index) {
    if (index < 3) {
      auto& tx = index == 0 ? h.tx : more[index - 1];
      RL_ASSERT(tx->send(1 << index).is_ok());
      tx.reset();
    } else {
      int seen = 0;
      for (int i = 0; i < 3; ++i) {
        auto v = h.rx->recv();
        RL_ASSERT(v.is_ok() && (seen & *v) == 0);
        seen |= *v;
      }
      RL_ASSERT(seen == 7);
      RL_ASSERT(h.rx->recv().is_err());
    }
  }
  void after() {
    h = {};
    more[0].reset();
    more[1].reset();
  }
};

// A message whose move constructor throws once it has used up its moves.
struct MoveFailed {};
struct Fragile {
  int value;
  int moves_left;

  Fragile(int v, int moves) noexcept : value(v), moves_left(moves) {}
  Fragile(Fragile&& other) noexcept(false) : value(other.value), moves_left(other.moves_left - 1) {
    if (other.moves_left <= 0) {
      throw MoveFailed{};
    }
  }
  Fragile(const Fragile&) = delete;
  Fragile& operator=(Fragile&&) = delete;
  Fragile& operator=(const Fragile&) = delete;
  ~Fragile() = default;
};

// A rendezvous hand-over whose move throws while another sender may be
// asleep, waiting for the receiver: the failed hand-over must give the
// receiver back to that sender, whose message then arrives; the receiver,
// its receives done, then sees Disconnected. Written against the public
// API alone: the move may run in the sender (its send throws) or in the
// receiver (that recv throws), and either is accepted, once.
struct RendezvousMoveThrows : rl::test_suite<RendezvousMoveThrows, 3> {
  std::optional<mpsc::SyncSender<Fragile>> tx[2];
  std::optional<mpsc::Receiver<Fragile>> rx;
  int thrown = 0;  // fibers of one OS thread: no data race on a plain int

  void before() {
    auto [t, r] = mpsc::sync_channel<Fragile>(0);
    tx[1].emplace(t);
    tx[0].emplace(std::move(t));
    rx.emplace(std::move(r));
    thrown = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      try {
        // A prvalue: the parameter is built in place, so the channel's
        // first move of it is the one that throws.
        // Whatever it returns, the message cannot arrive: it cannot move.
        (void)tx[0]->send(Fragile(1, 0));
      } catch (const MoveFailed&) {
        ++thrown;
      }
      tx[0].reset();
    } else if (index == 1) {
      RL_ASSERT(tx[1]->send(Fragile(2, 100)).is_ok());
      tx[1].reset();
    } else {
      int got = 0;
      for (int i = 0; i < 3; ++i) {  // at most: one throw, one message, the end
        try {
          auto v = rx->recv();
          if (v.is_err()) {
            break;
          }
          RL_ASSERT(v->value == 2);
          ++got;
        } catch (const MoveFailed&) {
          ++thrown;
        }
      }
      RL_ASSERT(got == 1);
      RL_ASSERT(rx->recv().is_err());
    }
  }
  void after() {
    RL_ASSERT(thrown == 1);
    tx[0].reset();
    tx[1].reset();
    rx.reset();
  }
};

// The unbounded list with a payload of 80 bytes has blocks of 31 slots
// (positions 0-30, 31 marks the installation of the next block). Filled
// and drained to position 29 before the threads start, so that their
// messages cross into the next block at once.
constexpr int before_boundary = 29;

// Two senders cross the block boundary together: one claims the block's
// last slot and installs the next block, the other waits on the marker or
// lands in the new block; the receiver follows them across. Each sender's
// messages arrive in its order.
struct TwoSendersCrossBlock : rl::test_suite<TwoSendersCrossBlock, 3> {
  std::optional<mpsc::Sender<Big>> tx[2];
  std::optional<mpsc::Receiver<Big>> rx;

  void before() {
    auto [t, r] = mpsc::channel<Big>();
    for (int i = 0; i < before_boundary; ++i) {
      RL_ASSERT(t.send(Big{}).is_ok());
      RL_ASSERT(r.try_recv().is_ok());
    }
    tx[1].emplace(t);
    tx[0].emplace(std::move(t));
    rx.emplace(std::move(r));
  }
  void thread(unsigned index) {
    if (index < 2) {
      for (int i = 0; i < 2; ++i) {
        Big b;
        b.value = static_cast<int>(index) * 10 + i;
        RL_ASSERT(tx[index]->send(b).is_ok());
      }
      tx[index].reset();
    } else {
      int next[2] = {0, 10};  // each sender's next value
      for (int i = 0; i < 4; ++i) {
        auto b = rx->recv();
        RL_ASSERT(b.is_ok());
        const int from = b->value / 10;
        RL_ASSERT(b->value == next[from]);
        ++next[from];
      }
      RL_ASSERT(rx->recv().is_err());
    }
  }
  void after() {
    tx[0].reset();
    tx[1].reset();
    rx.reset();
  }
};

// A message that counts its lives in the test's counter: the receiver's
// drop must destroy each message left in the channel once, and a failed
// send hands its message back.
struct Counted {
  int* lives;
  int pad[18] = {};  // 80 bytes: blocks of 31 slots, as Big

  explicit Counted(int* l) noexcept : lives(l) { ++*lives; }
  Counted(Counted&& other) noexcept : lives(other.lives) { ++*lives; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { --*lives; }
};

// The receiver drops while senders cross a block boundary: the sender that
// claims the block's last slot may still be installing the next block, the
// other waiting on the marker. Each send either succeeds (and the drop
// destroys its message) or fails with the message back; no block and no
// message leaks (relacy reports a leaked block), none is destroyed twice.
struct ReceiverDropsDuringInstall : rl::test_suite<ReceiverDropsDuringInstall, 3> {
  std::optional<mpsc::Sender<Counted>> tx[2];
  std::optional<mpsc::Receiver<Counted>> rx;
  int lives = 0;

  void before() {
    lives = 0;
    auto [t, r] = mpsc::channel<Counted>();
    for (int i = 0; i < before_boundary; ++i) {
      RL_ASSERT(t.send(Counted(&lives)).is_ok());
    }
    RL_ASSERT(lives == before_boundary);  // held by the channel
    tx[1].emplace(t);
    tx[0].emplace(std::move(t));
    rx.emplace(std::move(r));
  }
  void thread(unsigned index) {
    if (index < 2) {
      const int sends = index == 0 ? 2 : 1;
      bool failed = false;
      for (int i = 0; i < sends; ++i) {
        auto sent = tx[index]->send(Counted(&lives));
        if (sent.is_err()) {
          failed = true;
          RL_ASSERT(std::move(sent).unwrap_err().into_inner().lives == &lives);
        } else {
          RL_ASSERT(!failed);  // once the receiver is gone, it stays gone
        }
      }
      tx[index].reset();
    } else {
      rx.reset();
    }
  }
  void after() {
    RL_ASSERT(lives == 0);
    tx[0].reset();
    tx[1].reset();
    rx.reset();
  }
};

// A message whose first move (the sender's write into the channel) stalls
// until the receiver says go: a sender that lost its CPU mid-write, or
// whose move is slow. It sleeps rather than spins, so that the checker's
// exhaustive search, which runs a spinning thread on and on once it has
// spent its preemptions, can still end a timed wait of the receiver.
struct Stalling {
  rl::atomic<int>* go;
  bool stall;

  explicit Stalling(rl::atomic<int>* g) noexcept : go(g), stall(true) {}
  Stalling(Stalling&& other) noexcept : go(other.go), stall(false) {
    while (other.stall && (*go)($).load(rl::mo_acquire) == 0) {
      (void)rl::rl_futex(go, rl::RL_FUTEX_WAIT, 0, nullptr, nullptr, 0, $);
    }
  }
  Stalling(const Stalling&) = delete;
  Stalling& operator=(const Stalling&) = delete;
  Stalling& operator=(Stalling&&) = delete;
  ~Stalling() = default;
};

// A try_recv and a receive whose deadline has passed must not wait for a
// write in progress beyond a short grace: the receiver says go only after
// both returned, so a receive that waits for the write to finish waits for
// ever (relacy reports a livelock). Then the message arrives, once.
// Capacity -1 stands for the unbounded list.
template <int Capacity>
struct ReceiveSkipsStalledWrite : rl::test_suite<ReceiveSkipsStalledWrite<Capacity>, 2> {
  using Tx = std::conditional_t<(Capacity < 0), mpsc::Sender<Stalling>, mpsc::SyncSender<Stalling>>;
  std::optional<Tx> tx;
  std::optional<mpsc::Receiver<Stalling>> rx;
  rl::atomic<int> go;

  void before() {
    go($).store(0, rl::mo_relaxed);
    auto [t, r] = [] {
      if constexpr (Capacity < 0) {
        return mpsc::channel<Stalling>();
      } else {
        return mpsc::sync_channel<Stalling>(Capacity);
      }
    }();
    tx.emplace(std::move(t));
    rx.emplace(std::move(r));
  }
  void thread(unsigned index) {
    if (index == 0) {
      RL_ASSERT(tx->send(Stalling(&go)).is_ok());
      tx.reset();
    } else {
      // Nothing can arrive before go: the only message is stalled.
      RL_ASSERT(rx->try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
      RL_ASSERT(rx->recv_timeout(std::chrono::nanoseconds(0)).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
      go($).store(1, rl::mo_release);
      (void)rl::rl_futex(&go, rl::RL_FUTEX_WAKE, 1, nullptr, nullptr, 0, $);
      RL_ASSERT(rx->recv().is_ok());
      RL_ASSERT(rx->recv().is_err());
    }
  }
  void after() {
    tx.reset();
    rx.reset();
  }
};

// One sender sends 1 and 2; the receiver takes a first step, waits until
// the sender is done, then drains the channel: every message the sender
// delivered is received exactly once, and every one it did not comes back
// to it. `Steps` says how each side goes about it:
//   bool send(h, v)   true if delivered; on failure asserts the value came
//                     back; may stop the sender (`stop`)
//   int first(h)      the receiver's first step; how many it received
//   int drain(h)      the receives after the sender is done
template <class Steps, std::size_t Capacity>
struct SendsThenDrain : rl::test_suite<SendsThenDrain<Steps, Capacity>, 2> {
  Handles<mpsc::SyncSender<int>> h;
  rl::atomic<int> sender_done;
  int delivered = 0;  // thread 0's
  int received = 0;   // thread 1's

  void before() {
    h = bounded(Capacity);
    sender_done($).store(0, rl::mo_relaxed);
    delivered = 0;
    received = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      for (int v = 1; v <= 2; ++v) {
        bool stop = false;
        delivered += Steps::send(h, v, stop) ? 1 : 0;
        if (stop) {
          break;
        }
      }
      sender_done($).store(1, rl::mo_release);
    } else {
      received += Steps::first(h);
      while (sender_done($).load(rl::mo_acquire) == 0) {
        rl::yield(1, $);
      }
      received += Steps::drain(h);
    }
  }
  void after() {
    RL_ASSERT(delivered == received);
    h = {};
  }
};

// The receiver closes while the sender may be blocked (on a full ring, or
// waiting for a rendezvous receive): the close alone must wake the sender
// (the receiver drains only once the sender is done: a receive would wake
// it too), which gets its value back; what it sent before the close is
// still received.
struct CloseRacesBlockedSend {
  static bool send(Handles<mpsc::SyncSender<int>>& h, int v, bool& stop) {
    auto sent = h.tx->send(v);
    if (sent.is_err()) {
      RL_ASSERT(std::move(sent).unwrap_err().into_inner() == v);
      stop = true;
    }
    return sent.is_ok();
  }
  static int first(Handles<mpsc::SyncSender<int>>& h) {
    const int got = h.rx->try_recv().is_ok() ? 1 : 0;
    h.rx->close();
    return got;
  }
  static int drain(Handles<mpsc::SyncSender<int>>& h) {
    int got = 0;
    while (h.rx->recv().is_ok()) {
      ++got;
    }
    RL_ASSERT(h.rx->try_recv().is_err());
    return got;
  }
};

// A timed send racing a timed receive (both deadlines already passed, the
// model's only deterministic time): a write the receive gave up on is taken
// back (Timeout), never lost or left in the slot.
struct TimedSendRacesTimedRecv {
  static bool send(Handles<mpsc::SyncSender<int>>& h, int v, bool& /*stop*/) {
    auto sent = h.tx->send_timeout(v, std::chrono::nanoseconds(0));
    if (sent.is_err()) {
      RL_ASSERT(sent.error().is_timeout() && sent.error().value == v);
    }
    return sent.is_ok();
  }
  static int first(Handles<mpsc::SyncSender<int>>& h) {
    return h.rx->recv_timeout(std::chrono::nanoseconds(0)).is_ok() ? 1 : 0;
  }
  static int drain(Handles<mpsc::SyncSender<int>>& h) {
    int got = 0;
    while (h.rx->try_recv().is_ok()) {
      ++got;
    }
    return got;
  }
};

// force_send on a bounded channel: the sender and the receiver race for the
// oldest message (a CAS on its slot's stamp), and an eviction moves the
// receiver's head. Every value is received or evicted, exactly once, each
// in the order sent. `Receive` is the receiver's step: a plain recv() or a
// select's. A sender blocked on the full channel (`Blocked`: a third
// thread) sleeps on the slot at tail: the eviction must send it on to the
// new tail, and the receive that frees that one must wake it.
struct PlainRecv {
  static spindle::Result<int, mpsc::RecvError> step(mpsc::Receiver<int>& rx) { return rx.recv(); }
};
struct SelectRecv {
  static spindle::Result<int, mpsc::RecvError> step(mpsc::Receiver<int>& rx) {
    mpsc::Select sel;
    sel.recv(rx);
    auto op = sel.select();
    return op.recv(rx);
  }
};
template <std::size_t Capacity, class Receive, bool Blocked>
struct ForceSendRacesRecv : rl::test_suite<ForceSendRacesRecv<Capacity, Receive, Blocked>, Blocked ? 3 : 2> {
  Handles<mpsc::SyncSender<int>> h;
  std::optional<mpsc::SyncSender<int>> blocked;
  int evicted_sum = 0;   // thread 0's
  int received_sum = 0;  // the receiver's

  void before() {
    h = bounded(Capacity);
    if (Blocked) {
      blocked.emplace(*h.tx);
    }
    evicted_sum = 0;
    received_sum = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      int last = 0;
      for (int v = 1; v <= 3; ++v) {
        auto sent = h.tx->force_send(v);
        RL_ASSERT(sent.is_ok());
        if (auto evicted = std::move(sent).unwrap(); evicted) {
          RL_ASSERT(*evicted == 10 || (*evicted<v&& * evicted> last));  // the oldest, in order
          if (*evicted != 10) {
            last = *evicted;
          }
          evicted_sum += *evicted;
        }
      }
      h.tx.reset();
    } else if (index == 2) {
      RL_ASSERT(blocked->send(10).is_ok());  // the receiver stays: it lands
      blocked.reset();
    } else {
      int last = 0;
      for (;;) {
        auto got = Receive::step(*h.rx);
        if (got.is_err()) {
          break;
        }
        if (*got != 10) {
          RL_ASSERT(*got > last);
          last = *got;
        }
        received_sum += *got;
      }
    }
  }
  void after() {
    RL_ASSERT(evicted_sum + received_sum == (Blocked ? 16 : 6));
    h = {};
    blocked.reset();
  }
};

// force_send racing the receiver's close, or its drop: a value is refused
// (with itself back) only after the close, nothing is lost or destroyed
// twice. The receiver may take one message first.
template <bool Drop>
struct ForceSendRacesClose : rl::test_suite<ForceSendRacesClose<Drop>, 2> {
  std::optional<mpsc::SyncSender<Counted>> tx;
  std::optional<mpsc::Receiver<Counted>> rx;
  int lives = 0;
  int outcome[3] = {};  // per value: 1 evicted, 2 refused (thread 0's)
  int received = 0;     // thread 1's

  void before() {
    lives = 0;
    auto [t, r] = mpsc::sync_channel<Counted>(1);
    tx.emplace(std::move(t));
    rx.emplace(std::move(r));
    for (int& o : outcome) {
      o = 0;
    }
    received = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      bool refused = false;
      for (int v = 0; v < 3; ++v) {
        auto sent = tx->force_send(Counted(&lives));
        if (sent.is_err()) {
          RL_ASSERT(std::move(sent).unwrap_err().into_inner().lives == &lives);
          refused = true;
          outcome[v] = 2;
        } else {
          RL_ASSERT(!refused);  // closed stays closed
          if (std::move(sent).unwrap().has_value()) {
            outcome[v] = 1;
          }
        }
      }
      tx.reset();
    } else {
      if (rx->try_recv().is_ok()) {
        ++received;
      }
      if (Drop) {
        rx.reset();
      } else {
        rx->close();
        while (rx->recv().is_ok()) {
          ++received;
        }
      }
    }
  }
  void after() {
    RL_ASSERT(lives == 0);
    int refused = 0;
    int evicted = 0;
    for (const int o : outcome) {
      refused += o == 2 ? 1 : 0;
      evicted += o == 1 ? 1 : 0;
    }
    // Not refused: evicted, received, or (a drop) destroyed in the channel;
    // a drop leaves at most the capacity (1) there.
    if (Drop) {
      RL_ASSERT(3 - refused - evicted - received <= 1);
    } else {
      RL_ASSERT(3 - refused - evicted == received);
    }
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
  ok &= run<TwoSendersBlocked>("bounded(1): two senders blocked on full", rl::sched_random, 10000);
  ok &= run<Rendezvous>("rendezvous: two hand-offs then drop", rl::sched_random, 20000);
  ok &= run<RendezvousSenders>("rendezvous: three senders", rl::sched_random, 10000);
  ok &= run<RendezvousMoveThrows>("rendezvous: a move throws, one sleeps", rl::sched_random, 10000);
  ok &=
      run<SendsThenDrain<CloseRacesBlockedSend, 1>>("bounded(1): close races a blocked send", rl::sched_random, 20000);
  ok &=
      run<SendsThenDrain<CloseRacesBlockedSend, 0>>("rendezvous: close races a blocked send", rl::sched_random, 20000);
  ok &= run<SendsThenDrain<TimedSendRacesTimedRecv, 1>>("bounded(1): send_timeout races recv_timeout", rl::sched_random,
                                                        20000);
  ok &= run<SendsThenDrain<TimedSendRacesTimedRecv, 0>>("rendezvous: send_timeout races recv_timeout", rl::sched_random,
                                                        20000);
  ok &= run<ForceSendRacesRecv<1, PlainRecv, false>>("bounded(1): force_send races recv", rl::sched_random, 20000);
  ok &= run<ForceSendRacesRecv<2, PlainRecv, false>>("bounded(2): force_send races recv", rl::sched_random, 20000);
  // (random only: a select's bounded search runs past millions of executions)
  ok &= run<ForceSendRacesRecv<1, SelectRecv, false>>("bounded(1): force_send races a select", rl::sched_random, 50000);
  // (random only, as the select's: three threads)
  ok &= run<ForceSendRacesRecv<1, PlainRecv, true>>("bounded(1): force_send, a blocked send", rl::sched_random, 50000);
  ok &= run<ForceSendRacesClose<false>>("bounded(1): force_send races close", rl::sched_random, 20000);
  ok &= run<ForceSendRacesClose<true>>("bounded(1): force_send races the drop", rl::sched_random, 20000);
  ok &= run<RecvTimeoutRacesSend>("unbounded: recv_timeout races send", rl::sched_random, 20000);
  ok &= run<BlockHandOver>("unbounded: 40 messages cross a block", rl::sched_random, 2000);
  ok &= run<TwoSendersCrossBlock>("unbounded: two senders cross a block", rl::sched_random, 5000);
  ok &= run<ReceiverDropsDuringInstall>("unbounded: receiver drops mid-install", rl::sched_random, 5000);
  ok &= run<ReceiveSkipsStalledWrite<-1>>("unbounded: receives skip a stalled write", rl::sched_random, 5000);
  ok &= run<ReceiveSkipsStalledWrite<1>>("bounded(1): receives skip stalled write", rl::sched_random, 5000);
  ok &= run<ReceiveSkipsStalledWrite<0>>("rendezvous: receives skip stalled write", rl::sched_random, 5000);
  // The exhaustive search, for the models of two threads: with three its
  // executions run into the millions.
  ok &= run<SendThenDrop<MakeBounded1>>("bounded(1): send, send, drop vs recv", rl::sched_bound, 20000);
  ok &= run<Rendezvous>("rendezvous: two hand-offs then drop", rl::sched_bound, 20000);
  ok &= run<SendsThenDrain<CloseRacesBlockedSend, 1>>("bounded(1): close races a blocked send", rl::sched_bound, 20000);
  ok &= run<SendsThenDrain<CloseRacesBlockedSend, 0>>("rendezvous: close races a blocked send", rl::sched_bound, 20000);
  ok &= run<SendsThenDrain<TimedSendRacesTimedRecv, 1>>("bounded(1): send_timeout races recv_timeout", rl::sched_bound,
                                                        20000);
  ok &= run<SendsThenDrain<TimedSendRacesTimedRecv, 0>>("rendezvous: send_timeout races recv_timeout", rl::sched_bound,
                                                        20000);
  ok &= run<ForceSendRacesRecv<1, PlainRecv, false>>("bounded(1): force_send races recv", rl::sched_bound, 20000);
  ok &= run<ForceSendRacesClose<false>>("bounded(1): force_send races close", rl::sched_bound, 20000);
  ok &= run<ForceSendRacesClose<true>>("bounded(1): force_send races the drop", rl::sched_bound, 20000);
  ok &= run<ReceiveSkipsStalledWrite<-1>>("unbounded: receives skip a stalled write", rl::sched_bound, 20000);
  ok &= run<ReceiveSkipsStalledWrite<1>>("bounded(1): receives skip stalled write", rl::sched_bound, 20000);
  ok &= run<ReceiveSkipsStalledWrite<0>>("rendezvous: receives skip stalled write", rl::sched_bound, 20000);
  // And one of three threads, a few seconds long unless every wait sleeps.
  if (!spindle::model_test::sleepy_build || spindle::model_test::long_runs()) {
    ok &= run<RendezvousMoveThrows>("rendezvous: a move throws, one sleeps", rl::sched_bound, 20000);
  }
  return ok ? 0 : 1;
}
