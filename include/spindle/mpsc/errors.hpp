// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// The errors of spindle::mpsc, as Rust's std::sync::mpsc has them. A failed
/// send hands its value back inside the error; every error prints readably
/// (what() or operator<<).

#include <ostream>
#include <string_view>
#include <utility>

#include "spindle/detail/config.hpp"

namespace spindle::mpsc {

/// send() failed because the receiver is gone. The value that could not be
/// sent is handed back: `value`, or into_inner().
template <class T>
class SendError {
 public:
  explicit SendError(T v) : value(std::move(v)) {}

  /// The message that was not sent.
  T value;

  /// Takes the message back.
  [[nodiscard]] T into_inner() && { return std::move(value); }

  [[nodiscard]] static constexpr const char* what() noexcept { return "sending on a closed channel"; }
  friend std::ostream& operator<<(std::ostream& os, const SendError&) { return os << what(); }
};

/// try_send() failed: the channel was full (or, for a rendezvous channel, no
/// receiver was waiting), or the receiver is gone. The value is handed back.
template <class T>
class TrySendError {
 public:
  enum Kind {
    /// The buffer is full, or no receiver waits on a rendezvous channel.
    Full,
    /// The receiver is gone.
    Disconnected,
  };

  TrySendError(Kind kind, T v) : value(std::move(v)), kind_(kind) {}

  /// The message that was not sent.
  T value;

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_full() const noexcept { return kind_ == Full; }
  [[nodiscard]] bool is_disconnected() const noexcept { return kind_ == Disconnected; }

  /// Takes the message back.
  [[nodiscard]] T into_inner() && { return std::move(value); }

  [[nodiscard]] const char* what() const noexcept {
    return kind_ == Full ? "sending on a full channel" : "sending on a closed channel";
  }
  friend std::ostream& operator<<(std::ostream& os, const TrySendError& e) { return os << e.what(); }

 private:
  Kind kind_;
};

/// send_timeout() or send_deadline() failed: the time was up before the
/// channel had room (or, for a rendezvous channel, before a receiver took
/// the message), or the receiver is gone. The value is handed back.
template <class T>
class SendTimeoutError {
 public:
  enum Kind {
    /// The deadline passed first.
    Timeout,
    /// The receiver is gone.
    Disconnected,
  };

  SendTimeoutError(Kind kind, T v) : value(std::move(v)), kind_(kind) {}

  /// The message that was not sent.
  T value;

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_timeout() const noexcept { return kind_ == Timeout; }
  [[nodiscard]] bool is_disconnected() const noexcept { return kind_ == Disconnected; }

  /// Takes the message back.
  [[nodiscard]] T into_inner() && { return std::move(value); }

  [[nodiscard]] const char* what() const noexcept {
    return kind_ == Timeout ? "timed out waiting on send operation" : "sending on a closed channel";
  }
  friend std::ostream& operator<<(std::ostream& os, const SendTimeoutError& e) { return os << e.what(); }

 private:
  Kind kind_;
};

/// recv() failed: every sender is gone and nothing is left in the channel.
struct RecvError {
  [[nodiscard]] static constexpr const char* what() noexcept { return "receiving on a closed channel"; }
  friend constexpr bool operator==(RecvError, RecvError) noexcept { return true; }
  friend std::ostream& operator<<(std::ostream& os, RecvError) { return os << what(); }
};

/// Why try_recv() returned no message.
enum class TryRecvError {
  /// Nothing is ready now; senders remain.
  Empty,
  /// Every sender is gone and nothing is left.
  Disconnected,
};

inline std::ostream& operator<<(std::ostream& os, TryRecvError e) {
  return os << (e == TryRecvError::Empty ? "receiving on an empty channel" : "receiving on a closed channel");
}

/// Why recv_timeout() or recv_deadline() returned no message.
enum class RecvTimeoutError {
  /// The time ran out; senders remain.
  Timeout,
  /// Every sender is gone and nothing is left.
  Disconnected,
};

inline std::ostream& operator<<(std::ostream& os, RecvTimeoutError e) {
  return os << (e == RecvTimeoutError::Timeout ? "timed out waiting on channel"
                                               : "channel is empty and sending half is closed");
}

/// try_select(): no operation could proceed now.
struct TrySelectError {
  [[nodiscard]] static constexpr const char* what() noexcept { return "no operation could proceed now"; }
  friend constexpr bool operator==(TrySelectError, TrySelectError) noexcept { return true; }
  friend std::ostream& operator<<(std::ostream& os, TrySelectError) { return os << what(); }
};

/// select_timeout() or select_deadline(): no operation could proceed in time.
struct SelectTimeoutError {
  [[nodiscard]] static constexpr const char* what() noexcept { return "timed out waiting on the operations"; }
  friend constexpr bool operator==(SelectTimeoutError, SelectTimeoutError) noexcept { return true; }
  friend std::ostream& operator<<(std::ostream& os, SelectTimeoutError) { return os << what(); }
};

/// try_ready(): no operation looked ready now.
struct TryReadyError {
  [[nodiscard]] static constexpr const char* what() noexcept { return "no operation is ready now"; }
  friend constexpr bool operator==(TryReadyError, TryReadyError) noexcept { return true; }
  friend std::ostream& operator<<(std::ostream& os, TryReadyError) { return os << what(); }
};

/// ready_timeout() or ready_deadline(): no operation looked ready in time.
struct ReadyTimeoutError {
  [[nodiscard]] static constexpr const char* what() noexcept { return "timed out waiting for a ready operation"; }
  friend constexpr bool operator==(ReadyTimeoutError, ReadyTimeoutError) noexcept { return true; }
  friend std::ostream& operator<<(std::ostream& os, ReadyTimeoutError) { return os << what(); }
};

}  // namespace spindle::mpsc
