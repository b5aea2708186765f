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
// Three high bits of a stamp are flags:
//   waiter   a sender found the channel full at this slot and sleeps until
//            it is freed; whoever claims the slot's message (below) sees
//            the flag in its CAS and wakes the sleepers once it is done
//   skip     the sender's copy threw: the position holds no message
//   claimed  the message at head is being taken, by the receiver or by a
//            sender's force_send(), whichever claimed it first with a CAS
//            on the stamp; the claimer then frees (or refills) the slot with
//            a plain store, so no sender sets a flag on a claimed stamp: it
//            spins instead, for the length of a move
// tail_ holds the next position shifted left by two, with DISCONNECTED
// (bit 0: the receiver is gone) and SLEEPING (bit 1: the receiver sleeps
// waiting for the slot at tail) below it. head_ is the oldest position not
// yet taken; only the claimer of the message at head moves it on.
//
// force_send() on a full ring: the slot at tail is the slot at head, so the
// sender claims the oldest message (E1), claims tail (E2: nothing else can
// move tail while that slot is full), moves the old message out, moves
// head past it (E3) and writes its own message into the same slot, now the
// newest. The receive pays one read-modify-write, as before: the claim CAS
// replaces the exchange that freed the slot.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
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
  static constexpr std::uint64_t claimed = std::uint64_t{1} << 61;
  static constexpr std::uint64_t flags = waiter_flag | skip | claimed;

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
      // acquire: pairs with the release in free_head() and (E3). Head
      // passes only claimed positions, so a tail read after this is at
      // least head.
      const std::uint64_t head = head_.load(std::memory_order::acquire);
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

  /// A receive: the message handed out is claimed for it (release() frees
  /// its slot).
  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    return receiver_.wait(
        mode, deadline, tail_, [&] { return look(out, true); }, [&] { return idle(); });
  }

  // --- select ----------------------------------------------------------------

  /// A select's looks (see ReceiverSide::peek and looks_ready).
  RecvStatus peek_ready(T*& out) noexcept {
    return receiver_.peek(
        tail_, [&] { return look(out, false); }, [&] { return idle(); });
  }
  bool looks_ready() noexcept {
    T* out = nullptr;
    return receiver_.looks_ready(
        tail_, [&] { return look(out, false); }, [&] { return idle(); });
  }
  /// A select's start of a receive (as wait_ready(Mode::Try)), which claims
  /// nothing: the select may never complete it.
  RecvStatus start_ready(T*& out) noexcept {
    return receiver_.wait(
        Mode::Try, forever, tail_, [&] { return look(out, false); }, [&] { return idle(); });
  }
  /// A select's receive completes: claims the message at head into `out`.
  /// That is the one start_ready() found, or, when a force_send() evicted
  /// it meanwhile, the next (an eviction leaves the channel full). False
  /// only if none is left: disconnected and drained.
  bool claim_started(T*& out) noexcept { return wait_ready(Mode::Block, forever, out) == RecvStatus::Ready; }

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
    const std::uint64_t clean = slots_[pos & (one_lap_ - 1)].stamp.load(std::memory_order::acquire) & ~flags;
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
    if ((stamp & ~flags) + one_lap_ != pos + 1) {
      return false;  // not full
    }
    if ((stamp & claimed) != 0) {
      // About to be freed (or refilled), and no flag may be set meanwhile:
      // the select looks again, after letting the claimer run.
      yield_thread();
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

  /// recv_many's rest: moves the messages ready now into `out` (push_back,
  /// within its capacity), up to `max`, each claimed and freed in turn;
  /// stops at the first position not written yet. Returns how many.
  template <class Out>
  std::size_t take_ready(Out& out, std::size_t max) {
    std::size_t taken = 0;
    T* message = nullptr;
    while (taken < max) {
      const Head head = look(message, true);
      if (head == Head::skipped) {
        continue;
      }
      if (head != Head::ready) {
        break;
      }
      const ReleaseOnExit freed{*this};
      out.push_back(std::move(*message));  // if it throws, the message is lost, as a receive's
      ++taken;
    }
    return taken;
  }

  /// Destroys the message wait_ready() claimed and frees its slot.
  void release() noexcept {
    const std::uint64_t head = head_.load(std::memory_order::relaxed);
    Slot& slot = slots_[head & (one_lap_ - 1)];
    slot.value.destroy();
    free_head(slot, head);
  }

  /// Sends without waiting: on a full channel the oldest message is moved
  /// into `evicted` and `value` takes its place as the newest. Disconnected
  /// (value untouched) when the receiver is gone or closed. If moving a
  /// message throws, the exception propagates: a throwing move out of the
  /// ring loses the evicted message, a throwing move in loses it and leaves
  /// `value` with the caller (the position is skipped).
  SendStatus force_send(T& value, std::optional<T>& evicted) {
    Backoff backoff(receiver_.policy());
    for (;;) {
      SendClaim claim;
      const SendStatus status = claim_slot(Mode::Try, claim);
      if (status == SendStatus::Ok) {  // room: an ordinary send
        write(claim, value);
        return SendStatus::Ok;
      }
      if (status == SendStatus::Disconnected) {
        return status;
      }
      if (evict_oldest(value, evicted)) {
        return SendStatus::Ok;
      }
      backoff.spin();  // full, but nothing to evict now: the oldest is being taken or written
    }
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
    while (head_.load(std::memory_order::acquire) != end) {
      T* out = nullptr;
      switch (look(out, true)) {
        case Head::ready:
          release();
          break;
        case Head::skipped:
          break;
        case Head::none:
          yield_thread();  // claimed before the flag and being written, or being evicted
          break;
      }
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
      const std::uint64_t clean = stamp & ~flags;
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
        if ((stamp & claimed) != 0) {
          backoff.spin();  // being taken: free (or refilled) within a move; no flag may be set
        } else {
          wait_for_space(slot, stamp, backoff, deadline);
        }
      } else if (clean + one_lap_ == pos && mode == Mode::Try) {
        // The previous lap's position here is claimed and being written (a
        // select may hold such a claim until its op.send()): full.
        return SendStatus::Full;
      } else {
        backoff.spin();  // tail moved on since we read it, or a write in flight
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
  [[nodiscard]] std::uint64_t idle() const noexcept { return head_.load(std::memory_order::relaxed) << shift; }

  // The claimer of the message at `head` is done with it: moves head on
  // and frees the slot for the next lap.
  void free_head(Slot& slot, std::uint64_t head) noexcept {
    // Head moves first: a sender that finds the slot free, and so may fill
    // the ring again, sees a head that leaves room for it (len()).
    // release: for len(), and for (E3)'s wait.
    head_.store(next(head), std::memory_order::release);
    // release (A4): the slot is empty before a sender reuses it; pairs with
    // (A1). A plain store: the claim's CAS took any waiter's flag (and the
    // registration before it), and no flag is set on a claimed stamp.
    slot.stamp.store(head + one_lap_, std::memory_order::release);
    if (waiters_at_head_) {
      waiters_at_head_ = false;
      senders_.notify_all();
    }
  }

  // force_send() found the ring full: evicts the oldest message into
  // `evicted` and writes `value` in its slot. False when there is nothing
  // to evict now (the ring is no longer full, or its oldest message is
  // being taken or written): look again. Throws what a move throws.
  bool evict_oldest(T& value, std::optional<T>& evicted) {
    const std::uint64_t tail = tail_.load(std::memory_order::relaxed);
    const std::uint64_t pos = tail >> shift;
    Slot& slot = slots_[pos & (one_lap_ - 1)];
    // acquire (A1), as in claim_slot.
    std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
    if ((tail & disconnected) != 0 || (stamp & ~flags) + one_lap_ != pos + 1 || (stamp & claimed) != 0) {
      return false;  // (a disconnect: claim_slot reports it next time round)
    }
    // Full: this slot holds the oldest message, of position `oldest`.
    // (E1) claim it; acquire: as (A3), for the message.
    const std::uint64_t oldest = pos - one_lap_;
    if (!slot.stamp.compare_exchange_strong(stamp, (oldest + 1) | claimed, std::memory_order::acquire,
                                            std::memory_order::relaxed)) {
      return false;
    }
    // (E2) claim tail. Nothing else moves it while its slot is full; only
    // the receiver's going (or close) can flag it, and then the message
    // goes back where it was (claim_slot then says Disconnected).
    // acquire: as in claim_slot.
    std::uint64_t expected = tail;
    if (!tail_.compare_exchange_strong(expected, next(pos) << shift, std::memory_order::acquire,
                                       std::memory_order::relaxed)) {
      slot.stamp.store(stamp, std::memory_order::release);  // unclaimed, flags as they were
      return false;
    }
    // Senders asleep on this slot (their flag was in the stamp claimed)
    // go on to the new tail once the slot is refilled, or skipped when a
    // move throws.
    const WakeSendersOnExit wake{senders_, (stamp & waiter_flag) != 0};
    evict(slot, oldest, pos, (stamp & skip) == 0, evicted);
    publish(slot, pos, value, false);  // the receiver is not asleep: the channel was full
    return true;
  }

  struct ReleaseOnExit {
    Array& array;
    explicit ReleaseOnExit(Array& a) noexcept : array(a) {}
    ReleaseOnExit(const ReleaseOnExit&) = delete;
    ReleaseOnExit& operator=(const ReleaseOnExit&) = delete;
    ~ReleaseOnExit() { array.release(); }
  };

  struct WakeSendersOnExit {
    WaiterList& senders;
    bool any;
    WakeSendersOnExit(WaiterList& list, bool flagged) noexcept : senders(list), any(flagged) {}
    WakeSendersOnExit(const WakeSendersOnExit&) = delete;
    WakeSendersOnExit& operator=(const WakeSendersOnExit&) = delete;
    ~WakeSendersOnExit() {
      if (any) {
        senders.notify_all();
      }
    }
  };

  // force_send() claimed the oldest message (position `oldest`) and tail:
  // moves the message out (when `has_message`) and head past it.
  void evict(Slot& slot, std::uint64_t oldest, std::uint64_t pos, bool has_message, std::optional<T>& evicted) {
    if (has_message) {
      if constexpr (std::is_nothrow_move_constructible_v<T>) {
        evicted.emplace(std::move(*slot.value.get()));
      } else {
        try {
          evicted.emplace(std::move(*slot.value.get()));
        } catch (...) {
          slot.value.destroy();
          pass_head(oldest);
          slot.stamp.store((pos + 1) | skip, std::memory_order::release);  // tail's position: skipped
          throw;
        }
      }
      slot.value.destroy();
    }
    pass_head(oldest);
  }

  // (E3) moves head past the evicted position. The receiver moved head to
  // it before it freed the slot this ring was filled through, but that
  // store need not be visible yet: wait for it, so that ours comes after it.
  void pass_head(std::uint64_t oldest) noexcept {
    Backoff backoff(receiver_.policy());
    // acquire: pairs with free_head()'s release.
    while (head_.load(std::memory_order::acquire) != oldest) {
      backoff.spin();
    }
    // release: pairs with look()'s acquire.
    head_.store(next(oldest), std::memory_order::release);
  }

  // What the head slot holds. With `take`, a message found is claimed for
  // this receive (release() frees it); without, it is only looked at. A
  // skipped position is claimed and stepped over either way.
  Head look(T*& out, bool take) noexcept {
    for (std::uint32_t turn = 0;; ++turn) {
      // acquire: pairs with (E3), for a head an evicting sender moved.
      const std::uint64_t head = head_.load(std::memory_order::acquire);
      Slot& slot = slots_[head & (one_lap_ - 1)];
      // acquire (A3): pairs with release (A2).
      std::uint64_t stamp = slot.stamp.load(std::memory_order::acquire);
      for (;;) {
        if ((stamp & ~flags) != head + 1) {
          return Head::none;  // not written yet
        }
        if ((stamp & claimed) != 0) {
          break;  // being evicted
        }
        if (!take && (stamp & skip) == 0) {
          out = slot.value.get();
          return Head::ready;
        }
        // The claim, against force_send()'s (E1); it takes a waiter's flag,
        // to be acted on when the slot is freed. acquire: as (A3).
        if (slot.stamp.compare_exchange_weak(stamp, (head + 1) | claimed, std::memory_order::acquire,
                                             std::memory_order::acquire)) {
          waiters_at_head_ = (stamp & waiter_flag) != 0;
          if ((stamp & skip) != 0) {
            free_head(slot, head);
            return Head::skipped;
          }
          out = slot.value.get();
          return Head::ready;
        }
      }
      // An eviction is under way: the next message is the channel's oldest
      // once it is done, a move later. Evictions may follow each other
      // without a gap; a receive that backed off between them would wait
      // long, so it looks again at once, for a while.
      if (turn == eviction_turns) {
        return Head::none;
      }
      cpu_relax();
    }
  }

  // How many times look() waits out an eviction before it says "none".
  static constexpr std::uint32_t eviction_turns = spin_limit(64);

  const std::size_t capacity_;
  const std::uint64_t one_lap_;
  Slot* const slots_;  // owned: `capacity_` of them

  alignas(cache_line) Atomic<std::uint64_t> tail_{0};
  // The receiver's, but for an eviction, which moves it (E3).
  alignas(cache_line) Atomic<std::uint64_t> head_{0};
  bool waiters_at_head_ = false;  // the receiver's claim took a waiter's flag
  alignas(cache_line) ReceiverSide receiver_;
  alignas(cache_line) WaiterList senders_;  // senders blocked on a full channel
};

}  // namespace spindle::detail::channel
