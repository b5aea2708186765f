// SPDX-License-Identifier: MIT
#pragma once

// What an endpoint holds: one pointer to its Link, the halves of the
// session's two channels it owns, so that a step, which moves the pointer
// into the next endpoint, costs a pointer's copy.

#include <utility>

#include "spindle/detail/poison.hpp"

namespace spindle::session::detail {

// Which thread is running: the address of a thread-local, distinct for
// every thread alive.
inline const void* this_thread_token() noexcept {
  static thread_local const char token = 0;
  return &token;
}

// What an endpoint owns: its halves of the session's two channels, and how
// many exceptions were in flight in the thread that made the session (or
// received the endpoint through a session) when it did: an endpoint
// destroyed there while more are in flight is destroyed by unwinding, not
// abandoned. In any other thread, by any exception in flight.
template <class Sender, class Receiver>
struct Link {
  Link(Sender&& sender, Receiver&& receiver, int base, const void* thread) noexcept
      : tx(std::move(sender)), rx(std::move(receiver)), unwind_base(base), base_thread(thread) {}

  Sender tx;
  Receiver rx;
  int unwind_base;
  const void* base_thread;

  [[nodiscard]] bool unwinding() const noexcept {
    const int base = base_thread == this_thread_token() ? unwind_base : 0;
    return spindle::detail::uncaught_exceptions() > base;
  }
};

}  // namespace spindle::session::detail
