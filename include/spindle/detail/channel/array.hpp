// SPDX-License-Identifier: MIT
#pragma once

// The bounded flavour (capacity >= 1): a ring of slots with sequence stamps,
// after Dmitry Vyukov's bounded queue as crossbeam's array flavour uses it,
// specialised for a single receiver.
//
// A position is lap * one_lap + index (index < capacity, one_lap a power of
// two above the capacity). Slot i's stamp says what it is ready for:
//   stamp == pos         free, for the sender that takes position pos
//   stamp == pos + 1     holds the message of position pos
// and after the receiver read it, pos + one_lap: free for the next lap.
// Two high bits of a stamp are flags:
//   waiter  a sender found the channel full at this slot and sleeps until the
//           receiver frees it (the receiver frees with an exchange, so it
//           sees the flag; no fence is needed)
//   skip    the sender's copy threw: the position holds no message
// tail_ holds the next position shifted left by two, with DISCONNECTED
// (bit 0: the receiver is gone) and SLEEPING (bit 1: the receiver sleeps
// waiting for the slot at tail) below it. The receiver owns head_ outright.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/receiver.hpp"
#include "spindle/detail/channel/waiter.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

template <class T>
class Array {
  static constexpr unsigned shift = ReceiverSide::shift;
  static constexpr std::uint64_t disconnected = ReceiverSide::disconnected;
  static constexpr std::uint64_t sleeping = ReceiverSide::sleeping;
  static constexpr std::uint64_t waiter_flag = std::uint64_t{1} << 63;
  static constexpr std::uint64_t skip = std::uint64_t{1} << 62;

  struct Slot {
    Atomic<std::uint64_t> stamp{0};
    Storage<T> value;
  };

 public:
  explicit Array(std::size_t capacity, WaitPolicy policy = WaitPolicy::adaptive)
      : capacity_(capacity),
        one_lap_(std::bit_ceil(static_cast<std::uint64_t>(capacity) + 1)),
        slots_(new Slot[capacity]),
        receiver_(policy) {
    for (std::size_t i = 0; i < capacity; ++i) {
      slots_[i].stamp.store(i, std::memory_order::relaxed);
    }
  }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  ~Array() { delete[] slots_; }  // the receiver destroyed every message when it went

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// The messages in the channel (a claimed slot being written counts): a
  /// snapshot, exact when nothing else runs. Any thread.
  [[nodiscard]] std::size_t len() const noexcept {
    for (;;) {
      const std::uint64_t tail = tail_.load(std::memory_order::relaxed);
      // acquire: pairs with the release in move_head(). The receiver passes
      // only claimed positions, so a tail read after this is at least head.
      const std::uint64_t head = head_seen_.load(std::memory_order::acquire);
      if (tail_.load(std::memory_order::relaxed) == tail) {
        const std::uint64_t t = tail >> shift;
        // Whole laps between them, then the indices within a lap.
        const auto count =
            static_cast<std::size_t>((t / one_lap_ - head / one_lap_) * capacity_ + t % one_lap_ - head % one_lap_);
        // A thread that has not synchronised with the receiver may see a
        // head older than the claims in tail: never more than the bound.
        return count < capacity_ ? count : capacity_;
      }
    }
  }

  // --- senders ---------------------------------------------------------------

  /// Appends `value` (moved from only on Ok). With Mode::Block waits while
  /// the channel is full; with Mode::Try returns Full instead.
  SendStatus send(T& value, Mode mode, Deadline deadline = forever) {
    SendClaim claim;
    const SendStatus status = claim_slot(mode, claim, deadline);
    if (status == SendStatus::Ok) {
      write(claim, value);
    }
    return status;
  }

  /// As send(value, mode); a failed send always hands back `value` itself.
  SendStatus send(T& value, Mode mode, T*& back, Deadline deadline = forever) {
    back = &value;
    return send(value, mode, deadline);
  }

  void disconnect_senders() noexcept { receiver_.disconnect_senders(tail_); }

  // --- the receiver ------------------------------------------------------------

  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    return receiver_.wait(
        mode, deadline, tail_, [&] { return look(out); }, [&] { return idle(); });
  }

  // --- select ----------------------------------------------------------------

  /// A select's looks (see ReceiverSide::peek and looks_ready).
  RecvStatus peek_ready(T*& out) noexcept {
    return receiver_.peek(
        tail_, [&] { return look(out); }, [&] { return idle(); });
  }
  bool looks_ready() noexcept {
    T* out = nullptr;
    return receiver_.looks_ready(
        tail_, [&] { return look(out); }, [&] { return idle(); });
  }

  /// Registers the receiver to be woken when a message or the disconnect
  /// comes; false (nothing registered) when one may have come already.
  bool watch(Registration& registration) noexcept { return receiver_.watch(tail_, idle(), registration); }
  /// Withdraws what watch() registered.
  void unwatch() noexcept { receiver_.unwatch(tail_, idle()); }
  /// When a message comes by itself (never: only a sender brings one).
  [[nodiscard]] static Deadline due() noexcept { return forever; }

  // --- select: a send in two steps -------------------------------------------

  /// Claims the free slot at tail without blocking; the claim must then be
  /// completed with write() or given up with abandon(). Full when there is
  /// none, Disconnected when the receiver is gone.
  SendStatus start_send(SendClaim& claim) noexcept {
    const SendStatus status = claim_slot(Mode::Try, claim);
    if (status == SendStatus::Ok && claim.wake_receiver) {
      // The claim took the sleeping receiver's registration: hand it back
      // now, not when the select's caller gets to write (which may be
      // long). The woken receiver finds the message in flight and waits
      // for it only as its deadline allows.
      receiver_.wake();
      claim.wake_receiver = false;
    }
    return status;
  }

  /// A failed send's caller is done with the value `back` pointed to: the
  /// ring always hands back the caller's own value, which it destroys.
  static void hand_back_done(T* back) noexcept { back->~T(); }

  /// Writes `value` into the claimed slot and publishes it.
  void write(const SendClaim& claim, T& value) {
    publish(*static_cast<Slot*>(claim.slot), claim.pos, value, claim.wake_receiver);
  }

  /// Gives a claim up: its position holds no message.
  void abandon(const SendClaim& claim) noexcept {
    // release: as (A2), for the skip mark.
    static_cast<Slot*>(claim.slot)->stamp.store((claim.pos + 1) | skip, std::memory_order::release);
    if (claim.wake_receiver) {
      receiver_.wake();
    }
  }

  /// Whether a send looks possible now (a free slot, or the receiver gone).
  [[nodiscard]] bool can_send() const noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order::acquire);
    if ((tail & disconnected) != 0) {
      return true;
    }
    const std::uint64_t pos = tail >> shift;
    const std::uint64_t clean =
        slots_[pos & (one_lap_ - 1)].stamp.load(std::memory_order::acquire) & ~(waiter_flag | skip);
    return clean + one_lap_ != pos + 1;  // not full (or tail moved on: look again)
  }

  /// Registers a sender to be woken when the slot at tail is freed or the
  /// receiver goes; false (nothing registered) when a send looks possible.
  bool watch_send(Registration& registration) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order::relaxed);
    if ((tail & disconnected) != 0) {
      return false;
    }
    const std::uint64_t pos = tail >> shift;
    Slot& slot = slots_[pos & (one_lap_ - 1)];
    std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
    if ((stamp & ~(waiter_flag | skip)) + one_lap_ != pos + 1) {
      return false;
    }
    senders_.add(registration);
    // As in wait_for_space.
    if (slot.stamp.compare_exchange_strong(stamp, stamp | waiter_flag, std::memory_order::release,
                                           std::memory_order::relaxed) &&
        (tail_.load(std::memory_order::seq_cst) & disconnected) == 0) {
      return true;
    }
    senders_.remove(registration);
    return false;
  }

  void unwatch_send(Registration& registration) noexcept { senders_.remove(registration); }

  /// Nothing to pass on: a freed slot wakes every sleeping sender.
  static void forward_send_wake() noexcept {}

  void release() noexcept {
    Slot& slot = slots_[head_ & (one_lap_ - 1)];
    slot.value.destroy();
    free_slot(slot);
  }

  /// The receiver closes the channel but stays: no sender may claim a slot
  /// from now on (senders blocked on a full ring wake and fail); what was
  /// sent before stays to be received.
  void close() noexcept {
    receiver_.close(tail_);
    senders_.notify_all();
  }

  void disconnect_receiver() noexcept {
    // seq_cst: no claim can succeed after this; and ordered before the
    // wake-up below, against a sender's check before it sleeps.
    const std::uint64_t end = tail_.fetch_or(disconnected, std::memory_order::seq_cst) >> shift;
    senders_.notify_all();
    while (head_ != end) {
      Slot& slot = slots_[head_ & (one_lap_ - 1)];
      // acquire (A3'): pairs with (A2).
      const std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
      if ((stamp & ~(waiter_flag | skip)) != head_ + 1) {
        yield_thread();  // claimed before the flag; being written
        continue;
      }
      if ((stamp & skip) == 0) {
        slot.value.destroy();
      }
      move_head();
    }
  }

 private:
  [[nodiscard]] std::uint64_t next(std::uint64_t pos) const noexcept {
    const std::uint64_t index = pos & (one_lap_ - 1);
    return index + 1 < capacity_ ? pos + 1 : (pos - index) + one_lap_;
  }

  void publish(Slot& slot, std::uint64_t pos, T& value, bool wake_receiver) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      slot.value.construct(std::move(value));
    } else {
      try {
        slot.value.construct(std::move(value));
      } catch (...) {
        slot.stamp.store((pos + 1) | skip, std::memory_order::release);
        if (wake_receiver) {
          receiver_.wake();
        }
        throw;
      }
    }
    // release (A2): publishes the message; pairs with acquire (A3).
    slot.stamp.store(pos + 1, std::memory_order::release);
    if (wake_receiver) {
      receiver_.wake();
    }
  }

  // Claims the slot at tail for a send: Ok (`claim` says which), Disconnected,
  // or, when the channel is full, Full with Mode::Try; Mode::Block waits.
  SendStatus claim_slot(Mode mode, SendClaim& claim, Deadline deadline = forever) noexcept {
    Backoff backoff(receiver_.policy());
    for (;;) {
      // relaxed: the slot's stamp (A1) is what orders the slot's reuse.
      const std::uint64_t tail = tail_.load(std::memory_order::relaxed);
      if ((tail & disconnected) != 0) {
        return SendStatus::Disconnected;
      }
      const std::uint64_t pos = tail >> shift;
      Slot& slot = slots_[pos & (one_lap_ - 1)];
      // acquire (A1): pairs with the receiver's release (A4) that freed it.
      const std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
      const std::uint64_t clean = stamp & ~(waiter_flag | skip);
      if (clean == pos) {
        std::uint64_t expected = tail;
        // acquire: as (L6) in the list flavour, for the receiver's
        // registration when the claim clears SLEEPING.
        if (tail_.compare_exchange_weak(expected, next(pos) << shift, std::memory_order::acquire,
                                        std::memory_order::relaxed)) {
          claim = SendClaim{&slot, pos, (tail & sleeping) != 0};
          return SendStatus::Ok;
        }
        backoff.spin();
      } else if (clean + one_lap_ == pos + 1) {
        // The slot still holds the previous lap's message: full.
        if (mode == Mode::Try) {
          return SendStatus::Full;
        }
        if (expired(deadline)) {
          return SendStatus::Timeout;
        }
        wait_for_space(slot, stamp, backoff, deadline);
      } else {
        backoff.spin();  // tail moved on since we read it
      }
    }
  }

  // A sender found the channel full at `slot`: spin, yield, then sleep
  // until the receiver frees the slot or goes, or the deadline passes.
  void wait_for_space(Slot& slot, std::uint64_t stamp, Backoff& backoff, Deadline deadline) noexcept {
    if (backoff.snooze()) {
      return;
    }
    if (!backoff.sleeps()) {  // WaitPolicy::spin: spin again
      backoff.reset();
      return;
    }
    Waiter waiter;
    Registration registration{&waiter};
    senders_.add(registration);
    // Set the flag, or confirm it, with a read-modify-write even when the
    // stamp already carries it (another sender's, or ours before a spurious
    // wake-up): failing proves the slot changed (try again). Succeeding
    // places this write, and so our registration, before the receiver's
    // exchange (A4), which then sees the flag and wakes the list.
    // release: publishes the registration to (A4)'s acquire.
    if (slot.stamp.compare_exchange_strong(stamp, stamp | waiter_flag, std::memory_order::release,
                                           std::memory_order::relaxed) &&
        // seq_cst: against disconnect_receiver's flag-then-wake.
        (tail_.load(std::memory_order::seq_cst) & disconnected) == 0) {
      waiter.sleep(deadline);
      backoff.reset();
    }
    senders_.remove(registration);
  }

  // The tail word when nothing is claimed beyond head.
  [[nodiscard]] std::uint64_t idle() const noexcept { return head_ << shift; }

  void move_head() noexcept {
    head_ = next(head_);
    // release: for len(), the slot passed was claimed (see there).
    head_seen_.store(head_, std::memory_order::release);
  }

  // Frees the slot at head for the next lap and moves head on.
  void free_slot(Slot& slot) noexcept {
    const std::uint64_t freed = head_ + one_lap_;
    // Head moves first: a sender that finds the slot free, and so may fill
    // the ring again, sees a head that leaves room for it (len()).
    move_head();
    // release (A4): the slot is empty before a sender reuses it; pairs with
    // (A1). acquire: sees a waiter's flag and what preceded it.
    const std::uint64_t old = slot.stamp.exchange(freed, std::memory_order::acq_rel);
    if ((old & waiter_flag) != 0) {
      senders_.notify_all();
    }
  }

  // What the head slot holds.
  Head look(T*& out) noexcept {
    Slot& slot = slots_[head_ & (one_lap_ - 1)];
    // acquire (A3): pairs with release (A2).
    const std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
    if ((stamp & ~(waiter_flag | skip)) != head_ + 1) {
      return Head::none;
    }
    if ((stamp & skip) != 0) {
      free_slot(slot);
      return Head::skipped;
    }
    out = slot.value.get();
    return Head::ready;
  }

  const std::size_t capacity_;
  const std::uint64_t one_lap_;
  Slot* const slots_;  // owned: `capacity_` of them

  alignas(cache_line) Atomic<std::uint64_t> tail_{0};
  alignas(cache_line) std::uint64_t head_ = 0;  // the receiver's alone
  Atomic<std::uint64_t> head_seen_{0};          // head_, for len() on other threads
  alignas(cache_line) ReceiverSide receiver_;
  alignas(cache_line) WaiterList senders_;  // senders blocked on a full channel
};

}  // namespace spindle::detail::channel
