// SPDX-License-Identifier: MIT
#pragma once

// What std::this_thread and std::thread::hardware_concurrency give, straight
// from the OS on Linux, so that a header needing only these does not pay
// for <thread> (std::thread, std::jthread, stop tokens, semaphores).
// Elsewhere, <thread> itself.

#include <cstdint>

#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

#if defined(__linux__)
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#else
#include <thread>
#endif

namespace spindle::detail::this_thread {

/// Offers the rest of the calling thread's time slice to other threads.
inline void yield() noexcept {
#if defined(__linux__)
  (void)::sched_yield();  // never fails on Linux
#else
  std::this_thread::yield();
#endif
}

/// Sleeps until `deadline` has passed (at once for one already passed);
/// `forever` sleeps for good.
inline void sleep_until(Deadline deadline) noexcept {
#if defined(__linux__)
  // steady_clock is CLOCK_MONOTONIC on Linux (as park.hpp relies on too):
  // an absolute sleep on it needs no re-computation after a signal.
  const auto since_epoch = deadline.time_since_epoch();
  if (since_epoch.count() <= 0) {
    return;
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  timespec at{};
  // (`forever` is some 292 years from boot; a 32-bit time_t stops at 2038.)
  constexpr std::int64_t max_secs = sizeof(time_t) >= sizeof(std::int64_t) ? INT64_MAX : INT32_MAX;
  at.tv_sec = static_cast<time_t>(secs.count() < max_secs ? secs.count() : max_secs);
  at.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
  }
#else
  if (deadline == forever) {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::hours(24));
    }
  }
  std::this_thread::sleep_until(deadline);
#endif
}

/// The number of CPUs online, as std::thread::hardware_concurrency(): 0
/// when unknown.
inline unsigned hardware_concurrency() noexcept {
#if defined(__linux__)
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 0;
#else
  return std::thread::hardware_concurrency();
#endif
}

}  // namespace spindle::detail::this_thread
