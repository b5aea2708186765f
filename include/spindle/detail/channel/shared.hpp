// SPDX-License-Identifier: MIT
#pragma once

// The multi-consumer channel of spindle::mpmc, every capacity in one type:
// unbounded (no_bound), bounded (n >= 1) and rendezvous (0). Receivers and
// senders meet under one short lock, as flume's channels do; what waits,
// waits outside it, registered in a list of hooks.
//
// A hook lives in the frame of a blocked call (nothing is allocated to
// wait). Three lists, all under the lock:
//   receivers_  receives waiting for a message. On a rendezvous channel a
//               receive's hook carries room for one message (`dest`), which a
//               sender fills directly before it wakes the receive.
//   senders_    sends waiting for room in a full bounded channel.
//   offers_     rendezvous sends waiting for a receive, each pointing to its
//               own message (`value`); a receive moves it out and wakes the
//               sender, whose send then completes.
// A waker takes a hook out of its list under the lock and marks it `busy`,
// claims its Waiter there, and wakes it after unlocking; then clears
// `busy`. The waiting side, once awake, takes the lock: a hook still
// listed is removed (nobody else touches it then); one taken out may still
// be woken, so it waits until `busy` is clear before its frame may go.
//
// Each message is received exactly once: it leaves the queue, or its
// sender's frame, under the lock, into exactly one receive.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/waiter.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/sync/raw_mutex.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

template <class T>
class Shared {
  // A blocked operation's hook is its Registration (waiter.hpp): a plain
  // receive's or send's, with a Waiter in its frame, or a select's.
  using Hook = Registration;

  // A blocking call's hook and the Waiter it wakes.
  struct Blocked {
    Waiter waiter;
    Hook hook{&waiter};
  };

 private:
  // An intrusive FIFO of hooks, under the channel's lock.
  class HookList {
   public:
    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
    void push_back(Hook& hook) noexcept {
      hook.prev = tail_;
      hook.next = nullptr;
      (tail_ != nullptr ? tail_->next : head_) = &hook;
      tail_ = &hook;
      hook.listed = true;
    }
    void remove(Hook& hook) noexcept {
      (hook.prev != nullptr ? hook.prev->next : head_) = hook.next;
      (hook.next != nullptr ? hook.next->prev : tail_) = hook.prev;
      hook.listed = false;
    }
    [[nodiscard]] Hook* front() const noexcept { return head_; }

   private:
    Hook* head_ = nullptr;
    Hook* tail_ = nullptr;
  };

  // Hooks taken out under the lock, to be woken once it is released.
  class Wakes {
   public:
    Wakes() = default;
    Wakes(const Wakes&) = delete;
    Wakes& operator=(const Wakes&) = delete;
    ~Wakes() {
      Hook* hook = head_;
      while (hook != nullptr) {
        Hook* next = hook->next;  // read before the hook may go
        hook->waiter->wake();
        // release: our last touch of the hook; pairs with the waiting
        // side's acquire in settle().
        hook->busy.store(false, std::memory_order::release);
        hook = next;
      }
    }
    // Under the lock: `hook` is out of its list; claims its Waiter, to be
    // woken later. False when a select's Waiter was claimed by another of
    // its channels (or gave up) first: then nothing is to be done.
    bool add(Hook& hook) noexcept {
      if (!claim(hook)) {
        return false;
      }
      hook.next = head_;
      head_ = &hook;
      return true;
    }

    // As add(), for a waker that wakes the hook itself later (release()).
    static bool claim(Hook& hook) noexcept {
      if (!hook.waiter->try_select(hook.op)) {
        return false;
      }
      hook.busy.store(true, std::memory_order::relaxed);
      return true;
    }

    // Wakes a hook claim() claimed, and lets it go.
    static void release(Hook& hook) noexcept {
      hook.waiter->wake();
      // release: as in ~Wakes.
      hook.busy.store(false, std::memory_order::release);
    }

   private:
    Hook* head_ = nullptr;
  };

  using Lock = sync::BasicRawMutexLock<16>;

 public:
  Shared(std::size_t bound, WaitPolicy policy) : bound_(bound), policy_(policy) {}
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  ~Shared() = default;  // the last receiver destroyed what was buffered

  [[nodiscard]] std::size_t capacity() const noexcept { return bound_; }
  [[nodiscard]] std::size_t len() const noexcept { return count_.load(std::memory_order::relaxed); }

  // --- senders ---------------------------------------------------------------

  /// Sends `value` (moved from only on Ok). Mode::Block waits for room (a
  /// rendezvous: for a receive that takes it) until `deadline`.
  SendStatus send(T& value, Mode mode, Deadline deadline = forever) {
    Backoff backoff(policy_);
    for (;;) {
      Blocked blocked;
      Hook& hook = blocked.hook;
      bool spin = false;
      {
        Wakes wakes;
        const Lock lock(mutex_);
        if (receivers_gone_) {
          return SendStatus::Disconnected;
        }
        if (bound_ == 0) {
          if (hand_to_receiver(value, wakes)) {
            return SendStatus::Ok;
          }
        } else if (has_room()) {
          push(value, wakes);
          return SendStatus::Ok;
        }
        if (mode == Mode::Try) {
          return SendStatus::Full;
        }
        if (expired(deadline)) {
          return SendStatus::Timeout;
        }
        if (bound_ == 0) {
          // Offer the message to the receives to come, and wait for one.
          hook.value = static_cast<void*>(&value);
          offers_.push_back(hook);
          offered_.fetch_add(1, std::memory_order::relaxed);
          wake_one(receivers_, wakes);  // a look (Select::ready()) may wait
        } else {
          spin = spinning(backoff);
          if (!spin) {
            senders_.push_back(hook);
          }
        }
      }
      if (bound_ == 0) {
        return wait_offer(blocked, deadline);
      }
      if (spin) {
        // Watch the count, outside the lock, for a while.
        while (count_.load(std::memory_order::relaxed) >= bound_ && backoff.snooze()) {
        }
        continue;
      }
      wait(blocked, deadline);
      settle(hook, &Shared::senders_);
      backoff.reset();
    }
  }

  /// Sends without waiting, making room if need be: on a full bounded
  /// channel the oldest message is moved into `evicted`. On a rendezvous
  /// channel a waiting receive takes `value`; if none waits, `value` itself
  /// is what is evicted. Disconnected: `value` untouched.
  SendStatus force_send(T& value, std::optional<T>& evicted) {
    Wakes wakes;
    const Lock lock(mutex_);
    if (receivers_gone_) {
      return SendStatus::Disconnected;
    }
    if (bound_ == 0) {
      if (!hand_to_receiver(value, wakes)) {
        evicted.emplace(std::move(value));
      }
      return SendStatus::Ok;
    }
    if (!has_room() && !queue_.empty()) {
      evicted.emplace(std::move(queue_.front()));
      queue_.pop_front();
    }
    push(value, wakes);
    return SendStatus::Ok;
  }

  // --- receivers -------------------------------------------------------------

  /// Receives one message into `take` (called with a T&& under the lock).
  template <class Take>
  RecvStatus recv(Mode mode, Deadline deadline, Take&& take) {
    Backoff backoff(policy_);
    for (;;) {
      Blocked blocked;
      Hook& hook = blocked.hook;
      Storage<T> room;
      bool spin = false;
      {
        Wakes wakes;
        const Lock lock(mutex_);
        if (take_one(take, wakes)) {
          return RecvStatus::Ready;
        }
        if (senders_gone_ || closed_) {
          return RecvStatus::Disconnected;
        }
        if (mode == Mode::Try) {
          return RecvStatus::Empty;
        }
        if (expired(deadline)) {
          return RecvStatus::Timeout;
        }
        // A rendezvous receive registers at once: a sender needs it listed.
        spin = bound_ != 0 && spinning(backoff);
        if (!spin) {
          hook.dest = bound_ == 0 ? &room : nullptr;
          receivers_.push_back(hook);
          if (bound_ == 0) {
            wake_one(senders_, wakes);  // a select waiting to send here may pair now
          }
        }
      }
      if (spin) {
        // Watch the count, outside the lock, for a while.
        while (count_.load(std::memory_order::relaxed) == 0 && backoff.snooze()) {
        }
        continue;
      }
      wait(blocked, deadline);
      settle(hook, &Shared::receivers_);
      if (hook.filled) {  // a sender handed its message to us
        struct Destroy {
          Storage<T>& room;
          ~Destroy() { room.destroy(); }
        } destroy{room};
        take(std::move(*room.get()));
        return RecvStatus::Ready;
      }
      backoff.reset();
    }
  }

  /// recv_many's rest: moves the messages ready now into `out` (push_back,
  /// within its capacity), up to `max`, under one lock. Returns how many.
  template <class Out>
  std::size_t take_ready(Out& out, std::size_t max) {
    Wakes wakes;
    const Lock lock(mutex_);
    auto into_out = [&out](T&& v) { out.push_back(std::move(v)); };
    std::size_t taken = 0;
    while (taken < max && take_one(into_out, wakes)) {
      ++taken;
    }
    return taken;
  }

  // --- select: receives -------------------------------------------------------

  /// Whether a receive would find something now, taking nothing.
  [[nodiscard]] bool looks_ready() const noexcept {
    const Lock lock(mutex_);
    return something_for_receive(nullptr);
  }

  /// A look without the lock, for a spinning select: may miss an offer or
  /// the disconnect, never reports what is not there.
  [[nodiscard]] bool hints_ready() const noexcept {
    return count_.load(std::memory_order::relaxed) != 0 || offered_.load(std::memory_order::relaxed) != 0 ||
           ended_.load(std::memory_order::relaxed);
  }

  /// A select's receive, started: takes a message into `room` if one is
  /// ready (Ready), or reports Disconnected, or Empty.
  RecvStatus start_recv(Storage<T>& room) {
    Wakes wakes;
    const Lock lock(mutex_);
    auto into_room = [&](T&& v) { room.construct(std::move(v)); };
    if (take_one(into_room, wakes)) {
      return RecvStatus::Ready;
    }
    return senders_gone_ || closed_ ? RecvStatus::Disconnected : RecvStatus::Empty;
  }

  /// Registers a select's receive (or, `look`, its look) to be woken when a
  /// message or the disconnect comes; false when one is here already. On a
  /// rendezvous channel a sender may hand its message straight into `room`
  /// (unwatch_recv() says so).
  bool watch_recv(Hook& hook, bool look, Storage<T>& room) noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    // A select waiting to send here counts for a look only: a receive
    // registers, and wakes that select to pair with it.
    if (look ? something_for_receive(hook.waiter) : something_for_receive_now()) {
      return false;
    }
    hook.dest = look || bound_ != 0 ? nullptr : &room;
    receivers_.push_back(hook);
    if (hook.dest != nullptr) {
      wake_one(senders_, wakes, hook.waiter);  // a select waiting to send here may pair now
    }
    return true;
  }

  /// Withdraws what watch_recv() registered; true when a sender handed its
  /// message into the room meanwhile.
  bool unwatch_recv(Hook& hook) noexcept {
    settle(hook, &Shared::receivers_);
    return hook.filled;
  }

  /// A select's receive was given up after it took the message into
  /// `room`: the message goes back to the front, for the next receive.
  void requeue(Storage<T>& room) noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    queue_.push_front(std::move(*room.get()));
    room.destroy();
    count_.store(queue_.size(), std::memory_order::relaxed);
    wake_one(receivers_, wakes);
  }

  /// A select woken for a receive here took another operation: if a
  /// message is still here, another waiting receive gets the wake-up.
  void forward_recv() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    if (!queue_.empty() || !offers_.empty()) {
      wake_one(receivers_, wakes);
    }
  }

  // --- select: sends ------------------------------------------------------------

  /// Whether a send looks possible now (room, a waiting receive, or the
  /// receivers gone).
  [[nodiscard]] bool can_send() const noexcept {
    const Lock lock(mutex_);
    return send_possible(nullptr);
  }

  /// A select's send, started: claims a slot (or, on a rendezvous channel,
  /// a waiting receive) without blocking; to be completed with write() or
  /// given up with abandon(). Full when there is none, Disconnected when
  /// the receivers are gone.
  SendStatus start_send(SendClaim& claim) noexcept {
    const Lock lock(mutex_);
    if (receivers_gone_) {
      return SendStatus::Disconnected;
    }
    if (bound_ == 0) {
      Hook* hook = receivers_.front();
      while (hook != nullptr) {
        Hook* next = hook->next;
        if (hook->dest != nullptr) {
          receivers_.remove(*hook);
          if (Wakes::claim(*hook)) {
            claim.slot = hook;  // that receive waits (busy) until write() or abandon()
            return SendStatus::Ok;
          }
        }
        hook = next;
      }
      return SendStatus::Full;
    }
    if (!has_room()) {
      return SendStatus::Full;
    }
    ++reserved_;
    return SendStatus::Ok;
  }

  /// Completes a claim with `value`.
  void write(const SendClaim& claim, T& value) {
    if (bound_ == 0) {
      Hook& hook = *static_cast<Hook*>(claim.slot);
      struct Release {
        Hook& hook;
        ~Release() { Wakes::release(hook); }  // with nothing if the move threw
      } release{hook};
      fill(hook, value);
      return;
    }
    Wakes wakes;
    const Lock lock(mutex_);
    --reserved_;
    push(value, wakes);
  }

  /// Gives a claim up.
  void abandon(const SendClaim& claim) noexcept {
    if (bound_ == 0) {
      Wakes::release(*static_cast<Hook*>(claim.slot));  // the receive looks again
      return;
    }
    Wakes wakes;
    const Lock lock(mutex_);
    --reserved_;
    wake_one(senders_, wakes);  // the slot is free for a waiting send
  }

  /// Registers a select's send to be woken when room, a receive or the
  /// disconnect comes; false when a send looks possible now.
  bool watch_send(Hook& hook) noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    if (send_possible(hook.waiter)) {
      return false;
    }
    senders_.push_back(hook);
    if (bound_ == 0) {
      // A look (Select::ready()) at a receiver learns that a receive would
      // pair now. (A waiting receive would have made the send possible.)
      wake_one(receivers_, wakes, hook.waiter);
    }
    return true;
  }

  void unwatch_send(Hook& hook) noexcept { settle(hook, &Shared::senders_); }

  /// A select woken for a send here took another operation: pass it on.
  void forward_send() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    if (send_possible(nullptr)) {
      wake_one(senders_, wakes);
    }
  }

  // --- disconnection ---------------------------------------------------------

  /// The last sender went: receives drain what is left, then see
  /// Disconnected; every waiting receive wakes.
  void disconnect_senders() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    senders_gone_ = true;
    ended_.store(true, std::memory_order::relaxed);
    wake_all(receivers_, wakes);
  }

  /// A receiver closes the channel for everyone: every later or waiting
  /// send fails with its message; what is buffered stays to be received.
  void close() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    refuse_senders(wakes);
    closed_ = true;
    ended_.store(true, std::memory_order::relaxed);
    wake_all(receivers_, wakes);  // they see Disconnected once drained
  }

  /// The last receiver went: sends fail from now on, and what was buffered
  /// is destroyed now.
  void disconnect_receivers() noexcept {
    // cppcheck-suppress variableScope ; outside the block: destroyed after the lock is released
    std::deque<T> buffered;
    {
      Wakes wakes;
      const Lock lock(mutex_);
      refuse_senders(wakes);
      buffered.swap(queue_);
      count_.store(0, std::memory_order::relaxed);
    }
  }  // the messages are destroyed here, outside the lock

 private:
  // Whether to spin (then look again) rather than sleep: while the backoff
  // spins, and for ever under WaitPolicy::spin.
  static bool spinning(Backoff& backoff) noexcept {
    if (!backoff.sleeps()) {
      backoff.reset();
      return true;
    }
    return backoff.snooze();
  }

  // Whether a receive would take something now: a message, an offer, or
  // the end.
  [[nodiscard]] bool something_for_receive_now() const noexcept SPINDLE_REQUIRES(mutex_) {
    return !queue_.empty() || !offers_.empty() || senders_gone_ || closed_;
  }

  // Whether a receive would find something: a message, an offer, a select
  // waiting to send on a rendezvous channel (not `self`), or the end.
  [[nodiscard]] bool something_for_receive(const Waiter* self) const noexcept SPINDLE_REQUIRES(mutex_) {
    if (something_for_receive_now()) {
      return true;
    }
    for (const Hook* hook = senders_.front(); bound_ == 0 && hook != nullptr; hook = hook->next) {
      if (hook->waiter != self) {
        return true;
      }
    }
    return false;
  }

  // Whether a send could proceed now: room, a waiting receive (not one of
  // `self`'s: a select on both ends of a rendezvous channel does not meet
  // itself), or the receivers gone.
  [[nodiscard]] bool send_possible(const Waiter* self) const noexcept SPINDLE_REQUIRES(mutex_) {
    if (receivers_gone_) {
      return true;
    }
    if (bound_ != 0) {
      return has_room();
    }
    for (const Hook* hook = receivers_.front(); hook != nullptr; hook = hook->next) {
      if (hook->dest != nullptr && hook->waiter != self) {
        return true;
      }
    }
    return false;
  }

  // Under the lock: hands `value` to a waiting receive, if one waits.
  bool hand_to_receiver(T& value, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    Hook* hook = claim_receiver(wakes);
    if (hook == nullptr) {
      return false;
    }
    fill(*hook, value);
    return true;
  }

  // Under the lock: takes out the first waiting receive that has room for a
  // message and claims it (a select's that another channel won is dropped
  // on the way). Null when none waits.
  Hook* claim_receiver(Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    Hook* hook = receivers_.front();
    while (hook != nullptr) {
      Hook* next = hook->next;
      if (hook->dest != nullptr) {  // not a look: a look takes nothing
        receivers_.remove(*hook);
        if (wakes.add(*hook)) {
          return hook;
        }
      }
      hook = next;
    }
    return nullptr;
  }

  // Moves `value` into a claimed receive's room. If the move throws, the
  // receive is woken with nothing (it looks again), the value stays.
  static void fill(Hook& hook, T& value) {
    static_cast<Storage<T>*>(hook.dest)->construct(std::move(value));
    hook.filled = true;
  }

  // Whether a bounded channel has room for one more (what is buffered, and
  // the slots that selects' sends hold).
  [[nodiscard]] bool has_room() const noexcept SPINDLE_REQUIRES(mutex_) {
    return bound_ == no_bound || queue_.size() + reserved_ < bound_;
  }

  // Under the lock: appends `value` and wakes a receive.
  void push(T& value, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    queue_.push_back(std::move(value));
    count_.store(queue_.size(), std::memory_order::relaxed);
    wake_one(receivers_, wakes);
  }

  // Under the lock: a message for `take`, from the queue or from an offer.
  template <class Take>
  bool take_one(Take& take, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    if (!queue_.empty()) {
      take(std::move(queue_.front()));  // if it throws, the message stays
      queue_.pop_front();
      count_.store(queue_.size(), std::memory_order::relaxed);
      wake_one(senders_, wakes);  // room for a waiting send
      return true;
    }
    if (Hook* offer = offers_.front()) {
      take(std::move(*static_cast<T*>(offer->value)));
      offer->done = true;
      offers_.remove(*offer);
      offered_.fetch_sub(1, std::memory_order::relaxed);
      (void)wakes.add(*offer);  // a blocked send's own Waiter: the claim succeeds
      return true;
    }
    return false;
  }

  // Wakes the first waiter of `list` that is still waiting (a select's
  // that another channel won is dropped on the way).
  void wake_one(HookList& list, Wakes& wakes, const Waiter* except = nullptr) SPINDLE_REQUIRES(mutex_) {
    Hook* hook = list.front();
    while (hook != nullptr) {
      Hook* next = hook->next;
      if (hook->waiter != except) {
        list.remove(*hook);
        if (wakes.add(*hook)) {
          return;
        }
      }
      hook = next;
    }
  }

  void wake_all(HookList& list, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    while (Hook* hook = list.front()) {
      list.remove(*hook);
      (void)wakes.add(*hook);
    }
  }

  void refuse_senders(Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    receivers_gone_ = true;
    wake_all(senders_, wakes);
    wake_all(offers_, wakes);  // not done: their sends fail
    offered_.store(0, std::memory_order::relaxed);
  }

  // Waits until a waker claims the hook, the deadline, or spuriously:
  // asleep, or under WaitPolicy::spin spinning.
  void wait(Blocked& blocked, Deadline deadline) const noexcept {
    if (policy_ != WaitPolicy::spin) {
      blocked.waiter.sleep(deadline);
      return;
    }
    Backoff backoff;
    while (blocked.waiter.state() == Waiter::waiting && !expired(deadline)) {
      backoff.spin();
    }
  }

  // The waiting side, after its sleep: out of the list, and no waker
  // touching the hook any more.
  void settle(Hook& hook, HookList Shared::*list) noexcept {
    {
      const Lock lock(mutex_);
      if (hook.listed) {
        (this->*list).remove(hook);
        return;
      }
    }
    Backoff backoff;
    // acquire: pairs with the waker's release in ~Wakes.
    while (hook.busy.load(std::memory_order::acquire)) {
      backoff.spin();
    }
  }

  // A rendezvous send offered its message: waits until a receive takes it,
  // the receivers go, or the deadline passes with the offer still open.
  SendStatus wait_offer(Blocked& blocked, Deadline deadline) noexcept {
    Hook& hook = blocked.hook;
    for (;;) {
      wait(blocked, deadline);
      {
        const Lock lock(mutex_);
        if (hook.listed) {
          if (!expired(deadline)) {
            continue;  // woken for nothing: sleep on (the Waiter still waits)
          }
          offers_.remove(hook);
          offered_.fetch_sub(1, std::memory_order::relaxed);
          return SendStatus::Timeout;
        }
      }
      Backoff backoff;
      // acquire: pairs with the waker's release in ~Wakes, and so with the
      // receive's use of our message.
      while (hook.busy.load(std::memory_order::acquire)) {
        backoff.spin();
      }
      return hook.done ? SendStatus::Ok : SendStatus::Disconnected;
    }
  }

  const std::size_t bound_;  // no_bound, or the capacity (0: rendezvous)
  const WaitPolicy policy_;
  // Held for a few instructions at a time; yields before it sleeps.
  mutable sync::YieldingRawMutex mutex_;
  std::deque<T> queue_ SPINDLE_GUARDED_BY(mutex_);
  HookList receivers_ SPINDLE_GUARDED_BY(mutex_);
  HookList senders_ SPINDLE_GUARDED_BY(mutex_);
  HookList offers_ SPINDLE_GUARDED_BY(mutex_);
  bool senders_gone_ SPINDLE_GUARDED_BY(mutex_) = false;
  bool receivers_gone_ SPINDLE_GUARDED_BY(mutex_) = false;  // or closed
  bool closed_ SPINDLE_GUARDED_BY(mutex_) = false;
  std::size_t reserved_ SPINDLE_GUARDED_BY(mutex_) = 0;  // slots selects' sends claimed
  // Hints for looks without the lock (len(), a spinning select).
  Atomic<std::size_t> count_{0};    // queue_.size()
  Atomic<std::size_t> offered_{0};  // offers_'s length
  Atomic<bool> ended_{false};       // senders gone, or closed
};

}  // namespace spindle::detail::channel
