// SPDX-License-Identifier: MIT
#pragma once

// What the three channel flavours share: their status codes, raw storage for
// one message, and the wait for a message being written.

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

/// How a send ended. On anything but Ok the value was not moved from (or,
/// on a rendezvous channel, comes back through the send's `back`).
enum class SendStatus : std::uint8_t { Ok, Full, Disconnected, Timeout };

/// How waiting for a message ended.
enum class RecvStatus : std::uint8_t { Ready, Empty, Disconnected, Timeout };

/// Whether an operation may block.
enum class Mode : std::uint8_t { Try, Block };

/// A flavour's capacity() when it has no bound (the list).
inline constexpr std::size_t no_bound = static_cast<std::size_t>(-1);

/// A send that a select has started (its slot, or its receiver, claimed)
/// but not completed yet.
struct SendClaim {
  void* slot = nullptr;        // the array flavour's claimed slot
  std::uint64_t pos = 0;       // and its position
  bool wake_receiver = false;  // the claim took the receiver's sleep flag
};

/// Uninitialised room for one T, constructed and destroyed by hand.
template <class T>
// cppcheck-suppress noConstructor ; uninitialised on purpose: construct() fills it
class Storage {
 public:
  template <class U>
  void construct(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(bytes_)) T(std::forward<U>(value));
  }
  T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes_)); }
  void destroy() noexcept { get()->~T(); }

 private:
  alignas(T) unsigned char bytes_[sizeof(T)];
};

/// The receiver found its next message claimed by a sender that is still
/// writing it: waits one step, yielding in case that sender lost its CPU,
/// and returns true to look again. A blocking receive waits until its
/// deadline; try_recv and a receive whose deadline has passed wait only a
/// short grace, then get false: the message is not sent until its send
/// returns, so they report Empty or Timeout.
inline bool wait_for_write(Mode mode, Deadline deadline, Backoff& writing) noexcept {
  if (mode == Mode::Block && !expired(deadline)) {
    writing.spin();
    return true;
  }
  return writing.spin_bounded();
}

}  // namespace spindle::detail::channel
