// SPDX-License-Identifier: MIT
//
// Fuzzes spindle::mpsc's Select, select(arms...) and timers against a
// sequential model, from one thread.
//
// Three channels live at once: an unbounded one (U), a bounded one (B, its
// capacity 1..4 from byte 0 of the input) and a rendezvous one (Z), each
// with its receiver and up to two senders; and two timers, never() and at()
// of a time already past (one message until it is received; it can be
// re-armed, or armed far in the future). Every later byte is an operation:
// a send or a try_recv on one channel, a sender cloned or dropped, a
// receiver dropped, the at() timer re-armed; or a select over some of the
// channel ends and timers, which the next byte picks. A select is made by
// try_select, select_timeout(0), select_deadline(past), try_ready,
// ready_timeout(0), ready_deadline(past), or, when the model says some
// operation is ready, by the blocking select() or ready(); fair or biased;
// with an operation removed first, or not. The operation it starts is
// completed, or given up by an exception thrown before its completion (the
// SelectedOperation's unwinding path: never the abort of a plain drop).
// The one-call select(arms...) runs too, over the three receivers and the
// timers, or over the three senders, with on_default or on_timeout(0).
//
// The model: each channel's messages in flight (a hole for a bounded send
// whose claimed slot was given up: it takes up room until the receiver steps
// over it), its live senders, whether its receiver lives, and whether the
// at() timer has a message. From it, which operations are ready: a receive
// with a message, or whose senders are all gone (a disconnected channel's
// operation is ready: it completes with the error); a send with room, or
// whose receiver is gone; at() while its message waits; never() never. A
// select must choose a ready operation (the first in the order added, when
// biased) and fail only when none is; a completed receive must return the
// oldest message (each exactly once, in order) or the error; a completed
// send must deliver its value, or hand it back when the receiver is gone.
// The payload is Tracked (fuzz_support.hpp), whose live count must equal the
// messages in flight after every operation.
//
// A fair select picks among the ready operations at random (a generator per
// thread): a run is deterministic in what it checks, not in which ready
// operation each fair select took.
//
// Any divergence aborts with a message.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "spindle/mpsc.hpp"

namespace {

namespace mpsc = spindle::mpsc;
using spindle_fuzz::Input;
using spindle_fuzz::Tracked;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// Thrown between a select and the completion of the operation it started:
/// the SelectedOperation is destroyed by unwinding, which gives it up.
struct GiveUp {};

enum Target : std::uint8_t { unbounded, bounded, rendezvous, never_timer, at_timer };
constexpr std::size_t channels = 3;  // unbounded, bounded, rendezvous

// One counter per (receivers alive, the bounded channel's fill, whether the
// unbounded one holds a message, whether a sender has gone, the at() timer
// pending, kind of operation): see SPINDLE_FUZZ_EXTRA_COUNTERS.
constexpr std::size_t op_kinds = 8;
constexpr std::size_t state_count = 8 * 4 * 2 * 2 * 2 * op_kinds;
SPINDLE_FUZZ_EXTRA_COUNTERS std::uint8_t state_coverage[state_count];

/// One channel's part of the model.
struct Model {
  std::size_t capacity = 0;
  std::deque<std::optional<std::uint32_t>> queue;  // message ids; nullopt is a hole
  std::size_t messages = 0;                        // the ids in queue
  std::size_t senders = 0;
  bool receiver = true;

  /// A receive can proceed: a message waits, or every sender is gone.
  [[nodiscard]] bool recv_ready() const { return receiver && (messages > 0 || senders == 0); }
  /// A send can proceed: there is room, or the receiver is gone.
  [[nodiscard]] bool send_ready() const { return !receiver || queue.size() < capacity; }
  [[nodiscard]] bool front_hole() const { return !queue.empty() && !queue.front(); }
};

/// A channel's handles and its model.
template <class Tx>
struct Chan {
  std::array<std::optional<Tx>, 2> tx;
  std::optional<mpsc::Receiver<Tracked>> rx;
  Model model;

  /// Sender slot `i`, or else the other one; nullptr when none is left.
  Tx* sender(std::size_t i) {
    if (tx[i & 1U]) {
      return &*tx[i & 1U];
    }
    return tx[(i + 1) & 1U] ? &*tx[(i + 1) & 1U] : nullptr;
  }
};

/// An operation added to a select.
struct Added {
  Target target;
  bool send;
  std::size_t index;  // what Select::recv()/send() returned
};

class Run {
 public:
  explicit Run(std::size_t bound) {
    {
      auto ends = mpsc::channel<Tracked>();
      u_.tx[0].emplace(std::move(ends.first));
      u_.rx.emplace(std::move(ends.second));
      u_.model.capacity = std::numeric_limits<std::size_t>::max();
    }
    {
      auto ends = mpsc::sync_channel<Tracked>(bound);
      b_.tx[0].emplace(std::move(ends.first));
      b_.rx.emplace(std::move(ends.second));
      b_.model.capacity = bound;
    }
    {
      auto ends = mpsc::sync_channel<Tracked>(0);
      z_.tx[0].emplace(std::move(ends.first));
      z_.rx.emplace(std::move(ends.second));
      z_.model.capacity = 0;
    }
    u_.model.senders = b_.model.senders = z_.model.senders = 1;
    rearm(/*past=*/true);
    check_invariants();
  }

  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() = default;

  // One operation: the low three bits say which, the upper five its operands.
  void step(std::uint8_t b, Input& in) {
    const std::size_t c = ((b >> 3) & 3U) % channels;
    const std::size_t slot = (b >> 5) & 1U;
    record_state(b & 7U);
    switch (b & 7U) {
      case 0:
        direct_send(c, slot);
        break;
      case 1:
        direct_recv(c);
        break;
      case 2:
        if ((b >> 6) == 0) {
          drop_receiver(c);
        } else {
          clone_or_drop_sender(c, slot, (b >> 6) == 1);
        }
        break;
      case 3:
        rearm((b & 8U) == 0);
        break;
      case 4:
      case 5: {
        const std::uint8_t mask = in.byte();
        const std::uint8_t mode = in.byte();
        select(mask, mode);
        break;
      }
      case 6:
        select_receives(b >> 3);
        break;
      default:
        select_sends(b >> 3);
        break;
    }
    normalize();
    check_invariants();
  }

  // Drops every handle: the receivers first or last, as the input says.
  void finish(bool receivers_first) {
    if (receivers_first) {
      for (std::size_t c = 0; c < channels; ++c) {
        drop_receiver(c);
      }
    }
    for (std::size_t c = 0; c < channels; ++c) {
      for (std::size_t k = 0; k < 2; ++k) {
        with(c, [k](auto& ch) {
          if (ch.tx[k]) {
            ch.tx[k].reset();
            --ch.model.senders;
          }
        });
      }
    }
    check_invariants();
    if (!receivers_first) {
      // Every sender is gone: each receive is ready, and drains in order.
      for (std::size_t c = 0; c < channels; ++c) {
        with(c, [this](auto& ch) {
          while (ch.rx) {
            select_one_receive(ch);
            if (ch.model.messages == 0) {
              break;
            }
          }
        });
        drop_receiver(c);
      }
    }
    check_invariants();
    FUZZ_CHECK(Tracked::counts().live == 0, "messages outlived every handle of their channel");
  }

 private:
  // --- the model ---------------------------------------------------------------

  // Calls f on channel c: 0 unbounded, 1 bounded, 2 rendezvous.
  template <class F>
  void with(std::size_t c, F&& f) {
    switch (c) {
      case 0:
        f(u_);
        break;
      case 1:
        f(b_);
        break;
      default:
        f(z_);
        break;
    }
  }

  void record_state(std::size_t op) const noexcept {
    std::size_t receivers =
        (u_.model.receiver ? 1U : 0U) | (b_.model.receiver ? 2U : 0U) | (z_.model.receiver ? 4U : 0U);
    std::size_t fill = 1;
    if (b_.model.queue.empty()) {
      fill = 0;
    } else if (b_.model.messages < b_.model.queue.size()) {
      fill = 3;  // holes
    } else if (b_.model.queue.size() >= b_.model.capacity) {
      fill = 2;
    }
    const bool gone = u_.model.senders < 1 || b_.model.senders < 1 || z_.model.senders < 1;
    std::size_t index = receivers;
    index = index * 4 + fill;
    index = index * 2 + (u_.model.messages > 0 ? 1 : 0);
    index = index * 2 + (gone ? 1 : 0);
    index = index * 2 + (at_pending_ ? 1 : 0);
    index = index * op_kinds + op;
    spindle_fuzz::cover(state_coverage[index]);
  }

  void check_invariants() const {
    std::size_t messages = 0;
    auto check = [&messages](const auto& ch) {
      std::size_t engaged = 0;
      for (const auto& t : ch.tx) {
        engaged += t ? 1 : 0;
      }
      FUZZ_CHECK(engaged == ch.model.senders, "the harness lost count of its senders");
      FUZZ_CHECK(ch.rx.has_value() == ch.model.receiver, "the harness lost track of a receiver");
      FUZZ_CHECK(ch.model.receiver || ch.model.queue.empty(), "messages buffered after the receiver went");
      FUZZ_CHECK(!ch.model.front_hole(), "a hole at the front survived a look");
      messages += ch.model.messages;
    };
    check(u_);
    check(b_);
    check(z_);
    FUZZ_CHECK(Tracked::counts().live == static_cast<std::int64_t>(messages),
               "the number of messages alive is not the number in flight (one leaked, or was destroyed early)");
  }

  // A receive's look steps over the holes at the front of the bounded
  // channel; what a select looks at depends on where a fair one starts. So
  // after every operation the harness looks itself (a try_ready that starts
  // nothing), and no operation begins with a hole at the front.
  void normalize() {
    if (!b_.rx || !b_.model.front_hole()) {
      return;
    }
    mpsc::Select sel;
    sel.recv(*b_.rx);
    const bool ready = sel.try_ready().is_ok();
    while (b_.model.front_hole()) {
      b_.model.queue.pop_front();
    }
    FUZZ_CHECK(ready == b_.model.recv_ready(), "try_ready() on the bounded channel disagrees with the model");
  }

  // --- direct operations ---------------------------------------------------------

  template <class Tx>
  void send_on(Chan<Tx>& ch, Tx& tx) {
    const std::uint32_t id = next_id_++;
    const bool expect_ok = ch.model.receiver && ch.model.queue.size() < ch.model.capacity;
    bool ok = false;
    if constexpr (std::is_same_v<Tx, mpsc::Sender<Tracked>>) {
      auto r = tx.send(Tracked(id));
      ok = r.is_ok();
      FUZZ_CHECK(ok || r.unwrap_err().value.value() == id, "a failed send handed back another value");
    } else {
      auto r = tx.try_send(Tracked(id));
      ok = r.is_ok();
      if (!ok) {
        FUZZ_CHECK(r.unwrap_err().value.value() == id, "a failed try_send handed back another value");
        FUZZ_CHECK(r.unwrap_err().is_disconnected() == !ch.model.receiver,
                   "try_send's Full or Disconnected disagrees with the model");
      }
    }
    FUZZ_CHECK(ok == expect_ok, "a send's outcome disagrees with the model");
    if (ok) {
      ch.model.queue.emplace_back(id);
      ++ch.model.messages;
    }
  }

  void direct_send(std::size_t c, std::size_t slot) {
    with(c, [this, slot](auto& ch) {
      if (auto* tx = ch.sender(slot)) {
        send_on(ch, *tx);
      }
    });
  }

  // Takes the model's oldest message (holes skipped) and checks `got` is it.
  static void expect_front(Model& m, std::uint32_t got) {
    while (m.front_hole()) {
      m.queue.pop_front();
    }
    FUZZ_CHECK(!m.queue.empty(), "a receive returned a message the model does not have");
    FUZZ_CHECK(*m.queue.front() == got, "a receive returned another message than the oldest one");
    m.queue.pop_front();
    --m.messages;
  }

  void direct_recv(std::size_t c) {
    with(c, [](auto& ch) {
      if (!ch.rx) {
        return;
      }
      auto r = ch.rx->try_recv();
      if (r.is_ok()) {
        expect_front(ch.model, r.value().value());
        return;
      }
      const bool disconnected = r.unwrap_err() == mpsc::TryRecvError::Disconnected;
      FUZZ_CHECK(ch.model.messages == 0, "try_recv found nothing where the model has a message");
      FUZZ_CHECK(disconnected == (ch.model.senders == 0), "try_recv's Empty or Disconnected disagrees with the model");
      while (ch.model.front_hole()) {
        ch.model.queue.pop_front();  // the look stepped over them
      }
    });
  }

  void drop_receiver(std::size_t c) {
    with(c, [](auto& ch) {
      if (!ch.rx) {
        return;
      }
      ch.rx.reset();
      ch.model.receiver = false;
      ch.model.queue.clear();
      ch.model.messages = 0;
    });
  }

  void clone_or_drop_sender(std::size_t c, std::size_t slot, bool clone) {
    with(c, [slot, clone](auto& ch) {
      auto* tx = ch.sender(slot);
      if (tx == nullptr) {
        return;
      }
      const std::size_t at = ch.tx[0] && &*ch.tx[0] == tx ? 0 : 1;
      if (clone) {
        if (!ch.tx[1 - at]) {
          ch.tx[1 - at].emplace(*tx);
          ++ch.model.senders;
        }
        return;
      }
      ch.tx[at].reset();
      --ch.model.senders;
    });
  }

  void rearm(bool past) {
    at_time_ = past ? Clock::now() - std::chrono::seconds(1) : Clock::now() + std::chrono::hours(1);
    at_.emplace(mpsc::at(at_time_));
    at_pending_ = past;
  }

  // --- selects ---------------------------------------------------------------------

  /// Whether the model says `op` can proceed now.
  [[nodiscard]] bool ready(const Added& op) const {
    switch (op.target) {
      case unbounded:
        return op.send ? u_.model.send_ready() : u_.model.recv_ready();
      case bounded:
        return op.send ? b_.model.send_ready() : b_.model.recv_ready();
      case rendezvous:
        return op.send ? z_.model.send_ready() : z_.model.recv_ready();
      case never_timer:
        return false;
      default:
        return at_pending_;
    }
  }

  /// Checks that a select chose `index` among `ops`, as the model allows:
  /// a ready one, the first ready when biased.
  void check_choice(const std::vector<Added>& ops, std::size_t index, bool biased) const {
    const Added* chosen = nullptr;
    for (const Added& op : ops) {
      if (op.index == index) {
        chosen = &op;
        break;
      }
      FUZZ_CHECK(!biased || !ready(op), "a biased select passed over an earlier ready operation");
    }
    FUZZ_CHECK(chosen != nullptr, "a select chose an operation it does not have (or one removed)");
    FUZZ_CHECK(ready(*chosen), "a select chose an operation the model says cannot proceed");
  }

  /// Completes a receive from `ch` started by a select, against the model.
  template <class Tx>
  void complete_recv(Chan<Tx>& ch, spindle::Result<Tracked, mpsc::RecvError> r) {
    if (r.is_ok()) {
      expect_front(ch.model, r.value().value());
    } else {
      FUZZ_CHECK(ch.model.messages == 0 && ch.model.senders == 0,
                 "a selected receive failed where the model has a message or a sender");
    }
  }

  /// Checks a completed send of message `id` on `ch`, against the model.
  template <class Tx>
  void complete_send(Chan<Tx>& ch, std::uint32_t id, spindle::Result<void, mpsc::SendError<Tracked>> r) {
    if (r.is_ok()) {
      FUZZ_CHECK(ch.model.receiver, "a selected send succeeded with its receiver gone");
      ch.model.queue.emplace_back(id);
      ++ch.model.messages;
    } else {
      FUZZ_CHECK(!ch.model.receiver, "a selected send failed with its receiver alive");
      FUZZ_CHECK(r.unwrap_err().value.value() == id, "a failed selected send handed back another value");
    }
  }

  /// Completes `op` (the started operation of `added`), or gives it up by
  /// throwing past it.
  void finish_op(mpsc::SelectedOperation op, const Added& added, bool give_up) {
    if (give_up) {
      try {
        const mpsc::SelectedOperation doomed(std::move(op));
        throw GiveUp{};
      } catch (const GiveUp&) {
      }
      // A bounded send had claimed a slot: it holds no message now, and
      // takes up room until the receiver steps over it.
      if (added.send && added.target == bounded && b_.model.receiver) {
        b_.model.queue.emplace_back(std::nullopt);
      }
      return;
    }
    switch (added.target) {
      case unbounded:
      case bounded:
      case rendezvous:
        with(added.target, [&](auto& ch) {
          if (added.send) {
            const std::uint32_t id = next_id_++;
            auto* tx = ch.sender(0);
            FUZZ_CHECK(tx != nullptr, "the harness lost a sender it selected with");
            complete_send(ch, id, op.send(*tx, Tracked(id)));
          } else {
            complete_recv(ch, op.recv(*ch.rx));
          }
        });
        break;
      case never_timer: {
        (void)op.recv(never_);
        FUZZ_CHECK(false, "never() was chosen");
        break;
      }
      default: {
        auto r = op.recv(*at_);
        FUZZ_CHECK(r.is_ok() && *r == at_time_, "at() delivered another time than its own");
        at_pending_ = false;
        break;
      }
    }
  }

  // A select over the operations `mask` picks, made as `mode` says.
  //   mask: bits 0-2 receives from U, B, Z; bits 3-5 sends on U, B, Z;
  //         bit 6 never(); bit 7 at().
  //   mode: bits 0-2 the call; bit 3 biased; bit 4 give the started
  //         operation up; bit 5 add in reverse order; bit 6 remove the first
  //         operation added.
  void select(std::uint8_t mask, std::uint8_t mode) {
    mpsc::Select sel = (mode & 8U) != 0 ? mpsc::Select::biased() : mpsc::Select();
    const bool biased = (mode & 8U) != 0;
    std::vector<Added> ops;
    auto add = [&](std::size_t bit) {
      if ((mask & (1U << bit)) == 0) {
        return;
      }
      switch (bit) {
        case 0:
        case 1:
        case 2:
          with(bit, [&](auto& ch) {
            if (ch.rx) {
              ops.push_back(Added{static_cast<Target>(bit), false, sel.recv(*ch.rx)});
            }
          });
          break;
        case 3:
        case 4:
        case 5:
          with(bit - 3, [&](auto& ch) {
            if (auto* tx = ch.sender(0)) {
              ops.push_back(Added{static_cast<Target>(bit - 3), true, sel.send(*tx)});
            }
          });
          break;
        case 6:
          ops.push_back(Added{never_timer, false, sel.recv(never_)});
          break;
        default:
          ops.push_back(Added{at_timer, false, sel.recv(*at_)});
          break;
      }
    };
    for (std::size_t k = 0; k < 8; ++k) {
      add((mode & 32U) != 0 ? 7 - k : k);
    }
    if ((mode & 64U) != 0 && ops.size() >= 2) {
      sel.remove(ops.front().index);
      ops.erase(ops.begin());
    }
    const bool any_ready = std::any_of(ops.begin(), ops.end(), [this](const Added& op) { return ready(op); });
    std::size_t call = mode & 7U;
    if (ops.empty() && (call == 5 || call == 6)) {
      call = 0;  // select() and ready() with no operation throw: not this harness's business
    } else if (!any_ready && call == 5) {
      call = 0;  // select() would block for ever: try_select
    } else if (!any_ready && call == 6) {
      call = 3;  // ready() would block for ever: try_ready
    }
    const bool give_up = (mode & 16U) != 0;
    auto find = [&ops](std::size_t index) -> const Added& {
      for (const Added& op : ops) {
        if (op.index == index) {
          return op;
        }
      }
      FUZZ_CHECK(false, "a select returned an index it never gave out");
      return ops.front();
    };
    auto started = [&](mpsc::SelectedOperation op) {
      const std::size_t index = op.index();
      check_choice(ops, index, biased);
      finish_op(std::move(op), find(index), give_up);
    };
    auto looked = [&](std::size_t index) { check_choice(ops, index, biased); };
    // A try or timed form: Ok exactly when the model has a ready operation.
    auto attempt = [&](auto r) {
      FUZZ_CHECK(r.is_ok() == any_ready, "a try or timed select disagrees with the model about readiness");
      if (r.is_ok()) {
        started(std::move(r).unwrap());
      }
    };
    auto look = [&](auto r) {
      FUZZ_CHECK(r.is_ok() == any_ready, "a try or timed ready disagrees with the model about readiness");
      if (r.is_ok()) {
        looked(*r);
      }
    };
    const TimePoint past = Clock::now() - std::chrono::milliseconds(1);
    switch (call) {
      case 0:
        attempt(sel.try_select());
        break;
      case 1:
        attempt(sel.select_timeout(std::chrono::nanoseconds(0)));
        break;
      case 2:
        attempt(sel.select_deadline(past));
        break;
      case 3:
        look(sel.try_ready());
        break;
      case 4:
        look(sel.ready_timeout(std::chrono::nanoseconds(0)));
        break;
      case 7:
        look(sel.ready_deadline(past));
        break;
      case 5:
        started(sel.select());
        break;
      default:
        looked(sel.ready());
        break;
    }
  }

  // A blocking select over `ch`'s receive alone (its senders are gone).
  template <class Tx>
  void select_one_receive(Chan<Tx>& ch) {
    mpsc::Select sel;
    sel.recv(*ch.rx);
    auto op = sel.select();
    complete_recv(ch, op.recv(*ch.rx));
  }

  // What a select(arms...) handler saw: which arm, and for a receive or a
  // send its outcome.
  struct ArmResult {
    std::size_t arm = 0;
    bool ok = false;
    std::uint32_t value = 0;  // a received message's id
    TimePoint time{};         // at()'s message
  };

  // select(arms...) over the three receivers (a never() stand-in for one
  // that is gone) and both timers; on_default, or on_timeout(0) when bit 1
  // says; biased when bit 0 says.
  void select_receives(std::uint8_t bits) {
    const bool biased = (bits & 1U) != 0;
    std::array<mpsc::Receiver<Tracked>*, channels> rx{};
    std::array<std::optional<mpsc::Receiver<Tracked>>, channels> stand_in;
    for (std::size_t c = 0; c < channels; ++c) {
      with(c, [&](auto& ch) {
        if (ch.rx) {
          rx[c] = &*ch.rx;
        } else {
          stand_in[c].emplace(mpsc::never<Tracked>());
          rx[c] = &*stand_in[c];
        }
      });
    }
    using Got = std::optional<ArmResult>;
    auto on = [](std::size_t arm) {
      return [arm](spindle::Result<Tracked, mpsc::RecvError> r) {
        return Got(ArmResult{arm, r.is_ok(), r.is_ok() ? r.value().value() : 0, {}});
      };
    };
    auto on_time = [](std::size_t arm) {
      return [arm](spindle::Result<TimePoint, mpsc::RecvError> r) {
        return Got(ArmResult{arm, r.is_ok(), 0, r.is_ok() ? *r : TimePoint{}});
      };
    };
    auto none = [] { return Got(); };
    auto run = [&](auto&&... arms) {
      return biased ? mpsc::select_biased(std::forward<decltype(arms)>(arms)...)
                    : mpsc::select(std::forward<decltype(arms)>(arms)...);
    };
    const Got got = (bits & 2U) != 0
                        ? run(mpsc::on_recv(*rx[0], on(0)), mpsc::on_recv(*rx[1], on(1)), mpsc::on_recv(*rx[2], on(2)),
                              mpsc::on_recv(never_, on(3)), mpsc::on_recv(*at_, on_time(4)),
                              mpsc::on_timeout(std::chrono::nanoseconds(0), none))
                        : run(mpsc::on_recv(*rx[0], on(0)), mpsc::on_recv(*rx[1], on(1)), mpsc::on_recv(*rx[2], on(2)),
                              mpsc::on_recv(never_, on(3)), mpsc::on_recv(*at_, on_time(4)), mpsc::on_default(none));
    std::array<bool, 5> is_ready{u_.model.recv_ready(), b_.model.recv_ready(), z_.model.recv_ready(), false,
                                 at_pending_};
    const bool any_ready = std::any_of(is_ready.begin(), is_ready.end(), [](bool r) { return r; });
    FUZZ_CHECK(got.has_value() == any_ready,
               "select(arms...) ran its default where the model has a ready arm, "
               "or the reverse");
    if (!got) {
      return;
    }
    FUZZ_CHECK(is_ready[got->arm], "select(arms...) ran an arm the model says cannot proceed");
    for (std::size_t k = 0; biased && k < got->arm; ++k) {
      FUZZ_CHECK(!is_ready[k], "select_biased(arms...) passed over an earlier ready arm");
    }
    if (got->arm < channels) {
      with(got->arm, [&](auto& ch) {
        if (got->ok) {
          expect_front(ch.model, got->value);
        } else {
          FUZZ_CHECK(ch.model.messages == 0 && ch.model.senders == 0,
                     "a receive arm failed where the model has a message or a sender");
        }
      });
    } else {
      FUZZ_CHECK(got->arm == 4 && got->ok && got->time == at_time_, "at() delivered another time than its own");
      at_pending_ = false;
    }
  }

  // select(arms...) over a send on each channel, when each has a sender.
  void select_sends(std::uint8_t bits) {
    mpsc::Sender<Tracked>* ut = u_.sender(0);
    mpsc::SyncSender<Tracked>* bt = b_.sender(0);
    mpsc::SyncSender<Tracked>* zt = z_.sender(0);
    if (ut == nullptr || bt == nullptr || zt == nullptr) {
      return;
    }
    const bool biased = (bits & 1U) != 0;
    const std::uint32_t first = next_id_;
    next_id_ += 3;
    struct Outcome {
      std::size_t arm;
      bool ok;
      std::uint32_t back;  // the value a failed send handed back
    };
    using Got = std::optional<Outcome>;
    auto on = [](std::size_t arm) {
      return [arm](spindle::Result<void, mpsc::SendError<Tracked>> r) {
        return Got(Outcome{arm, r.is_ok(), r.is_ok() ? 0 : r.unwrap_err().value.value()});
      };
    };
    auto none = [] { return Got(); };
    auto run = [&](auto&&... arms) {
      return biased ? mpsc::select_biased(std::forward<decltype(arms)>(arms)...)
                    : mpsc::select(std::forward<decltype(arms)>(arms)...);
    };
    const Got got =
        (bits & 2U) != 0
            ? run(mpsc::on_send(*ut, Tracked(first), on(0)), mpsc::on_send(*bt, Tracked(first + 1), on(1)),
                  mpsc::on_send(*zt, Tracked(first + 2), on(2)), mpsc::on_timeout(std::chrono::nanoseconds(0), none))
            : run(mpsc::on_send(*ut, Tracked(first), on(0)), mpsc::on_send(*bt, Tracked(first + 1), on(1)),
                  mpsc::on_send(*zt, Tracked(first + 2), on(2)), mpsc::on_default(none));
    const std::array<bool, channels> is_ready{u_.model.send_ready(), b_.model.send_ready(), z_.model.send_ready()};
    FUZZ_CHECK(got.has_value(), "select(arms...) over an unbounded send ran its default");
    FUZZ_CHECK(is_ready[got->arm], "select(arms...) ran a send arm the model says cannot proceed");
    for (std::size_t k = 0; biased && k < got->arm; ++k) {
      FUZZ_CHECK(!is_ready[k], "select_biased(arms...) passed over an earlier ready arm");
    }
    const std::uint32_t id = first + static_cast<std::uint32_t>(got->arm);
    with(got->arm, [&](auto& ch) {
      if (got->ok) {
        FUZZ_CHECK(ch.model.receiver, "a send arm succeeded with its receiver gone");
        ch.model.queue.emplace_back(id);
        ++ch.model.messages;
      } else {
        FUZZ_CHECK(!ch.model.receiver, "a send arm failed with its receiver alive");
        FUZZ_CHECK(got->back == id, "a failed send arm handed back another value");
      }
    });
  }

  Chan<mpsc::Sender<Tracked>> u_;
  Chan<mpsc::SyncSender<Tracked>> b_;
  Chan<mpsc::SyncSender<Tracked>> z_;
  mpsc::Receiver<Tracked> never_ = mpsc::never<Tracked>();
  std::optional<mpsc::Receiver<TimePoint>> at_;
  TimePoint at_time_{};
  bool at_pending_ = false;
  std::uint32_t next_id_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const Tracked::Counts before = Tracked::counts();
  {
    Input ops(data + 1, size - 1);
    Run run(1 + (data[0] & 3U));
    while (!ops.empty()) {
      run.step(ops.byte(), ops);
    }
    run.finish((data[0] & 4U) != 0);
  }
  const Tracked::Counts after = Tracked::counts();
  FUZZ_CHECK(after.constructed - before.constructed == after.destroyed - before.destroyed,
             "constructions and destructions of messages differ");
  FUZZ_CHECK(after.live == 0, "a message outlived its channel");
  return 0;
}
