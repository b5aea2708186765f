// SPDX-License-Identifier: MIT
#pragma once

// How a channel operation waits before it parks: spin, then yield, then
// sleep on a futex. A cross-core hand-off on a quiet machine completes within
// a few hundred nanoseconds, far below the ~5-10 us a futex sleep and wake-up
// cost, so a waiter first spins for a few microseconds, checking its
// condition between single pause instructions (so it sees the hand-off as
// soon as it lands). Then it yields a few times, which lets a producer that
// shares its core run, and only then parks.

#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"

/// How many single pauses a channel waiter spins for before it yields or
/// parks (about 25-140 ns each, depending on the CPU).
#ifndef SPINDLE_CHANNEL_SPIN_STEPS
#define SPINDLE_CHANNEL_SPIN_STEPS 100
#endif
/// How many times a channel waiter yields its time slice before it parks.
#ifndef SPINDLE_CHANNEL_YIELD_STEPS
#define SPINDLE_CHANNEL_YIELD_STEPS 8
#endif

namespace spindle {

/// How a channel's blocked operations wait, chosen when the channel is made.
enum class WaitPolicy : std::uint8_t {
  /// Spin for a few microseconds, yield a few times, then sleep: a
  /// cross-core hand-off lands while spinning; a long wait costs no CPU.
  adaptive,
  /// Sleep at once: the least CPU, at the cost of a wake-up (some
  /// microseconds) on every hand-off that finds its peer asleep.
  park,
  /// Never sleep: the least latency, for threads pinned to cores of their
  /// own. Two spinning threads that share one core slow each other down
  /// badly; choose adaptive there.
  spin,
};

}  // namespace spindle

namespace spindle::detail::channel {

class Backoff {
 public:
  Backoff() noexcept = default;
  /// A Backoff whose snooze() follows `policy`.
  explicit Backoff(WaitPolicy policy) noexcept
      : spin_steps_(policy == WaitPolicy::park ? 0 : spin_steps),
        yield_steps_(policy == WaitPolicy::adaptive ? yield_steps : 0),
        sleeps_(policy != WaitPolicy::spin) {}

  /// False under WaitPolicy::spin: when snooze() says to stop spinning, the
  /// caller looks at everything it waits for (a disconnect, a deadline),
  /// calls reset() and spins again instead of sleeping.
  [[nodiscard]] bool sleeps() const noexcept { return sleeps_; }
  Backoff(const Backoff&) = delete;
  Backoff& operator=(const Backoff&) = delete;
  ~Backoff() {
    if (snoozed_) {  // most waits never snooze: no call for them
      record_outcome();
    }
  }

  /// Waits a little before the caller re-checks its condition after a
  /// failed CAS or a slot another thread is in the middle of writing: a few
  /// pauses, growing; after that, yields, in case that thread lost its CPU
  /// midway.
  SPINDLE_ALWAYS_INLINE void spin() noexcept {
    if (step_ < pause_steps) {
      pause(step_);
      ++step_;
    } else {
      yield_thread();
    }
  }

  /// A bounded wait on another thread's write, for a caller that may give
  /// up on it (try_recv; a receive at its deadline): waits as spin() does
  /// and returns true until the pause steps and a few yields are used up,
  /// then returns false.
  SPINDLE_ALWAYS_INLINE bool spin_bounded() noexcept {
    if (step_ >= pause_steps + grace_yields) {
      return false;
    }
    if (step_ < pause_steps) {
      pause(step_);
    } else {
      yield_thread();
    }
    ++step_;
    return true;
  }

  /// One waiting step before the caller re-checks. Returns false once the
  /// caller should stop spinning and park.
  SPINDLE_ALWAYS_INLINE bool snooze() noexcept {
    snoozed_ = sleeps_;
    if (step_ < spin_steps_) {
      cpu_relax();
    } else if (step_ < spin_steps_ + yield_steps_ && (!keep_streak || yield_streak() < max_yield_streak)) {
      yield_thread();
    } else {
      parked_ = true;
      return false;
    }
    ++step_;
    return true;
  }

  /// Starts the spin phase again (after the caller parked and woke).
  void reset() noexcept { step_ = 0; }

 private:
  static constexpr std::uint32_t spin_steps = SPINDLE_CHANNEL_SPIN_STEPS;
  // spin(): growing runs of pauses (1, 2, 4, 8, then 16), before it yields.
  static constexpr std::uint32_t pause_steps = 8;
  // spin_bounded(): yields after the pauses, before it gives up.
  static constexpr std::uint32_t grace_yields = 16;

  static void pause(std::uint32_t step) noexcept {
    for (std::uint32_t i = 0, n = 1U << (step < 4 ? step : 4); i < n; ++i) {
      cpu_relax();
    }
  }
  static constexpr std::uint32_t yield_steps = SPINDLE_CHANNEL_YIELD_STEPS;

  // Waits that ended while yielding, in a row, on this thread. A wait that
  // yields its way to success means the other side runs on this thread's
  // CPU: yielding then hands the CPU back and forth for ever, while the
  // other CPU idles. After a few such waits the thread parks instead of
  // yielding: the other side's wake-up lets the scheduler put this thread
  // on an idle CPU, and the next waits succeed while spinning.
  static constexpr std::uint32_t max_yield_streak = 4;

  // Under the model checker every model thread is a fiber of one OS thread,
  // so a thread_local streak would be shared by all of them and carried
  // from one explored execution to the next: the checker would replay a
  // different program from the one it recorded. The streak only tunes
  // performance, so the models run without it.
#ifdef SPINDLE_MODEL_CHECK
  static constexpr bool keep_streak = false;
#else
  static constexpr bool keep_streak = true;
#endif

  static std::uint32_t& yield_streak() noexcept {
    thread_local std::uint32_t streak = 0;
    return streak;
  }

  void record_outcome() noexcept {
    if (!keep_streak) {
      return;
    }
    std::uint32_t& streak = yield_streak();
    if (!parked_ && step_ > spin_steps_) {
      streak += streak < max_yield_streak ? 1 : 0;
    } else {
      streak = 0;
    }
  }

  std::uint32_t step_ = 0;
  std::uint32_t spin_steps_ = spin_steps;
  std::uint32_t yield_steps_ = yield_steps;
  bool sleeps_ = true;  // false: WaitPolicy::spin
  bool snoozed_ = false;
  bool parked_ = false;
};

}  // namespace spindle::detail::channel
