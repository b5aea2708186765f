// SPDX-License-Identifier: MIT
#pragma once

// One thread's park/unpark token, as Rust's std keeps for every thread.

#include <atomic>
#include <cstdint>

#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail {

/// A binary token. unpark() makes the token available (at most one is kept);
/// park() waits until it is available and consumes it. Only the owning thread
/// parks; any thread may unpark.
///
/// Everything the unparking thread did before unpark() is visible to the
/// parked thread once park() returns because of that unpark.
class Parker {
 public:
  /// Blocks until the token is available, then consumes it. Never returns
  /// spuriously.
  void park() noexcept {
    if (try_consume_or_announce()) {
      return;
    }
    for (;;) {
      park::wait(state_, parked, forever);
      if (try_take_notification()) {
        return;
      }
    }
  }

  /// As park(), but gives up at `deadline`. Returns true when it consumed
  /// the token, false when the deadline passed first.
  bool park_until(Deadline deadline) noexcept {
    if (try_consume_or_announce()) {
      return true;
    }
    for (;;) {
      park::wait(state_, parked, deadline);
      if (try_take_notification()) {
        return true;
      }
      if (expired(deadline)) {
        // Withdraw the "parked" announcement. An unpark may have landed
        // between the check above and this exchange: then we take it.
        // acquire (P3): pairs with release (U1) like P1.
        return state_.exchange(empty, std::memory_order::acquire) == notified;
      }
    }
  }

  /// Makes the token available and wakes the owner if it is parked.
  void unpark() noexcept {
    // release (U1): publishes what this thread did before unpark(); pairs
    // with acquire (P1), (P2) or (P3) in the owner.
    if (state_.exchange(notified, std::memory_order::release) == parked) {
      park::wake_one(state_);
    }
  }

 private:
  // The token's state word:
  //   empty    (0)          no token, owner not parked
  //   notified (1)          a token is waiting to be consumed
  //   parked   (UINT32_MAX) owner is parked or about to park, no token
  // Only the owner moves empty -> parked (by decrementing) and back; unpark
  // moves anything to notified.
  static constexpr std::uint32_t empty = 0;
  static constexpr std::uint32_t notified = 1;
  static constexpr std::uint32_t parked = UINT32_MAX;

  // notified -> empty (token consumed, return true) or empty -> parked.
  bool try_consume_or_announce() noexcept {
    // acquire (P1): pairs with release (U1) when the token was there.
    return state_.fetch_sub(1, std::memory_order::acquire) == notified;
  }

  // After a wake-up: notified -> empty if an unpark happened, else stay parked.
  bool try_take_notification() noexcept {
    std::uint32_t expected = notified;
    // acquire (P2): pairs with release (U1). relaxed on failure: the state
    // is still "parked" and we go back to sleep, having learned nothing.
    return state_.compare_exchange_strong(expected, empty, std::memory_order::acquire, std::memory_order::relaxed);
  }

  park::Word state_{empty};
};

}  // namespace spindle::detail
