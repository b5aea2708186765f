// SPDX-License-Identifier: MIT
#pragma once

// The rendezvous flavour (capacity 0): a send completes only by handing its
// message to a receiver that is waiting for it.
//
// With a single receiver the hand-off needs one slot and one state word:
//   empty      the receiver is not in a receive
//   waiting    the receiver waits for a message (and spins)
//   asleep     the receiver waits for a message, asleep, its registration
//              in receiver_ (waiter.hpp); the sender that claims it from
//              here takes the registration and wakes it at once, so the
//              wake-up overlaps the write
//   claimed    a sender won the waiting receiver and is writing its message
//   full       the message is there; the receiver takes it and goes to empty
//   closed     the receiver is gone
//   abandoned  the receiver's time ran out while a sender was writing: the
//              receive returned, the write goes on
//   stashed    the write the receiver abandoned is done: the message waits
//              in the slot, its sender still blocked in send(), for the next
//              receive, which takes it up (stashed -> full); a send whose
//              deadline passes first takes it back (stashed -> reclaiming)
//   reclaiming a try_send, or a send past its deadline, whose write the
//              receiver abandoned takes its message back out of the slot;
//              no receive starts until it is done (hand_back_done)
//   looking    the receiver is in a look (Select::ready()), asleep, its
//              registration in receiver_: it wants to know when a receive
//              would find something, and pairs with nobody. A sender that
//              blocks (counted in senders_waiting_, which the look reads)
//              takes the registration (looking -> empty) and wakes it, then
//              waits for a receive like any blocked sender.
// The receiver announces itself (empty -> waiting); a sender claims it with
// a CAS (waiting/asleep -> claimed), so exactly one sender pairs with each
// announcement. Senders that find no receiver wait for the next one.
//
// A deadline holds whatever a sender's move costs: a receive whose time is
// up stops waiting for a write in progress (claimed -> abandoned). The
// message is not lost and the send does not complete: a blocking sender
// stashes it and stays blocked until the next receive takes it up (or the
// receiver goes, and the send fails with its message); a try_send takes it
// back and fails as Full. A sender's move that throws gives the receiver
// back to the others (claimed -> waiting), and wakes one of them. Senders
// that wait for a receiver sleep registered in senders_; a receiver that
// announces itself wakes one.
//
// The state word, the counts and the slot share one cache line.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/waiter.hpp"
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
  static constexpr std::uint32_t abandoned = 6;
  static constexpr std::uint32_t stashed = 7;
  static constexpr std::uint32_t reclaiming = 8;
  static constexpr std::uint32_t looking = 9;

  // stash_: the fate of the stashed message, in its low two bits, below a
  // count of stashes (so a sender never mistakes a later stash's fate for
  // its own).
  static constexpr std::uint32_t stash_pending = 0;
  static constexpr std::uint32_t stash_asleep = 1;  // pending; its sender sleeps, registered
  static constexpr std::uint32_t stash_taken = 2;
  static constexpr std::uint32_t stash_refused = 3;  // the receiver went: the sender takes it back
  static constexpr std::uint32_t stash_mask = 3;
  static constexpr std::uint32_t stash_one = 4;

  static constexpr std::uint32_t stash_word(std::uint32_t ticket, std::uint32_t fate) noexcept { return ticket | fate; }

  // How long a receive whose time is up, or a try_recv, still waits for a
  // sender that is blocked in send() (and so has a message ready) to claim
  // it: the sender may be asleep, and needs a wake-up and a CPU.
  static constexpr std::chrono::milliseconds pairing_grace{2};

 public:
  // cppcheck-suppress uninitMemberVar ; slot_ is raw Storage, filled by a claimed sender only
  explicit Zero(WaitPolicy policy = WaitPolicy::adaptive) noexcept : policy_(policy) {}
  Zero(const Zero&) = delete;
  Zero& operator=(const Zero&) = delete;
  ~Zero() = default;

  // --- senders ---------------------------------------------------------------

  /// Hands `value` to the receiver. Mode::Block waits for a receiver;
  /// Mode::Try succeeds only if one is waiting now. On Ok the value was moved
  /// from. Otherwise `back` points to the value to hand back to the caller:
  /// `value` itself, untouched, or the message already moved into the slot,
  /// which the caller then owns and destroys.
  SendStatus send(T& value, Mode mode, T*& back, Deadline deadline = forever) {
    back = &value;
    Backoff backoff(policy_);
    bool counted = false;  // in senders_waiting_
    for (;;) {
      // seq_cst once counted: against a look's store-then-load (watch_look).
      std::uint32_t state =
          state_.load(counted ? std::memory_order::seq_cst : std::memory_order::relaxed);
      if (state == closed) {
        uncount(counted);
        return SendStatus::Disconnected;
      }
      if (state == waiting || state == asleep) {
        // acquire: the receiver's take of the previous message (its store of
        // empty, release) precedes our write into the slot.
        // acquire also makes an asleep receiver's registration visible.
        if (state_.compare_exchange_strong(state, claimed, std::memory_order::acquire, std::memory_order::relaxed)) {
          if (state == asleep && !wake_claimed_receiver()) {
            continue;  // it was a select that took another operation
          }
          uncount(counted);
          return hand_over(value, mode, back, deadline);
        }
        continue;  // another sender won, or the receiver backed out
      }
      if (state == looking && counted) {
        // The receiver looks for a sender like us: we are counted, which it
        // reads once woken. acquire: its registration.
        if (state_.compare_exchange_strong(state, empty, std::memory_order::acquire, std::memory_order::relaxed)) {
          receiver_.notify();
        }
        continue;
      }
      if (mode == Mode::Try) {
        uncount(counted);
        return SendStatus::Full;
      }
      if (expired(deadline)) {
        uncount(counted);
        return SendStatus::Timeout;
      }
      if (!counted) {
        // seq_cst: a try_recv that reads zero here is ordered before us.
        senders_waiting_.fetch_add(1, std::memory_order::seq_cst);
        counted = true;
      }
      if (!backoff.snooze()) {
        if (backoff.sleeps()) {
          sleep_sender(deadline);
        }
        backoff.reset();
      }
    }
  }

  void disconnect_senders() noexcept {
    // seq_cst: ordered before the CAS below, against the receiver's
    // asleep-then-check (see sleep_receiver).
    senders_gone_.store(true, std::memory_order::seq_cst);
    std::uint32_t expected = asleep;
    if (state_.compare_exchange_strong(expected, waiting, std::memory_order::seq_cst) ||
        (expected == looking &&
         state_.compare_exchange_strong(expected, empty, std::memory_order::seq_cst))) {
      receiver_.notify();  // the registration came with the state
    }
  }

  // --- the receiver ------------------------------------------------------------

  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    Backoff backoff(policy_);  // waiting for a sender
    Backoff writing;           // waiting for a claimed sender's write
    bool in_grace = false;
    Deadline grace_end = deadline;
    unsigned grace_sleeps = 0;
    for (;;) {
      // acquire (Z2): pairs with the sender's release (Z1), or with the
      // stashing sender's (Z3).
      std::uint32_t state = state_.load(std::memory_order::acquire);
      switch (state) {
        case full:
          out = slot_.get();
          return RecvStatus::Ready;
        case stashed:
          // Take the stash up, against its sender's reclaim at its deadline
          // (stashed -> reclaiming). acquire: as above (Z3).
          if (state_.compare_exchange_strong(state, full, std::memory_order::acquire, std::memory_order::relaxed)) {
            taking_stash_ = true;
            out = slot_.get();
            return RecvStatus::Ready;
          }
          continue;
        case abandoned:
          // An earlier receive gave up on this write: take it up again.
          state_.compare_exchange_strong(state, claimed, std::memory_order::relaxed, std::memory_order::relaxed);
          continue;
        case claimed:
          // A sender is writing its message. Past the deadline, wait only a
          // short grace, then give up on the write (it is stashed or taken
          // back, never lost).
          if (!gives_up(mode, deadline)) {
            writing.spin();
          } else if (!writing.spin_bounded() &&
                     state_.compare_exchange_strong(state, abandoned, std::memory_order::relaxed,
                                                    std::memory_order::relaxed)) {
            return mode == Mode::Try ? RecvStatus::Empty : RecvStatus::Timeout;
          }
          continue;
        case empty:
          // Only a sender already blocked in send() can pair with a
          // try_recv, and it will claim as soon as we announce.
          if (mode == Mode::Try && !senders_wait()) {
            return senders_gone_.load(std::memory_order::acquire) ? RecvStatus::Disconnected : RecvStatus::Empty;
          }
          announce();
          continue;
        case closed:  // the receiver closed the channel (close())
          return RecvStatus::Disconnected;
        case reclaiming:
          // A try_send takes its message back out of the slot: a moment.
          if (gives_up(mode, deadline)) {
            return mode == Mode::Try ? RecvStatus::Empty : RecvStatus::Timeout;
          }
          writing.spin();
          continue;
        default:  // waiting or asleep: no sender yet
          break;
      }
      if (senders_gone_.load(std::memory_order::acquire) && withdraw()) {
        return RecvStatus::Disconnected;
      }
      Deadline until = deadline;
      if (gives_up(mode, deadline)) {
        // A sender already blocked in send() has a message ready, as
        // try_recv shows, and a receive whose time is up still takes it (as
        // the buffered flavours return a ready message whatever the
        // deadline): give such a sender a short grace to claim us.
        if (!in_grace) {
          in_grace = true;
          grace_end = Clock::now() + pairing_grace;
        }
        if (!senders_wait() || grace_over(grace_end, grace_sleeps)) {
          if (withdraw()) {
            return mode == Mode::Try ? RecvStatus::Empty : RecvStatus::Timeout;
          }
          continue;  // claimed meanwhile
        }
        until = grace_end;
      }
      if (backoff.snooze()) {
        continue;
      }
      if (!backoff.sleeps()) {  // WaitPolicy::spin: spin again
        backoff.reset();
        continue;
      }
      grace_sleeps += in_grace ? 1 : 0;
      sleep_receiver(until);
    }
  }

  // --- introspection: a rendezvous channel holds nothing ----------------------

  [[nodiscard]] static constexpr std::size_t len() noexcept { return 0; }
  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return 0; }

  // --- select ----------------------------------------------------------------

  /// Whether a receive would find something now, pairing with nobody (a
  /// look must not make a blocked sender's send complete): a message or a
  /// stash waits, a sender is blocked in send() or in a select, or the
  /// senders are gone.
  [[nodiscard]] bool looks_ready() const noexcept {
    const std::uint32_t state = state_.load(std::memory_order::acquire);
    return state == full || state == stashed || state == closed || senders_wait() ||
           senders_gone_.load(std::memory_order::acquire);
  }

  /// A select's quick look while it spins: a message waits, a sender is
  /// blocked in send() and may pair with us now, or the senders are gone
  /// (then as try_recv).
  RecvStatus peek_ready(T*& out) noexcept {
    return looks_ready() ? wait_ready(Mode::Try, forever, out) : RecvStatus::Empty;
  }

  /// Registers the receiver (announcing it to the senders) to be woken when
  /// a sender claims it or the senders go; false (nothing registered) when
  /// a receive has something to look at already.
  bool watch(Registration& registration) noexcept { return watch_receiver(registration, empty); }

  /// As watch(), for a look (Select::ready()): registers the receiver to be
  /// woken when a receive would find something, announcing nothing, so that
  /// no sender pairs with a receive that may never come.
  bool watch_look(Registration& registration) noexcept {
    receiver_.set(registration);
    std::uint32_t expected = empty;
    // seq_cst: publishes the registration (release), and is ordered before
    // the loads below, against a counted sender's count-then-look and
    // disconnect_senders' store-then-CAS.
    looker_.store(registration.waiter, std::memory_order::relaxed);
    if (!state_.compare_exchange_strong(expected, looking, std::memory_order::seq_cst, std::memory_order::relaxed)) {
      receiver_.clear();
      return false;  // a stash, a write in progress, or closed: look again
    }
    // A select waiting to send here (other than this one) registered before
    // us: under its list's lock, against watch_send's add-then-look.
    if (senders_waiting_.load(std::memory_order::seq_cst) != 0 || senders_gone_.load(std::memory_order::seq_cst) ||
        senders_.has_other(registration.waiter)) {
      unwatch_receiver(empty);
      return false;
    }
    return true;
  }

  /// Withdraws what watch() or watch_look() registered. A sender that claimed the receiver
  /// meanwhile completes its hand-off, which the next receive takes.
  void unwatch() noexcept {
    unwatch_receiver(empty);
    withdraw();  // the disconnect may have left it `waiting`
  }

  [[nodiscard]] static Deadline due() noexcept { return forever; }

  /// Claims the receiver if it waits now; the claim must then be completed
  /// with write() or given up with abandon(). Full when no receiver waits,
  /// Disconnected when it is gone.
  SendStatus start_send(SendClaim& /*claim*/) noexcept {
    for (;;) {
      std::uint32_t state = state_.load(std::memory_order::relaxed);
      if (state == closed) {
        return SendStatus::Disconnected;
      }
      if (state != waiting && state != asleep) {
        return SendStatus::Full;
      }
      // acquire: as in send().
      if (state_.compare_exchange_strong(state, claimed, std::memory_order::acquire, std::memory_order::relaxed)) {
        if (state == asleep && !wake_claimed_receiver()) {
          continue;  // it was a select that took another operation
        }
        return SendStatus::Ok;
      }
    }
  }

  /// Completes a claim: hands `value` over as send() does (a blocking send:
  /// it may wait for the receive that takes it). On failure `back` points
  /// to the value to hand back, as for send().
  SendStatus write(const SendClaim& /*claim*/, T& value, T*& back) {
    back = &value;
    return hand_over(value, Mode::Block, back);
  }

  /// A failed send's caller is done with the message `back` pointed to
  /// (it moved it into the error): destroys it, and if it was the slot,
  /// frees the slot for the next receive.
  void hand_back_done(T* back) noexcept {
    back->~T();
    if (back == slot_.get()) {
      std::uint32_t expected = reclaiming;
      // release: our use of the slot is over before the next claim of it
      // (acquire). Failing: the receiver has gone (closed): nothing to free.
      state_.compare_exchange_strong(expected, empty, std::memory_order::release, std::memory_order::relaxed);
    }
  }

  /// Gives a claim up: the receiver goes back to the other senders.
  void abandon(const SendClaim& /*claim*/) noexcept { give_back_receiver(); }

  /// Whether a send looks possible now (a receiver waits, or it is gone).
  [[nodiscard]] bool can_send() const noexcept {
    // seq_cst: for a registered sender's last look before it sleeps,
    // against announce()'s store-then-load of the sleeper count.
    const std::uint32_t state = state_.load(std::memory_order::seq_cst);
    return state == waiting || state == asleep || state == closed;
  }

  /// Registers a sender to be woken when a receiver comes or goes; false
  /// (nothing registered) when a send looks possible now.
  bool watch_send(Registration& registration) noexcept {
    senders_.add(registration);
    // seq_cst: as in sleep_sender.
    senders_sleeping_.fetch_add(1, std::memory_order::seq_cst);
    if (!can_send()) {
      wake_look(registration.waiter);  // a receive would pair with us now
      return true;
    }
    unwatch_send(registration);
    return false;
  }

  /// A select woken (by notify_one) for a send here took another operation:
  /// if a receiver still waits, another sleeping sender gets the wake-up.
  void forward_send_wake() noexcept {
    // seq_cst: as in can_send(), against announce().
    const std::uint32_t state = state_.load(std::memory_order::seq_cst);
    if ((state == waiting || state == asleep) && senders_sleeping_.load(std::memory_order::seq_cst) != 0) {
      senders_.notify_one();
    }
  }

  void unwatch_send(Registration& registration) noexcept {
    senders_sleeping_.fetch_sub(1, std::memory_order::relaxed);
    senders_.remove(registration);
  }

  void release() noexcept {
    slot_.destroy();
    if (taking_stash_) {
      taking_stash_ = false;
      settle_stash(stash_taken);
    }
    // release: the slot is empty before the next sender's claim (acquire).
    state_.store(empty, std::memory_order::release);
  }

  /// The receiver closes the channel but stays. Nothing is buffered in a
  /// rendezvous, so it is as if the receiver went (every blocked or later
  /// send fails with its message, a stashed one included), except that its
  /// receives go on and see Disconnected.
  void close() noexcept { disconnect_receiver(); }

  void disconnect_receiver() noexcept {
    // Outside a receive the state is empty, abandoned (a sender is writing:
    // it will see closed and keep its message) or stashed (the message goes
    // back to its sender). seq_cst: against a sender's sleepers-then-check.
    const std::uint32_t state = state_.exchange(closed, std::memory_order::seq_cst);
    if (state == stashed || (state == full && taking_stash_)) {
      // A stash, or one a receive took up and gave up (a started select
      // receive dropped during unwinding): back to its sender.
      taking_stash_ = false;
      settle_stash(stash_refused);
    } else if (state == full) {
      // A hand-off completed into a receive that was then given up (as
      // above): its message goes with the receiver.
      slot_.destroy();
    }
    senders_.notify_all();
  }

 private:
  static bool gives_up(Mode mode, Deadline deadline) noexcept { return mode == Mode::Try || expired(deadline); }

  // Under the model checker the clock does not advance with the explored
  // steps: there the grace is one sleep, which may end either way.
  static bool grace_over(Deadline end, unsigned sleeps) noexcept {
#ifdef SPINDLE_MODEL_CHECK
    (void)end;
    return sleeps > 0;
#else
    (void)sleeps;
    return Clock::now() >= end;
#endif
  }

  void uncount(bool counted) noexcept {
    if (counted) {
      senders_waiting_.fetch_sub(1, std::memory_order::relaxed);
    }
  }

  // We claimed the receiver: write the message, then publish it, or stash
  // it if the receiver has given up on us meanwhile.
  SendStatus hand_over(T& value, Mode mode, T*& back, Deadline deadline = forever) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      slot_.construct(std::move(value));
    } else {
      try {
        slot_.construct(std::move(value));
      } catch (...) {
        give_back_receiver();
        throw;
      }
    }
    for (;;) {
      std::uint32_t state = claimed;
      // release (Z1): publishes the message; pairs with acquire (Z2).
      if (state_.compare_exchange_strong(state, full, std::memory_order::release, std::memory_order::relaxed)) {
        return SendStatus::Ok;  // the receiver is awake: it was woken at the claim, or never slept
      }
      if (state == closed) {
        back = slot_.get();
        return SendStatus::Disconnected;
      }
      // abandoned: the receive we paired with has returned.
      if (mode == Mode::Try || expired(deadline)) {
        // The message goes back to our caller from the slot, which stays
        // ours until hand_back_done(): a receive that announced now would
        // let another sender write into it while our caller moves out.
        if (state_.compare_exchange_strong(state, reclaiming, std::memory_order::relaxed, std::memory_order::relaxed)) {
          back = slot_.get();
          return mode == Mode::Try ? SendStatus::Full : SendStatus::Timeout;
        }
        continue;  // taken up again, or closed
      }
      // Only the stashing sender writes stash_ now, and the last stash's
      // fate was settled before the receive that we claimed began.
      const std::uint32_t ticket = (stash_.load(std::memory_order::relaxed) & ~stash_mask) + stash_one;
      stash_.store(stash_word(ticket, stash_pending), std::memory_order::relaxed);
      // release (Z3): the message and the ticket before the stash.
      if (state_.compare_exchange_strong(state, stashed, std::memory_order::release, std::memory_order::relaxed)) {
        return wait_for_stash(ticket, back, deadline);
      }
      // taken up again, or closed: look again
    }
  }

  // Whether a sender waits: blocked in send(), or registered by a select.
  [[nodiscard]] bool senders_wait() const noexcept {
    // seq_cst: for try_recv and the grace, as before.
    return senders_waiting_.load(std::memory_order::seq_cst) != 0 ||
           senders_sleeping_.load(std::memory_order::seq_cst) != 0;
  }

  // A select registered to send here: a look (not its own: a select on
  // both ends of the channel) learns that a receive would pair now.
  void wake_look(const Waiter* self) noexcept {
    std::uint32_t state = looking;
    // seq_cst (the load): after our count, against watch_look's
    // CAS-then-check. acquire (the CAS): the look's registration.
    if (state_.load(std::memory_order::seq_cst) == looking && looker_.load(std::memory_order::relaxed) != self &&
        state_.compare_exchange_strong(state, empty, std::memory_order::acquire, std::memory_order::relaxed)) {
      receiver_.notify();
    }
  }

  // We claimed the receiver from `asleep`, and its registration with it.
  // The receiver is a blocking receive, or a select that may be waiting on
  // other channels too: only if we win its Waiter is the receiver ours; we
  // then wake it at once, so its wake-up overlaps our write. A select whose
  // Waiter another channel won (or that gave up) is no longer receiving
  // here: the receiver goes back to `empty` and we look for the next one.
  // So a rendezvous send completes only into a receive that takes it.
  bool wake_claimed_receiver() noexcept {
    // relaxed: the select leaves only after the registration is handed
    // back (release), which follows this store.
    return receiver_.notify_or([this] { state_.store(empty, std::memory_order::relaxed); });
  }

  // Our move threw after we claimed the receiver: hand it back to the other
  // senders, unless its receive has given up or it has gone meanwhile.
  void give_back_receiver() noexcept {
    std::uint32_t state = claimed;
    // seq_cst: as announce()'s store, against a sender's sleepers-then-check.
    if (state_.compare_exchange_strong(state, waiting, std::memory_order::seq_cst, std::memory_order::relaxed)) {
      if (senders_sleeping_.load(std::memory_order::seq_cst) != 0) {
        senders_.notify_one();  // a blocked sender may claim it now
      }
      return;
    }
    if (state == abandoned) {
      // Nothing was stashed: the next receive starts afresh. Failing means
      // the receiver took the write up again: give that receive back too.
      if (!state_.compare_exchange_strong(state, empty, std::memory_order::relaxed, std::memory_order::relaxed)) {
        give_back_receiver();
      }
    }
    // closed: nothing to do
  }

  // Our message is stashed: wait until a receive takes it, or the receiver
  // goes and it comes back to us.
  // A send with a deadline (send_timeout) takes its stash back when the
  // deadline passes, unless a receive has taken it up meanwhile.
  SendStatus wait_for_stash(std::uint32_t ticket, T*& back, Deadline deadline) noexcept {
    Backoff backoff(policy_);
    for (;;) {
      // acquire: pairs with settle_stash's release.
      const std::uint32_t word = stash_.load(std::memory_order::acquire);
      if ((word & ~stash_mask) != ticket || (word & stash_mask) == stash_taken) {
        return SendStatus::Ok;  // a later stash means ours was taken
      }
      if ((word & stash_mask) == stash_refused) {
        back = slot_.get();
        return SendStatus::Disconnected;
      }
      if (expired(deadline)) {
        std::uint32_t state = stashed;
        // Against a receive's take-up (stashed -> full): exactly one wins.
        // The slot is ours again until hand_back_done(), as for try_send.
        if (state_.compare_exchange_strong(state, reclaiming, std::memory_order::relaxed, std::memory_order::relaxed)) {
          back = slot_.get();
          return SendStatus::Timeout;
        }
        // A receive took it up, or the receiver went: its fate is settled
        // soon, whatever the deadline.
        deadline = forever;
        continue;
      }
      if (backoff.snooze()) {
        continue;
      }
      if (!backoff.sleeps()) {  // WaitPolicy::spin: spin again
        backoff.reset();
        continue;
      }
      // Sleep registered: `asleep` says our registration is in stash_waiter_,
      // and settle_stash, which clears it, wakes us (waiter.hpp).
      Waiter waiter;
      Registration registration{&waiter};
      stash_waiter_.set(registration);
      std::uint32_t expected = stash_word(ticket, stash_pending);
      // release: publishes the registration to settle_stash's acquire.
      if (word != expected || !stash_.compare_exchange_strong(expected, stash_word(ticket, stash_asleep),
                                                              std::memory_order::release, std::memory_order::relaxed)) {
        stash_waiter_.clear();
        continue;
      }
      waiter.sleep(deadline);
      expected = stash_word(ticket, stash_asleep);
      if (stash_.compare_exchange_strong(expected, stash_word(ticket, stash_pending), std::memory_order::relaxed,
                                         std::memory_order::relaxed)) {
        stash_waiter_.clear();  // woken for nothing: our flag, lowered by us
      } else {
        stash_waiter_.wait_released();  // settled: settle_stash took the flag
      }
      backoff.reset();
    }
  }

  // The receiver decides the stashed message's fate and wakes its sender.
  void settle_stash(std::uint32_t fate) noexcept {
    std::uint32_t word = stash_.load(std::memory_order::relaxed);
    // release: for `taken`, our use of the slot is over before the sender
    // returns. acquire: an asleep sender's registration.
    while (!stash_.compare_exchange_weak(word, (word & ~stash_mask) | fate, std::memory_order::acq_rel,
                                         std::memory_order::relaxed)) {
    }
    if ((word & stash_mask) == stash_asleep) {
      stash_waiter_.notify();
    }
  }

  // empty -> waiting, and wake one sleeping sender to claim it.
  void announce() noexcept {
    // seq_cst: against a sender's sleepers-then-check (sleep_sender).
    state_.store(waiting, std::memory_order::seq_cst);
    if (senders_sleeping_.load(std::memory_order::seq_cst) != 0) {
      senders_.notify_one();
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

  // Sleeps, registered, until a sender claims us, the senders go or the
  // deadline passes (or spuriously). The state is `waiting`.
  void sleep_receiver(Deadline deadline) noexcept {
    Waiter waiter;
    Registration registration{&waiter};
    if (!watch_receiver(registration, waiting)) {
      return;
    }
    waiter.sleep(deadline);
    unwatch_receiver(waiting);
  }

  // Registers the receiver and moves the state `from` -> asleep, which a
  // sender claims taking the registration along. False (nothing
  // registered) when the state was not `from` or the senders are gone.
  bool watch_receiver(Registration& registration, std::uint32_t from) noexcept {
    receiver_.set(registration);
    std::uint32_t expected = from;
    // seq_cst: publishes the registration (release), and is ordered before
    // the check of senders_gone_ below, against disconnect_senders'
    // store-then-CAS.
    if (!state_.compare_exchange_strong(expected, asleep, std::memory_order::seq_cst, std::memory_order::relaxed)) {
      receiver_.clear();
      return false;
    }
    if (from == empty && senders_sleeping_.load(std::memory_order::seq_cst) != 0) {
      // As announce(): a blocked sender may claim us now (not this select's
      // own send on this channel, if it has one).
      senders_.notify_one(registration.waiter);
    }
    if (senders_gone_.load(std::memory_order::seq_cst)) {
      unwatch_receiver(from);
      return false;
    }
    return true;
  }

  // Leaves `asleep` (or `looking`) for `back_to`, or, when a sender claimed us (or the
  // disconnect woke us) first, waits until it has handed the registration
  // back.
  void unwatch_receiver(std::uint32_t back_to) noexcept {
    std::uint32_t expected = state_.load(std::memory_order::relaxed);
    while (expected == asleep || expected == looking) {
      if (state_.compare_exchange_weak(expected, back_to, std::memory_order::relaxed, std::memory_order::relaxed)) {
        receiver_.clear();
        return;
      }
    }
    receiver_.wait_released();
  }

  void sleep_sender(Deadline deadline) noexcept {
    Waiter waiter;
    Registration registration{&waiter};
    senders_.add(registration);
    senders_sleeping_.fetch_add(1, std::memory_order::seq_cst);
    // A look waits for us to wake it: not asleep (seq_cst, as can_send()).
    if (!can_send() && state_.load(std::memory_order::seq_cst) != looking) {
      waiter.sleep(deadline);
    }
    senders_sleeping_.fetch_sub(1, std::memory_order::relaxed);
    senders_.remove(registration);
  }

  // One cache line for the hand-off itself (a small message included):
  // what every send and receive touches comes first.
  alignas(cache_line) park::Word state_{empty};
  const WaitPolicy policy_;
  bool taking_stash_ = false;  // the receiver's alone
  Atomic<bool> senders_gone_{false};
  Atomic<std::uint32_t> senders_waiting_{0};
  Atomic<std::uint32_t> senders_sleeping_{0};
  Storage<T> slot_;
  // What only the sleeping paths touch, on the lines after it.
  alignas(cache_line) ReceiverSlot receiver_;  // the receiver's registration while `asleep`
  WaiterList senders_;                         // senders asleep until a receiver comes
  ReceiverSlot stash_waiter_;                  // the stashing sender's registration while stash_asleep
  Atomic<Waiter*> looker_{nullptr};            // the Waiter of the last look (compared, never followed)
  park::Word stash_{0};
};

}  // namespace spindle::detail::channel
