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

class SPINDLE_CAPABILITY("mutex") RawMutex {
 public:
  RawMutex() = default;
  RawMutex(const RawMutex&) = delete;
  RawMutex& operator=(const RawMutex&) = delete;

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

  park::Word state_{unlocked};
};

/// Holds a RawMutex while it lives (std::lock_guard for a RawMutex).
class SPINDLE_SCOPED_CAPABILITY RawMutexLock {
 public:
  explicit RawMutexLock(RawMutex& mutex) noexcept SPINDLE_ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  RawMutexLock(const RawMutexLock&) = delete;
  RawMutexLock& operator=(const RawMutexLock&) = delete;
  ~RawMutexLock() SPINDLE_RELEASE() { mutex_.unlock(); }

 private:
  RawMutex& mutex_;
};

}  // namespace spindle::detail::sync
