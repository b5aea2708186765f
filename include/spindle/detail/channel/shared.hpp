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
 public:
  // One blocked operation.
  struct Hook {
    Waiter waiter;
    Hook* prev = nullptr;
    Hook* next = nullptr;
    bool listed = false;
    T* value = nullptr;          // offers_: the sender's message, in its frame
    Storage<T>* dest = nullptr;  // receivers_ (rendezvous): room for a message
    bool filled = false;         // a sender constructed a message in *dest
    bool done = false;           // offers_: a receive took *value
    Atomic<bool> busy{false};    // taken out by a waker that has not finished waking it
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
        hook->waiter.wake();
        // release: our last touch of the hook; pairs with the waiting
        // side's acquire in settle().
        hook->busy.store(false, std::memory_order::release);
        hook = next;
      }
    }
    // Under the lock: `hook` is out of its list; claim its Waiter.
    void add(Hook& hook) noexcept {
      hook.busy.store(true, std::memory_order::relaxed);
      (void)hook.waiter.try_select(0);  // only this waker takes it out: the claim succeeds
      hook.next = head_;
      head_ = &hook;
    }

   private:
    Hook* head_ = nullptr;
  };

  using Lock = sync::RawMutexLock;

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
      Hook hook;
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
        } else if (queue_.size() < bound_) {
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
          hook.value = &value;
          offers_.push_back(hook);
          wake_one(receivers_, wakes);  // a look (Select::ready()) may wait
        } else {
          spin = spinning(backoff);
          if (!spin) {
            senders_.push_back(hook);
          }
        }
      }
      if (bound_ == 0) {
        return wait_offer(hook, deadline);
      }
      if (spin) {
        // Watch the count, outside the lock, for a while.
        while (count_.load(std::memory_order::relaxed) >= bound_ && backoff.snooze()) {
        }
        continue;
      }
      wait(hook, deadline);
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
    if (queue_.size() >= bound_) {
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
      Hook hook;
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
        }
      }
      if (spin) {
        // Watch the count, outside the lock, for a while.
        while (count_.load(std::memory_order::relaxed) == 0 && backoff.snooze()) {
        }
        continue;
      }
      wait(hook, deadline);
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

  // --- disconnection ---------------------------------------------------------

  /// The last sender went: receives drain what is left, then see
  /// Disconnected; every waiting receive wakes.
  void disconnect_senders() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    senders_gone_ = true;
    wake_all(receivers_, wakes);
  }

  /// A receiver closes the channel for everyone: every later or waiting
  /// send fails with its message; what is buffered stays to be received.
  void close() noexcept {
    Wakes wakes;
    const Lock lock(mutex_);
    refuse_senders(wakes);
    closed_ = true;
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

  // Under the lock: hands `value` to a waiting receive, if one waits.
  bool hand_to_receiver(T& value, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    Hook* hook = receivers_.front();
    while (hook != nullptr && hook->dest == nullptr) {
      hook = hook->next;  // a look: it takes nothing
    }
    if (hook == nullptr) {
      return false;
    }
    hook->dest->construct(std::move(value));  // if it throws, nothing changed
    hook->filled = true;
    receivers_.remove(*hook);
    wakes.add(*hook);
    return true;
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
      take(std::move(*offer->value));
      offer->done = true;
      offers_.remove(*offer);
      wakes.add(*offer);
      return true;
    }
    return false;
  }

  void wake_one(HookList& list, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    if (Hook* hook = list.front()) {
      list.remove(*hook);
      wakes.add(*hook);
    }
  }

  void wake_all(HookList& list, Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    while (Hook* hook = list.front()) {
      list.remove(*hook);
      wakes.add(*hook);
    }
  }

  void refuse_senders(Wakes& wakes) SPINDLE_REQUIRES(mutex_) {
    receivers_gone_ = true;
    wake_all(senders_, wakes);
    wake_all(offers_, wakes);  // not done: their sends fail
  }

  // Waits until a waker claims the hook, the deadline, or spuriously:
  // asleep, or under WaitPolicy::spin spinning.
  void wait(Hook& hook, Deadline deadline) const noexcept {
    if (policy_ != WaitPolicy::spin) {
      hook.waiter.sleep(deadline);
      return;
    }
    Backoff backoff;
    while (hook.waiter.state() == Waiter::waiting && !expired(deadline)) {
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
  SendStatus wait_offer(Hook& hook, Deadline deadline) noexcept {
    for (;;) {
      wait(hook, deadline);
      {
        const Lock lock(mutex_);
        if (hook.listed) {
          if (!expired(deadline)) {
            continue;  // woken for nothing: sleep on (the Waiter still waits)
          }
          offers_.remove(hook);
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
  mutable sync::RawMutex mutex_;
  std::deque<T> queue_ SPINDLE_GUARDED_BY(mutex_);
  HookList receivers_ SPINDLE_GUARDED_BY(mutex_);
  HookList senders_ SPINDLE_GUARDED_BY(mutex_);
  HookList offers_ SPINDLE_GUARDED_BY(mutex_);
  bool senders_gone_ SPINDLE_GUARDED_BY(mutex_) = false;
  bool receivers_gone_ SPINDLE_GUARDED_BY(mutex_) = false;  // or closed
  bool closed_ SPINDLE_GUARDED_BY(mutex_) = false;
  Atomic<std::size_t> count_{0};  // queue_.size(), for len() without the lock
};

}  // namespace spindle::detail::channel
