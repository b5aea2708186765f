// SPDX-License-Identifier: MIT
#pragma once

// A one-word futex mutex, the algorithm of Rust's std Mutex on Linux:
//   0 unlocked, 1 locked, 2 locked and maybe someone sleeps.
// lock: CAS 0 -> 1; failing that, spin a little while it stays locked, then
// swap in 2 and sleep while the word is 2. unlock: swap in 0 and wake one
// sleeper if the old value was 2. A woken thread takes the lock with 2, so
// the others still asleep are woken in turn.

#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/thread_safety.hpp"

namespace spindle::detail::sync {

// The order of the lock's acquiring CAS (M1). Only the relacy test that
// proves a model can fail weakens it, through this test-only switch.
#if defined(SPINDLE_TEST_WEAKEN_MUTEX_ACQUIRE)
inline constexpr std::memory_order mutex_acquire = std::memory_order::relaxed;
#else
inline constexpr std::memory_order mutex_acquire = std::memory_order::acquire;
#endif

/// `Yields`: how many times a contended lock yields its CPU, after it has
/// spun and before it sleeps, taking the lock as soon as it is free (and
/// going to sleep at once when others already sleep). 0 for the locks of
/// spindle::sync (as Rust's);
/// a lock whose holders keep it for a few instructions among more threads
/// than cores (the mpmc channel's) yields, so that a holder that lost its
/// CPU gets it back without a futex wait and wake on every hand-over.
template <unsigned Yields>
class SPINDLE_CAPABILITY("mutex") BasicRawMutex {
 public:
  BasicRawMutex() = default;
  BasicRawMutex(const BasicRawMutex&) = delete;
  BasicRawMutex& operator=(const BasicRawMutex&) = delete;

  void lock() noexcept SPINDLE_ACQUIRE() {
    std::uint32_t expected = unlocked;
    // acquire (M1): pairs with release (M2) of the previous holder.
    if (!state_.compare_exchange_strong(expected, locked, mutex_acquire, std::memory_order::relaxed)) {
      lock_contended();
    }
  }

  [[nodiscard]] bool try_lock() noexcept SPINDLE_TRY_ACQUIRE(true) {
    std::uint32_t expected = unlocked;
    // acquire: as (M1).
    return state_.compare_exchange_strong(expected, locked, std::memory_order::acquire, std::memory_order::relaxed);
  }

  /// For clang's thread-safety analysis only: the caller holds the lock
  /// (a guard does, wherever it has moved). Checks nothing at run time.
  void assert_held() const noexcept SPINDLE_ASSERT_CAPABILITY(this) {}

  // A hint only: whether some thread held the lock a moment ago.
  [[nodiscard]] bool is_locked() const noexcept { return state_.load(std::memory_order::relaxed) != unlocked; }

  void unlock() noexcept SPINDLE_RELEASE() {
    // release (M2): publishes the critical section to the next holder.
    if (state_.exchange(unlocked, std::memory_order::release) == contended) {
      park::wake_one(state_);
    }
  }

 private:
  static constexpr std::uint32_t unlocked = 0;
  static constexpr std::uint32_t locked = 1;
  static constexpr std::uint32_t contended = 2;

  void lock_contended() noexcept {
    if constexpr (Yields > 0) {
      if (spin_and_yield()) {
        return;
      }
    }
    std::uint32_t state = spin();
    if (state == unlocked) {
      std::uint32_t expected = unlocked;
      if (state_.compare_exchange_strong(expected, locked, std::memory_order::acquire, std::memory_order::relaxed)) {
        return;
      }
      state = expected;
    }
    for (;;) {
      // Mark the lock contended: whoever unlocks will wake a sleeper. If it
      // was unlocked, we hold it now (as contended, to be safe for others).
      // acquire: as (M1).
      if (state != contended && state_.exchange(contended, std::memory_order::acquire) == unlocked) {
        return;
      }
      park::wait(state_, contended, forever);
      state = spin();
    }
  }

  // Spins while the lock is held and nobody sleeps; returns the last state.
  std::uint32_t spin() noexcept {
    for (unsigned i = 0; i < spin_limit(100); ++i) {
      // relaxed: only a hint; the CAS or exchange that follows decides.
      const std::uint32_t state = state_.load(std::memory_order::relaxed);
      if (state != locked) {
        return state;
      }
      cpu_relax();
    }
    return state_.load(std::memory_order::relaxed);
  }

  // The yielding lock's first try: spins, then yields, taking the lock
  // whenever it is free, until someone sleeps or the budget is spent.
  bool spin_and_yield() noexcept {
    for (unsigned i = 0; i < spin_limit(64) + spin_limit(Yields); ++i) {
      // relaxed: a hint; the CAS decides.
      std::uint32_t state = state_.load(std::memory_order::relaxed);
      if (state == unlocked) {
        // acquire: as (M1).
        if (state_.compare_exchange_weak(state, locked, std::memory_order::acquire, std::memory_order::relaxed)) {
          return true;
        }
        continue;
      }
      if (state == contended) {
        return false;  // others sleep: queue behind them
      }
      if (i < spin_limit(64)) {
        cpu_relax();
      } else {
        yield_thread();
      }
    }
    return false;
  }

  park::Word state_{unlocked};
};

using RawMutex = BasicRawMutex<0>;
using YieldingRawMutex = BasicRawMutex<16>;

/// Holds a RawMutex while it lives (std::lock_guard for a RawMutex).
template <unsigned Yields>
class SPINDLE_SCOPED_CAPABILITY BasicRawMutexLock {
 public:
  explicit BasicRawMutexLock(BasicRawMutex<Yields>& mutex) noexcept SPINDLE_ACQUIRE(mutex) : mutex_(mutex) {
    mutex_.lock();
  }
  BasicRawMutexLock(const BasicRawMutexLock&) = delete;
  BasicRawMutexLock& operator=(const BasicRawMutexLock&) = delete;
  ~BasicRawMutexLock() SPINDLE_RELEASE() { mutex_.unlock(); }

 private:
  BasicRawMutex<Yields>& mutex_;
};

using RawMutexLock = BasicRawMutexLock<0>;

}  // namespace spindle::detail::sync
