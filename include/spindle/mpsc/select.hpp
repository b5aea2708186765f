// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::mpsc::Select and select(arms...): wait on several channel
/// operations at once (receives and sends of any flavour, timers), and run
/// exactly one. Included by <spindle/mpsc.hpp> (and <spindle/select.hpp>).
///
/// How a select waits (docs/internals.md has the whole protocol):
///   1. it looks at each operation in turn, in an order shuffled for this
///      call (the order added, for a biased select), and starts the first
///      that can proceed now: a receive finds its message, a send claims its
///      slot or its receiver;
///   2. finding none, it spins a little, then registers one Waiter (in its
///      own frame) with every channel, each registration carrying the
///      operation's index, and sleeps until a channel claims the Waiter or
///      the earliest deadline (its own, or a timer's) comes;
///   3. it unregisters everywhere and looks again (a wake-up it did not
///      use is passed on to another waiter of that channel).
/// A started operation is a SelectedOperation, which the caller completes on
/// the same channel: op.recv(rx) takes the message, op.send(tx, v) writes
/// into the claimed slot.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/flavor_ref.hpp"
#include "spindle/detail/channel/waiter.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/mpsc.hpp"  // the handles; it includes this header at its end
#include "spindle/mpsc/errors.hpp"
#include "spindle/result.hpp"

namespace spindle::mpsc {

class Select;
class SelectedOperation;

namespace detail {

namespace ch = spindle::detail::channel;

/// What a started operation carries to its completion.
struct Token {
  void* message = nullptr;    // a receive: the message the channel handed out
  ch::SendClaim claim;        // a send: what it claimed
  bool disconnected = false;  // the operation completes with its error
};

/// One kind of operation on one kind of channel end, type-erased: what a
/// select needs of it.
struct OpTable {
  /// Starts the operation if it can proceed now (a disconnected channel's
  /// can: it completes with the error); false if not. A quick start, for
  /// the passes of a spinning select, may miss a disconnect or a message
  /// in flight, and touches as little shared memory as it can.
  bool (*start)(void* end, Token& token, bool quick);
  /// Whether it looks as if it could proceed now, starting nothing.
  bool (*peek)(void* end);
  /// Registers to be woken when it may proceed; false (nothing registered)
  /// when it may proceed already. `look`: for a look (ready()), which must
  /// not make anything happen (a rendezvous sender must not pair with it).
  bool (*watch)(void* end, ch::Registration& registration, bool look);
  /// Withdraws what watch() registered.
  void (*unwatch)(void* end, ch::Registration& registration);
  /// When it becomes ready by itself (a timer), or forever.
  spindle::detail::Deadline (*due)(void* end);
  /// Gives up an operation start() started but nobody completed.
  void (*abandon)(void* end, Token& token);
  /// Passes on a wake-up the operation's channel gave the select, which
  /// took another operation (see run_select).
  void (*forward)(void* end);
  /// Whether the operation is a receive (a receiver may be in a select once).
  bool receive;
};

/// One operation of a select.
struct Op {
  void* end = nullptr;  // the Receiver<T>, Sender<T> or SyncSender<T>
  const OpTable* table = nullptr;
  ch::Registration registration;
  bool live = true;  // false once removed
};

/// A random index below n, for a fair select's order of looks (a xorshift
/// generator per thread; fairness needs no better).
inline std::size_t random_below(std::size_t n) noexcept {
#ifdef SPINDLE_MODEL_CHECK
  // A model checker replays each execution and needs the same program every
  // time: a generator kept from one execution to the next would differ.
  (void)n;
  return 0;
#endif
  thread_local std::uint32_t state = 0x9e3779b9U ^ static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&state));
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  // The high half of state * n: below n, without a division.
  return static_cast<std::size_t>((std::uint64_t{state} * n) >> 32U);
}

enum class Goal : std::uint8_t { start, peek };

/// The order of a select's looks, in `order` (room for n indices): the
/// order added for a biased select; shuffled for a fair one, so that among
/// the operations ready at a look each is as likely to be taken.
inline void order_looks(std::uint32_t* order, std::size_t n, bool biased) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    order[i] = static_cast<std::uint32_t>(i);
  }
  if (!biased) {
    for (std::size_t i = n; i > 1; --i) {  // Fisher-Yates
      const std::size_t j = random_below(i);
      const std::uint32_t t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
  }
}

/// A select's first look, a quick one (as the spinning passes of
/// run_select make), small enough to be inlined where the select is
/// called: in a busy program most selects find an operation ready here and
/// never enter the waiting loop. True (with `index` and `token` set) when
/// it started one.
SPINDLE_ALWAYS_INLINE bool first_look(Op* ops, std::uint32_t* order, std::size_t n, bool biased, Token& token,
                                      std::size_t& index) {
  if (n == 1) {
    index = 0;
    return ops[0].live && ops[0].table->start(ops[0].end, token, true);
  }
  order_looks(order, n, biased);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = order[k];
    if (ops[i].live && ops[i].table->start(ops[i].end, token, true)) {
      index = i;
      return true;
    }
  }
  return false;
}

[[noreturn]] inline void select_misuse(const std::string& what) { throw std::logic_error("spindle::mpsc: " + what); }

/// The select loop over ops[0, n): on success sets `index` (and `token`
/// for Goal::start) and returns true; false when nothing could proceed
/// (at once for Mode::Try, else by `deadline`). `order` is room for n
/// indices: the order of the looks, shuffled for a fair select (so that
/// among the operations ready at a look each is as likely to be taken),
/// the order added for a biased one. `looked`: first_look made the first
/// quick look already (and ordered the looks).
inline bool run_select(Op* ops, std::uint32_t* order, std::size_t n, bool biased, Goal goal, ch::Mode mode,
                       spindle::detail::Deadline deadline, std::size_t& index, Token& token, bool looked = false) {
  using spindle::detail::Clock;
  using spindle::detail::Deadline;
  if (!looked || n == 1) {  // first_look orders the looks of two or more
    order_looks(order, n, biased);
  }
  // The operation whose channel claimed our Waiter last. A channel that
  // woke us from a list of several waiters (a rendezvous receiver calling
  // for one sender) chose us over the others: if we end up not taking that
  // operation, the wake-up goes on to another waiter.
  long woken_by = -1;
  const auto finish = [&](bool found) {
    // A look (ready()) takes nothing: even the operation that woke us passes
    // its wake-up on.
    if (woken_by >= 0 && !(found && goal == Goal::start && index == static_cast<std::size_t>(woken_by))) {
      const Op& woke = ops[static_cast<std::size_t>(woken_by)];
      woke.table->forward(woke.end);
    }
    return found;
  };
  ch::Backoff backoff;
  // Quick looks while spinning, as a blocking receive spins on its head
  // slot alone; a whole look before sleeping, and the only look of a
  // try_select, which must see everything.
  enum class Pass : std::uint8_t { spinning, last };
  const Pass spin_or_last = mode == ch::Mode::Try ? Pass::last : Pass::spinning;
  Pass pass = spin_or_last;
  for (;;) {
    // 1. Look, in the select's order; after a wake-up, first (and wholly)
    // at the operation whose channel claimed the Waiter: a rendezvous
    // sender that won it has committed its message to this select, which
    // must take it (or give the write up, which hands it back to the
    // sender: see zero.hpp), never leave it behind for another operation.
    const bool quick = pass == Pass::spinning;
    const auto try_op = [&](std::size_t i, bool quick_look) {
      Op& op = ops[i];
      return op.live && (goal == Goal::start ? op.table->start(op.end, token, quick_look) : op.table->peek(op.end));
    };
    if (woken_by >= 0 && try_op(static_cast<std::size_t>(woken_by), false)) {
      index = static_cast<std::size_t>(woken_by);
      return finish(true);
    }
    const bool made_already = std::exchange(looked, false) && quick;  // by first_look
    for (std::size_t k = 0; k < n && !made_already; ++k) {
      const std::size_t i = order[k];
      if (static_cast<long>(i) != woken_by && try_op(i, quick)) {
        index = i;
        return finish(true);
      }
    }
    if (mode == ch::Mode::Try || spindle::detail::expired(deadline)) {
      if (!quick) {
        return finish(false);
      }
      pass = Pass::last;  // a whole look decides
      continue;
    }
    if (pass == Pass::spinning) {
      pass = backoff.snooze() ? Pass::spinning : Pass::last;
      continue;
    }
    // 2. Register everywhere, unless something is ready meanwhile.
    ch::Waiter waiter;
    Deadline until = deadline;
    std::size_t registered = 0;
    bool ready = false;
    for (; registered < n; ++registered) {
      Op& op = ops[registered];
      if (!op.live) {
        continue;
      }
      op.registration = ch::Registration{&waiter, static_cast<std::uint32_t>(registered)};
      if (!op.table->watch(op.end, op.registration, goal == Goal::peek)) {
        ready = true;
        break;
      }
      const Deadline due = op.table->due(op.end);
      until = due < until ? due : until;
    }
    if (!ready && (until == spindle::detail::forever || Clock::now() < until)) {
      waiter.sleep(until);
    }
    // 3. Unregister, then look again.
    if (!waiter.try_abort()) {
      if (woken_by >= 0) {
        const Op& woke = ops[static_cast<std::size_t>(woken_by)];
        woke.table->forward(woke.end);
      }
      woken_by = waiter.selected();
    }
    for (std::size_t i = 0; i < registered; ++i) {
      if (ops[i].live) {
        ops[i].table->unwatch(ops[i].end, ops[i].registration);
      }
    }
    backoff.reset();
    pass = spin_or_last;
  }
}

/// The private parts of the handles that a select reaches.
struct SelectAccess {
  // --- receivers -------------------------------------------------------------

  template <class T>
  static bool start_recv(void* end, Token& token, bool quick) {
    auto& rx = *static_cast<Receiver<T>*>(end);
    if (rx.chan_.empty()) {
      moved_from();
    }
    return rx.chan_.visit([&](auto& counter) {
      T* message = nullptr;
      auto& chan = counter.chan();
      ch::RecvStatus status;
      if (quick) {
        status = chan.peek_ready(message);
      } else if constexpr (requires { chan.start_ready(message); }) {
        status = chan.start_ready(message);  // claims nothing: the select may not complete it
      } else {
        status = chan.wait_ready(ch::Mode::Try, spindle::detail::forever, message);
      }
      switch (status) {
        case ch::RecvStatus::Ready:
          token.message = message;
          return true;
        case ch::RecvStatus::Disconnected:
          token.disconnected = true;
          return true;
        default:
          return false;
      }
    });
  }

  template <class T>
  static bool peek_recv(void* end) {
    auto& rx = *static_cast<Receiver<T>*>(end);
    if (rx.chan_.empty()) {
      moved_from();
    }
    return rx.chan_.visit([](auto& counter) { return counter.chan().looks_ready(); });
  }

  template <class T>
  static bool watch_recv(void* end, ch::Registration& registration, bool look) {
    return static_cast<Receiver<T>*>(end)->chan_.visit([&](auto& counter) {
      auto& chan = counter.chan();
      if constexpr (requires { chan.watch_look(registration); }) {
        if (look) {
          return chan.watch_look(registration);  // rendezvous: announce nothing
        }
      }
      return chan.watch(registration);
    });
  }

  template <class T>
  static void unwatch_recv(void* end, ch::Registration& /*registration*/) {
    static_cast<Receiver<T>*>(end)->chan_.visit([](auto& counter) { counter.chan().unwatch(); });
  }

  template <class T>
  static spindle::detail::Deadline due_recv(void* end) {
    return static_cast<Receiver<T>*>(end)->chan_.visit([](auto& counter) { return counter.chan().due(); });
  }

  static void abandon_recv(void* /*end*/, Token& /*token*/) {}  // the message stays for the next receive
  static void forward_none(void* /*end*/) {}                    // a receiver's wake-up concerns it alone

  template <class T>
  static Result<T, RecvError> complete_recv(Receiver<T>& rx, Token& token) {
    if (token.disconnected) {
      return Err(RecvError{});
    }
    return rx.chan_.visit([&](auto& counter) -> Result<T, RecvError> {
      auto& chan = counter.chan();
      auto* message = static_cast<T*>(token.message);
      if constexpr (requires { chan.claim_started(message); }) {
        if (!chan.claim_started(message)) {  // (a bounded channel's start claims nothing)
          return Err(RecvError{});
        }
      }
      return Receiver<T>::template take<RecvError>(chan, message);
    });
  }

  template <class T>
  static bool empty(const Receiver<T>& rx) {
    return rx.chan_.empty();
  }
  // start() and peek() come first in every look of a select, before
  // watch() and unwatch(): a handle moved from since it was added (which
  // would leave a dangling channel) is refused there.
  [[noreturn]] static void moved_from() {
    select_misuse("an operation of a select refers to a handle that was moved from after it was added");
  }

  // --- unbounded senders: a send can always proceed ------------------------

  template <class T>
  static bool start_always(void* end, Token& /*token*/, bool /*quick*/) {
    return peek_always<T>(end);
  }
  template <class T>
  static bool peek_always(void* end) {
    if (static_cast<Sender<T>*>(end)->counter_ == nullptr) {
      moved_from();
    }
    return true;
  }
  static bool watch_never(void* /*end*/, ch::Registration& /*registration*/, bool /*look*/) { return false; }
  static void unwatch_none(void* /*end*/, ch::Registration& /*registration*/) {}
  static spindle::detail::Deadline due_never(void* /*end*/) { return spindle::detail::forever; }
  static void abandon_none(void* /*end*/, Token& /*token*/) {}

  template <class T>
  static bool empty(const Sender<T>& tx) {
    return tx.counter_ == nullptr;
  }

  // --- bounded and rendezvous senders: claim, then write -------------------

  template <class T>
  static bool start_send(void* end, Token& token, bool /*quick*/) {
    auto& tx = *static_cast<SyncSender<T>*>(end);
    if (tx.chan_.empty()) {
      moved_from();
    }
    switch (tx.chan_.visit([&](auto& counter) { return counter.chan().start_send(token.claim); })) {
      case ch::SendStatus::Ok:
        return true;
      case ch::SendStatus::Disconnected:
        token.disconnected = true;
        return true;
      case ch::SendStatus::Full:
      case ch::SendStatus::Timeout:  // (a claim does not wait)
        break;
    }
    return false;
  }

  template <class T>
  static bool peek_send(void* end) {
    if (static_cast<SyncSender<T>*>(end)->chan_.empty()) {
      moved_from();
    }
    return static_cast<SyncSender<T>*>(end)->chan_.visit([](auto& counter) { return counter.chan().can_send(); });
  }

  template <class T>
  static bool watch_send(void* end, ch::Registration& registration, bool /*look*/) {
    return static_cast<SyncSender<T>*>(end)->chan_.visit(
        [&](auto& counter) { return counter.chan().watch_send(registration); });
  }

  template <class T>
  static void unwatch_send(void* end, ch::Registration& registration) {
    static_cast<SyncSender<T>*>(end)->chan_.visit([&](auto& counter) { counter.chan().unwatch_send(registration); });
  }

  template <class T>
  static void abandon_send(void* end, Token& token) {
    if (!token.disconnected) {
      static_cast<SyncSender<T>*>(end)->chan_.visit([&](auto& counter) { counter.chan().abandon(token.claim); });
    }
  }

  template <class T>
  static void forward_send(void* end) {
    static_cast<SyncSender<T>*>(end)->chan_.visit([](auto& counter) { counter.chan().forward_send_wake(); });
  }

  template <class T>
  static Result<void, SendError<T>> complete_send(SyncSender<T>& tx, Token& token, T& value) {
    if (token.disconnected) {
      return Result<void, SendError<T>>(in_place_err, std::move(value));
    }
    T* back = &value;
    const ch::SendStatus status = tx.chan_.visit([&](auto& counter) {
      auto& chan = counter.chan();
      if constexpr (requires { chan.write(token.claim, value, back); }) {
        return chan.write(token.claim, value, back);  // rendezvous: may fail, handing back
      } else {
        chan.write(token.claim, value);
        return ch::SendStatus::Ok;
      }
    });
    if (status == ch::SendStatus::Ok) {
      return Ok();
    }
    const typename SyncSender<T>::HandBack guard{tx.chan_, back, &value};
    return Result<void, SendError<T>>(in_place_err, std::move(*back));
  }

  template <class T>
  static bool empty(const SyncSender<T>& tx) {
    return tx.chan_.empty();
  }
};

template <class T>
inline constexpr OpTable recv_table{&SelectAccess::start_recv<T>, &SelectAccess::peek_recv<T>,
                                    &SelectAccess::watch_recv<T>, &SelectAccess::unwatch_recv<T>,
                                    &SelectAccess::due_recv<T>,   &SelectAccess::abandon_recv,
                                    &SelectAccess::forward_none,  true};

template <class T>
inline constexpr OpTable unbounded_send_table{&SelectAccess::start_always<T>, &SelectAccess::peek_always<T>,
                                              &SelectAccess::watch_never,     &SelectAccess::unwatch_none,
                                              &SelectAccess::due_never,       &SelectAccess::abandon_none,
                                              &SelectAccess::forward_none,    false};

template <class T>
inline constexpr OpTable sync_send_table{&SelectAccess::start_send<T>,   &SelectAccess::peek_send<T>,
                                         &SelectAccess::watch_send<T>,   &SelectAccess::unwatch_send<T>,
                                         &SelectAccess::due_never,       &SelectAccess::abandon_send<T>,
                                         &SelectAccess::forward_send<T>, false};

template <class End>
void require_live(const End& end, const char* what) {
  if (SelectAccess::empty(end)) {
    select_misuse(std::string(what) + " on a moved-from handle");
  }
}

/// How a select reaches the ends of another module's channels
/// (spindle::mpmc): a specialisation gives `value_type`, `recv_table` or
/// `send_table`, `empty(end)`, and `complete_recv(end, token)` or
/// `complete_send(end, token, value)`.
template <class End>
struct SelectEnd {};

template <class Rx>
concept SelectableRecv = requires { SelectEnd<Rx>::recv_table; };
template <class Tx>
concept SelectableSend = requires { SelectEnd<Tx>::send_table; };

template <class End>
void require_live_end(const End& end, const char* what) {
  if (SelectEnd<End>::empty(end)) {
    select_misuse(std::string(what) + " on a moved-from handle");
  }
}

/// A receiver waits in one place at a time: refuses to add it twice.
inline void require_new_receiver(const Op* ops, std::size_t n, const void* end, const char* what) {
  for (std::size_t i = 0; i < n; ++i) {
    if (ops[i].live && ops[i].end == end && ops[i].table->receive) {
      select_misuse(std::string(what) + ": this receiver is in the select already, as operation " + std::to_string(i));
    }
  }
}

}  // namespace detail

/// An operation a select started: complete it with recv() or send() on the
/// channel it was added with. Destroying one that was not completed, other
/// than while an exception unwinds the stack, is a programming error: the
/// operation is given up and the process aborts with a message.
class SelectedOperation {
 public:
  SelectedOperation(SelectedOperation&& other) noexcept
      : index_(other.index_),
        end_(other.end_),
        table_(other.table_),
        token_(other.token_),
        done_(std::exchange(other.done_, true)) {}
  SelectedOperation& operator=(SelectedOperation&&) = delete;
  SelectedOperation(const SelectedOperation&) = delete;
  SelectedOperation& operator=(const SelectedOperation&) = delete;

  ~SelectedOperation() {
    if (done_) {
      return;
    }
    table_->abandon(end_, token_);
    if (std::uncaught_exceptions() > 0) {
      return;  // unwinding: the exception is the report
    }
    (void)std::fprintf(stderr,
                       "spindle::mpsc: the operation %zu that a select started was dropped without being completed; "
                       "call recv(rx) or send(tx, value) on the SelectedOperation with the channel of that operation\n",
                       index_);
    (void)std::fflush(stderr);
    std::abort();
  }

  /// The index of the operation, as Select::recv()/send() returned it (or
  /// the position of the arm among the channel arms of select(arms...)).
  [[nodiscard]] std::size_t index() const noexcept { return index_; }

  /// Completes a receive: the message, or RecvError when the channel is
  /// disconnected and drained. `rx` must be the receiver of this operation
  /// (std::logic_error otherwise).
  template <class T>
  Result<T, RecvError> recv(Receiver<T>& rx) {
    check(&rx, &detail::recv_table<T>, "recv()");
    done_ = true;
    return detail::SelectAccess::complete_recv(rx, token_);
  }

  /// Completes a send on an unbounded channel: sends `value` (it fails only
  /// when the receiver is gone, with `value` back).
  template <class T>
  Result<void, SendError<T>> send(Sender<T>& tx, T value) {
    check(&tx, &detail::unbounded_send_table<T>, "send()");
    done_ = true;
    return tx.send(std::move(value));
  }

  /// Completes a receive on another module's receiver (spindle::mpmc).
  template <detail::SelectableRecv Rx>
  auto recv(Rx& rx) {
    check(&rx, &detail::SelectEnd<Rx>::recv_table, "recv()");
    done_ = true;
    return detail::SelectEnd<Rx>::complete_recv(rx, token_);
  }

  /// Completes a send on another module's sender (spindle::mpmc).
  template <detail::SelectableSend Tx>
  auto send(Tx& tx, typename detail::SelectEnd<Tx>::value_type value) {
    check(&tx, &detail::SelectEnd<Tx>::send_table, "send()");
    done_ = true;
    return detail::SelectEnd<Tx>::complete_send(tx, token_, value);
  }

  /// Completes a send on a bounded or rendezvous channel: writes `value`
  /// into what the select claimed (on a rendezvous channel, hands it to the
  /// receiver). Fails only when the receiver is gone, with `value` back.
  template <class T>
  Result<void, SendError<T>> send(SyncSender<T>& tx, T value) {
    check(&tx, &detail::sync_send_table<T>, "send()");
    done_ = true;
    return detail::SelectAccess::complete_send(tx, token_, value);
  }

 private:
  friend class Select;
  template <class... Arms>
  friend struct SelectArms;

  SelectedOperation(std::size_t index, const detail::Op& op, const detail::Token& token) noexcept
      : index_(index), end_(op.end), table_(op.table), token_(token) {}

  void check(const void* end, const detail::OpTable* table, const char* what) const {
    if (done_ || end != end_ || table != table_) {
      misuse(what);  // out of line: the check itself stays a few compares
    }
  }

  [[noreturn]] void misuse(const char* what) const {
    if (done_) {
      detail::select_misuse(std::string("SelectedOperation::") + what + ": the operation was completed already");
    }
    detail::select_misuse(std::string("SelectedOperation::") + what + " with a channel other than operation " +
                          std::to_string(index_) + "'s, or of another kind");
  }

  std::size_t index_;
  void* end_;
  const detail::OpTable* table_;
  detail::Token token_;
  bool done_ = false;
};

/// Waits on several operations at once and starts one that can proceed.
/// Select sel; is fair: among operations ready at once it picks one at
/// random. Select::biased() picks the first ready one in the order added.
/// Not for use by two threads at once; the channels' handles must outlive
/// it (it refers to them).
class Select {
 public:
  Select() = default;

  /// A select that prefers operations in the order they were added.
  [[nodiscard]] static Select biased() {
    Select sel;
    sel.biased_ = true;
    return sel;
  }

  /// Adds a receive from `rx`; returns its index.
  template <class T>
  std::size_t recv(Receiver<T>& rx) {
    detail::require_live(rx, "Select::recv()");
    detail::require_new_receiver(ops_.data(), ops_.size(), &rx, "Select::recv()");
    return add(&rx, &detail::recv_table<T>);
  }

  /// Adds a send on `tx`; returns its index. The value is given when the
  /// operation is completed (SelectedOperation::send).
  template <class T>
  std::size_t send(Sender<T>& tx) {
    detail::require_live(tx, "Select::send()");
    return add(&tx, &detail::unbounded_send_table<T>);
  }
  template <class T>
  std::size_t send(SyncSender<T>& tx) {
    detail::require_live(tx, "Select::send()");
    return add(&tx, &detail::sync_send_table<T>);
  }

  /// Adds a receive from another module's receiver (spindle::mpmc).
  template <detail::SelectableRecv Rx>
  std::size_t recv(Rx& rx) {
    detail::require_live_end(rx, "Select::recv()");
    detail::require_new_receiver(ops_.data(), ops_.size(), &rx, "Select::recv()");
    return add(&rx, &detail::SelectEnd<Rx>::recv_table);
  }
  /// Adds a send on another module's sender (spindle::mpmc).
  template <detail::SelectableSend Tx>
  std::size_t send(Tx& tx) {
    detail::require_live_end(tx, "Select::send()");
    return add(&tx, &detail::SelectEnd<Tx>::send_table);
  }

  /// Removes the operation at `index` (the others keep their indices).
  /// Throws std::out_of_range for an index not added or already removed.
  void remove(std::size_t index) {
    if (index >= ops_.size() || !ops_[index].live) {
      throw std::out_of_range("spindle::mpsc::Select::remove: no operation " + std::to_string(index));
    }
    ops_[index].live = false;
    --live_;
  }

  /// Blocks until an operation can proceed and starts it. With no
  /// operation, throws std::logic_error (it would block for ever).
  [[nodiscard]] SelectedOperation select() {
    if (live_ == 0) {
      detail::select_misuse("Select::select() with no operation would block for ever");
    }
    std::size_t index = 0;
    detail::Token token;
    if (!detail::first_look(ops_.data(), order_.data(), ops_.size(), biased_, token, index)) {
      detail::run_select(ops_.data(), order_.data(), ops_.size(), biased_, detail::Goal::start, detail::ch::Mode::Block,
                         spindle::detail::forever, index, token, true);
    }
    return {index, ops_[index], token};
  }

  /// Starts an operation that can proceed now, if any.
  [[nodiscard]] Result<SelectedOperation, TrySelectError> try_select() {
    return attempt<TrySelectError>(detail::ch::Mode::Try, spindle::detail::forever);
  }

  /// As select(), giving up after `timeout`.
  template <class Rep, class Period>
  [[nodiscard]] Result<SelectedOperation, SelectTimeoutError> select_timeout(
      std::chrono::duration<Rep, Period> timeout) {
    return attempt<SelectTimeoutError>(detail::ch::Mode::Block, spindle::detail::deadline_after(timeout));
  }

  /// As select(), giving up at `deadline`.
  [[nodiscard]] Result<SelectedOperation, SelectTimeoutError> select_deadline(
      std::chrono::steady_clock::time_point deadline) {
    return attempt<SelectTimeoutError>(detail::ch::Mode::Block, deadline);
  }

  /// Blocks until an operation looks ready and returns its index, starting
  /// nothing: by the time the caller acts, another thread may have taken
  /// what made it ready.
  [[nodiscard]] std::size_t ready() {
    if (live_ == 0) {
      detail::select_misuse("Select::ready() with no operation would block for ever");
    }
    std::size_t index = 0;
    detail::Token token;
    detail::run_select(ops_.data(), order_.data(), ops_.size(), biased_, detail::Goal::peek, detail::ch::Mode::Block,
                       spindle::detail::forever, index, token);
    return index;
  }

  /// The index of an operation that looks ready now, if any.
  [[nodiscard]] Result<std::size_t, TryReadyError> try_ready() {
    return look<TryReadyError>(detail::ch::Mode::Try, spindle::detail::forever);
  }

  template <class Rep, class Period>
  [[nodiscard]] Result<std::size_t, ReadyTimeoutError> ready_timeout(std::chrono::duration<Rep, Period> timeout) {
    return look<ReadyTimeoutError>(detail::ch::Mode::Block, spindle::detail::deadline_after(timeout));
  }

  [[nodiscard]] Result<std::size_t, ReadyTimeoutError> ready_deadline(std::chrono::steady_clock::time_point deadline) {
    return look<ReadyTimeoutError>(detail::ch::Mode::Block, deadline);
  }

 private:
  std::size_t add(void* end, const detail::OpTable* table) {
    ops_.push_back(detail::Op{end, table, {}, true});
    order_.push_back(0);
    ++live_;
    return ops_.size() - 1;
  }

  template <class E>
  Result<SelectedOperation, E> attempt(detail::ch::Mode mode, spindle::detail::Deadline deadline) {
    std::size_t index = 0;
    detail::Token token;
    if (detail::run_select(ops_.data(), order_.data(), ops_.size(), biased_, detail::Goal::start, mode, deadline, index,
                           token)) {
      return Result<SelectedOperation, E>(in_place_ok, SelectedOperation(index, ops_[index], token));
    }
    return Result<SelectedOperation, E>(in_place_err);
  }

  template <class E>
  Result<std::size_t, E> look(detail::ch::Mode mode, spindle::detail::Deadline deadline) {
    std::size_t index = 0;
    detail::Token token;
    if (detail::run_select(ops_.data(), order_.data(), ops_.size(), biased_, detail::Goal::peek, mode, deadline, index,
                           token)) {
      return Ok(index);
    }
    return Result<std::size_t, E>(in_place_err);
  }

  std::vector<detail::Op> ops_;
  std::vector<std::uint32_t> order_;  // room for run_select's order of looks
  std::size_t live_ = 0;
  bool biased_ = false;
};

// --- select(arms...) -----------------------------------------------------------

/// A receive arm: `f` gets the Result<T, RecvError> of the receive.
template <class T, class F>
struct RecvArm {
  Receiver<T>* rx;
  F f;
};

/// A receive arm that owns its receiver, given as a temporary (a timer made
/// for this select alone: on_recv(mpsc::after(1s), f)); it lives for the
/// one select call.
template <class T, class F>
struct OwnedRecvArm {
  Receiver<T> rx;
  F f;
};

/// A send arm: `f` gets the Result<void, SendError<T>> of the send.
template <class Tx, class T, class F>
struct SendArm {
  Tx* tx;
  T value;
  F f;
};

/// The last arm: if nothing can proceed by `deadline`, `f()` runs.
template <class F>
struct TimeoutArm {
  spindle::detail::Deadline deadline;
  F f;
};

/// The last arm: if nothing can proceed now, `f()` runs.
template <class F>
struct DefaultArm {
  F f;
};

/// A receive arm on another module's receiver (spindle::mpmc).
template <class Rx, class F>
struct EndRecvArm {
  Rx* rx;
  F f;
};

/// A send arm on another module's sender (spindle::mpmc).
template <class Tx, class T, class F>
struct EndSendArm {
  Tx* tx;
  T value;
  F f;
};

template <detail::SelectableRecv Rx, class F>
[[nodiscard]] EndRecvArm<Rx, std::decay_t<F>> on_recv(Rx& rx, F&& f) {
  return {&rx, std::forward<F>(f)};
}
template <detail::SelectableSend Tx, class U, class F>
[[nodiscard]] EndSendArm<Tx, typename detail::SelectEnd<Tx>::value_type, std::decay_t<F>> on_send(Tx& tx, U&& value,
                                                                                                  F&& f) {
  return {&tx, typename detail::SelectEnd<Tx>::value_type(std::forward<U>(value)), std::forward<F>(f)};
}

template <class T, class F>
[[nodiscard]] RecvArm<T, std::decay_t<F>> on_recv(Receiver<T>& rx, F&& f) {
  return {&rx, std::forward<F>(f)};
}
template <class T, class F>
[[nodiscard]] OwnedRecvArm<T, std::decay_t<F>> on_recv(Receiver<T>&& rx, F&& f) {
  return {std::move(rx), std::forward<F>(f)};
}
template <class T, class U, class F>
[[nodiscard]] SendArm<Sender<T>, T, std::decay_t<F>> on_send(Sender<T>& tx, U&& value, F&& f) {
  return {&tx, T(std::forward<U>(value)), std::forward<F>(f)};
}
template <class T, class U, class F>
[[nodiscard]] SendArm<SyncSender<T>, T, std::decay_t<F>> on_send(SyncSender<T>& tx, U&& value, F&& f) {
  return {&tx, T(std::forward<U>(value)), std::forward<F>(f)};
}
template <class Rep, class Period, class F>
[[nodiscard]] TimeoutArm<std::decay_t<F>> on_timeout(std::chrono::duration<Rep, Period> timeout, F&& f) {
  return {spindle::detail::deadline_after(timeout), std::forward<F>(f)};
}
/// As on_timeout, with the time given as a point: in a loop, an arm that
/// gives up at one deadline for the whole loop (on_timeout(d) starts again
/// at every call).
template <class F>
[[nodiscard]] TimeoutArm<std::decay_t<F>> on_deadline(std::chrono::steady_clock::time_point deadline, F&& f) {
  return {deadline, std::forward<F>(f)};
}
template <class F>
[[nodiscard]] DefaultArm<std::decay_t<F>> on_default(F&& f) {
  return {std::forward<F>(f)};
}

namespace detail {

template <class A>
struct ArmTraits {
  static constexpr bool channel = false;
};
template <class T, class F>
struct ArmTraits<RecvArm<T, F>> {
  static constexpr bool channel = true;
  using Result = std::invoke_result_t<F&, spindle::Result<T, RecvError>>;
  static void add(const RecvArm<T, F>& arm, Op* ops, std::size_t at) {
    require_live(*arm.rx, "on_recv()");
    require_new_receiver(ops, at, arm.rx, "on_recv()");
    ops[at] = Op{arm.rx, &recv_table<T>, {}, true};
  }
  static decltype(auto) complete(RecvArm<T, F>& arm, SelectedOperation& op) { return arm.f(op.recv(*arm.rx)); }
};
template <class T, class F>
struct ArmTraits<OwnedRecvArm<T, F>> {
  static constexpr bool channel = true;
  using Result = std::invoke_result_t<F&, spindle::Result<T, RecvError>>;
  static void add(OwnedRecvArm<T, F>& arm, Op* ops, std::size_t at) {
    require_live(arm.rx, "on_recv()");
    ops[at] = Op{&arm.rx, &recv_table<T>, {}, true};
  }
  static decltype(auto) complete(OwnedRecvArm<T, F>& arm, SelectedOperation& op) { return arm.f(op.recv(arm.rx)); }
};
template <class Tx, class T, class F>
struct ArmTraits<SendArm<Tx, T, F>> {
  static constexpr bool channel = true;
  using Result = std::invoke_result_t<F&, spindle::Result<void, SendError<T>>>;
  static void add(const SendArm<Tx, T, F>& arm, Op* ops, std::size_t at) {
    require_live(*arm.tx, "on_send()");
    if constexpr (std::is_same_v<Tx, Sender<T>>) {
      ops[at] = Op{arm.tx, &unbounded_send_table<T>, {}, true};
    } else {
      ops[at] = Op{arm.tx, &sync_send_table<T>, {}, true};
    }
  }
  static decltype(auto) complete(SendArm<Tx, T, F>& arm, SelectedOperation& op) {
    return arm.f(op.send(*arm.tx, std::move(arm.value)));
  }
};
template <class Rx, class F>
struct ArmTraits<EndRecvArm<Rx, F>> {
  static constexpr bool channel = true;
  using Result = std::invoke_result_t<F&, spindle::Result<typename SelectEnd<Rx>::value_type, RecvError>>;
  static void add(const EndRecvArm<Rx, F>& arm, Op* ops, std::size_t at) {
    require_live_end(*arm.rx, "on_recv()");
    require_new_receiver(ops, at, arm.rx, "on_recv()");
    ops[at] = Op{arm.rx, &SelectEnd<Rx>::recv_table, {}, true};
  }
  static decltype(auto) complete(EndRecvArm<Rx, F>& arm, SelectedOperation& op) { return arm.f(op.recv(*arm.rx)); }
};
template <class Tx, class T, class F>
struct ArmTraits<EndSendArm<Tx, T, F>> {
  static constexpr bool channel = true;
  using Result = std::invoke_result_t<F&, spindle::Result<void, SendError<T>>>;
  static void add(const EndSendArm<Tx, T, F>& arm, Op* ops, std::size_t at) {
    require_live_end(*arm.tx, "on_send()");
    ops[at] = Op{arm.tx, &SelectEnd<Tx>::send_table, {}, true};
  }
  static decltype(auto) complete(EndSendArm<Tx, T, F>& arm, SelectedOperation& op) {
    return arm.f(op.send(*arm.tx, std::move(arm.value)));
  }
};
template <class F>
struct ArmTraits<TimeoutArm<F>> {
  static constexpr bool channel = false;
  using Result = std::invoke_result_t<F&>;
};
template <class F>
struct ArmTraits<DefaultArm<F>> {
  static constexpr bool channel = false;
  using Result = std::invoke_result_t<F&>;
};

/// The I-th of the arguments.
template <std::size_t I, class First, class... Rest>
constexpr auto& nth_arg(First& first, Rest&... rest) noexcept {
  if constexpr (I == 0) {
    return first;
  } else {
    return nth_arg<I - 1>(rest...);
  }
}

template <class A>
inline constexpr bool is_timeout_arm = false;
template <class F>
inline constexpr bool is_timeout_arm<TimeoutArm<F>> = true;
template <class A>
inline constexpr bool is_default_arm = false;
template <class F>
inline constexpr bool is_default_arm<DefaultArm<F>> = true;

}  // namespace detail

/// select(arms...) and select_biased(arms...), after the arms are checked.
template <class... Arms>
struct SelectArms {
  static constexpr std::size_t channels = (std::size_t{0} + ... + (detail::ArmTraits<Arms>::channel ? 1 : 0));
  static constexpr std::size_t extras = sizeof...(Arms) - channels;
  static_assert(channels > 0, "spindle::mpsc::select: give at least one on_recv or on_send arm");
  static_assert(extras <= 1, "spindle::mpsc::select: at most one on_timeout or on_default arm");
  static_assert(extras == 0 ||
                    !detail::ArmTraits<typename detail::ch::NthType<sizeof...(Arms) - 1, Arms...>::type>::channel,
                "spindle::mpsc::select: the on_timeout or on_default arm comes last");
  using R = std::common_type_t<typename detail::ArmTraits<Arms>::Result...>;

  static R run(bool biased, Arms&... arms) {
    detail::Op ops[channels];
    spindle::detail::Deadline deadline = spindle::detail::forever;
    detail::ch::Mode mode = detail::ch::Mode::Block;
    std::size_t next = 0;
    (prepare(arms, ops, next, deadline, mode), ...);
    std::size_t index = 0;
    detail::Token token;
    std::uint32_t order[channels];
    if (!detail::first_look(ops, order, channels, biased, token, index) &&
        !detail::run_select(ops, order, channels, biased, detail::Goal::start, mode, deadline, index, token, true)) {
      return fallback(arms...);
    }
    SelectedOperation op(index, ops[index], token);
    return dispatch<0>(index, op, arms...);
  }

 private:
  template <class A>
  static void prepare(A& arm, detail::Op* ops, std::size_t& next, spindle::detail::Deadline& deadline,
                      detail::ch::Mode& mode) {
    if constexpr (detail::ArmTraits<A>::channel) {
      detail::ArmTraits<A>::add(arm, ops, next++);
    } else if constexpr (detail::is_timeout_arm<A>) {
      deadline = arm.deadline;
    } else {
      mode = detail::ch::Mode::Try;
    }
  }

  // Runs the on_timeout / on_default arm (the last one).
  static R fallback(Arms&... arms) {
    if constexpr (extras == 1) {
      auto& last = detail::nth_arg<sizeof...(Arms) - 1>(arms...);
      return static_cast<R>(last.f());
    } else {
      SPINDLE_UNREACHABLE();  // without such an arm, the select blocks until one proceeds
    }
  }

  // Completes the channel arm at `index` (counting channel arms only).
  template <std::size_t I>
  static R dispatch(std::size_t index, SelectedOperation& op, Arms&... arms) {
    if constexpr (I < channels) {
      if (index == I) {
        auto& arm = detail::nth_arg<I>(arms...);
        if constexpr (std::is_void_v<R>) {
          detail::ArmTraits<std::decay_t<decltype(arm)>>::complete(arm, op);
          return;
        } else {
          return static_cast<R>(detail::ArmTraits<std::decay_t<decltype(arm)>>::complete(arm, op));
        }
      }
      return dispatch<I + 1>(index, op, arms...);
    } else {
      SPINDLE_UNREACHABLE();
    }
  }
};

/// Waits until one of the arms can proceed and runs it: exactly one handler
/// runs, and select returns its result. Fair: among arms ready at once, one
/// at random. Arms: on_recv(rx, f), on_send(tx, value, f), and last, at
/// most one of on_timeout(d, f) (nothing by then: f() runs) and
/// on_default(f) (nothing now: f() runs).
template <class... Arms>
decltype(auto) select(Arms&&... arms) {
  return SelectArms<std::decay_t<Arms>...>::run(false, arms...);
}

/// As select(arms...), but preferring arms in the order written.
template <class... Arms>
decltype(auto) select_biased(Arms&&... arms) {
  return SelectArms<std::decay_t<Arms>...>::run(true, arms...);
}

}  // namespace spindle::mpsc
