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

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// std::ranges::view_base, which makes iter() and try_iter() views. libstdc++
// declares it in <bits/ranges_base.h>, which its <string_view> includes
// already; all of <ranges> adds every view and adaptor, a fifth more than
// <thread> costs to compile (docs/compile-time.md). Other libraries get
// <ranges>.
#if defined(__GLIBCXX__) && __has_include(<bits/ranges_base.h>)
#include <bits/ranges_base.h>
#else
#include <ranges>
#endif

#include "spindle/detail/channel/array.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/counter.hpp"
#include "spindle/detail/channel/flavor_ref.hpp"
#include "spindle/detail/channel/list.hpp"
#include "spindle/detail/channel/timer.hpp"
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

/// How a channel's blocked operations wait (see spindle::WaitPolicy).
using spindle::WaitPolicy;

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(WaitPolicy policy = WaitPolicy::adaptive);
template <class T>
std::pair<SyncSender<T>, Receiver<T>> sync_channel(std::size_t bound, WaitPolicy policy = WaitPolicy::adaptive);

namespace detail {

namespace ch = spindle::detail::channel;
struct SelectAccess;

template <class T>
using ListCounter = ch::Counter<ch::List<T>>;
template <class T>
using ArrayCounter = ch::Counter<ch::Array<T>>;
template <class T>
using ZeroCounter = ch::Counter<ch::Zero<T>>;

/// A SyncSender's channel: bounded or rendezvous.
template <class T>
using SyncFlavor = ch::FlavorRef<ArrayCounter<T>, ZeroCounter<T>>;
/// A Receiver's channel: any flavour, or a timer.
template <class T>
using RecvFlavor = ch::FlavorRef<ListCounter<T>, ArrayCounter<T>, ZeroCounter<T>, ch::Timer<T>>;

[[noreturn]] inline void moved_from(const char* what) {
  throw std::logic_error(std::string("spindle::mpsc: ") + what + " on a moved-from handle");
}

/// len(), is_empty(), is_full() and capacity(), the same on every handle.
/// `Handle::inspect(what, f)` calls `f` on the handle's channel (throwing
/// std::logic_error, naming `what`, on a moved-from handle).
template <class Handle>
class Introspection {
 public:
  /// The messages in the channel now. Like is_empty() and is_full(), a
  /// snapshot: exact when nothing else uses the channel, and otherwise
  /// true at some moment during the call. A rendezvous channel holds
  /// nothing: 0.
  [[nodiscard]] std::size_t len() const {
    return self().inspect("len()", [](auto& chan) { return chan.len(); });
  }
  [[nodiscard]] bool is_empty() const { return len() == 0; }
  /// Whether a send would have to wait: never on an unbounded channel,
  /// always on a rendezvous channel (capacity 0).
  [[nodiscard]] bool is_full() const {
    return self().inspect("is_full()", [](auto& chan) {
      const std::size_t bound = chan.capacity();
      return bound != ch::no_bound && chan.len() >= bound;
    });
  }
  /// How many messages the channel can hold: empty for an unbounded
  /// channel, 0 for a rendezvous channel (a timer holds one).
  [[nodiscard]] std::optional<std::size_t> capacity() const {
    const std::size_t bound = self().inspect("capacity()", [](auto& chan) { return chan.capacity(); });
    return bound == ch::no_bound ? std::nullopt : std::optional<std::size_t>(bound);
  }

 private:
  const Handle& self() const noexcept { return static_cast<const Handle&>(*this); }
};

/// An input iterator over a channel's messages, for range-for and
/// std::ranges; the receiver itself, iter() and try_iter() make them.
///
/// Lazy: a message is received when the iterator is compared with the end
/// or dereferenced, never when it is advanced, so an algorithm takes only
/// the messages it looks at and `rx | std::views::take(n)` receives exactly
/// n. `*it` is an rvalue reference to the message the iterator holds:
/// `for (T v : rx)` moves it out (move-only T works), `auto&& v` and
/// `const T& v` refer to it until the iterator is advanced. Single-pass,
/// hence move-only.
template <class Rx, class T>
class RecvIterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;

  /// An iterator at the end.
  RecvIterator() = default;
  /// Takes over `other`'s position and the message it holds; `other` is
  /// left at the end.
  RecvIterator(RecvIterator&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
      : rx_(std::exchange(other.rx_, nullptr)),
        mode_(other.mode_),
        skip_(std::exchange(other.skip_, 0)),
        held_(std::move(other.held_)) {
    other.held_.reset();
  }
  RecvIterator& operator=(RecvIterator&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      rx_ = std::exchange(other.rx_, nullptr);
      mode_ = other.mode_;
      skip_ = std::exchange(other.skip_, 0);
      held_.reset();
      if (other.held_) {
        held_.emplace(std::move(*other.held_));
        other.held_.reset();
      }
    }
    return *this;
  }
  RecvIterator(const RecvIterator&) = delete;
  RecvIterator& operator=(const RecvIterator&) = delete;
  ~RecvIterator() = default;

  /// The message at this position, received now if the iterator does not
  /// hold it yet (blocking for iter(), not for try_iter()). At the end
  /// there is none: throws std::logic_error.
  T&& operator*() const { return std::move(*message()); }
  T* operator->() const { return message(); }

  /// Moves past this position, receiving nothing: the message held is
  /// destroyed; a message not received yet is skipped by the next receive
  /// (so it stays in the channel if the iterator is not used again).
  /// Advancing an iterator known to be at the end throws std::logic_error.
  RecvIterator& operator++() {
    if (held_) {
      held_.reset();
    } else if (rx_ != nullptr) {
      ++skip_;
    } else {
      throw std::logic_error("spindle: advanced a channel receiver's iterator past the end");
    }
    return *this;
  }
  void operator++(int) { ++*this; }

  /// True when this position has no message, deciding it by receiving if
  /// need be: for iter(), blocks until a message comes or the channel is
  /// disconnected and drained; for try_iter(), true when none is ready now.
  /// An iterator at the end stays there.
  friend bool operator==(const RecvIterator& it, std::default_sentinel_t /*end*/) { return !it.fetch(); }

 private:
  friend Rx;
  RecvIterator(Rx* rx, spindle::detail::channel::Mode mode) noexcept : rx_(rx), mode_(mode) {}

  // Receives the message at this position unless it is held already
  // (first the ones operator++ skipped); false at the end.
  bool fetch() const {
    while (!held_ && rx_ != nullptr) {
      if (!rx_->receive_into(skip_ > 0 ? nullptr : &held_, mode_)) {
        rx_ = nullptr;  // the end, for good
      } else if (skip_ > 0) {
        --skip_;
      }
    }
    return held_.has_value();
  }

  T* message() const {
    if (!fetch()) {
      throw std::logic_error("spindle: dereferenced a channel receiver's iterator at the end");
    }
    return &*held_;
  }

  // Mutable: a comparison with the end or a dereference may receive.
  // Null once the end is reached (or for a default-constructed iterator).
  mutable Rx* rx_ = nullptr;
  spindle::detail::channel::Mode mode_ = spindle::detail::channel::Mode::Block;
  mutable std::size_t skip_ = 0;  // positions advanced past without receiving
  mutable std::optional<T> held_;
};

/// The views of a receiver's messages: what try_recv() yields (`Try`: the
/// messages ready now; it ends at the first moment none is ready, and
/// iterating again resumes with what has arrived since), or a blocking
/// receive for each (Rust's Receiver::iter()).
template <class Rx, bool Try>
class RecvView : public std::ranges::view_base {
 public:
  /// An empty range.
  RecvView() = default;
  auto begin() const {
    using It = typename Rx::Iterator;
    if constexpr (Try) {
      return rx_ == nullptr ? It() : rx_->iterate(spindle::detail::channel::Mode::Try);
    } else {
      return rx_ == nullptr ? It() : rx_->begin();
    }
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend Rx;
  explicit RecvView(Rx* rx) noexcept : rx_(rx) {}
  Rx* rx_ = nullptr;
};

}  // namespace detail

/// The sending half of an unbounded channel. send() never blocks.
///
/// Copy a Sender to add a producer (Rust's Sender::clone); the channel is
/// disconnected for the receiver when the last copy is destroyed. One Sender
/// may be used by several threads at once.
template <class T>
class Sender : public detail::Introspection<Sender<T>> {
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
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(WaitPolicy);
  friend struct detail::SelectAccess;
  friend class detail::Introspection<Sender>;
  explicit Sender(detail::ListCounter<T>* counter) noexcept : counter_(counter) {}

  template <class F>
  decltype(auto) inspect(const char* what, F&& f) const {
    if (counter_ == nullptr) {
      detail::moved_from(what);
    }
    return f(counter_->chan());
  }
  detail::ListCounter<T>* counter_;
};

/// The sending half of a bounded or rendezvous channel. send() blocks while
/// the channel is full (on a rendezvous channel, until a receiver takes the
/// message); try_send() never blocks. Copyable and shareable as Sender.
template <class T>
class SyncSender : public detail::Introspection<SyncSender<T>> {
 public:
  SyncSender(const SyncSender& other) noexcept : chan_(other.chan_) {
    if (!chan_.empty()) {
      chan_.visit([](auto& counter) { counter.acquire_sender(); });
    }
  }
  SyncSender(SyncSender&& other) noexcept : chan_(other.chan_.take()) {}
  SyncSender& operator=(SyncSender other) noexcept {
    std::swap(chan_, other.chan_);
    return *this;
  }
  ~SyncSender() {
    if (!chan_.empty()) {  // a moved-from sender costs one test
      chan_.visit([](auto& counter) { counter.release_sender(); });
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
    return refused<SendError<T>>(back, value);
  }

  /// As send(), but gives up after `timeout` (Timeout, the value back).
  /// On a rendezvous channel the time covers the hand-off: a message no
  /// receive took by then comes back. Any timeout works, even
  /// duration::max().
  template <class Rep, class Period>
  Result<void, SendTimeoutError<T>> send_timeout(T value, std::chrono::duration<Rep, Period> timeout) {
    return send_until(std::move(value), spindle::detail::deadline_after(timeout), "send_timeout()");
  }

  /// As send_timeout(), giving up at `deadline`.
  Result<void, SendTimeoutError<T>> send_deadline(T value, std::chrono::steady_clock::time_point deadline) {
    return send_until(std::move(value), deadline, "send_deadline()");
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
    return refused<TrySendError<T>>(
        back, value,
        status == spindle::detail::channel::SendStatus::Full ? TrySendError<T>::Full : TrySendError<T>::Disconnected);
  }

  /// Sends without ever waiting. On a full bounded channel the oldest
  /// message is evicted and returned, and `value` is queued as the newest;
  /// on a rendezvous channel a receive waiting now takes `value`, and if
  /// none waits `value` itself comes back (nothing is buffered, so it is the
  /// oldest). Empty when nothing was evicted. Fails only when the receiver
  /// is gone (or closed the channel), with the value.
  Result<std::optional<T>, SendError<T>> force_send(T value) {
    using spindle::detail::channel::SendStatus;
    return inspect("force_send()", [&](auto& chan) -> Result<std::optional<T>, SendError<T>> {
      std::optional<T> evicted;
      T* back = &value;
      SendStatus status;
      if constexpr (requires { chan.force_send(value, evicted); }) {
        status = chan.force_send(value, evicted);
      } else {  // rendezvous: a hand-off now, or the value comes back
        status = chan.send(value, spindle::detail::channel::Mode::Try, back);
        if (status == SendStatus::Full) {
          const HandBack guard{chan_, back, &value};
          return Ok(std::optional<T>(std::move(*back)));
        }
      }
      if (status == SendStatus::Ok) {
        return Ok(std::move(evicted));
      }
      const HandBack guard{chan_, back, &value};
      return Result<std::optional<T>, SendError<T>>(in_place_err, std::move(*back));
    });
  }

 private:
  friend std::pair<SyncSender<T>, Receiver<T>> sync_channel<T>(std::size_t, WaitPolicy);
  friend struct detail::SelectAccess;
  friend class detail::Introspection<SyncSender>;
  explicit SyncSender(detail::SyncFlavor<T> chan) noexcept : chan_(chan) {}

  template <class F>
  decltype(auto) inspect(const char* what, F&& f) const {
    if (chan_.empty()) {
      detail::moved_from(what);
    }
    return chan_.visit([&](auto& counter) -> decltype(auto) { return f(counter.chan()); });
  }

  spindle::detail::channel::SendStatus send_with(T& value, spindle::detail::channel::Mode mode, T*& back,
                                                 const char* what,
                                                 spindle::detail::Deadline deadline = spindle::detail::forever) {
    return inspect(what, [&](auto& chan) { return chan.send(value, mode, back, deadline); });
  }

  // A failed send's error, holding the value handed back (`back`: `value`
  // itself, or the message the channel moved in, which it then frees).
  template <class Error, class... Kind>
  Result<void, Error> refused(T* back, T& value, Kind... kind) {
    const HandBack guard{chan_, back, &value};
    return Result<void, Error>(in_place_err, kind..., std::move(*back));
  }

  Result<void, SendTimeoutError<T>> send_until(T value, spindle::detail::Deadline deadline, const char* what) {
    T* back = &value;
    const auto status = send_with(value, spindle::detail::channel::Mode::Block, back, what, deadline);
    if (status == spindle::detail::channel::SendStatus::Ok) {
      return Ok();
    }
    return refused<SendTimeoutError<T>>(back, value,
                                        status == spindle::detail::channel::SendStatus::Timeout
                                            ? SendTimeoutError<T>::Timeout
                                            : SendTimeoutError<T>::Disconnected);
  }

  // A failed send hands back *back: the caller's value, or (rendezvous) the
  // message already moved into the channel, which the channel destroys here
  // once it is moved from (and then frees its slot).
  struct HandBack {
    const detail::SyncFlavor<T>& chan;
    T* back;
    T* value;
    HandBack(const detail::SyncFlavor<T>& chan_, T* back_, T* value_) noexcept
        : chan(chan_), back(back_), value(value_) {}
    HandBack(const HandBack&) = delete;
    HandBack& operator=(const HandBack&) = delete;
    ~HandBack() {
      if (back != value) {
        chan.visit([this](auto& counter) { counter.chan().hand_back_done(back); });
      }
    }
  };

  detail::SyncFlavor<T> chan_;
};

/// The receiving half of a channel of any flavour. Move-only: there is one
/// receiver per channel. Not for use by two threads at once (as Rust's
/// Receiver is not Sync); it may be moved to another thread.
template <class T>
class Receiver : public detail::Introspection<Receiver<T>> {
 public:
  Receiver(Receiver&& other) noexcept : chan_(other.chan_.take()) {}
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
    if (!chan_.empty()) {  // a moved-from receiver costs one test
      chan_.visit([](auto& counter) { counter.release_receiver(); });
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

  /// Closes the channel while keeping the receiver: every later send, and
  /// every send blocked now, fails with its value back; what was sent
  /// before stays to be received, then receives fail (RecvError) as after
  /// the last sender's disconnect. Closing again does nothing.
  void close() {
    inspect("close()", [](auto& chan) { chan.close(); });
  }

  /// Receives up to `max` messages into `out` (appended): blocks as recv()
  /// does for the first, then takes whatever else is ready now. Returns how
  /// many it appended: 0 only when the channel is disconnected and drained
  /// (or `max` is 0). Room in `out` is made before each message is taken,
  /// so a failing allocation loses nothing.
  std::size_t recv_many(std::vector<T>& out, std::size_t max) {
    return receive_many(out, max, spindle::detail::channel::Mode::Block);
  }

  /// As recv_many(), but never blocks: 0 when nothing is ready (or the
  /// channel is disconnected and drained).
  std::size_t try_recv_many(std::vector<T>& out, std::size_t max) {
    return receive_many(out, max, spindle::detail::channel::Mode::Try);
  }

  /// An input iterator over the messages (see detail::RecvIterator): lazy,
  /// single-pass, move-only; `*it` is an rvalue reference to the message.
  using Iterator = detail::RecvIterator<Receiver, T>;
  /// The view try_iter() returns: the messages ready now.
  using TryIter = detail::RecvView<Receiver, true>;
  /// The view iter() returns: blocks for each message.
  using Iter = detail::RecvView<Receiver, false>;

  /// Iterates by blocking for each message; ends once the channel is
  /// disconnected and drained. `for (T msg : rx)` is Rust's `for msg in rx`.
  Iterator begin() { return iterate(spindle::detail::channel::Mode::Block); }
  std::default_sentinel_t end() const noexcept { return {}; }
  /// The same as iterating the receiver itself.
  Iter iter() noexcept { return Iter(this); }
  /// The messages ready now, without blocking (Rust's try_iter()).
  TryIter try_iter() noexcept { return TryIter(this); }

  void swap(Receiver& other) noexcept { std::swap(chan_, other.chan_); }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(WaitPolicy);
  friend std::pair<SyncSender<T>, Receiver<T>> sync_channel<T>(std::size_t, WaitPolicy);
  friend struct detail::SelectAccess;
  explicit Receiver(detail::RecvFlavor<T> chan) noexcept : chan_(chan) {}
  friend Receiver<std::chrono::steady_clock::time_point> at(std::chrono::steady_clock::time_point);
  template <class Rep, class Period>
  friend Receiver<std::chrono::steady_clock::time_point> tick(std::chrono::duration<Rep, Period>);
  template <class U>
  friend Receiver<U> never();

  friend class detail::Introspection<Receiver>;
  friend class detail::RecvIterator<Receiver, T>;
  friend class detail::RecvView<Receiver, true>;
  friend class detail::RecvView<Receiver, false>;

  template <class F>
  decltype(auto) inspect(const char* what, F&& f) const {
    if (chan_.empty()) {
      detail::moved_from(what);
    }
    return chan_.visit([&](auto& counter) -> decltype(auto) { return f(counter.chan()); });
  }

  // Calls f on the channel; on a moved-from receiver throws.
  template <class F>
  decltype(auto) visit(F&& f) {
    return inspect("a receive", std::forward<F>(f));
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

  // Releases the slot of the message wait_ready() handed out when it goes,
  // even if moving the message out throws.
  template <class Chan>
  struct ReleaseOnExit {
    explicit ReleaseOnExit(Chan& c) noexcept : chan(c) {}
    ReleaseOnExit(const ReleaseOnExit&) = delete;
    ReleaseOnExit& operator=(const ReleaseOnExit&) = delete;
    ~ReleaseOnExit() { chan.release(); }
    Chan& chan;
  };

  // Moves the message out and releases its slot, even if the move throws.
  template <class E, class Chan>
  static Result<T, E> take(Chan& chan, T* message) {
    const ReleaseOnExit<Chan> release{chan};
    return Result<T, E>(in_place_ok, std::move(*message));
  }

  std::size_t receive_many(std::vector<T>& out, std::size_t max, spindle::detail::channel::Mode first) {
    if (max == 0) {
      return 0;
    }
    return visit([&](auto& chan) {
      std::size_t count = 0;
      for (auto mode = first; count < max; mode = spindle::detail::channel::Mode::Try) {
        if (out.size() == out.capacity()) {  // room first, before a message is taken
          const std::size_t grow = out.size() < 8 ? 8 : out.size();
          out.reserve(out.size() + (max - count < grow ? max - count : grow));
        }
        if constexpr (requires { chan.take_ready(out, max); }) {
          if (count > 0) {  // the rest in one sweep, within the room made
            const std::size_t room = out.capacity() - out.size();
            const std::size_t taken = chan.take_ready(out, max - count < room ? max - count : room);
            if (taken == 0) {
              break;
            }
            count += taken;
            continue;
          }
        }
        T* message = nullptr;
        if (chan.wait_ready(mode, spindle::detail::forever, message) != spindle::detail::channel::RecvStatus::Ready) {
          break;
        }
        const ReleaseOnExit<std::remove_reference_t<decltype(chan)>> release{chan};
        out.push_back(std::move(*message));  // within capacity: only the move may throw
        ++count;
      }
      return count;
    });
  }

  Iterator iterate(spindle::detail::channel::Mode mode) {
    if (chan_.empty()) {
      detail::moved_from("iteration");
    }
    return Iterator(this, mode);
  }

  // The iterators' receive: one message into `*out`, or destroyed unseen
  // when `out` is null (a position the iterator was advanced past). False
  // when there is none: disconnected, or for Mode::Try none ready now.
  bool receive_into(std::optional<T>* out, spindle::detail::channel::Mode mode) {
    return visit([&](auto& chan) {
      T* message = nullptr;
      if (chan.wait_ready(mode, spindle::detail::forever, message) != spindle::detail::channel::RecvStatus::Ready) {
        return false;
      }
      const ReleaseOnExit<std::remove_reference_t<decltype(chan)>> release{chan};
      if (out != nullptr) {
        out->emplace(std::move(*message));
      }
      return true;
    });
  }

  detail::RecvFlavor<T> chan_;
};

/// An unbounded channel: send() never blocks, messages queue without limit.
/// `policy` says how a receive waits for a message (WaitPolicy::adaptive
/// unless given).
template <class T>
[[nodiscard]] std::pair<Sender<T>, Receiver<T>> channel(WaitPolicy policy) {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpsc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpsc: the message type's destructor must not throw");
  auto* counter = new detail::ListCounter<T>(policy);
  // One sender is counted at creation; the receiver is implicit.
  return {Sender<T>(counter), Receiver<T>(detail::RecvFlavor<T>(counter))};
}

/// A channel that buffers at most `bound` messages: SyncSender::send blocks
/// while it is full. `bound == 0` makes a rendezvous channel, where every
/// send waits until the receiver takes the message. `policy` says how
/// blocked sends and receives wait (WaitPolicy::adaptive unless given).
/// Throws std::length_error for a bound no machine could hold.
template <class T>
[[nodiscard]] std::pair<SyncSender<T>, Receiver<T>> sync_channel(std::size_t bound, WaitPolicy policy) {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpsc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpsc: the message type's destructor must not throw");
  if (bound == 0) {
    auto* counter = new detail::ZeroCounter<T>(policy);
    return {SyncSender<T>(detail::SyncFlavor<T>(counter)), Receiver<T>(detail::RecvFlavor<T>(counter))};
  }
  constexpr std::size_t max_bound = std::size_t{1} << 40;
  if (bound > max_bound) {
    throw std::length_error("spindle::mpsc::sync_channel: bound " + std::to_string(bound) + " is above the limit of " +
                            std::to_string(max_bound) + " messages");
  }
  auto* counter = new detail::ArrayCounter<T>(bound, policy);
  return {SyncSender<T>(detail::SyncFlavor<T>(counter)), Receiver<T>(detail::RecvFlavor<T>(counter))};
}

// --- timers ------------------------------------------------------------------

/// A receiver that gets one message, the time it was due (`deadline`), once
/// that time has come; then none ever again. It is never disconnected. No
/// thread runs it: a receive or a select waits for it.
[[nodiscard]] inline Receiver<std::chrono::steady_clock::time_point> at(
    std::chrono::steady_clock::time_point deadline) {
  using Timer = spindle::detail::channel::Timer<std::chrono::steady_clock::time_point>;
  return Receiver<std::chrono::steady_clock::time_point>(
      detail::RecvFlavor<std::chrono::steady_clock::time_point>(new Timer(deadline, {})));
}

/// As at(now + timeout). A timeout too long to represent never fires.
template <class Rep, class Period>
[[nodiscard]] Receiver<std::chrono::steady_clock::time_point> after(std::chrono::duration<Rep, Period> timeout) {
  return at(spindle::detail::deadline_after(timeout));
}

/// A receiver that gets a message every `period`, the time that tick was
/// due: at now + period, now + 2 * period, and so on, at a fixed rate that
/// a late receive does not push back. Ticks missed by a late receiver are
/// dropped but the latest one, which waits unread. Never disconnected.
/// Throws std::invalid_argument for a period that is not positive.
template <class Rep, class Period>
[[nodiscard]] Receiver<std::chrono::steady_clock::time_point> tick(std::chrono::duration<Rep, Period> period) {
  using Clock = std::chrono::steady_clock;
  using Timer = spindle::detail::channel::Timer<Clock::time_point>;
  const auto ticks = std::chrono::ceil<Clock::duration>(period);
  if (!(ticks.count() > 0)) {
    throw std::invalid_argument("spindle::mpsc::tick: the period must be positive");
  }
  return Receiver<Clock::time_point>(detail::RecvFlavor<Clock::time_point>(new Timer(Clock::now() + ticks, ticks)));
}

/// A receiver that never gets a message and is never disconnected: a select
/// arm switched off (Go's nil channel).
template <class T>
[[nodiscard]] Receiver<T> never() {
  return Receiver<T>(detail::RecvFlavor<T>(new spindle::detail::channel::Timer<T>()));
}

}  // namespace spindle::mpsc

// Select, select(arms...) and the timers' use in them.
#include "spindle/mpsc/select.hpp"  // IWYU pragma: export
