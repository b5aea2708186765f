// SPDX-License-Identifier: MIT
#pragma once

// The three flavours of spindle::mpsc channel as types for TEMPLATE_TEST_CASE,
// and small helpers the mpsc tests share.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <spindle/mpsc.hpp>

namespace spindle::test {

/// channel<T>(): never full.
struct Unbounded {
  static constexpr std::size_t capacity = std::numeric_limits<std::size_t>::max();
  static constexpr const char* name = "channel()";  // for messages
  template <class T>
  static auto make() {
    return spindle::mpsc::channel<T>();
  }
};

/// sync_channel<T>(4): a small ring.
struct Bounded {
  static constexpr std::size_t capacity = 4;
  static constexpr const char* name = "sync_channel(4)";  // for messages
  template <class T>
  static auto make() {
    return spindle::mpsc::sync_channel<T>(capacity);
  }
};

/// sync_channel<T>(1): the tightest buffer, where senders block most.
struct Bounded1 {
  static constexpr std::size_t capacity = 1;
  static constexpr const char* name = "sync_channel(1)";  // for messages
  template <class T>
  static auto make() {
    return spindle::mpsc::sync_channel<T>(capacity);
  }
};

/// sync_channel<T>(0): every send waits for its receive.
struct Rendezvous {
  static constexpr std::size_t capacity = 0;
  static constexpr const char* name = "sync_channel(0)";  // for messages
  template <class T>
  static auto make() {
    return spindle::mpsc::sync_channel<T>(0);
  }
};

/// True for the flavours that hold messages nobody is receiving yet, so a
/// test may send and then receive on one thread.
template <class F>
inline constexpr bool buffered = F::capacity > 0;

/// The sending half a flavour makes for T: Sender<T> or SyncSender<T>.
template <class F, class T>
using TxOf = typename decltype(F::template make<T>())::first_type;

/// True when the flavour's sender has try_send (the sync flavours).
template <class F>
inline constexpr bool has_try_send = std::is_same_v<TxOf<F, int>, spindle::mpsc::SyncSender<int>>;

/// How many messages a single thread can send without a receiver: all of a
/// bounded buffer, `cap` of an unbounded one, none of a rendezvous.
template <class F>
constexpr std::size_t sendable_alone(std::size_t cap) {
  return F::capacity < cap ? F::capacity : cap;
}

/// Rust's drop(): destroys `x` (a handle, a message) now.
template <class X>
void drop(X&& x) {
  [[maybe_unused]] std::remove_cvref_t<X> gone(std::forward<X>(x));
}

/// The time since `start`, on the clock the channels wait on.
inline std::chrono::steady_clock::duration since(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start;
}

}  // namespace spindle::test
