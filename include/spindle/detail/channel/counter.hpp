// SPDX-License-Identifier: MIT
#pragma once

// Who keeps a channel alive: its senders (counted) and its one receiver.
// The last sender to go disconnects the senders' side; the receiver going
// disconnects the other side; whichever side goes last frees the channel.

#include <cstddef>
#include <new>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"

namespace spindle::detail::channel {

template <class Chan>
class Counter {
 public:
  template <class... Args>
  explicit Counter(Args&&... args) : chan_(std::forward<Args>(args)...) {}

  Chan& chan() noexcept { return chan_; }

  /// A new sender (Rust's Sender::clone).
  void acquire_sender() noexcept {
    // relaxed: the copier already holds a sender, so the count is above zero
    // and cannot reach it concurrently; nothing is published.
    senders_.fetch_add(1, std::memory_order::relaxed);
  }

  /// A sender goes. The last one disconnects the senders' side.
  void release_sender() noexcept {
    // acq_rel: the last sender must see every other sender's sends before it
    // disconnects, and its own sends must precede the disconnect (release).
    if (senders_.fetch_sub(1, std::memory_order::acq_rel) == 1) {
      chan_.disconnect_senders();
      finish_side();
    }
  }

  /// The receiver goes: disconnects the receiver's side.
  void release_receiver() noexcept {
    chan_.disconnect_receiver();
    finish_side();
  }

 private:
  void finish_side() noexcept {
    // acq_rel: the side that frees the channel must see everything the
    // other side did to it before that side let go.
    if (destroy_.exchange(true, std::memory_order::acq_rel)) {
      delete this;
    }
  }

  Chan chan_;
  Atomic<std::size_t> senders_{1};
  Atomic<bool> destroy_{false};
};

}  // namespace spindle::detail::channel
