// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::mpmc: multi-producer, multi-consumer channels (Rust's
/// std::sync::mpmc, crossbeam-channel's API). channel<T>() is unbounded,
/// sync_channel<T>(n) holds at most n messages, sync_channel<T>(0) is a
/// rendezvous. Senders and receivers are both copyable: every receiver copy
/// competes for the messages, and each message is received exactly once.
///
/// The operations, errors, extras and wait policies are spindle::mpsc's
/// (the error types are the same types). One Sender type serves every
/// capacity, as in Rust's std::sync::mpmc: on an unbounded channel
/// try_send() and send_timeout() never find it full and force_send() never
/// evicts.
///
/// Memory ordering: everything a thread did before a send() that succeeded
/// is visible to the thread whose receive returns that message.
///
/// Disconnection: destroying the last Sender disconnects the channel for the
/// receivers, which still receive every message already sent, then get
/// RecvError. Destroying the last Receiver (or Receiver::close() on any of
/// them) makes every send fail with its value handed back; the last
/// Receiver's destruction also destroys what is still buffered.
///
/// Order: the messages of one sender are received in the order it sent
/// them, as seen by any one receiver.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/detail/channel/shared.hpp"
#include "spindle/mpsc.hpp"

namespace spindle::mpmc {

using spindle::WaitPolicy;
using spindle::mpsc::RecvError;
using spindle::mpsc::RecvTimeoutError;
using spindle::mpsc::SendError;
using spindle::mpsc::SendTimeoutError;
using spindle::mpsc::TryRecvError;
using spindle::mpsc::TrySendError;

template <class T>
class Sender;
template <class T>
class Receiver;

// Select and the timers work on these channels too (spindle::mpsc's, with
// every arm of select(arms...)).
using spindle::mpsc::after;
using spindle::mpsc::at;
using spindle::mpsc::never;
using spindle::mpsc::on_deadline;
using spindle::mpsc::on_default;
using spindle::mpsc::on_recv;
using spindle::mpsc::on_send;
using spindle::mpsc::on_timeout;
using spindle::mpsc::ReadyTimeoutError;
using spindle::mpsc::Select;
using spindle::mpsc::select;
using spindle::mpsc::select_biased;
using spindle::mpsc::SelectedOperation;
using spindle::mpsc::SelectTimeoutError;
using spindle::mpsc::tick;
using spindle::mpsc::TryReadyError;
using spindle::mpsc::TrySelectError;

namespace detail {
template <class T>
struct SelectAccess;
}  // namespace detail

/// spindle::mpsc's name for a bounded channel's sender: the same Sender.
template <class T>
using SyncSender = Sender<T>;

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(WaitPolicy policy = WaitPolicy::adaptive);
template <class T>
std::pair<Sender<T>, Receiver<T>> sync_channel(std::size_t bound, WaitPolicy policy = WaitPolicy::adaptive);

namespace detail {

namespace ch = spindle::detail::channel;

/// Who keeps a channel alive: its senders and its receivers, both counted.
/// The last of either side disconnects it; the side that goes last frees it.
template <class T>
class Counter {
 public:
  Counter(std::size_t bound, WaitPolicy policy) : chan_(bound, policy) {}

  ch::Shared<T>& chan() noexcept { return chan_; }

  void acquire_sender() noexcept {
    // relaxed: the copier holds a sender, so the count cannot reach zero.
    senders_.fetch_add(1, std::memory_order::relaxed);
  }
  void acquire_receiver() noexcept { receivers_.fetch_add(1, std::memory_order::relaxed); }

  void release_sender() noexcept {
    // acq_rel: the last one sees every other's sends before it disconnects.
    if (senders_.fetch_sub(1, std::memory_order::acq_rel) == 1) {
      chan_.disconnect_senders();
      finish_side();
    }
  }
  void release_receiver() noexcept {
    if (receivers_.fetch_sub(1, std::memory_order::acq_rel) == 1) {
      chan_.disconnect_receivers();
      finish_side();
    }
  }

 private:
  void finish_side() noexcept {
    // acq_rel: the side that frees the channel sees all the other did.
    if (destroy_.exchange(true, std::memory_order::acq_rel)) {
      delete this;
    }
  }

  ch::Shared<T> chan_;
  spindle::detail::Atomic<std::size_t> senders_{1};
  spindle::detail::Atomic<std::size_t> receivers_{1};
  spindle::detail::Atomic<bool> destroy_{false};
};

[[noreturn]] inline void moved_from(const char* what) {
  throw std::logic_error(std::string("spindle::mpmc: ") + what + " on a moved-from handle");
}

/// A handle's one pointer to its channel, counted on one side.
template <class T, bool IsSender>
class Handle {
 public:
  Handle(const Handle& other) noexcept : counter_(other.counter_) {
    if (counter_ != nullptr) {
      IsSender ? counter_->acquire_sender() : counter_->acquire_receiver();
    }
  }
  Handle(Handle&& other) noexcept : counter_(std::exchange(other.counter_, nullptr)) {}
  Handle& operator=(Handle other) noexcept {
    std::swap(counter_, other.counter_);
    return *this;
  }
  ~Handle() {
    if (counter_ != nullptr) {
      IsSender ? counter_->release_sender() : counter_->release_receiver();
    }
  }

  /// False for a moved-from handle.
  [[nodiscard]] bool live() const noexcept { return counter_ != nullptr; }

 protected:
  /// Calls f on the channel; throws std::logic_error, naming `what`, on a
  /// moved-from handle.
  template <class F>
  decltype(auto) inspect(const char* what, F&& f) const {
    if (counter_ == nullptr) {
      moved_from(what);
    }
    return f(counter_->chan());
  }

  explicit Handle(Counter<T>* counter) noexcept : counter_(counter) {}
  Counter<T>* counter_;
};

}  // namespace detail

/// The sending half of a channel of any capacity. Copy it to add a
/// producer (Rust's Sender::clone); one Sender may be used by several
/// threads at once.
template <class T>
class Sender : public detail::Handle<T, true>, public spindle::mpsc::detail::Introspection<Sender<T>> {
  using Base = detail::Handle<T, true>;
  using Status = spindle::detail::channel::SendStatus;
  using Mode = spindle::detail::channel::Mode;

 public:
  /// Sends `value`, blocking while the channel is full (on a rendezvous
  /// channel, until a receiver takes it). Fails only when the receivers are
  /// gone or closed the channel; the error holds the value.
  Result<void, SendError<T>> send(T value) {
    if (run(value, Mode::Block, spindle::detail::forever, "send()") == Status::Ok) {
      return Ok();
    }
    return Result<void, SendError<T>>(in_place_err, std::move(value));
  }

  /// Sends only if that needs no waiting: Full when the buffer is full (on
  /// a rendezvous channel: when no receive is waiting now), Disconnected
  /// when the receivers are gone.
  Result<void, TrySendError<T>> try_send(T value) {
    const Status status = run(value, Mode::Try, spindle::detail::forever, "try_send()");
    if (status == Status::Ok) {
      return Ok();
    }
    return Result<void, TrySendError<T>>(
        in_place_err, status == Status::Full ? TrySendError<T>::Full : TrySendError<T>::Disconnected, std::move(value));
  }

  /// As send(), giving up after `timeout` (Timeout, the value back). Any
  /// timeout works, even duration::max().
  template <class Rep, class Period>
  Result<void, SendTimeoutError<T>> send_timeout(T value, std::chrono::duration<Rep, Period> timeout) {
    return send_until(std::move(value), spindle::detail::deadline_after(timeout), "send_timeout()");
  }

  /// As send_timeout(), giving up at `deadline`.
  Result<void, SendTimeoutError<T>> send_deadline(T value, std::chrono::steady_clock::time_point deadline) {
    return send_until(std::move(value), deadline, "send_deadline()");
  }

  /// Sends without ever waiting. On a full bounded channel the oldest
  /// message is evicted and returned; on a rendezvous channel a receive
  /// waiting now takes `value`, and if none waits `value` itself comes back
  /// (nothing is buffered, so it is the oldest). Empty when nothing was
  /// evicted. Fails only when the receivers are gone, with the value.
  Result<std::optional<T>, SendError<T>> force_send(T value) {
    std::optional<T> evicted;
    if (this->inspect("force_send()", [&](auto& chan) { return chan.force_send(value, evicted); }) == Status::Ok) {
      return Ok(std::move(evicted));
    }
    return Result<std::optional<T>, SendError<T>>(in_place_err, std::move(value));
  }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(WaitPolicy);
  friend std::pair<Sender<T>, Receiver<T>> sync_channel<T>(std::size_t, WaitPolicy);
  friend class spindle::mpsc::detail::Introspection<Sender>;
  friend struct detail::SelectAccess<T>;
  using Base::Base;
  using Base::inspect;

  Status run(T& value, Mode mode, spindle::detail::Deadline deadline, const char* what) {
    return this->inspect(what, [&](auto& chan) { return chan.send(value, mode, deadline); });
  }

  Result<void, SendTimeoutError<T>> send_until(T value, spindle::detail::Deadline deadline, const char* what) {
    const Status status = run(value, Mode::Block, deadline, what);
    if (status == Status::Ok) {
      return Ok();
    }
    return Result<void, SendTimeoutError<T>>(
        in_place_err, status == Status::Timeout ? SendTimeoutError<T>::Timeout : SendTimeoutError<T>::Disconnected,
        std::move(value));
  }
};

/// The receiving half of a channel. Copy it to add a consumer: the copies
/// compete for the messages, each received by exactly one of them. One
/// Receiver object is for one thread at a time (as spindle::mpsc's): give
/// each thread its own copy.
template <class T>
class Receiver : public detail::Handle<T, false>, public spindle::mpsc::detail::Introspection<Receiver<T>> {
  using Base = detail::Handle<T, false>;
  using Status = spindle::detail::channel::RecvStatus;
  using Mode = spindle::detail::channel::Mode;

 public:
  Receiver(const Receiver& other) noexcept : Base(other) {}  // a select's message stays with `other`
  Receiver(Receiver&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : Base(std::move(other)) {
    take_staged(other);
  }
  Receiver& operator=(const Receiver& other) noexcept {
    if (this != &other) {
      drop_staged();
      Base::operator=(other);
    }
    return *this;
  }
  Receiver& operator=(Receiver&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      drop_staged();
      Base::operator=(std::move(other));
      take_staged(other);
    }
    return *this;
  }
  ~Receiver() { drop_staged(); }

  /// Blocks until a message arrives and returns it; RecvError once every
  /// sender is gone (or the channel was closed) and nothing is left.
  Result<T, RecvError> recv() { return receive<RecvError>(Mode::Block, spindle::detail::forever); }

  /// A message if one is ready now (on a rendezvous channel: a sender
  /// blocked in send()); Empty, or Disconnected once drained.
  Result<T, TryRecvError> try_recv() { return receive<TryRecvError>(Mode::Try, spindle::detail::forever); }

  /// As recv(), giving up after `timeout`. Any timeout works.
  template <class Rep, class Period>
  Result<T, RecvTimeoutError> recv_timeout(std::chrono::duration<Rep, Period> timeout) {
    return receive<RecvTimeoutError>(Mode::Block, spindle::detail::deadline_after(timeout));
  }

  /// As recv(), giving up at `deadline`.
  Result<T, RecvTimeoutError> recv_deadline(std::chrono::steady_clock::time_point deadline) {
    return receive<RecvTimeoutError>(Mode::Block, deadline);
  }

  /// Closes the channel for every sender and receiver while keeping this
  /// receiver: every later send, and every send waiting now, fails with its
  /// value back; what was sent before stays to be received (by any
  /// receiver), then receives fail with RecvError. Closing again does
  /// nothing.
  void close() {
    this->inspect("close()", [](auto& chan) { chan.close(); });
  }

  /// Receives up to `max` messages into `out` (appended): blocks as recv()
  /// does for the first, then takes whatever else is ready now. Returns how
  /// many: 0 only when disconnected and drained (or `max` is 0). Room is
  /// made in `out` before each message is taken.
  std::size_t recv_many(std::vector<T>& out, std::size_t max) { return receive_many(out, max, Mode::Block); }

  /// As recv_many(), never blocking.
  std::size_t try_recv_many(std::vector<T>& out, std::size_t max) { return receive_many(out, max, Mode::Try); }

  /// An input iterator over the messages, as spindle::mpsc::Receiver's.
  using Iterator = spindle::mpsc::detail::RecvIterator<Receiver, T>;
  using TryIter = spindle::mpsc::detail::RecvView<Receiver, true>;
  using Iter = spindle::mpsc::detail::RecvView<Receiver, false>;

  /// Iterates by blocking for each message; ends once disconnected and
  /// drained.
  Iterator begin() { return iterate(Mode::Block); }
  std::default_sentinel_t end() const noexcept { return {}; }
  Iter iter() noexcept { return Iter(this); }
  /// The messages ready now, without blocking.
  TryIter try_iter() noexcept { return TryIter(this); }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(WaitPolicy);
  friend std::pair<Sender<T>, Receiver<T>> sync_channel<T>(std::size_t, WaitPolicy);
  friend class spindle::mpsc::detail::Introspection<Receiver>;
  friend struct detail::SelectAccess<T>;
  using Base::Base;
  using Base::inspect;
  friend class spindle::mpsc::detail::RecvIterator<Receiver, T>;
  friend class spindle::mpsc::detail::RecvView<Receiver, true>;
  friend class spindle::mpsc::detail::RecvView<Receiver, false>;

  template <class E>
  Result<T, E> receive(Mode mode, spindle::detail::Deadline deadline) {
    std::optional<T> got;
    const Status status = this->inspect(
        "a receive", [&](auto& chan) { return chan.recv(mode, deadline, [&](T&& v) { got.emplace(std::move(v)); }); });
    switch (status) {
      case Status::Ready:
        return Result<T, E>(in_place_ok, std::move(*got));
      case Status::Empty:
        if constexpr (std::is_same_v<E, TryRecvError>) {
          return Err(TryRecvError::Empty);
        }
        break;
      case Status::Timeout:
        if constexpr (std::is_same_v<E, RecvTimeoutError>) {
          return Err(RecvTimeoutError::Timeout);
        }
        break;
      case Status::Disconnected:
        break;
    }
    if constexpr (std::is_same_v<E, RecvError>) {
      return Err(RecvError{});
    } else {
      return Err(E::Disconnected);
    }
  }

  std::size_t receive_many(std::vector<T>& out, std::size_t max, Mode first) {
    std::size_t count = 0;
    for (Mode mode = first; count < max; mode = Mode::Try) {
      if (out.size() == out.capacity()) {  // room first, before a message is taken
        const std::size_t grow = out.size() < 8 ? 8 : out.size();
        out.reserve(out.size() + (max - count < grow ? max - count : grow));
      }
      if (count > 0) {  // the rest under one lock, within the room made
        const std::size_t room = out.capacity() - out.size();
        const std::size_t taken = this->inspect(
            "a receive", [&](auto& chan) { return chan.take_ready(out, max - count < room ? max - count : room); });
        if (taken == 0) {
          break;
        }
        count += taken;
        continue;
      }
      const Status status = this->inspect("a receive", [&](auto& chan) {
        return chan.recv(mode, spindle::detail::forever, [&](T&& v) { out.push_back(std::move(v)); });
      });
      if (status != Status::Ready) {
        break;
      }
      ++count;
    }
    return count;
  }

  Iterator iterate(Mode mode) {
    if (this->counter_ == nullptr) {
      detail::moved_from("iteration");
    }
    return Iterator(this, mode);
  }

  // A message a select's receive took for this receiver, between the
  // select and the completion of its operation (complete_recv() moves it
  // out; abandoning the operation gives it back to the channel).
  void take_staged(Receiver& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (other.has_staged_) {
      staged_.construct(std::move(*other.staged_.get()));
      has_staged_ = true;
      other.drop_staged();
    }
  }
  void drop_staged() noexcept {
    if (has_staged_) {
      staged_.destroy();
      has_staged_ = false;
    }
  }

  // The iterators' receive: one message into `*out`, or destroyed unseen
  // when `out` is null. False when there is none.
  bool receive_into(std::optional<T>* out, Mode mode) {
    return this->inspect("a receive", [&](auto& chan) {
             return chan.recv(mode, spindle::detail::forever, [&](T&& v) {
               if (out != nullptr) {
                 out->emplace(std::move(v));
               } else {
                 (void)T(std::move(v));  // a position skipped: destroyed unseen
               }
             });
           }) == Status::Ready;
  }

  // cppcheck-suppress unusedStructMember ; raw room, filled by a select's receive
  spindle::detail::channel::Storage<T> staged_;
  bool has_staged_ = false;
};

/// An unbounded channel: send() never blocks.
template <class T>
[[nodiscard]] std::pair<Sender<T>, Receiver<T>> channel(WaitPolicy policy) {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpmc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpmc: the message type's destructor must not throw");
  auto* counter = new detail::Counter<T>(spindle::detail::channel::no_bound, policy);
  return {Sender<T>(counter), Receiver<T>(counter)};
}

/// A channel that buffers at most `bound` messages; `bound == 0` makes a
/// rendezvous channel, where every send waits until a receive takes it.
/// Throws std::length_error for a bound no machine could hold.
template <class T>
[[nodiscard]] std::pair<Sender<T>, Receiver<T>> sync_channel(std::size_t bound, WaitPolicy policy) {
  static_assert(std::is_move_constructible_v<T>, "spindle::mpmc: the message type must be move-constructible");
  static_assert(std::is_nothrow_destructible_v<T>, "spindle::mpmc: the message type's destructor must not throw");
  constexpr std::size_t max_bound = std::size_t{1} << 40;
  if (bound > max_bound) {
    throw std::length_error("spindle::mpmc::sync_channel: bound " + std::to_string(bound) + " is above the limit of " +
                            std::to_string(max_bound) + " messages");
  }
  auto* counter = new detail::Counter<T>(bound, policy);
  // Both sides start counted once: these two handles.
  return {Sender<T>(counter), Receiver<T>(counter)};
}

namespace detail {

namespace sd = spindle::mpsc::detail;

/// What a select does on this module's handles (spindle::mpsc's Select
/// reaches them through SelectEnd below).
template <class T>
struct SelectAccess {
  using Token = sd::Token;

  static Receiver<T>& rx(void* end) { return *static_cast<Receiver<T>*>(end); }
  static Sender<T>& tx(void* end) { return *static_cast<Sender<T>*>(end); }

  [[noreturn]] static void moved_from() {
    sd::select_misuse("an operation of a select refers to a handle that was moved from after it was added");
  }
  static ch::Shared<T>& chan(const detail::Handle<T, false>& h) {
    const auto* self = static_cast<const Receiver<T>*>(&h);
    if (self->counter_ == nullptr) {
      moved_from();
    }
    return self->counter_->chan();
  }
  static ch::Shared<T>& chan(const Sender<T>& h) {
    if (h.counter_ == nullptr) {
      moved_from();
    }
    return h.counter_->chan();
  }

  // --- receives ----------------------------------------------------------------

  static bool start_recv(void* end, Token& token, bool quick) {
    Receiver<T>& r = rx(end);
    auto& c = chan(r);
    if (!r.has_staged_) {
      if (quick && !c.hints_ready()) {
        return false;
      }
      switch (c.start_recv(r.staged_)) {
        case ch::RecvStatus::Ready:
          r.has_staged_ = true;
          break;
        case ch::RecvStatus::Disconnected:
          token.disconnected = true;
          return true;
        default:
          return false;
      }
    }
    token.message = r.staged_.get();
    return true;
  }
  static bool peek_recv(void* end) {
    const Receiver<T>& r = rx(end);
    return r.has_staged_ || chan(r).looks_ready();
  }
  static bool watch_recv(void* end, ch::Registration& registration, bool look) {
    Receiver<T>& r = rx(end);
    return !r.has_staged_ && chan(r).watch_recv(registration, look, r.staged_);
  }
  static void unwatch_recv(void* end, ch::Registration& registration) {
    Receiver<T>& r = rx(end);
    if (chan(r).unwatch_recv(registration)) {
      r.has_staged_ = true;  // a sender handed its message into the room
    }
  }
  static spindle::detail::Deadline due(void* /*end*/) { return spindle::detail::forever; }
  // cppcheck-suppress constParameter ; the signature of OpTable::abandon
  static void abandon_recv(void* end, Token& token) {
    Receiver<T>& r = rx(end);
    if (!token.disconnected && r.has_staged_) {
      chan(r).requeue(r.staged_);
      r.has_staged_ = false;
    }
  }
  static void forward_recv(void* end) { chan(rx(end)).forward_recv(); }

  static Result<T, RecvError> complete_recv(Receiver<T>& r, const Token& token) {
    if (token.disconnected) {
      return Err(RecvError{});
    }
    struct Drop {
      Receiver<T>& r;
      ~Drop() { r.drop_staged(); }
    } drop{r};
    return Result<T, RecvError>(in_place_ok, std::move(*r.staged_.get()));
  }

  // --- sends -------------------------------------------------------------------

  static bool start_send(void* end, Token& token, bool /*quick*/) {
    switch (chan(tx(end)).start_send(token.claim)) {
      case ch::SendStatus::Ok:
        return true;
      case ch::SendStatus::Disconnected:
        token.disconnected = true;
        return true;
      default:
        return false;
    }
  }
  static bool peek_send(void* end) { return chan(tx(end)).can_send(); }
  static bool watch_send(void* end, ch::Registration& registration, bool /*look*/) {
    return chan(tx(end)).watch_send(registration);
  }
  static void unwatch_send(void* end, ch::Registration& registration) { chan(tx(end)).unwatch_send(registration); }
  static void abandon_send(void* end, Token& token) {
    if (!token.disconnected) {
      chan(tx(end)).abandon(token.claim);
    }
  }
  static void forward_send(void* end) { chan(tx(end)).forward_send(); }

  static Result<void, SendError<T>> complete_send(const Sender<T>& s, const Token& token, T& value) {
    if (token.disconnected) {
      return Result<void, SendError<T>>(in_place_err, std::move(value));
    }
    chan(s).write(token.claim, value);
    return Ok();
  }
};

}  // namespace detail

}  // namespace spindle::mpmc

namespace spindle::mpsc::detail {

template <class T>
struct SelectEnd<spindle::mpmc::Receiver<T>> {
  using A = spindle::mpmc::detail::SelectAccess<T>;
  using value_type = T;
  static constexpr OpTable recv_table{&A::start_recv, &A::peek_recv,  &A::watch_recv,   &A::unwatch_recv,
                                      &A::due,        &A::abandon_recv, &A::forward_recv, true};
  static bool empty(const spindle::mpmc::Receiver<T>& rx) { return !rx.live(); }
  static Result<T, RecvError> complete_recv(spindle::mpmc::Receiver<T>& rx, Token& token) {
    return A::complete_recv(rx, token);
  }
};

template <class T>
struct SelectEnd<spindle::mpmc::Sender<T>> {
  using A = spindle::mpmc::detail::SelectAccess<T>;
  using value_type = T;
  static constexpr OpTable send_table{&A::start_send, &A::peek_send,    &A::watch_send,   &A::unwatch_send,
                                      &A::due,        &A::abandon_send, &A::forward_send, false};
  static bool empty(const spindle::mpmc::Sender<T>& tx) { return !tx.live(); }
  static Result<void, SendError<T>> complete_send(spindle::mpmc::Sender<T>& tx, Token& token, T& value) {
    return A::complete_send(tx, token, value);
  }
};

}  // namespace spindle::mpsc::detail
