// SPDX-License-Identifier: MIT
#pragma once

// The waiting layer: how every blocked channel operation (a recv, a send, a
// select over several of them) sleeps and is woken.
//
// A Waiter lives in the frame of the blocked call, so waiting allocates
// nothing. Its one word says whether it still waits, gave up, or which of its
// operations a waker chose:
//   waiting          nobody has claimed it
//   aborted          the waiting side withdrew (timeout, or it found an
//                    operation ready itself)
//   first_op + i     a waker claimed it for operation i
// A waker claims it with one CAS from `waiting` (try_select), so among the
// channels a select is registered on, exactly one wins; then it wakes it
// (wake), through the Waiter's wake action: unpark the blocked thread, or,
// for a coroutine, resume it.
//
// A Registration ties a Waiter to one operation on one channel. The
// channel holds it while the operation waits. The protocol, the same
// everywhere:
//   1. the waiting side registers (publishing the Registration), then looks
//      at its condition once more: if it holds, it unregisters and does not
//      sleep;
//   2. a waker that makes the condition true takes the registration (under
//      the channel's own rule: a flag it clears, or the list's lock), claims
//      the Waiter and wakes it, then gives the registration back;
//   3. the waiting side sleeps until its Waiter is claimed (or its deadline),
//      then unregisters: if the registration is still its own it removes it,
//      otherwise it waits until the waker has given it back. Only then may
//      the Waiter's frame go.
// Step 3's wait is what lets the Waiter live on the stack: no waker touches
// it once its call returns.

#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/sync/raw_mutex.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

class Waiter {
 public:
  /// What a waker does once it has claimed the Waiter.
  using WakeAction = void (*)(Waiter&) noexcept;

  static constexpr std::uint32_t waiting = 0;
  static constexpr std::uint32_t aborted = 1;
  static constexpr std::uint32_t first_op = 2;

  /// A Waiter that unparks the thread blocked in wait().
  Waiter() noexcept = default;
  /// A Waiter with another wake action; `context` is for that action.
  Waiter(WakeAction wake, void* context) noexcept : wake_(wake), context_(context) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter() = default;

  /// A waker: claims the Waiter for operation `op`. False when another waker
  /// claimed it first or the waiting side withdrew.
  bool try_select(std::uint32_t op) noexcept {
    std::uint32_t expected = waiting;
    // release (W1): what the waker did before (the message it wrote, the
    // disconnect) is visible to the waiting side once it sees the claim;
    // pairs with acquire (W2).
    return state_.compare_exchange_strong(expected, first_op + op, std::memory_order::release,
                                          std::memory_order::relaxed);
  }

  /// A waker, after a successful try_select: wakes the waiting side.
  void wake() noexcept { wake_(*this); }

  /// The waiting side: withdraws. False when a waker claimed it first (then
  /// selected() says for what).
  bool try_abort() noexcept {
    std::uint32_t expected = waiting;
    // acquire (W2'): as (W2), when the claim won.
    return state_.compare_exchange_strong(expected, aborted, std::memory_order::acquire, std::memory_order::acquire);
  }

  /// waiting, aborted, or first_op + the operation chosen.
  [[nodiscard]] std::uint32_t state() const noexcept {
    // acquire (W2): pairs with release (W1).
    return state_.load(std::memory_order::acquire);
  }

  /// The operation a waker chose, or -1 if none did.
  [[nodiscard]] long selected() const noexcept {
    const std::uint32_t s = state();
    return s >= first_op ? static_cast<long>(s - first_op) : -1;
  }

  /// The waiting side: sleeps until claimed, the deadline, or spuriously.
  void sleep(Deadline deadline) noexcept { park::wait(state_, waiting, deadline); }

  /// The wake action's context (a coroutine handle, say).
  [[nodiscard]] void* context() const noexcept { return context_; }

  /// The default wake action: the thread sleeping in sleep() wakes (the
  /// claim changed the word it sleeps on, so the wake cannot be lost).
  static void unpark(Waiter& waiter) noexcept { park::wake_one(waiter.state_); }

 private:
  park::Word state_{waiting};
  WakeAction wake_ = &unpark;
  void* context_ = nullptr;
};

/// One operation's registration on one channel.
struct Registration {
  Registration() noexcept = default;
  explicit Registration(Waiter* w, std::uint32_t index = 0) noexcept : waiter(w), op(index) {}
  /// A copy is a fresh registration for another wait (who waits, for
  /// what); the rest starts over.
  Registration(const Registration& other) noexcept : waiter(other.waiter), op(other.op) {}
  Registration& operator=(const Registration& other) noexcept {
    if (this != &other) {
      waiter = other.waiter;
      op = other.op;
      prev = next = nullptr;
      listed = filled = done = false;
      value = dest = nullptr;
      busy.store(false, std::memory_order::relaxed);
    }
    return *this;
  }
  ~Registration() = default;

  Waiter* waiter = nullptr;
  std::uint32_t op = 0;  // the index the Waiter reports when this one wins
  // Links for a WaiterList or the shared channel's lists; unused in a
  // ReceiverSlot.
  Registration* prev = nullptr;
  Registration* next = nullptr;
  bool listed = false;
  // For the shared (mpmc) channel, under its lock: a rendezvous receive's
  // room for a message (dest) that a sender filled; a rendezvous send's
  // message (value) that a receive took (done).
  bool filled = false;
  bool done = false;
  void* value = nullptr;
  void* dest = nullptr;
  // Taken out of the shared channel's list by a waker that has not finished
  // waking it: the waiting side may not leave until it is clear.
  Atomic<bool> busy{false};

  /// A waker: claims the Waiter for this operation and wakes it. False when
  /// it was claimed already or withdrawn.
  bool notify() const noexcept {
    if (!waiter->try_select(op)) {
      return false;
    }
    waiter->wake();
    return true;
  }
};

/// The registration of a channel's single receiver, which the list and
/// array flavours share. Who owns it is decided by a "receiver sleeps" flag
/// the flavour keeps next to its tail: the receiver raises it after set()
/// (with a release, or stronger, read-modify-write), and the one thread that
/// clears it while raised (a sender with its claim, or the last sender's
/// disconnect) owns the registration and must call notify(). The receiver
/// that clears its own flag owns it again and calls clear().
class ReceiverSlot {
 public:
  /// The receiver, before it raises the flag.
  void set(Registration& registration) noexcept {
    // relaxed: published by the flag's read-modify-write, which the waker
    // reads with an acquire.
    current_.store(&registration, std::memory_order::relaxed);
  }

  /// The receiver, having lowered its own flag (or failed to raise it).
  void clear() noexcept { current_.store(nullptr, std::memory_order::relaxed); }

  /// The thread that cleared the raised flag: claims and wakes the receiver,
  /// then hands the registration back.
  void notify() noexcept {
    notify_or([] {});
  }

  /// As notify(), for a waker that may lose the Waiter (claimed by another
  /// channel first, or withdrawn): then `lost()` runs before the
  /// registration is handed back. Returns whether it claimed the Waiter.
  template <class Lost>
  bool notify_or(Lost&& lost) noexcept {
    // relaxed: ordered after set() by the acquire of the flag's clearing.
    Registration* registration = current_.load(std::memory_order::relaxed);
    const bool won = registration->notify();
    if (!won) {
      lost();
    }
    // release (S1): the last touch of the registration; pairs with (S2).
    current_.store(nullptr, std::memory_order::release);
    return won;
  }

  /// The receiver, after it found its flag cleared by another thread: waits
  /// until that thread has handed the registration back (a few
  /// instructions, unless it lost its CPU).
  void wait_released() noexcept {
    Backoff backoff;
    // acquire (S2): pairs with (S1).
    while (current_.load(std::memory_order::acquire) != nullptr) {
      backoff.spin();
    }
  }

 private:
  Atomic<Registration*> current_{nullptr};
};

/// The registrations of operations that many threads may wait on at once
/// (senders blocked on a full channel), under a small lock. Wakers claim and
/// wake under the lock, and the waiting side unregisters under it, so once
/// remove() returns no waker touches the registration.
class WaiterList {
 public:
  void add(Registration& registration) noexcept {
    const sync::RawMutexLock lock(mutex_);
    registration.prev = nullptr;
    registration.next = head_;
    if (head_ != nullptr) {
      head_->prev = &registration;
    }
    head_ = &registration;
    registration.listed = true;
  }

  /// Unregisters (if a waker did not already take it out).
  void remove(Registration& registration) noexcept {
    const sync::RawMutexLock lock(mutex_);
    if (registration.listed) {
      unlink(registration);
    }
  }

  /// Whether a registration of a Waiter other than `self` is listed.
  [[nodiscard]] bool has_other(const Waiter* self) noexcept {
    const sync::RawMutexLock lock(mutex_);
    for (const Registration* r = head_; r != nullptr; r = r->next) {
      if (r->waiter != self) {
        return true;
      }
    }
    return false;
  }

  /// Takes registrations out until one whose Waiter was still waiting is
  /// claimed and woken (or none is left). Registrations of `except` (the
  /// caller's own Waiter: a select waiting on both ends of one channel)
  /// stay, unwoken.
  void notify_one(const Waiter* except = nullptr) noexcept {
    const sync::RawMutexLock lock(mutex_);
    Registration* registration = head_;
    while (registration != nullptr) {
      Registration* next = registration->next;
      if (registration->waiter != except) {
        unlink(*registration);
        if (registration->notify()) {
          return;
        }
      }
      registration = next;
    }
  }

  /// Takes every registration out, claiming and waking each Waiter that is
  /// still waiting.
  void notify_all() noexcept {
    const sync::RawMutexLock lock(mutex_);
    while (head_ != nullptr) {
      Registration& registration = *head_;
      unlink(registration);
      registration.notify();
    }
  }

 private:
  void unlink(Registration& registration) noexcept SPINDLE_REQUIRES(mutex_) {
    if (registration.prev != nullptr) {
      registration.prev->next = registration.next;
    } else {
      head_ = registration.next;
    }
    if (registration.next != nullptr) {
      registration.next->prev = registration.prev;
    }
    registration.listed = false;
  }

  sync::RawMutex mutex_;
  Registration* head_ SPINDLE_GUARDED_BY(mutex_) = nullptr;
};

}  // namespace spindle::detail::channel
