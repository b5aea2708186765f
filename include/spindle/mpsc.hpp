// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::mpsc: Rust's std::sync::mpsc for C++. Multi-producer,
/// single-consumer channels in three flavours, chosen at creation:
/// channel<T>() is unbounded, sync_channel<T>(n) holds at most n messages,
/// and sync_channel<T>(0) is a rendezvous where each send waits for its
/// receive.
///
/// Memory ordering: everything a thread did before a send() that succeeded
/// is visible to the thread whose recv() (or try_recv(), ...) returns that
/// message.
///
/// Disconnection: destroying the last Sender/SyncSender disconnects the
/// channel for the receiver, which still receives every message already
/// sent, then gets RecvError. Destroying the Receiver makes every send fail
/// with its value handed back, wakes senders blocked on a full channel (they
/// fail too), and destroys the messages still buffered at once.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "spindle/detail/channel/array.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/counter.hpp"
#include "spindle/detail/channel/list.hpp"
#include "spindle/detail/channel/zero.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/mpsc/errors.hpp"
#include "spindle/result.hpp"

namespace spindle::mpsc {

template <class T>
class Sender;
template <class T>
class SyncSender;
template <class T>
class Receiver;

template <class T>
std::pair<Sender<T>, Receiver<T>> channel();
template <class T>
std::pair<SyncSender<T>, Receiver<T>> sync_channel(std::size_t bound);

namespace detail {

namespace ch = spindle::detail::channel;

enum class Flavor : std::uint8_t { none, list, array, zero };

template <class T>
using ListCounter = ch::Counter<ch::List<T>>;
template <class T>
using ArrayCounter = ch::Counter<ch::Array<T>>;
template <class T>
using ZeroCounter = ch::Counter<ch::Zero<T>>;

[[noreturn]] inline void moved_from(const char* what) {
  throw std::logic_error(std::string("spindle::mpsc: ") + what + " on a moved-from handle");
}

}  // namespace detail

/// The sending half of an unbounded channel. send() never blocks.
///
/// Copy a Sender to add a producer (Rust's Sender::clone); the channel is
/// disconnected for the receiver when the last copy is destroyed. One Sender
/// may be used by several threads at once.
template <class T>
class Sender {
 public:
  Sender(const Sender& other) noexcept : counter_(other.counter_) {
    if (counter_ != nullptr) {
      counter_->acquire_sender();
    }
  }
  Sender(Sender&& other) noexcept : counter_(std::exchange(other.counter_, nullptr)) {}
  Sender& operator=(Sender other) noexcept {
    std::swap(counter_, other.counter_);
    return *this;
  }
  ~Sender() {
    if (counter_ != nullptr) {
      counter_->release_sender();
    }
  }

  /// Sends `value` without blocking. Fails only when the receiver is gone;
  /// the error then holds the value. An Ok does not mean the message will be
  /// received: the receiver may go before it gets to it.
  Result<void, SendError<T>> send(T value) {
    if (counter_ == nullptr) {
      detail::moved_from("send()");
    }
    if (counter_->chan().send(value, spindle::detail::channel::Mode::Block) ==
        spindle::detail::channel::SendStatus::Ok) {
      return Ok();
    }
    return Result<void, SendError<T>>(in_place_err, std::move(value));
  }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>();
  explicit Sender(detail::ListCounter<T>* counter) noexcept : counter_(counter) {}
  detail::ListCounter<T>* counter_;
};

/// The sending half of a bounded or rendezvous channel. send() blocks while
/// the channel is full (on a rendezvous channel, until a receiver takes the
/// message); try_send() never blocks. Copyable and shareable as Sender.
template <class T>
class SyncSender {
 public:
  SyncSender(const SyncSender& other) noexcept : flavor_(other.flavor_), counter_(other.counter_) {
    visit_or_empty([](auto& counter) { counter.acquire_sender(); });
  }
  SyncSender(SyncSender&& other) noexcept
      : flavor_(std::exchange(other.flavor_, detail::Flavor::none)), counter_(std::exchange(other.counter_, nullptr)) {}
  SyncSender& operator=(SyncSender other) noexcept {
    std::swap(flavor_, other.flavor_);
    std::swap(counter_, other.counter_);
    return *this;
  }
  ~SyncSender() {
    if (counter_ != nullptr) {  // a moved-from sender costs one test
      visit_or_empty([](auto& counter) { counter.release_sender(); });
    }
  }

  /// Sends `value`, blocking while the channel is full. On a rendezvous
  /// channel returns once a receiver has taken the message. Fails only when
  /// the receiver is gone (also while blocked); the error holds the value.
  Result<void, SendError<T>> send(T value) {
    T* back = &value;
    if (send_with(value, spindle::detail::channel::Mode::Block, back, "send()") ==
        spindle::detail::channel::SendStatus::Ok) {
      return Ok();
    }
    const HandBack guard{back, &value};
    return Result<void, SendError<T>>(in_place_err, std::move(*back));
  }

  /// Sends `value` only if that needs no waiting: Full when the buffer is
  /// full (on a rendezvous channel: when no receiver is waiting right now),
  /// Disconnected when the receiver is gone. The error holds the value.
  Result<void, TrySendError<T>> try_send(T value) {
    T* back = &value;
    const auto status = send_with(value, spindle::detail::channel::Mode::Try, back, "try_send()");
    if (status == spindle::detail::channel::SendStatus::Ok) {
      return Ok();
    }
    const HandBack guard{back, &value};
    const auto kind =
        status == spindle::detail::channel::SendStatus::Full ? TrySendError<T>::Full : TrySendError<T>::Disconnected;
    return Result<void, TrySendError<T>>(in_place_err, kind, std::move(*back));
  }

 private:
  friend std::pair<SyncSender<T>, Receiver<T>> sync_channel<T>(std::size_t);
  SyncSender(detail::Flavor flavor, void* counter) noexcept : flavor_(flavor), counter_(counter) {}

  spindle::detail::channel::SendStatus send_with(T& value, spindle::detail::channel::Mode mode, T*& back,
                                                 const char* what) {
    return visit([&](auto& counter) { return counter.chan().send(value, mode, back); }, what);
  }

  // A failed send hands back *back: the caller's value, or (rendezvous) the
  // message already moved into the channel, which is destroyed here once
  // moved from.
  struct HandBack {
    T* back;
    T* value;
    HandBack(T* back_, T* value_) noexcept : back(back_), value(value_) {}
    HandBack(const HandBack&) = delete;
    HandBack& operator=(const HandBack&) = delete;
    ~HandBack() {
      if (back != value) {
        std::destroy_at(back);
      }
    }
  };

  // Calls f on the channel's counter; on a moved-from sender throws naming
  // `operation`.
  template <class F>
  decltype(auto) visit(F&& f, const char* operation) const {
    switch (flavor_) {
      case detail::Flavor::array:
        return f(*static_cast<detail::ArrayCounter<T>*>(counter_));
      case detail::Flavor::zero:
        return f(*static_cast<detail::ZeroCounter<T>*>(counter_));
      default:
        detail::moved_from(operation);
    }
  }

  // Calls f on the channel's counter; on a moved-from sender does nothing.
  // What the copy and the destructor need: neither may throw.
  template <class F>
  void visit_or_empty(F&& f) const noexcept {
    switch (flavor_) {
      case detail::Flavor::array:
        return f(*static_cast<detail::ArrayCounter<T>*>(counter_));
      case detail::Flavor::zero:
        return f(*static_cast<detail::ZeroCounter<T>*>(counter_));
      default:
        return;
    }
  }

  detail::Flavor flavor_;
  void* counter_;
};

/// The receiving half of a channel of any flavour. Move-only: there is one
/// receiver per channel. Not for use by two threads at once (as Rust's
/// Receiver is not Sync); it may be moved to another thread.
template <class T>
class Receiver {
 public:
  Receiver(Receiver&& other) noexcept
      : flavor_(std::exchange(other.flavor_, detail::Flavor::none)), counter_(std::exchange(other.counter_, nullptr)) {}
  Receiver& operator=(Receiver&& other) noexcept {
    // cppcheck-suppress accessMoved ; false positive (cppcheck 2.10): it reports the move itself
    Receiver(std::move(other)).swap(*this);
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  /// Disconnects: later sends fail, and the messages still buffered are
  /// destroyed now.
  ~Receiver() {
    if (counter_ != nullptr) {  // a moved-from receiver costs one test
      visit_or_empty([](auto& counter) { counter.release_receiver(); });
    }
  }

  /// Blocks until a message arrives and returns it; RecvError once every
  /// sender is gone and nothing is left.
  Result<T, RecvError> recv() {
    return receive<RecvError>(spindle::detail::channel::Mode::Block, spindle::detail::forever);
  }

  /// Returns a message if one is ready now: Empty if none is (on a
  /// rendezvous channel: if no sender is blocked in send()), Disconnected if
  /// every sender is gone and nothing is left.
  Result<T, TryRecvError> try_recv() {
    return receive<TryRecvError>(spindle::detail::channel::Mode::Try, spindle::detail::forever);
  }

  /// As recv(), but gives up after `timeout` with RecvTimeoutError::Timeout.
  /// Any timeout works, even duration::max().
  template <class Rep, class Period>
  Result<T, RecvTimeoutError> recv_timeout(std::chrono::duration<Rep, Period> timeout) {
    return receive<RecvTimeoutError>(spindle::detail::channel::Mode::Block, spindle::detail::deadline_after(timeout));
  }

  /// As recv(), but gives up at `deadline` with RecvTimeoutError::Timeout.
  Result<T, RecvTimeoutError> recv_deadline(std::chrono::steady_clock::time_point deadline) {
    return receive<RecvTimeoutError>(spindle::detail::channel::Mode::Block, deadline);
  }

  /// Iterates by blocking for each message; ends once the channel is
  /// disconnected and drained. `for (T msg : rx)` is Rust's `for msg in rx`.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    Iterator() = default;
    T& operator*() const { return *current_; }
    T* operator->() const { return &*current_; }
    Iterator& operator++() {
      next();
      return *this;
    }
    void operator++(int) { next(); }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) noexcept { return !it.current_; }

   private:
    friend class Receiver;
    Iterator(Receiver* rx, bool blocking) : rx_(rx), blocking_(blocking) { next(); }
    void next() {
      current_.reset();
      if (blocking_) {
        if (auto r = rx_->recv(); r.is_ok()) {
          current_.emplace(std::move(r).unwrap());
        }
      } else if (auto r = rx_->try_recv(); r.is_ok()) {
        current_.emplace(std::move(r).unwrap());
      }
    }
    Receiver* rx_ = nullptr;
    bool blocking_ = true;
    mutable std::optional<T> current_;
  };

  /// A range over what try_recv() yields: the messages ready now.
  class TryIter {
   public:
    Iterator begin() { return Iterator(rx_, false); }
    std::default_sentinel_t end() const noexcept { return {}; }

   private:
    friend class Receiver;
    explicit TryIter(Receiver* rx) : rx_(rx) {}
    Receiver* rx_;
  };

  /// A range that blocks for each message (Rust's Receiver::iter()).
  class Iter {
   public:
    Iterator begin() { return Iterator(rx_, true); }
    std::default_sentinel_t end() const noexcept { return {}; }

   private:
    friend class Receiver;
    explicit Iter(Receiver* rx) : rx_(rx) {}
    Receiver* rx_;
  };

  Iterator begin() { return Iterator(this, true); }
  std::default_sentinel_t end() const noexcept { return {}; }
  /// The same as iterating the receiver itself.
  Iter iter() noexcept { return Iter(this); }
  /// The messages ready now, without blocking (Rust's try_iter()).
  TryIter try_iter() noexcept { return TryIter(this); }

  void swap(Receiver& other) noexcept {
    std::swap(flavor_, other.flavor_);
    std::swap(counter_, other.counter_);
  }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>();
  friend std::pair<SyncSender<T>, Receiver<T>> sync_channel<T>(std::size_t);
  Receiver(detail::Flavor flavor, void* counter) noexcept : flavor_(flavor), counter_(counter) {}

  template <class F>
  decltype(auto) visit(F&& f) {
    switch (flavor_) {
      case detail::Flavor::list:
        return f(static_cast<detail::ListCounter<T>*>(counter_)->chan());
      case detail::Flavor::array:
        return f(static_cast<detail::ArrayCounter<T>*>(counter_)->chan());
      case detail::Flavor::zero:
        return f(static_cast<detail::ZeroCounter<T>*>(counter_)->chan());
      case detail::Flavor::none:
        break;
    }
    detail::moved_from("a receive");
  }

  template <class F>
  void visit_or_empty(F&& f) {
    switch (flavor_) {
      case detail::Flavor::list:
        return f(*static_cast<detail::ListCounter<T>*>(counter_));
      case detail::Flavor::array:
        return f(*static_cast<detail::ArrayCounter<T>*>(counter_));
      case detail::Flavor::zero:
        return f(*static_cast<detail::ZeroCounter<T>*>(counter_));
      case detail::Flavor::none:
        return;
    }
  }

  template <class E>
  Result<T, E> receive(spindle::detail::channel::Mode mode, spindle::detail::Deadline deadline) {
    using spindle::detail::channel::RecvStatus;
    return visit([&](auto& chan) -> Result<T, E> {
      T* message = nullptr;
      switch (chan.wait_ready(mode, deadline, message)) {
        case RecvStatus::Ready:
          return take<E>(chan, message);
        case RecvStatus::Empty:
          if constexpr (std::is_same_v<E, TryRecvError>) {
            return Err(TryRecvError::Empty);
          }
          break;
        case RecvStatus::Timeout:
          if constexpr (std::is_same_v<E, RecvTimeoutError>) {
            return Err(RecvTimeoutError::Timeout);
          }
          break;
        case RecvStatus::Disconnected:
          break;
      }
      if constexpr (std::is_same_v<E, RecvError>) {
        return Err(RecvError{});
      } else {
        return Err(E::Disconnected);
      }
    });
  }

  // Moves the message out and releases its slot, even if the move throws.
  template <class E, class Chan>
  static Result<T, E> take(Chan& chan, T* message) {
    struct Release {
      Chan& chan;
      ~Release() { chan.release(); }
    } release{chan};
    return Result<T, E>(in_place_ok, std::move(*message));
  }

  detail::Flavor flavor_;
  void* counter_;
};

/// An unbounded channel: send() never blocks, messages queue without limit.
template <class T>
[[nodiscard]] std::pair<Sender<T>, Receiver<T>> channel() {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpsc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpsc: the message type's destructor must not throw");
  auto* counter = new detail::ListCounter<T>();
  // One sender is counted at creation; the receiver is implicit.
  return {Sender<T>(counter), Receiver<T>(detail::Flavor::list, counter)};
}

/// A channel that buffers at most `bound` messages: SyncSender::send blocks
/// while it is full. `bound == 0` makes a rendezvous channel, where every
/// send waits until the receiver takes the message. Throws
/// std::length_error for a bound no machine could hold.
template <class T>
[[nodiscard]] std::pair<SyncSender<T>, Receiver<T>> sync_channel(std::size_t bound) {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpsc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpsc: the message type's destructor must not throw");
  if (bound == 0) {
    auto* counter = new detail::ZeroCounter<T>();
    return {SyncSender<T>(detail::Flavor::zero, counter), Receiver<T>(detail::Flavor::zero, counter)};
  }
  constexpr std::size_t max_bound = std::size_t{1} << 40;
  if (bound > max_bound) {
    throw std::length_error("spindle::mpsc::sync_channel: bound " + std::to_string(bound) + " is above the limit of " +
                            std::to_string(max_bound) + " messages");
  }
  auto* counter = new detail::ArrayCounter<T>(bound);
  return {SyncSender<T>(detail::Flavor::array, counter), Receiver<T>(detail::Flavor::array, counter)};
}

}  // namespace spindle::mpsc
