// SPDX-License-Identifier: MIT
#pragma once

// The parking seam: the one place where a spindle thread goes to sleep.
//
// wait(word, expected, deadline) blocks while `word` still holds `expected`,
// until wake_one/wake_all is called on the same word, the deadline passes, or
// for no reason at all (spurious wake-ups are allowed, so every caller
// re-checks its condition in a loop). Because the check and the sleep are one
// atomic step, a wake that follows a change of `word` is never lost.
//
// Linux: the futex system call on the word itself. Elsewhere (or with
// SPINDLE_PORTABLE_PARKING): a fixed table of mutex + condition-variable
// buckets chosen by the word's address, the way parking_lot and the C++
// library's own atomic waits hash addresses to wait queues.

#include <atomic>
#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

#if defined(SPINDLE_MODEL_CHECK)
// The checker's own blocking (see atomic.hpp).
#elif SPINDLE_HAS_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#else
#include <condition_variable>
#include <functional>
#include <mutex>
#endif

namespace spindle::detail::park {

/// The type of every word a thread can park on.
using Word = Atomic<std::uint32_t>;

#if defined(SPINDLE_MODEL_CHECK)

// The checker may also end any wait at once, spuriously, as a signal does:
// every caller's loop is explored against that too.
inline void wait(Word& word, std::uint32_t expected, Deadline deadline) noexcept {
  model::park_wait(word, expected, deadline != forever);
}
inline void wake_one(Word& word) noexcept { model::park_wake(word, false); }
inline void wake_all(Word& word) noexcept { model::park_wake(word, true); }

#elif SPINDLE_HAS_FUTEX

static_assert(sizeof(Word) == sizeof(std::uint32_t) && Word::is_always_lock_free,
              "parking needs a lock-free 32-bit atomic with the layout of a plain uint32_t");

namespace sys {
inline long futex(Word& word, int op, std::uint32_t value, const timespec* timeout, std::uint32_t bitset) noexcept {
  // The kernel reads the word's 32 bits directly; the static_assert above
  // guarantees the atomic is exactly those bits.
#if defined(SYS_futex_time64)
  // 32-bit targets with a 64-bit time_t need the call that reads a 64-bit timespec.
  if constexpr (sizeof(timeout->tv_sec) > sizeof(long)) {
    return ::syscall(SYS_futex_time64, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, bitset);
  }
#endif
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, bitset);
}
}  // namespace sys

inline void wait(Word& word, std::uint32_t expected, Deadline deadline) noexcept {
  timespec abs{};
  const timespec* timeout = nullptr;
  if (deadline != forever) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, the clock
    // behind std::chrono::steady_clock on Linux, so a deadline needs no
    // re-computation after a spurious wake-up.
    const auto since_epoch = deadline.time_since_epoch();
    if (since_epoch.count() < 0) {
      return;  // Before the clock's epoch: long expired.
    }
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    abs.tv_sec = static_cast<time_t>(secs.count());
    abs.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    timeout = &abs;
  }
  // Returns at once with EAGAIN when the word no longer holds `expected`,
  // with ETIMEDOUT at the deadline, and with EINTR on a signal: all are
  // ordinary spurious returns for the caller's loop.
  sys::futex(word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, timeout, FUTEX_BITSET_MATCH_ANY);
}

inline void wake_one(Word& word) noexcept { sys::futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, 0); }

inline void wake_all(Word& word) noexcept {
  sys::futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, static_cast<std::uint32_t>(INT32_MAX), nullptr, 0);
}

#else  // portable fallback

static_assert(Word::is_always_lock_free, "parking needs a lock-free 32-bit atomic");

namespace table {
struct Bucket {
  std::mutex mutex;
  std::condition_variable cond;
};

inline Bucket& bucket_for(const Word& word) noexcept {
  // Never destroyed: detached threads may still wake a word while the
  // process runs its static destructors.
  static Bucket* const buckets = new Bucket[64];
  const auto addr = reinterpret_cast<std::uintptr_t>(&word);
  // Words are at least 4-byte aligned; mix the higher bits in so neighbouring
  // words in one object spread over the table.
  return buckets[((addr >> 2) ^ (addr >> 8)) % 64];
}
}  // namespace table

inline void wait(Word& word, std::uint32_t expected, Deadline deadline) noexcept {
  table::Bucket& bucket = table::bucket_for(word);
  std::unique_lock<std::mutex> lock(bucket.mutex);
  // seq_cst: the waker changes the word and then takes this bucket's mutex,
  // so under the mutex this load sees its change or the waker's notify
  // comes after we sleep; the mutex alone orders the two.
  if (word.load(std::memory_order::seq_cst) != expected) {
    return;
  }
  if (deadline != forever) {
    bucket.cond.wait_until(lock, deadline);
  } else {
    bucket.cond.wait(lock);
  }
}

inline void wake_all(Word& word) noexcept {
  table::Bucket& bucket = table::bucket_for(word);
  {
    // Taking the mutex orders this wake after any waiter's check-then-sleep.
    std::lock_guard<std::mutex> lock(bucket.mutex);
  }
  // Several words share a bucket, so every sleeper in it is woken; the ones
  // not meant see a spurious wake-up and sleep again.
  bucket.cond.notify_all();
}

inline void wake_one(Word& word) noexcept { wake_all(word); }

#endif

}  // namespace spindle::detail::park
