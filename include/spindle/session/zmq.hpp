// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::session across processes and machines, over ZeroMQ (libzmq and
/// its header-only C++ binding cppzmq; Debian: libzmq3-dev cppzmq-dev).
/// Optional: the rest of spindle needs neither; link the CMake target
/// spindle::zmq (or -lzmq) to use this header.
///
///   // the server: one endpoint per client, as many clients as it likes
///   spindle::session::remote::Listener<Atm> listener("tcp://127.0.0.1:5555");
///   Chan<Atm> c = listener.accept();
///
///   // the client, in another process
///   Chan<Dual<Atm>> c = spindle::session::remote::dial<Dual<Atm>>("tcp://127.0.0.1:5555");
///
/// The endpoints are the same Chan<P> as in-process sessions, with the
/// same steps: code written against an endpoint serves both. What differs:
///   - every message type needs a codec (<spindle/session/codec.hpp>), and
///     an endpoint cannot be sent to another process (a compile error);
///   - at connect, each side's protocol is checked against the other's by
///     its fingerprint (<spindle/session/fingerprint.hpp>): a client whose
///     protocol is not the dual of the listener's is refused before any
///     step, and both sides say why (dial throws Refused; the listener
///     reports it through Options::on_refused);
///   - a peer that dies, goes silent, or breaks the protocol (a malformed,
///     oversized or unexpected message) ends the session: the next step
///     throws Disconnected, within Options::heartbeat + Options::timeout
///     of the peer's death, never later;
///   - a send waits while Options::window messages (or window_bytes bytes)
///     it sent are still unread by the peer: the memory a session holds is
///     bounded on both sides, whatever the peer does.
///
/// Each message is one ZeroMQ frame: one byte saying what it is (the index
/// of its type among what that direction carries, or a control frame),
/// then the codec's bytes. docs/remote.md has the wire format and the
/// fault model.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <zmq.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "spindle/detail/session/frames.hpp"
#include "spindle/session.hpp"
#include "spindle/session/codec.hpp"
#include "spindle/session/fingerprint.hpp"

namespace spindle::session::remote {

/// How a listener or a dialer runs its sessions.
struct Options {
  /// How often an idle connection is pinged (ZeroMQ's own heartbeats), and
  /// how often a step that waits checks that its peer is still there.
  std::chrono::milliseconds heartbeat{250};
  /// A peer that answers nothing for this long is gone: the connection is
  /// dropped and the session's next step throws Disconnected.
  std::chrono::milliseconds timeout{3000};
  /// The largest message accepted, in bytes (its codec's bytes). A peer that
  /// sends a bigger one ends its session; a send of a bigger one than the
  /// peer accepts throws std::length_error, and ends the session.
  std::size_t max_message = std::size_t{1} << 20;
  /// How many messages, and how many bytes, the peer may send that this
  /// side has not read yet. A peer that sends more ends its session. So a
  /// session holds at most window_bytes of messages (or one message, if
  /// larger), plus about 64 bytes for each (256 KiB for the default
  /// window). Larger windows keep a stream going over a link with more
  /// bandwidth or delay; smaller ones keep what is in flight in cache.
  std::size_t window = 4096;
  std::size_t window_bytes = std::size_t{4} << 20;
  /// dial(): how long to wait for the listener to accept (or refuse).
  std::chrono::milliseconds connect_timeout{5000};
  /// Listener: how many clients may wait for accept() at once; more are
  /// refused as busy.
  std::size_t backlog = 128;
  /// Listener: called (from accept, on the thread that called it) with a
  /// description of each client refused since the last call: a protocol
  /// that is not the dual of the listener's, a busy listener, a malformed
  /// hello. Unset: the description is written to std::cerr.
  std::function<void(const std::string&)> on_refused;
  /// The ZeroMQ context to use; null: one shared by the whole process.
  ::zmq::context_t* context = nullptr;
};

/// dial() could not open a session: nothing answered in time, or the
/// endpoint is not one ZeroMQ can use.
class ConnectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// dial()'s peer refused the session: its protocol is not the dual of this
/// side's (what() shows both), or it is not accepting.
class Refused : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

namespace detail {

using spindle::detail::Clock;
using spindle::detail::Deadline;
using spindle::detail::forever;

// --- the wire ------------------------------------------------------------------------------

// The first byte of a frame: below `control`, a message of the protocol
// (the index of its type in the direction's variant); from `control` up,
// the transport's own frames.
enum Kind : std::uint8_t {
  control = 0xF0,
  hello = 0xF0,    // dialer: magic, version, its limits, its protocol's fingerprint
  welcome = 0xF1,  // listener: magic, version, its limits
  refuse = 0xF2,   // listener: its protocol's fingerprint, why
  credit = 0xF3,   // the messages and bytes read so far, in all
  ping = 0xF4,     // nothing: is the peer there?
  bye = 0xF5,      // this side's endpoint is gone (closed, dropped, or the session broke)
};
inline constexpr std::uint32_t magic = 0x53504e44;  // "SPND"
inline constexpr std::uint8_t version = 1;
// The name a dialer knows its one peer, the listener, by.
inline constexpr std::string_view listener_id = "L";

// What a receiver lets a sender do, told at connect.
struct Limits {
  std::uint64_t window;
  std::uint64_t window_bytes;
  std::uint64_t max_message;
};
inline Limits limits_of(const Options& options) {
  return {std::max<std::uint64_t>(options.window, 1), std::max<std::uint64_t>(options.window_bytes, 1),
          options.max_message};
}

template <class... T>
::zmq::message_t frame(Kind kind, const T&... fields) {
  std::string bytes(1, static_cast<char>(kind));
  Writer out(bytes);
  (encode(out, fields), ...);
  return {bytes.data(), bytes.size()};
}

// ThreadSanitizer cannot see libzmq's own hand-offs (it is not built with
// it): over inproc, a frame's bytes written by one thread are read by
// another with nothing between them that it knows of. These say what
// libzmq guarantees: sending a frame happens before receiving it.
#if defined(__SANITIZE_THREAD__)
#define SPINDLE_REMOTE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPINDLE_REMOTE_TSAN 1
#endif
#endif
#if defined(SPINDLE_REMOTE_TSAN)
extern "C" void __tsan_acquire(void* address);  // NOLINT(bugprone-reserved-identifier): ThreadSanitizer's
extern "C" void __tsan_release(void* address);  // NOLINT(bugprone-reserved-identifier): ThreadSanitizer's
inline void handing_over(::zmq::message_t& message) noexcept { __tsan_release(message.data()); }
inline void taking_over(::zmq::message_t& message) noexcept { __tsan_acquire(message.data()); }
#else
inline void handing_over(::zmq::message_t& /*message*/) noexcept {}
inline void taking_over(::zmq::message_t& /*message*/) noexcept {}
#endif

inline std::string_view view(const ::zmq::message_t& message) noexcept {
  return {static_cast<const char*>(message.data()), message.size()};
}

// ZeroMQ's context for the whole process: created on first use and never
// destroyed, so that no static destructor waits on a socket still open.
inline ::zmq::context_t& shared_context() {
  static auto* context = new ::zmq::context_t();  // NOLINT(cppcoreguidelines-owning-memory): on purpose
  return *context;
}

// Makes a ZeroMQ call again when a signal interrupted it (EINTR): any
// thread of the program may take signals (a timer's, a profiler's).
template <class Call>
auto again_if_interrupted(Call&& call) {
  for (;;) {
    try {
      return call();
    } catch (const ::zmq::error_t& error) {
      if (error.num() != EINTR) {
        throw;
      }
    }
  }
}

// A self-pipe: wakes the thread that waits in poll() on the socket.
class WakePipe {
 public:
  WakePipe() {
    if (::pipe(fds_) != 0) {
      throw std::system_error(errno, std::generic_category(), "spindle::session::remote: pipe");
    }
    for (const int end : fds_) {
      ::fcntl(end, F_SETFL, ::fcntl(end, F_GETFL) | O_NONBLOCK);
      ::fcntl(end, F_SETFD, FD_CLOEXEC);
    }
  }
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;
  ~WakePipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  [[nodiscard]] int fd() const noexcept { return fds_[0]; }
  void wake() const noexcept {
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(fds_[1], &byte, 1);  // full: already awake
  }
  void drain() const noexcept {
    char bytes[64];
    while (::read(fds_[0], bytes, sizeof bytes) > 0) {
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

// A thread waiting on a Hub: for a message of its session (or a client to
// accept), or, as the leader, on the socket itself.
struct Waiter {
  std::condition_variable cv;
};

// One session as the Hub sees it. Guarded by the Hub's mutex.
struct Peer {
  // dialing: hello sent, no answer yet; open; refused; closing: this side
  // said bye at Eps and waits for the peer's; closed: the peer said bye;
  // gone: over.
  enum class State : std::uint8_t { dialing, open, refused, closing, closed, gone };

  std::string id;  // the ZeroMQ routing id
  State state = State::open;
  std::string why;                      // refused or gone: the reason
  Limits theirs{};                      // what the peer lets this side send
  std::vector<::zmq::message_t> inbox;  // frames the endpoint has not taken
  // What this side sent, and what the peer said it has read.
  std::uint64_t sent = 0;
  std::uint64_t sent_bytes = 0;
  std::uint64_t acked = 0;
  std::uint64_t acked_bytes = 0;
  // What the peer sent, and what this side's endpoint has read (as far as
  // it told the hub).
  std::uint64_t received = 0;
  std::uint64_t received_bytes = 0;
  std::uint64_t read = 0;
  std::uint64_t read_bytes = 0;
  Waiter* waiter = nullptr;

  [[nodiscard]] bool over() const noexcept { return state == State::closed || state == State::gone; }
};

// A client waiting to be accepted.
struct Pending {
  std::string id;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read by Listener::accept_deadline
  Limits theirs;
};

// A ZeroMQ socket and the sessions on it: a listener's ROUTER with all its
// sessions (by the routing id of each client), or a dialer's DEALER with its
// one session. Any thread may use it; a mutex guards it all. A thread
// that waits either leads (polls the socket, with the mutex released, and
// hands what arrives to the session it is for) or follows (sleeps until
// the leader hands it something, or leaves the lead to it). Whoever uses
// the socket drains it before letting go of the mutex, so that the socket's
// file descriptor signals again when the next frame arrives.
class Hub {
 public:
  Hub(const Options& options, bool listening)
      : options_(options),
        ours_(limits_of(options)),
        listening_(listening),
        socket_(options.context != nullptr ? *options.context : shared_context(),
                listening ? ::zmq::socket_type::router : ::zmq::socket_type::dealer) {
    if (listening) {
      socket_.set(::zmq::sockopt::router_mandatory, 1);  // a client gone: its sends fail at once
    }
    // No limit of ZeroMQ's on what this side queues to send: the peer's
    // window bounds it (and a full queue would cost a retry).
    socket_.set(::zmq::sockopt::sndhwm, 0);
    socket_.set(::zmq::sockopt::linger, static_cast<int>(options.timeout.count()));
    socket_.set(::zmq::sockopt::heartbeat_ivl, static_cast<int>(options.heartbeat.count()));
    socket_.set(::zmq::sockopt::heartbeat_timeout, static_cast<int>(options.timeout.count()));
    socket_.set(::zmq::sockopt::heartbeat_ttl, static_cast<int>(options.timeout.count()));
    socket_.set(::zmq::sockopt::handshake_ivl, static_cast<int>(options.timeout.count()));
    // A frame is one byte and the codec's bytes; a hello also carries a
    // fingerprint, which a protocol of sane size keeps well under 64 KiB.
    socket_.set(::zmq::sockopt::maxmsgsize,
                static_cast<std::int64_t>(std::max<std::size_t>(options.max_message, 65536) + 1));
    fd_ = socket_.get(::zmq::sockopt::fd);
    if (!listening) {
      // A dialer's socket has one connection, whose end is its session's:
      // its monitor says when it drops (the peer's process died, or it
      // stopped answering heartbeats).
      static std::atomic<std::uint64_t> monitors{0};
      const std::string address = "inproc://spindle.session.remote.monitor." + std::to_string(++monitors);
      if (::zmq_socket_monitor(socket_.handle(), address.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) {
        throw ::zmq::error_t();
      }
      monitor_.emplace(options.context != nullptr ? *options.context : shared_context(), ::zmq::socket_type::pair);
      monitor_->connect(address);
      monitor_fd_ = monitor_->get(::zmq::sockopt::fd);
      // Read once now: ZeroMQ signals the descriptor only for a message to
      // a reader that found nothing last time, and the leader polls the
      // descriptor before it reads (the socket itself it reads first).
      drain_monitor();
    }
  }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;
  ~Hub() {
    if (monitor_) {
      ::zmq_socket_monitor(socket_.handle(), nullptr, 0);
    }
  }

  std::mutex& mutex() noexcept { return mutex_; }
  ::zmq::socket_t& socket() noexcept { return socket_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const Limits& ours() const noexcept { return ours_; }

  // --- the listener's side ---

  void expect(std::string theirs, std::string mine) {
    expected_ = std::move(theirs);
    mine_ = std::move(mine);
  }
  void stop_accepting(std::unique_lock<std::mutex>& lock) {
    accepting_ = false;
    while (!pending_.empty()) {
      send_control(pending_.front().id, frame(refuse, mine_, std::string("the listener is closed")));
      pending_.pop_front();
    }
    drain_if_led(lock);
  }
  std::optional<Pending> next_pending() {
    if (pending_.empty()) {
      return std::nullopt;
    }
    Pending next = std::move(pending_.front());
    pending_.pop_front();
    return next;
  }
  [[nodiscard]] bool has_pending() const noexcept { return !pending_.empty(); }
  std::vector<std::string> take_refusals() { return std::exchange(refusals_, {}); }
  void set_acceptor(Waiter* waiter) noexcept { acceptor_ = waiter; }

  // --- sessions ---

  std::shared_ptr<Peer> add_peer(std::string id, Peer::State state, Limits theirs) {
    auto peer = std::make_shared<Peer>();
    peer->id = std::move(id);
    peer->state = state;
    peer->theirs = theirs;
    peers_[peer->id] = peer;
    recent_ = nullptr;
    return peer;
  }
  void remove_peer(const Peer& peer) {
    if (recent_ == &peer) {
      recent_ = nullptr;
    }
    peers_.erase(peer.id);
  }

  enum class Sent : std::uint8_t { yes, full, unreachable };

  // Sends a frame of the protocol (or a hello). Full: the peer's queue is
  // full for now. Unreachable: the peer is gone, and its session ends.
  Sent send_to(Peer& peer, ::zmq::message_t& message, std::unique_lock<std::mutex>& lock) {
    const auto sent = send(peer.id, message);
    if (!sent) {
      end(peer, "the peer's process or connection is gone");
    }
    // Whatever arrives meanwhile is the peer's next move, not this send's
    // outcome.
    drain_if_led(lock);
    if (!sent) {
      return Sent::unreachable;
    }
    return *sent ? Sent::yes : Sent::full;
  }
  // A frame of the transport's, best effort.
  void send_control(std::string_view id, ::zmq::message_t&& message) noexcept {
    try {
      (void)send(id, message);
    } catch (...) {  // NOLINT(bugprone-empty-catch): best effort
    }
  }

  // Ends a session from this side: it is gone, the peer is told (best
  // effort), whatever it still had to read is dropped.
  void end(Peer& peer, std::string why) {
    if (peer.state != Peer::State::gone) {
      if (peer.state == Peer::State::open || peer.state == Peer::State::dialing) {
        send_control(peer.id, frame(bye));
      }
      peer.state = Peer::State::gone;
      peer.why = std::move(why);
    }
    peer.inbox.clear();
    wake(peer.waiter);
  }

  // Waits, with `lock` held around each test, until done() or `deadline`
  // (false then); meanwhile checks every heartbeat that `probed` (if any)
  // is still there.
  template <class Done>
  bool wait(std::unique_lock<std::mutex>& lock, Waiter& self, Peer* probed, Deadline deadline, Done done) {
    if (done()) {
      return true;  // without reading the clock
    }
    Deadline next_probe = Clock::now() + options_.heartbeat;
    for (;;) {
      if (done()) {
        return true;
      }
      const Deadline now = Clock::now();
      if (now >= deadline) {
        return false;
      }
      if (probed != nullptr && now >= next_probe) {
        probe(*probed, lock);
        next_probe = now + options_.heartbeat;
        continue;
      }
      const Deadline until = probed != nullptr ? std::min(deadline, next_probe) : deadline;
      if (leader_ == nullptr) {
        lead(lock, self, until);
      } else {
        waiting_.push_back(&self);
        self.cv.wait_until(lock, std::min(until, now + std::chrono::seconds(60)));
        waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &self));
      }
    }
  }

  // Reads everything the socket has, with the mutex held.
  void drain() {
    if (!listening_) {
      drain_dealer();
      return;
    }
    for (;;) {
      ::zmq::message_t id;
      ::zmq::message_t body;
      if (!again_if_interrupted([&] { return socket_.recv(id, ::zmq::recv_flags::dontwait); })) {
        quiet_ = true;
        return;
      }
      bool well_formed = id.more();
      if (well_formed) {
        (void)again_if_interrupted(
            [&] { return socket_.recv(body, ::zmq::recv_flags::dontwait); });  // a message's parts arrive together
        taking_over(body);
        well_formed = !body.more() && body.size() > 0;
        while (body.more()) {
          ::zmq::message_t extra;
          (void)again_if_interrupted([&] { return socket_.recv(extra, ::zmq::recv_flags::dontwait); });
          body.swap(extra);
        }
      }
      deliver(view(id), std::move(body), well_formed);
    }
  }

 private:
  // Sends [id, message]: nothing if the peer is unreachable, false if its
  // queue is full for now.
  std::optional<bool> send(std::string_view id, ::zmq::message_t& message) {
    quiet_ = false;  // a send may take in what the descriptor signalled
    try {
      if (!listening_) {  // a dialer's DEALER: one peer, one frame
        handing_over(message);
        return again_if_interrupted([&] { return socket_.send(message, ::zmq::send_flags::dontwait); }).has_value();
      }
      if (!again_if_interrupted([&] {
            return socket_.send(::zmq::buffer(id), ::zmq::send_flags::sndmore | ::zmq::send_flags::dontwait);
          })) {
        return false;
      }
      // The routing frame went out: the body follows it at once (ROUTER
      // sends a message's parts together).
      handing_over(message);
      (void)again_if_interrupted([&] { return socket_.send(message, ::zmq::send_flags::dontwait); });
      return true;
    } catch (const ::zmq::error_t& error) {
      if (error.num() == EHOSTUNREACH) {
        return std::nullopt;
      }
      throw;
    }
  }

  // A dialer's frames: all from its one peer, the listener.
  void drain_dealer() {
    for (;;) {
      ::zmq::message_t body;
      if (!again_if_interrupted([&] { return socket_.recv(body, ::zmq::recv_flags::dontwait); })) {
        quiet_ = true;
        return;
      }
      taking_over(body);
      bool well_formed = body.size() > 0;
      while (body.more()) {
        well_formed = false;
        ::zmq::message_t extra;
        (void)again_if_interrupted([&] { return socket_.recv(extra, ::zmq::recv_flags::dontwait); });
        body.swap(extra);
      }
      deliver(listener_id, std::move(body), well_formed);
    }
  }

  // A dialer's connection dropped: once its session began, that ends it
  // (before, the hello is sent again on the next connection).
  void drain_monitor() {
    if (!monitor_) {
      return;
    }
    for (;;) {
      ::zmq::message_t event;
      if (!again_if_interrupted([&] { return monitor_->recv(event, ::zmq::recv_flags::dontwait); })) {
        return;
      }
      while (event.more()) {
        ::zmq::message_t address;
        (void)again_if_interrupted([&] { return monitor_->recv(address, ::zmq::recv_flags::dontwait); });
        event.swap(address);
      }
      for (const auto& entry : peers_) {
        Peer& peer = *entry.second;
        if (peer.state == Peer::State::open || peer.state == Peer::State::closing) {
          end(peer, "the connection to the peer dropped (its process died, or it stopped answering heartbeats)");
        }
      }
    }
  }

  // A listener's ping to a client that is gone fails (ROUTER_MANDATORY):
  // that is how it notices. A dialer's send never fails; its monitor
  // reports a dropped connection instead, so it does not ping.
  void probe(Peer& peer, std::unique_lock<std::mutex>& lock) {
    if (!listening_ || (peer.state != Peer::State::open && peer.state != Peer::State::closing)) {
      return;
    }
    ::zmq::message_t message = frame(ping);
    if (!send(peer.id, message)) {
      end(peer, "the peer's process or connection is gone (no answer to heartbeats)");
    }
    drain_if_led(lock);
  }

  // Polls the socket until `until` or a wake-up, with the mutex released.
  void lead(std::unique_lock<std::mutex>& lock, Waiter& self, Deadline until) {
    leader_ = &self;
    if (!quiet_) {
      drain();
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    bool pipe_ready = false;
    bool monitor_ready = false;
    if (left > 0 && !woken_) {
      pollfd fds[3] = {{fd_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}, {monitor_fd_, POLLIN, 0}};
      polling_ = true;
      lock.unlock();
      ::poll(fds, monitor_ ? 3 : 2, static_cast<int>(std::min<long long>(left, 60'000)));
      lock.lock();
      polling_ = false;
      pipe_ready = fds[1].revents != 0;
      monitor_ready = monitor_ && fds[2].revents != 0;
    }
    // Only what poll() found ready is read: each read of an empty pipe or
    // socket is a system call.
    if (pipe_ready) {
      wake_.drain();
    }
    if (monitor_ready) {
      drain_monitor();
    }
    drain();
    woken_ = false;  // the caller tests its condition next anyway
    leader_ = nullptr;
    // Someone else may lead now.
    if (!waiting_.empty()) {
      waiting_.front()->cv.notify_one();
    }
  }

  // After using the socket while another thread leads: that thread polls
  // the socket's descriptor, which this use may have quieted, so drain here.
  void drain_if_led(std::unique_lock<std::mutex>& /*lock*/) {
    if (leader_ != nullptr) {
      drain();
    }
  }

  void wake(Waiter* waiter) {
    if (waiter == nullptr) {
      return;
    }
    if (waiter == leader_) {
      // The pipe only for a leader inside poll(); otherwise it holds the
      // mutex (this very thread, draining) and looks next.
      woken_ = true;
      if (polling_) {
        wake_.wake();
      }
    } else {
      waiter->cv.notify_one();
    }
  }

  // The session of routing id `id`, if this side has it. Frames come in
  // runs from one peer, so the last one found is tried first.
  Peer* find_peer(std::string_view id) {
    if (recent_ != nullptr && recent_->id == id) {
      return recent_;
    }
    const auto found = peers_.find(std::string(id));
    if (found == peers_.end()) {
      return nullptr;
    }
    recent_ = found->second.get();
    return recent_;
  }

  void deliver(std::string_view id, ::zmq::message_t body, bool well_formed) {
    Peer* const found = find_peer(id);
    if (found == nullptr) {
      const bool waits = std::any_of(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.id == id; });
      if (listening_ && well_formed && static_cast<std::uint8_t>(view(body)[0]) == hello) {
        if (!waits) {
          greet(std::string(id), body);
        }
      } else if (well_formed && !waits &&
                 (static_cast<std::uint8_t>(view(body)[0]) < control ||
                  static_cast<std::uint8_t>(view(body)[0]) == ping)) {
        // A session this side no longer has (or never had): say so, so that
        // a peer that lost its connection and reconnected learns it.
        send_control(id, frame(bye));
      }
      return;
    }
    Peer& peer = *found;
    if (peer.over()) {
      return;  // late frames of a session that ended
    }
    if (!well_formed) {
      end(peer, "the peer sent a malformed frame");
      return;
    }
    const std::string_view bytes = view(body);
    const auto kind = static_cast<std::uint8_t>(bytes[0]);
    try {
      if (kind < control) {
        accept_data(peer, std::move(body));
      } else if (kind == credit) {
        const auto [read, read_bytes] = decode_all<std::tuple<std::uint64_t, std::uint64_t>>(bytes.substr(1));
        if (read < peer.acked || read > peer.sent || read_bytes < peer.acked_bytes || read_bytes > peer.sent_bytes) {
          end(peer, "the peer sent a credit for messages never sent");
          return;
        }
        peer.acked = read;
        peer.acked_bytes = read_bytes;
        wake(peer.waiter);
      } else if (kind == ping) {
        // Only the transport's question.
      } else if (kind == bye) {
        if (peer.state == Peer::State::dialing) {
          end(peer, "the listener closed the connection");
          return;
        }
        peer.state = Peer::State::closed;
        peer.why = "the peer's endpoint is gone";
        wake(peer.waiter);
      } else if (kind == welcome && peer.state == Peer::State::dialing) {
        const auto [their_magic, their_version, window, window_bytes, max_message] =
            decode_all<std::tuple<std::uint32_t, std::uint8_t, std::uint64_t, std::uint64_t, std::uint64_t>>(
                bytes.substr(1));
        if (their_magic != magic || their_version != version || window == 0 || window_bytes == 0) {
          end(peer, "the listener's welcome is malformed");
          return;
        }
        peer.theirs = {window, window_bytes, max_message};
        peer.state = Peer::State::open;
        wake(peer.waiter);
      } else if (kind == refuse && peer.state == Peer::State::dialing) {
        auto [theirs, why] = decode_all<std::tuple<std::string, std::string>>(bytes.substr(1));
        peer.state = Peer::State::refused;
        peer.why = why + "; the listener's protocol is " + theirs;
        wake(peer.waiter);
      } else {
        end(peer, "the peer sent a frame of an unknown kind, or out of turn");
      }
    } catch (const DecodeError&) {
      end(peer, "the peer sent a malformed control frame");
    }
  }

  void accept_data(Peer& peer, ::zmq::message_t&& body) {
    const std::uint64_t size = body.size() - 1;
    if (peer.state != Peer::State::open) {
      end(peer, "the peer sent a message before the session began");
      return;
    }
    if (size > ours_.max_message) {
      end(peer, "the peer sent a message over the size limit (Options::max_message)");
      return;
    }
    const std::uint64_t unread = peer.received - peer.read;
    if (unread >= ours_.window || (unread > 0 && peer.received_bytes - peer.read_bytes + size > ours_.window_bytes)) {
      end(peer, "the peer sent more than its window of unread messages (Options::window)");
      return;
    }
    ++peer.received;
    peer.received_bytes += size;
    peer.inbox.push_back(std::move(body));
    wake(peer.waiter);
  }

  // A hello from a client not yet known.
  void greet(const std::string& id, const ::zmq::message_t& body) {
    std::string refusal;
    try {
      const auto [their_magic, their_version, window, window_bytes, max_message, theirs] =
          decode_all<std::tuple<std::uint32_t, std::uint8_t, std::uint64_t, std::uint64_t, std::uint64_t, std::string>>(
              view(body).substr(1));
      if (their_magic != magic || their_version != version || window == 0 || window_bytes == 0) {
        refusal = "a client sent a hello of another wire format or version";
      } else if (theirs != expected_) {
        refusal = "a client's protocol is not the dual of this listener's: the client speaks " + theirs +
                  ", the listener speaks " + mine_ + " and so expects " + expected_;
        send_control(id, frame(refuse, mine_,
                               "the protocols are not dual: the listener accepts clients that speak " + expected_));
      } else if (!accepting_) {
        send_control(id, frame(refuse, mine_, std::string("the listener is closed")));
        return;
      } else if (pending_.size() >= options_.backlog) {
        refusal = "a client was refused: too many clients wait for accept() (Options::backlog)";
        send_control(id, frame(refuse, mine_, std::string("the listener is busy")));
      } else {
        pending_.push_back({id, {window, window_bytes, max_message}});
        wake(acceptor_);
        return;
      }
    } catch (const DecodeError&) {
      refusal = "a client sent a malformed hello";
    }
    if (refusals_.size() < 64) {
      refusals_.push_back(std::move(refusal));
    }
    wake(acceptor_);
  }

  Options options_;
  Limits ours_;
  bool listening_;
  std::mutex mutex_;
  ::zmq::socket_t socket_;
  int fd_ = -1;
  std::optional<::zmq::socket_t> monitor_;  // a dialer's
  int monitor_fd_ = -1;
  WakePipe wake_;
  Waiter* leader_ = nullptr;
  bool woken_ = false;    // the leader has something to look at
  bool polling_ = false;  // the leader is inside poll(), without the mutex
  // The socket was read until it had nothing, and not used since: its
  // descriptor will signal what comes next, so poll() needs no read first.
  bool quiet_ = false;
  std::vector<Waiter*> waiting_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> peers_;
  Peer* recent_ = nullptr;  // the peer deliver() found last
  // The listener's: what a client must speak (the dual of its protocol),
  // what it speaks, and the clients waiting for accept().
  std::string expected_;
  std::string mine_;
  bool accepting_ = true;
  std::deque<Pending> pending_;
  std::vector<std::string> refusals_;
  Waiter* acceptor_ = nullptr;
};

// Whether the message list L names an endpoint (delegation).
template <class V>
struct CarriesEndpoint;
template <class... T>
struct CarriesEndpoint<std::variant<T...>> : std::bool_constant<(session::detail::IsChan<T>::value || ...)> {};

// The session's transport to its peer on a Hub: an endpoint's Wire.
template <class Root>
class ZmqWire final
    : public session::detail::Wire<session::detail::Message<Root, true>, session::detail::Message<Root, false>> {
  using Out = session::detail::Message<Root, true>;
  using In = session::detail::Message<Root, false>;

 public:
  ZmqWire(std::shared_ptr<Hub> hub, std::shared_ptr<Peer> peer) noexcept
      : hub_(std::move(hub)), peer_(std::move(peer)) {}
  ZmqWire(const ZmqWire&) = delete;
  ZmqWire& operator=(const ZmqWire&) = delete;
  ZmqWire(ZmqWire&&) = delete;
  ZmqWire& operator=(ZmqWire&&) = delete;

  ~ZmqWire() override {
    try {
      const std::lock_guard<std::mutex> lock(hub_->mutex());
      if (!peer_->over()) {
        hub_->send_control(peer_->id, frame(bye));
      }
      hub_->remove_peer(*peer_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the peer learns from the connection
    }
  }

  // Both sides at Eps: each says so and waits (for its timeout at most)
  // to hear the peer say so too. The peer at Eps has read every message
  // this side sent, so the socket may go (and the process exit) without
  // losing any.
  void finish() noexcept override {
    try {
      std::unique_lock<std::mutex> lock(hub_->mutex());
      Peer& peer = *peer_;
      if (peer.state == Peer::State::gone) {
        return;
      }
      hub_->send_control(peer.id, frame(bye));
      if (peer.state == Peer::State::closed) {
        peer.state = Peer::State::gone;  // the peer said so first
        return;
      }
      peer.state = Peer::State::closing;
      const Registered registered(peer, waiter_);
      hub_->wait(lock, waiter_, &peer, spindle::detail::deadline_after(hub_->options().timeout),
                 [&] { return peer.state != Peer::State::closing; });
      peer.state = Peer::State::gone;
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the peer learns from the connection
    }
  }

  // Every message, a choice too, goes at once in a frame of its own, as an
  // in-process send does: a choice kept back for the next message's frame
  // would leave the peer waiting in offer() while this side waits for it
  // some other way (a barrier, a lock, another session), and neither would
  // go on. Only select<I>(value) holds its choice back for the value's
  // frame: nothing between the two waits (only the value's conversion to
  // the message type runs).
  void put(Out&& message) override {
    try {
      session::detail::encode_record(writing_, message);
      if (std::exchange(holding_, false)) {
        return;
      }
      send_frame(writing_);
    } catch (...) {
      holding_ = false;
      restart_writing();
      throw;
    }
    restart_writing();
  }

  void hold_next() noexcept override { holding_ = true; }

  std::optional<In> take(session::detail::Expect expected, Deadline deadline) override {
    if (offset_ == reading_.size() && !next_frame(deadline)) {
      return std::nullopt;
    }
    // A frame is records: choices (two bytes each), then at most one
    // message, which runs to its end. The frame is this endpoint's now, so
    // the records after the first need no lock.
    const std::string_view rest = view(reading_).substr(offset_);
    const std::size_t length = session::detail::record_length<In>(rest);
    offset_ += length;
    std::optional<In> message;
    take_record(message, expected, rest.substr(0, length));
    if (offset_ == reading_.size() && reading_.size() > kept_capacity) {
      reading_.rebuild();  // one large message does not pin its size
      offset_ = 0;
    }
    return message;
  }

 private:
  // One record of a frame, into `message`: the message this step expects,
  // or the end of the session.
  void take_record(std::optional<In>& message, session::detail::Expect expected, std::string_view record) {
    try {
      session::detail::decode_record_into(message, expected, record);
    } catch (const session::detail::BrokenRecord& error) {
      broken(error.what());
    }
  }

  // Makes the peer's next frame the one being read, waiting for it; false
  // if `deadline` passed first. All the frames the hub holds for this
  // session are taken at once, so that a burst costs one lock.
  bool next_frame(Deadline deadline) {
    if (next_taken_ < taken_.size()) {
      start_reading();
      if (credit_due()) {
        std::unique_lock<std::mutex> lock(hub_->mutex());
        settle(*peer_, lock);
      }
      return true;
    }
    std::unique_lock<std::mutex> lock(hub_->mutex());
    Peer& peer = *peer_;
    settle(peer, lock);  // before waiting: the peer may wait for the credit
    const Registered registered(peer, waiter_);
    if (!hub_->wait(lock, waiter_, &peer, deadline, [&] { return !peer.inbox.empty() || peer.over(); })) {
      return false;
    }
    if (peer.inbox.empty()) {
      throw Disconnected(peer.why);
    }
    taken_.clear();  // both vectors keep their room
    taken_.swap(peer.inbox);
    next_taken_ = 0;
    start_reading();
    settle(peer, lock);
    return true;
  }

  void start_reading() {
    reading_.swap(taken_[next_taken_]);
    taken_[next_taken_++].rebuild();  // frees the frame read before
    offset_ = 0;
    const std::uint64_t bytes = reading_.size() - 1;
    ++unsaid_;
    unsaid_bytes_ += bytes;
    ++uncredited_;
    uncredited_bytes_ += bytes;
  }
  // Every half window read, the peer is told it may send that much again.
  [[nodiscard]] bool credit_due() const noexcept {
    return uncredited_ >= std::max<std::uint64_t>(hub_->ours().window / 2, 1) ||
           uncredited_bytes_ >= hub_->ours().window_bytes / 2;
  }
  // Tells the hub what was read, and the peer if a credit is due.
  void settle(Peer& peer, std::unique_lock<std::mutex>& lock) {
    peer.read += std::exchange(unsaid_, 0);
    peer.read_bytes += std::exchange(unsaid_bytes_, 0);
    if (credit_due() && !peer.over()) {
      uncredited_ = 0;
      uncredited_bytes_ = 0;
      ::zmq::message_t grant = frame(credit, peer.read, peer.read_bytes);
      (void)hub_->send_to(peer, grant, lock);
    }
  }

  // Sends one frame: waits while the peer's window is full.
  void send_frame(const std::string& bytes) {
    const std::uint64_t size = bytes.size() - 1;
    std::unique_lock<std::mutex> lock(hub_->mutex());
    Peer& peer = *peer_;
    if (size > peer.theirs.max_message) {
      hub_->end(peer, "this side sent a message over the peer's size limit");
      throw std::length_error("spindle::session::remote: a message of " + std::to_string(size) +
                              " bytes is over the peer's limit of " + std::to_string(peer.theirs.max_message) +
                              " bytes (its Options::max_message); the session is over");
    }
    ::zmq::message_t frame_out(bytes.data(), bytes.size());
    const Registered registered(peer, waiter_);
    for (;;) {
      const auto room = [&] {
        const std::uint64_t unsent = peer.sent - peer.acked;
        return peer.over() || (unsent < peer.theirs.window &&
                               (unsent == 0 || peer.sent_bytes - peer.acked_bytes + size <= peer.theirs.window_bytes));
      };
      hub_->wait(lock, waiter_, &peer, forever, room);
      if (peer.over()) {
        throw Disconnected(peer.why);
      }
      // Counted before it goes: send_to() may read the peer's credit for
      // it, when another thread polls the socket.
      ++peer.sent;
      peer.sent_bytes += size;
      const Hub::Sent sent = hub_->send_to(peer, frame_out, lock);
      if (sent == Hub::Sent::yes) {
        return;
      }
      --peer.sent;
      peer.sent_bytes -= size;
      if (sent == Hub::Sent::unreachable) {
        throw Disconnected(peer.why);
      }
      // The peer's queue is full for now (it reads slowly): try again soon.
      hub_->wait(lock, waiter_, &peer, Clock::now() + std::chrono::milliseconds(1), [&] { return peer.over(); });
    }
  }

  // Empties the frame buffer for the next message.
  void restart_writing() noexcept {
    if (writing_.capacity() > kept_capacity) {
      std::string().swap(writing_);  // one large message does not pin its size
    } else {
      writing_.clear();
    }
  }

  // Registers a thread waiting for this session, for the time it waits.
  class Registered {
   public:
    Registered(Peer& peer, Waiter& self) noexcept : peer_(peer) { peer_.waiter = &self; }
    Registered(const Registered&) = delete;
    Registered& operator=(const Registered&) = delete;
    ~Registered() { peer_.waiter = nullptr; }

   private:
    Peer& peer_;
  };

  [[noreturn]] void broken(const std::string& why) {
    {
      const std::lock_guard<std::mutex> lock(hub_->mutex());
      hub_->end(*peer_, why);
    }
    throw Disconnected(why);
  }

  // What a frame under construction may keep of its buffer between frames.
  static constexpr std::size_t kept_capacity = std::size_t{64} << 10;

  std::shared_ptr<Hub> hub_;
  std::shared_ptr<Peer> peer_;
  Waiter waiter_;         // the thread using the endpoint, while it waits
  std::string writing_;   // the frame being sent, reused
  bool holding_ = false;  // hold_next(): the next put() waits for the one after
  // The frame being read, and where its next record starts; the frames
  // taken from the hub after it.
  ::zmq::message_t reading_;
  std::size_t offset_ = 0;
  std::vector<::zmq::message_t> taken_;
  std::size_t next_taken_ = 0;
  // Frames (and their bytes) read: since the hub last heard, and since the
  // peer last got a credit.
  std::uint64_t unsaid_ = 0;
  std::uint64_t unsaid_bytes_ = 0;
  std::uint64_t uncredited_ = 0;
  std::uint64_t uncredited_bytes_ = 0;
};

// What a protocol must be to cross processes: no endpoint among its
// messages, and at most 240 message types each way (a tag is one byte).
template <class P>
inline constexpr bool delegates = CarriesEndpoint<session::detail::Message<P, true>>::value ||
                                  CarriesEndpoint<session::detail::Message<P, false>>::value;
template <class P>
inline constexpr bool tags_fit = std::variant_size_v<session::detail::Message<P, true>> <=
                                 control&& std::variant_size_v<session::detail::Message<P, false>> <= control;
template <class P>
inline constexpr bool crosses_processes = !delegates<P> && tags_fit<P>;
template <class P>
constexpr bool check_remote() {
  static_assert(!delegates<P>,
                "spindle::session::remote: an endpoint (a Chan) cannot be sent to another process: delegation works "
                "between threads of one process only");
  static_assert(tags_fit<P>, "spindle::session::remote: a protocol sends at most 240 different types each way");
  return true;
}

template <class P>
Chan<P> endpoint(std::shared_ptr<Hub> hub, std::shared_ptr<Peer> peer) {
  using Root = P;
  auto wire = std::make_unique<ZmqWire<Root>>(std::move(hub), std::move(peer));
  return session::detail::Access<P, Env<P>>::make_remote(std::move(wire));
}

inline void report(const Options& options, const std::vector<std::string>& refusals) {
  for (const std::string& refusal : refusals) {
    if (options.on_refused) {
      options.on_refused(refusal);
    } else {
      std::cerr << "spindle::session::remote: refused: " << refusal << '\n';
    }
  }
}

}  // namespace detail

/// Accepts sessions of protocol P on one ZeroMQ endpoint: "tcp://host:port"
/// ("tcp://127.0.0.1:*" picks a free port: see endpoint()),
/// "ipc:///path", "inproc://name". Each client that dials with the dual
/// protocol gets its own endpoint, from accept(). Move-only; destroying it
/// stops accepting (waiting clients are refused), while the sessions
/// already accepted go on.
template <class P>
class Listener {
  static_assert(detail::check_remote<P>());

 public:
  explicit Listener(const std::string& endpoint, const Options& options = {})
      : hub_(std::make_shared<detail::Hub>(options, true)) {
    if constexpr (detail::crosses_processes<P>) {  // else the error above, and no more
      hub_->expect(fingerprint<Dual<P>>(), fingerprint<P>());
    }
    try {
      hub_->socket().bind(endpoint);
      endpoint_ = hub_->socket().get(::zmq::sockopt::last_endpoint);
    } catch (const ::zmq::error_t& error) {
      throw ConnectError("spindle::session::remote: cannot listen on " + endpoint + ": " + error.what());
    }
  }
  Listener(Listener&&) noexcept = default;
  Listener& operator=(Listener&& other) noexcept {
    if (this != &other) {
      stop();
      hub_ = std::move(other.hub_);
      endpoint_ = std::move(other.endpoint_);
    }
    return *this;
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() { stop(); }

  /// The endpoint bound, with the port ZeroMQ chose for "tcp://host:*".
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

  /// Waits for the next client whose protocol is Dual<P>, and returns its
  /// endpoint. Clients refused meanwhile are reported (Options::on_refused).
  Chan<P> accept() {
    std::optional<Chan<P>> client = accept_deadline(spindle::detail::forever);
    return std::move(*client);
  }

  /// accept(), waiting until `deadline` at most: nothing if no client came.
  std::optional<Chan<P>> accept_deadline(std::chrono::steady_clock::time_point deadline) {
    if (!hub_) {
      throw std::logic_error("spindle::session::remote: accept() on a Listener that was moved from");
    }
    for (;;) {
      std::unique_lock<std::mutex> lock(hub_->mutex());
      detail::Waiter self;
      hub_->set_acceptor(&self);
      std::vector<std::string> refusals;
      const bool came = hub_->wait(lock, self, nullptr, deadline, [&] {
        refusals = hub_->take_refusals();
        return !refusals.empty() || hub_->has_pending();
      });
      hub_->set_acceptor(nullptr);
      std::optional<detail::Pending> client = hub_->next_pending();
      std::shared_ptr<detail::Peer> peer;
      if (client) {
        peer = hub_->add_peer(client->id, detail::Peer::State::open, client->theirs);
        const detail::Limits& ours = hub_->ours();
        ::zmq::message_t welcome = detail::frame(detail::welcome, detail::magic, detail::version, ours.window,
                                                 ours.window_bytes, ours.max_message);
        (void)hub_->send_to(*peer, welcome, lock);
      }
      lock.unlock();
      detail::report(hub_->options(), refusals);
      if (peer) {
        return detail::endpoint<P>(hub_, std::move(peer));  // gone already: its first step says so
      }
      if (!came) {
        return std::nullopt;
      }
    }
  }
  /// accept_deadline(now + timeout).
  template <class Rep, class Period>
  std::optional<Chan<P>> accept_timeout(std::chrono::duration<Rep, Period> timeout) {
    return accept_deadline(spindle::detail::deadline_after(timeout));
  }

 private:
  void stop() noexcept {
    if (hub_) {
      try {
        std::unique_lock<std::mutex> lock(hub_->mutex());
        hub_->stop_accepting(lock);
      } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; waiting clients time out
      }
    }
  }

  std::shared_ptr<detail::Hub> hub_;
  std::string endpoint_;
};

/// Opens a session of protocol P with the listener at `endpoint`, which
/// must speak Dual<P>. Throws Refused if it does not (or is not accepting),
/// ConnectError if nothing accepted within Options::connect_timeout.
template <class P>
Chan<P> dial(const std::string& endpoint, const Options& options = {}) {
  static_assert(detail::check_remote<P>());
  if constexpr (!detail::crosses_processes<P>) {
    std::terminate();  // never runs: the error above, and no more
  } else {
    auto hub = std::make_shared<detail::Hub>(options, false);
    const auto deadline = spindle::detail::deadline_after(options.connect_timeout);
    try {
      hub->socket().connect(endpoint);
    } catch (const ::zmq::error_t& error) {
      throw ConnectError("spindle::session::remote: cannot dial " + endpoint + ": " + error.what());
    }
    std::unique_lock<std::mutex> lock(hub->mutex());
    auto peer = hub->add_peer(std::string(detail::listener_id), detail::Peer::State::dialing, {});
    const detail::Limits& ours = hub->ours();
    detail::Waiter self;
    peer->waiter = &self;
    // The hello waits in the socket until the connection is made (ZeroMQ
    // retries a connection refused every 100 ms by itself).
    ::zmq::message_t hello = detail::frame(detail::hello, detail::magic, detail::version, ours.window,
                                           ours.window_bytes, ours.max_message, fingerprint<P>());
    if (hub->send_to(*peer, hello, lock) == detail::Hub::Sent::yes) {
      hub->wait(lock, self, nullptr, deadline, [&] { return peer->state != detail::Peer::State::dialing; });
    }
    peer->waiter = nullptr;
    switch (peer->state) {
      case detail::Peer::State::open:
        break;
      case detail::Peer::State::refused:
        throw Refused("spindle::session::remote: " + endpoint + " refused the session: " + peer->why +
                      "; this side speaks " + fingerprint<P>());  // why ends with the listener's protocol
      case detail::Peer::State::dialing:
        throw ConnectError("spindle::session::remote: no listener at " + endpoint + " accepted within " +
                           std::to_string(options.connect_timeout.count()) + " ms (Options::connect_timeout)");
      default:
        throw ConnectError("spindle::session::remote: the connection to " + endpoint + " broke: " + peer->why);
    }
    lock.unlock();
    return detail::endpoint<P>(std::move(hub), std::move(peer));
  }
}

}  // namespace spindle::session::remote
