// SPDX-License-Identifier: MIT
#pragma once

// Turning user timeouts into deadlines without overflow.

#include <chrono>
#include <optional>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

/// Every wait in spindle measures time on this clock.
using Clock = std::chrono::steady_clock;

/// A point in time to give up waiting at; std::nullopt waits forever.
using Deadline = std::optional<Clock::time_point>;

/// The deadline `timeout` from now. A timeout too long to represent (even
/// duration::max() of any representation) saturates to "never"; zero,
/// negative and NaN timeouts give a deadline that has already passed.
template <class Rep, class Period>
[[nodiscard]] Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
  const Clock::time_point now = Clock::now();
  if (!(timeout > std::chrono::duration<Rep, Period>::zero())) {
    return now;
  }
  // Compare in long double so that neither side overflows while converting:
  // the headroom is at most ~292 years of nanoseconds, well inside its range.
  const Clock::duration headroom = Clock::time_point::max() - now;
  if (std::chrono::duration<long double>(timeout) >= std::chrono::duration<long double>(headroom)) {
    return std::nullopt;
  }
  // Round up so a wait never ends before the requested time has passed.
  return now + std::chrono::ceil<Clock::duration>(timeout);
}

/// True once `deadline` has passed; never for "forever".
[[nodiscard]] inline bool expired(const Deadline& deadline) noexcept {
  return deadline.has_value() && Clock::now() >= *deadline;
}

}  // namespace spindle::detail
