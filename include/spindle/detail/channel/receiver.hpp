// SPDX-License-Identifier: MIT
#pragma once

// What the list and array flavours' single receiver shares: its wait loop,
// the "senders gone" flag, and how it sleeps and is woken.
//
// Both flavours keep a tail word written by the senders: the next position
// shifted left by two, with two flags below it:
//   bit 0  DISCONNECTED  the receiver is gone: no more claims
//   bit 1  SLEEPING      the receiver sleeps waiting for the position at tail
// The receiver raises SLEEPING only while tail is at its own head (nothing
// claimed that it has not read), after registering in its ReceiverSlot; a
// sender's claim moves tail on and clears SLEEPING in the same CAS, and the
// sender that cleared it wakes the receiver once its message is published.
// The last sender's disconnect clears it too, and wakes it. A receive that
// stops waiting lowers its own flag, or, when a sender cleared it first,
// waits until that sender has handed the registration back (waiter.hpp).

#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/waiter.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

/// What the receiver found at its head position.
enum class Head : std::uint8_t {
  ready,    // a message: handed out
  skipped,  // a position whose sender's copy threw: stepped over, look again
  none,     // nothing written there yet
};

class ReceiverSide {
 public:
  static constexpr unsigned shift = 2;
  static constexpr std::uint64_t one = std::uint64_t{1} << shift;
  static constexpr std::uint64_t disconnected = 1;
  static constexpr std::uint64_t sleeping = 2;

  explicit ReceiverSide(WaitPolicy policy) noexcept : policy_(policy) {}

  [[nodiscard]] WaitPolicy policy() const noexcept { return policy_; }

  /// The receive loop. `look()` examines the head position (and steps over
  /// a skipped one); `idle()` is the tail word that means "nothing claimed
  /// beyond head" (head's position, shifted, no flags).
  template <class Look, class Idle>
  RecvStatus wait(Mode mode, Deadline deadline, Atomic<std::uint64_t>& tail, Look look, Idle idle) noexcept {
    Backoff backoff(policy_);
    Backoff writing;  // for a message in flight
    bool spun_out = false;
    for (;;) {
      const Head head = look();
      if (head == Head::ready) {
        return RecvStatus::Ready;
      }
      if (head == Head::skipped) {
        continue;
      }
      // While spinning, watch the head position alone: reading tail too
      // would pull the senders' cache line away from them on every turn.
      if (mode == Mode::Block && !spun_out && !expired(deadline)) {
        spun_out = !backoff.snooze();
        continue;
      }
      switch (poll_empty(tail, idle())) {
        case Poll::in_flight:
          if (wait_for_write(mode, deadline, writing)) {
            continue;
          }
          return mode == Mode::Try ? RecvStatus::Empty : RecvStatus::Timeout;
        case Poll::disconnected:
          return RecvStatus::Disconnected;
        case Poll::empty:
          break;
      }
      if (mode == Mode::Try) {
        return RecvStatus::Empty;
      }
      if (expired(deadline)) {
        return RecvStatus::Timeout;
      }
      if (!backoff.sleeps()) {  // WaitPolicy::spin: spin again
        backoff.reset();
        spun_out = false;
        continue;
      }
      sleep(tail, idle(), deadline);
    }
  }

  /// A select's quick look while it spins: the head position (as wait()'s
  /// spinning does) and the senders-gone flag, leaving tail's cache line to
  /// the senders. It may miss a message still being written, which a
  /// Mode::Try wait() waits for a little.
  template <class Look, class Idle>
  RecvStatus peek(Atomic<std::uint64_t>& tail, Look look, Idle idle) noexcept {
    for (;;) {
      const Head head = look();
      if (head == Head::ready) {
        return RecvStatus::Ready;
      }
      if (head == Head::none) {
        // Disconnected is ready too: a read-mostly flag says when to ask.
        return senders_gone() ? wait(Mode::Try, forever, tail, look, idle) : RecvStatus::Empty;
      }
    }
  }

  /// Whether a receive would find a message or the disconnect now; takes
  /// nothing (a message look() hands out stays until it is released).
  template <class Look, class Idle>
  bool looks_ready(Atomic<std::uint64_t>& tail, Look look, Idle idle) noexcept {
    const RecvStatus status = wait(Mode::Try, forever, tail, look, idle);
    return status == RecvStatus::Ready || status == RecvStatus::Disconnected;
  }

  /// A sender whose claim cleared SLEEPING (or whose disconnect did): wakes
  /// the receiver.
  void wake() noexcept { slot_.notify(); }

  /// The last sender went: the receiver drains what is left, then sees
  /// Disconnected.
  void disconnect_senders(Atomic<std::uint64_t>& tail) noexcept {
    // seq_cst: the store, then the look at SLEEPING, against the receiver's
    // raise-then-check in sleep() (a Dekker pair): one of them sees the
    // other's write.
    senders_gone_.store(true, std::memory_order::seq_cst);
    if ((tail.fetch_and(~sleeping, std::memory_order::seq_cst) & sleeping) != 0) {
      slot_.notify();
    }
  }

  [[nodiscard]] bool senders_gone() const noexcept { return senders_gone_.load(std::memory_order::acquire); }

  /// The receiver closes the channel but stays: tail is flagged so that no
  /// claim succeeds any more; once the receiver has drained what was
  /// claimed, its receives see Disconnected, as after the last sender's
  /// disconnect.
  void close(Atomic<std::uint64_t>& tail) noexcept {
    // seq_cst: as the receiver's drop flags tail (a total order with the
    // senders' claims, and before any wake-up of blocked senders).
    tail.fetch_or(disconnected, std::memory_order::seq_cst);
    senders_gone_.store(true, std::memory_order::release);
  }

  /// Registers `registration` to be woken when a message comes to the head
  /// position or the senders go. False (and nothing registered) when either
  /// already happened.
  bool watch(Atomic<std::uint64_t>& tail, std::uint64_t idle, Registration& registration) noexcept {
    slot_.set(registration);
    std::uint64_t expected = idle;
    // seq_cst: publishes the registration (release) and is ordered before
    // the check of senders_gone_ below, against disconnect_senders. A
    // failure means tail moved: a message is on its way.
    if (!tail.compare_exchange_strong(expected, idle | sleeping, std::memory_order::seq_cst,
                                      std::memory_order::relaxed)) {
      slot_.clear();
      return false;
    }
    if (senders_gone_.load(std::memory_order::seq_cst)) {
      unwatch(tail, idle);
      return false;
    }
    return true;
  }

  /// Withdraws what watch() registered. Once it returns, no sender touches
  /// the registration.
  void unwatch(Atomic<std::uint64_t>& tail, std::uint64_t idle) noexcept {
    std::uint64_t expected = idle | sleeping;
    if (tail.compare_exchange_strong(expected, idle, std::memory_order::relaxed, std::memory_order::relaxed)) {
      slot_.clear();
    } else {
      slot_.wait_released();  // a sender (or the disconnect) took the flag
    }
  }

 private:
  enum class Poll : std::uint8_t { empty, in_flight, disconnected };

  // The head position held nothing: is a message on its way, is the channel
  // empty, or is it disconnected?
  Poll poll_empty(Atomic<std::uint64_t>& tail, std::uint64_t idle) const noexcept {
    // Read "senders gone" before tail: if the last sender is gone, every
    // claim it made is in tail (its sends precede its disconnect).
    // acquire: pairs with the seq_cst store in disconnect_senders.
    const bool gone = senders_gone_.load(std::memory_order::acquire);
    const std::uint64_t now = tail.load(std::memory_order::acquire);
    if ((now >> shift) != (idle >> shift)) {
      return Poll::in_flight;
    }
    // A message published between our look at the head and at tail would
    // have moved tail: when gone, the head is empty for good.
    return gone ? Poll::disconnected : Poll::empty;
  }

  // Sleeps until a sender claims the head position, the senders go, or the
  // deadline passes (or spuriously).
  void sleep(Atomic<std::uint64_t>& tail, std::uint64_t idle, Deadline deadline) noexcept {
    Waiter waiter;
    Registration registration{&waiter};
    if (!watch(tail, idle, registration)) {
      return;
    }
    waiter.sleep(deadline);
    unwatch(tail, idle);
  }

  const WaitPolicy policy_;
  ReceiverSlot slot_;
  Atomic<bool> senders_gone_{false};
};

}  // namespace spindle::detail::channel
