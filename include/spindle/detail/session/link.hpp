// SPDX-License-Identifier: MIT
#pragma once

// What an endpoint holds: one pointer to its Link, so that a step, which
// moves the pointer into the next endpoint, costs a pointer's copy. A Link
// is either a LocalLink (the endpoint's halves of the session's two
// in-process channels) or, for a session with another process, a Link
// whose Wire is the transport (<spindle/session/zmq.hpp>).

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "spindle/detail/poison.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/mpsc.hpp"

namespace spindle::session::detail {

// Which thread is running: the address of a thread-local, distinct for
// every thread alive.
inline const void* this_thread_token() noexcept {
  static thread_local const char token = 0;
  return &token;
}

// What a step expects to receive: the index of its type (or of Label) in
// the direction's message variant, and for a choice how many branches
// there are.
struct Expect {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read by decode_record (frames.hpp)
  std::size_t index;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read by decode_record (frames.hpp)
  std::size_t branches;
};

// The transport of a session with another process. Every failure of the
// session (the peer gone or silent, or a message this step did not expect)
// throws Disconnected; the Wire is then done.
template <class Out, class In>
class Wire {
 public:
  Wire() = default;
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  Wire(Wire&&) = delete;
  Wire& operator=(Wire&&) = delete;
  // Tells the peer this side is gone (best effort) and frees the transport.
  virtual ~Wire() = default;

  virtual void put(Out&& message) = 0;
  // The next message, which must be the one expected; nothing if
  // `deadline` passed first (spindle::detail::forever: waits as long as
  // the peer lives).
  virtual std::optional<In> take(Expect expected, spindle::detail::Deadline deadline) = 0;
  // The protocol ended (Eps): everything sent so far must reach the peer
  // before the transport goes.
  virtual void finish() noexcept {}
  // The next message put waits for the one after it, to go with it: only
  // for a choice that the same step follows with a send.
  virtual void hold_next() noexcept {}
};

// What every endpoint owns, whatever the transport: how many exceptions
// were in flight in the thread that made the session (or received the
// endpoint through a session) when it did. An endpoint destroyed there
// while more are in flight is destroyed by unwinding, not abandoned. In any
// other thread, by any exception in flight.
template <class Out, class In>
struct Link {
  Link() noexcept { rebase_here(); }
  explicit Link(std::unique_ptr<Wire<Out, In>> remote) noexcept : wire(std::move(remote)) { rebase_here(); }

  // Null for a LocalLink.
  std::unique_ptr<Wire<Out, In>> wire;
  int unwind_base = 0;
  const void* base_thread = nullptr;

  // Counts unwinding from here on against this thread's exceptions in flight.
  void rebase_here() noexcept {
    unwind_base = spindle::detail::uncaught_exceptions();
    base_thread = this_thread_token();
  }

  [[nodiscard]] bool unwinding() const noexcept {
    const int base = base_thread == this_thread_token() ? unwind_base : 0;
    return spindle::detail::uncaught_exceptions() > base;
  }
};

// An endpoint's halves of an in-process session's two channels.
template <class Out, class In>
struct LocalLink : Link<Out, In> {
  LocalLink(mpsc::SyncSender<Out>&& sender, mpsc::Receiver<In>&& receiver) noexcept
      : tx(std::move(sender)), rx(std::move(receiver)) {}

  mpsc::SyncSender<Out> tx;
  mpsc::Receiver<In> rx;
};

// Frees a Link of either kind.
template <class Out, class In>
void destroy(Link<Out, In>* link) noexcept {
  if (link == nullptr) {
    return;
  }
  if (link->wire != nullptr) {
    delete link;
  } else {
    delete static_cast<LocalLink<Out, In>*>(link);
  }
}

}  // namespace spindle::session::detail
