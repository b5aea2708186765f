// SPDX-License-Identifier: MIT
#pragma once

// The rendezvous flavour (capacity 0): a send completes only by handing its
// message to a receiver that is waiting for it.
//
// With a single receiver the hand-off needs one slot and one state word:
//   empty     the receiver is not in a receive
//   waiting   the receiver waits for a message (and spins)
//   asleep    the receiver waits for a message, asleep on this word
//   claimed   a sender won the waiting receiver and is writing its message
//   full      the message is there; the receiver takes it and goes to empty
//   closed    the receiver is gone
// The receiver announces itself (empty -> waiting); a sender claims it with
// a CAS (waiting/asleep -> claimed), so exactly one sender pairs with each
// announcement and a claimed receiver cannot back out: a send that returns
// Ok has handed its message to a receive that will return it. Senders that
// find no receiver wait for the next announcement. All of it lives on one
// cache line.

#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

template <class T>
class Zero {
  static constexpr std::uint32_t empty = 0;
  static constexpr std::uint32_t waiting = 1;
  static constexpr std::uint32_t asleep = 2;
  static constexpr std::uint32_t claimed = 3;
  static constexpr std::uint32_t full = 4;
  static constexpr std::uint32_t closed = 5;

 public:
  // cppcheck-suppress uninitMemberVar ; slot_ is raw Storage, filled by send() only while full
  Zero() = default;
  Zero(const Zero&) = delete;
  Zero& operator=(const Zero&) = delete;
  ~Zero() = default;

  // --- senders ---------------------------------------------------------------

  /// Hands `value` (moved from only on Ok) to the receiver. Mode::Block waits
  /// for a receiver; Mode::Try succeeds only if one is waiting now.
  SendStatus send(T& value, Mode mode) {
    Backoff backoff;
    bool counted = false;  // in senders_waiting_
    for (;;) {
      // acquire: pairs with the receiver's announcement (release part of its
      // seq_cst store), though nothing is read through it but the state.
      std::uint32_t state = state_.load(std::memory_order::acquire);
      if (state == closed) {
        uncount(counted);
        return SendStatus::Disconnected;
      }
      if (state == waiting || state == asleep) {
        // acquire: the receiver's take of the previous message (its store of
        // empty, release) precedes our write into the slot.
        if (state_.compare_exchange_strong(state, claimed, std::memory_order::acquire, std::memory_order::relaxed)) {
          uncount(counted);
          hand_over(value, state == asleep);
          return SendStatus::Ok;
        }
        continue;  // another sender won, or the receiver backed out
      }
      if (mode == Mode::Try) {
        uncount(counted);
        return SendStatus::Full;
      }
      if (!counted) {
        // seq_cst: a try_recv that reads zero here is ordered before us.
        senders_waiting_.fetch_add(1, std::memory_order::seq_cst);
        counted = true;
      }
      if (!backoff.snooze()) {
        sleep_sender();
        backoff.reset();
      }
    }
  }

  void disconnect_senders() noexcept {
    // seq_cst: ordered before the CAS below, against the receiver's
    // asleep-then-check (see wait_ready).
    senders_gone_.store(true, std::memory_order::seq_cst);
    std::uint32_t expected = asleep;
    if (state_.compare_exchange_strong(expected, waiting, std::memory_order::seq_cst)) {
      park::wake_all(state_);
    }
  }

  // --- the receiver ------------------------------------------------------------

  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    if (mode == Mode::Try) {
      // Only a sender already blocked in send() can be received from now,
      // and it will claim as soon as we announce.
      if (senders_waiting_.load(std::memory_order::seq_cst) == 0) {
        return senders_gone_.load(std::memory_order::acquire) ? RecvStatus::Disconnected : RecvStatus::Empty;
      }
    }
    announce();
    Backoff backoff;
    for (;;) {
      // acquire (Z2): pairs with the sender's release (Z1).
      const std::uint32_t state = state_.load(std::memory_order::acquire);
      if (state == full) {
        out = slot_.get();
        return RecvStatus::Ready;
      }
      if (state == claimed) {
        backoff.spin();  // the message is being written
        continue;
      }
      // waiting or asleep: no sender yet.
      if (senders_gone_.load(std::memory_order::acquire) && withdraw()) {
        return RecvStatus::Disconnected;
      }
      // When the time is up, a sender already blocked in send() is still
      // taken: it claims us as soon as it runs (as a ready message is
      // returned by the other flavours whatever the deadline).
      if (expired(deadline) && mode == Mode::Block && senders_waiting_.load(std::memory_order::seq_cst) == 0 &&
          withdraw()) {
        return RecvStatus::Timeout;
      }
      if (backoff.snooze()) {
        continue;
      }
      sleep_receiver(deadline);
    }
  }

  void release() noexcept {
    slot_.destroy();
    // release: the slot is empty before the next sender's claim (acquire).
    state_.store(empty, std::memory_order::release);
  }

  void disconnect_receiver() noexcept {
    // Outside a receive the state is empty: nothing is buffered here.
    state_.store(closed, std::memory_order::seq_cst);
    send_wake_.wake_all();
  }

 private:
  void uncount(bool counted) noexcept {
    if (counted) {
      senders_waiting_.fetch_sub(1, std::memory_order::relaxed);
    }
  }

  void hand_over(T& value, bool wake_receiver) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      slot_.construct(std::move(value));
    } else {
      try {
        slot_.construct(std::move(value));
      } catch (...) {
        // Give the receiver back to the other senders.
        state_.store(waiting, std::memory_order::release);
        if (wake_receiver) {
          park::wake_all(state_);
        }
        throw;
      }
    }
    // release (Z1): publishes the message; pairs with acquire (Z2).
    state_.store(full, std::memory_order::release);
    if (wake_receiver) {
      park::wake_one(state_);
    }
  }

  // empty -> waiting, and wake one sleeping sender to claim it.
  void announce() noexcept {
    // seq_cst: against a sender's sleepers-then-check (sleep_sender).
    state_.store(waiting, std::memory_order::seq_cst);
    if (senders_sleeping_.load(std::memory_order::seq_cst) != 0) {
      send_wake_.wake_one();
    }
  }

  // waiting/asleep -> empty; false when a sender claimed us first.
  bool withdraw() noexcept {
    for (;;) {
      std::uint32_t state = state_.load(std::memory_order::relaxed);
      if (state != waiting && state != asleep) {
        return false;
      }
      if (state_.compare_exchange_weak(state, empty, std::memory_order::relaxed, std::memory_order::relaxed)) {
        return true;
      }
    }
  }

  void sleep_receiver(Deadline deadline) noexcept {
    std::uint32_t expected = waiting;
    // seq_cst: ordered before the check of senders_gone_, against
    // disconnect_senders' store-then-CAS.
    if (!state_.compare_exchange_strong(expected, asleep, std::memory_order::seq_cst, std::memory_order::relaxed) &&
        expected != asleep) {
      return;  // claimed meanwhile
    }
    if (senders_gone_.load(std::memory_order::seq_cst)) {
      return;
    }
    park::wait(state_, asleep, deadline);
  }

  void sleep_sender() noexcept {
    senders_sleeping_.fetch_add(1, std::memory_order::seq_cst);
    const std::uint32_t prepared = send_wake_.prepare();
    // seq_cst: against announce()'s store-then-load of the sleeper count.
    const std::uint32_t state = state_.load(std::memory_order::seq_cst);
    if (state != waiting && state != asleep && state != closed) {
      send_wake_.sleep(prepared, forever);
    }
    senders_sleeping_.fetch_sub(1, std::memory_order::relaxed);
  }

  // One cache line for the whole hand-off.
  alignas(cache_line) park::Word state_{empty};
  Atomic<std::uint32_t> senders_waiting_{0};
  Atomic<std::uint32_t> senders_sleeping_{0};
  Atomic<bool> senders_gone_{false};
  WakeWord send_wake_;
  Storage<T> slot_;
};

}  // namespace spindle::detail::channel
