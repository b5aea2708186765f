// SPDX-License-Identifier: MIT
#pragma once

// Turning user timeouts into deadlines without overflow.

#include <version>

// std::chrono's durations, time points and clocks: all that spindle needs.
// libstdc++ keeps them in <bits/chrono.h>, the part of <chrono> that its own
// <thread>, <mutex> and <condition_variable> include. The whole of <chrono>
// adds the calendar, time zones and their stream I/O: some 15% more than
// <thread> costs to compile (docs/compile-time.md). Other libraries get <chrono>.
#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#include <bits/chrono.h>  // IWYU pragma: export
#else
#include <chrono>  // IWYU pragma: export
#endif

#include "spindle/detail/config.hpp"

namespace spindle::detail {

/// Every wait in spindle measures time on this clock.
using Clock = std::chrono::steady_clock;

/// A point in time to give up waiting at.
using Deadline = Clock::time_point;

/// The deadline that never comes. (A time point rather than an empty
/// std::optional: g++ 12 mistakes reads of a disengaged optional, inlined
/// deep into a wait loop, for uses of uninitialised memory.)
inline constexpr Deadline forever = Deadline::max();

/// `x` rounded up to a whole number (std::ceil without <cmath>). A long
/// double of 2^63 or more has no fraction, nor do infinities; NaN stays NaN.
[[nodiscard]] constexpr long double round_up(long double x) noexcept {
  constexpr long double integral_from = 9223372036854775808.0L;  // 2^63
  if (!(x > -integral_from && x < integral_from)) {
    return x;
  }
  const auto whole = static_cast<long double>(static_cast<long long>(x));  // toward zero
  return whole < x ? whole + 1.0L : whole;
}

/// `timeout` in whole clock ticks, rounded up, computed in long double so
/// that no representation or period can overflow on the way; NaN gives 0.
template <class Rep, class Period>
[[nodiscard]] long double ceil_ticks(std::chrono::duration<Rep, Period> timeout) noexcept {
  const long double ticks = std::chrono::duration<long double, Clock::period>(timeout).count();
  return ticks == ticks ? round_up(ticks) : 0.0L;
}

/// The deadline `timeout` from now. A timeout too long to represent (even
/// duration::max() of any representation) saturates to "never"; zero,
/// negative and NaN timeouts give a deadline that has already passed.
/// Never returns `forever` for a finite timeout.
template <class Rep, class Period>
[[nodiscard]] Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
  const Clock::time_point now = Clock::now();
  const long double ticks = ceil_ticks(timeout);
  if (!(ticks > 0.0L)) {
    return now;
  }
  // Anything within a thousandth of the clock's whole range from now is
  // "never": the margin keeps the conversion exact where long double is only
  // as wide as double.
  const auto headroom = static_cast<long double>((Clock::time_point::max() - now).count());
  if (ticks >= headroom * 0.999L) {
    return forever;
  }
  return now + Clock::duration(static_cast<Clock::rep>(ticks));
}

/// True once `deadline` has passed; never for "forever".
[[nodiscard]] inline bool expired(Deadline deadline) noexcept {
  return deadline != forever && Clock::now() >= deadline;
}

}  // namespace spindle::detail
