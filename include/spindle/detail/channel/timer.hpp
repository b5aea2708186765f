// SPDX-License-Identifier: MIT
#pragma once

// The timer flavours: receivers whose messages come from the clock, not from
// a sender. No thread runs a timer: its message is ready once the clock has
// passed its time, and a receive (or a select) that waits for it sleeps
// until then.
//
//   at     one message, the time point it was due at; then never again
//   tick   a message every period, on a fixed grid (first + k * period): a
//          late receive does not push the grid back; at most one tick waits
//          unread, the latest one due
//   never  no message, ever: a select arm switched off
//
// A timer has no senders and so is never disconnected. Only its receiver
// touches it.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/waiter.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

template <class T>
class Timer {
 public:
  enum class Kind : std::uint8_t { at, tick, never };

  /// A timer that never fires (any T).
  // cppcheck-suppress uninitMemberVar ; message_ is raw Storage, filled when a message is due
  Timer() noexcept = default;

  /// A one-shot timer due at `due`; or, with a period, a ticker whose first
  /// tick is due at `due`. Only for T = steady_clock::time_point.
  // cppcheck-suppress uninitMemberVar ; message_ is raw Storage, filled when a message is due
  Timer(Deadline due, Clock::duration period) noexcept
      : kind_(period.count() > 0 ? Kind::tick : Kind::at), due_(due), period_(period) {
    static_assert(std::is_same_v<T, Clock::time_point>, "a timer's messages are steady_clock time points");
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() = default;

  // The counter interface of a channel (see counter.hpp): the timer is its
  // own channel, and its receiver its only owner.
  Timer& chan() noexcept { return *this; }
  void release_receiver() noexcept { delete this; }

  /// When the next message is due (forever when none will be).
  [[nodiscard]] Deadline due() const noexcept { return kind_ == Kind::never ? forever : due_; }

  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    if (closed_) {
      return RecvStatus::Disconnected;
    }
    for (;;) {
      const Deadline due_at = due();
      const Clock::time_point now = Clock::now();
      if (due_at != forever && now >= due_at) {
        if constexpr (std::is_same_v<T, Clock::time_point>) {
          if (kind_ == Kind::tick) {
            // Ticks missed since are dropped but the latest one due.
            due_ += ((now - due_) / period_) * period_;
          }
          message_.construct(due_);
          out = message_.get();
          return RecvStatus::Ready;
        }
      }
      if (mode == Mode::Try) {
        return RecvStatus::Empty;
      }
      if (expired(deadline)) {
        return RecvStatus::Timeout;
      }
      // Nobody wakes this word: the wait ends at the earlier of the two
      // times (or spuriously, and we look again).
      park::wait(sleep_word_, 0, due_at < deadline ? due_at : deadline);
    }
  }

  // --- select: nothing to register; a select sleeps until due() ---------------

  RecvStatus peek_ready(T*& out) noexcept { return wait_ready(Mode::Try, forever, out); }

  [[nodiscard]] bool looks_ready() const noexcept {
    const Deadline due_at = due();
    return closed_ || (due_at != forever && Clock::now() >= due_at);
  }

  /// One message when it is due; room for one, except on a never timer.
  [[nodiscard]] std::size_t len() const noexcept { return !closed_ && looks_ready() ? 1 : 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return due_ != forever ? 1 : 0; }

  /// False when a message is due now; otherwise true, registering nothing.
  bool watch(Registration& /*registration*/) const noexcept { return !looks_ready(); }
  void unwatch() const noexcept {}

  /// The receiver closes the timer: no more messages; receives see
  /// Disconnected.
  void close() noexcept { closed_ = true; }

  /// The message wait_ready() handed out was taken: on to the next.
  void release() noexcept {
    message_.destroy();
    if (kind_ == Kind::at) {
      kind_ = Kind::never;
      return;
    }
    due_ += period_;  // the next grid point, even if it is due already
  }

 private:
  Kind kind_ = Kind::never;
  bool closed_ = false;
  Deadline due_ = forever;
  Clock::duration period_{0};
  Storage<T> message_;
  park::Word sleep_word_{0};
};

}  // namespace spindle::detail::channel
