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
#include <thread>

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

namespace spindle::detail::channel {

class Backoff {
 public:
  /// Waits a little before the caller re-checks its condition after a
  /// failed CAS or a slot another thread is in the middle of writing: a few
  /// pauses, growing; after that, yields, in case that thread lost its CPU
  /// midway.
  void spin() noexcept {
    if (step_ < 8) {
      for (std::uint32_t i = 0, n = 1U << (step_ < 4 ? step_ : 4); i < n; ++i) {
        cpu_relax();
      }
      ++step_;
    } else {
      std::this_thread::yield();
    }
  }

  /// One waiting step before the caller re-checks. Returns false once the
  /// caller should stop spinning and park.
  bool snooze() noexcept {
    if (step_ < spin_steps) {
      cpu_relax();
    } else if (step_ < spin_steps + yield_steps) {
      std::this_thread::yield();
    } else {
      return false;
    }
    ++step_;
    return true;
  }

  void reset() noexcept { step_ = 0; }

 private:
  static constexpr std::uint32_t spin_steps = SPINDLE_CHANNEL_SPIN_STEPS;
  static constexpr std::uint32_t yield_steps = SPINDLE_CHANNEL_YIELD_STEPS;
  std::uint32_t step_ = 0;
};

}  // namespace spindle::detail::channel
