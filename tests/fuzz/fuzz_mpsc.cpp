// SPDX-License-Identifier: MIT
//
// Fuzzes spindle::mpsc against a sequential model, from one thread.
//
// The input is a program: byte 0 picks the capacity (1..4) of the bounded
// channel and the order in which the handles go at the end; every later byte
// is one operation. The same program runs on each flavour in turn
// (channel<T>(), sync_channel<T>(capacity) and the rendezvous
// sync_channel<T>(0)), and after every operation the channel must agree with
// the model: a std::deque of the messages in flight, the number of live
// senders, and whether the receiver is alive. An operation that would block
// this thread for ever (recv on an empty channel that still has senders,
// send on a full one) is never issued: the model says when a blocking call
// returns at once, and only then is it made; otherwise its try_ form runs.
//
// The payload is Tracked, which counts its lifetimes: after every operation
// the number of Tracked alive must equal the number of messages the model
// holds (so a dropped receiver destroys what was buffered at once), and
// every one must be gone once all handles are. An operation may be armed to
// make the next move of a message throw: that reaches the flavours' paths
// for a failed move into a slot (the position becomes a hole the receiver
// steps over) and out of one (the message is lost, not leaked).
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

#include "fuzz_support.hpp"
#include "spindle/mpsc.hpp"

namespace {

namespace mpsc = spindle::mpsc;
using spindle_fuzz::Input;
using spindle_fuzz::MoveFailed;
using spindle_fuzz::Tracked;

enum class Flavour : std::uint8_t { unbounded, bounded, rendezvous };

// One counter per (flavour, live senders: none, one, more; whether one has
// gone; receiver alive; fill; kind of operation): see
// SPINDLE_FUZZ_EXTRA_COUNTERS. Coarse on purpose: each counter reached
// keeps an input in the corpus.
constexpr std::size_t state_count = 3 * 3 * 2 * 2 * 4 * 6;
SPINDLE_FUZZ_EXTRA_COUNTERS std::uint8_t state_coverage[state_count];

// The kind of each operation code, for the state coverage: sends, receives,
// sender handles, the receiver's handle, iteration, arming.
constexpr std::array<std::uint8_t, 16> op_kind = {0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 2, 3, 4, 0, 5, 4};

// What the model expects of a send.
enum class SendOutcome : std::uint8_t { ok, full, disconnected };

// What the model expects of a receive.
enum class RecvOutcome : std::uint8_t { value, empty, disconnected };

// How a receive is made.
enum class RecvCall : std::uint8_t {
  recv,              // blocking
  try_recv,          //
  timeout_zero,      // recv_timeout(0)
  timeout_negative,  // recv_timeout(-1 s): a deadline already passed
  deadline_past,     // recv_deadline(a time point in the past)
  timeout_max,       // recv_timeout(hours::max()): blocking, saturated
};

const char* divergence(SendOutcome got) noexcept {
  switch (got) {
    case SendOutcome::ok:
      return "a send succeeded where the model says it fails";
    case SendOutcome::full:
      return "a send found the channel full where the model does not";
    default:
      return "a send found the channel disconnected where the model does not";
  }
}

const char* divergence(RecvOutcome got) noexcept {
  switch (got) {
    case RecvOutcome::value:
      return "a receive returned a message where the model has none";
    case RecvOutcome::empty:
      return "a receive found nothing where the model has a message or a disconnection";
    default:
      return "a receive reported a disconnection the model does not";
  }
}

template <Flavour F>
class Run {
  using Tx = std::conditional_t<F == Flavour::unbounded, mpsc::Sender<Tracked>, mpsc::SyncSender<Tracked>>;
  using Rx = mpsc::Receiver<Tracked>;
  static constexpr std::size_t slots = 4;
  static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

 public:
  explicit Run(std::size_t bound) : capacity_(F == Flavour::unbounded ? unbounded : F == Flavour::bounded ? bound : 0) {
    if constexpr (F == Flavour::unbounded) {
      auto [tx, rx] = mpsc::channel<Tracked>();
      senders_[0].emplace(std::move(tx));
      rx_.emplace(std::move(rx));
    } else {
      auto [tx, rx] = mpsc::sync_channel<Tracked>(capacity_);
      senders_[0].emplace(std::move(tx));
      rx_.emplace(std::move(rx));
    }
    live_senders_ = 1;
    check_invariants();
  }

  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() = default;

  // One operation: the low four bits say which, the upper four its operands.
  void step(std::uint8_t b) {
    const std::size_t i = (b >> 4) & 3U;
    const std::size_t j = (b >> 6) & 3U;
    const bool armed = std::exchange(armed_, false);
    record_state(b & 15U);
    switch (b & 15U) {
      case 0:
      case 1:
        send(i, /*try_form=*/false, armed);
        break;
      case 2:
        send(i, /*try_form=*/true, armed);
        break;
      case 3:
        receive(RecvCall::recv, armed);
        break;
      case 4:
      case 5:
        receive(RecvCall::try_recv, armed);
        break;
      case 6: {
        constexpr std::array<RecvCall, 4> calls = {RecvCall::timeout_zero, RecvCall::timeout_negative,
                                                   RecvCall::deadline_past, RecvCall::timeout_max};
        receive(calls[j], armed);
        break;
      }
      case 7:
        clone_sender(i, j);
        break;
      case 8:
        drop_sender(i);
        break;
      case 9:
        drop_receiver();
        break;
      case 10:
        move_sender(i, j);
        break;
      case 11:
        move_receiver(i, j);
        break;
      case 12:
        drain_ready();
        break;
      case 13:
        burst(i, 1 + 4 * static_cast<std::size_t>(b >> 4));
        break;
      case 14:
        armed_ = true;  // the next operation's first move of a message throws
        break;
      default:
        iterate(1 + i + 4 * j);
        break;
    }
    check_invariants();
  }

  // Drops every handle: the receiver first or last, as the input says.
  void finish(bool receiver_first) {
    if (receiver_first) {
      drop_receiver();
    }
    for (std::size_t k = 0; k < slots; ++k) {
      if (senders_[k]) {
        drop_sender(k);
      }
    }
    if (!receiver_first) {
      drop_receiver();
    }
    check_invariants();
    FUZZ_CHECK(Tracked::counts().live == 0, "messages outlived every handle of their channel");
  }

 private:
  // --- the model -------------------------------------------------------------

  void record_state(std::size_t op) const noexcept {
    // Empty, some, full (or, unbounded, past the first block's worth), and
    // holes at the front.
    std::size_t fill = 1;
    if (queue_.empty()) {
      fill = 0;
    } else if (!queue_.front()) {
      fill = 3;
    } else if (queue_.size() >= std::min<std::size_t>(capacity_, 127)) {
      fill = 2;
    }
    std::size_t index = static_cast<std::size_t>(F);
    index = index * 3 + std::min<std::size_t>(live_senders_, 2);
    index = index * 2 + (released_ ? 1 : 0);
    index = index * 2 + (receiver_alive_ ? 1 : 0);
    index = index * 4 + fill;
    index = index * 6 + op_kind[op];
    spindle_fuzz::cover(state_coverage[index]);
  }

  // The model's view of a send now.
  [[nodiscard]] SendOutcome predict_send() const noexcept {
    if (!receiver_alive_) {
      return SendOutcome::disconnected;
    }
    return queue_.size() >= capacity_ ? SendOutcome::full : SendOutcome::ok;
  }

  // Every receive first steps over the holes at the front (positions whose
  // send threw while moving the message in), as the receiver does.
  void skip_holes() {
    while (!queue_.empty() && !queue_.front()) {
      queue_.pop_front();
    }
  }

  [[nodiscard]] RecvOutcome predict_recv() const noexcept {
    if (!queue_.empty()) {
      return RecvOutcome::value;
    }
    return live_senders_ == 0 ? RecvOutcome::disconnected : RecvOutcome::empty;
  }

  // Takes the model's front message (after skip_holes()).
  std::uint32_t pop_front() {
    const std::uint32_t id = *queue_.front();
    queue_.pop_front();
    --messages_;
    return id;
  }

  void check_invariants() const {
    std::size_t engaged = 0;
    for (const auto& s : senders_) {
      engaged += s ? 1 : 0;
    }
    FUZZ_CHECK(engaged == live_senders_, "the harness lost count of its senders");
    FUZZ_CHECK(receiver_alive_ == rx_.has_value(), "the harness lost track of its receiver");
    FUZZ_CHECK(Tracked::counts().live == static_cast<std::int64_t>(messages_),
               "the number of messages alive is not the number in flight (one leaked, or was destroyed early)");
    FUZZ_CHECK(receiver_alive_ || queue_.empty(), "messages buffered after the receiver went");
  }

  // The slot `i`, or else the first slot that holds a sender; nullptr when
  // no sender is left.
  std::optional<Tx>* pick(std::size_t i) {
    if (senders_[i]) {
      return &senders_[i];
    }
    for (auto& s : senders_) {
      if (s) {
        return &s;
      }
    }
    return nullptr;
  }

  // --- operations --------------------------------------------------------------

  // Sends one new message through sender `i`: send() when the model says it
  // returns at once, else try_send(). Returns what happened.
  SendOutcome send(std::size_t i, bool try_form, bool armed) {
    std::optional<Tx>* slot = pick(i);
    if (slot == nullptr) {
      return SendOutcome::disconnected;  // no sender left to send with
    }
    Tx& tx = **slot;
    const SendOutcome expected = predict_send();
    if constexpr (F == Flavour::unbounded) {
      try_form = false;  // Sender has no try_send: its send never blocks
    } else if (expected == SendOutcome::full) {
      try_form = true;  // send() would block this thread for ever
    }
    const std::uint32_t id = next_id_++;
    if (armed) {
      Tracked::arm_throw();
    }
    SendOutcome got = SendOutcome::ok;
    bool threw = false;
    try {
      if constexpr (F == Flavour::unbounded) {
        auto r = tx.send(Tracked(id));
        if (r.is_err()) {
          FUZZ_CHECK(r.unwrap_err().value.value() == id, "a failed send handed back another value");
          got = SendOutcome::disconnected;
        }
      } else {
        if (try_form) {
          auto r = tx.try_send(Tracked(id));
          if (r.is_err()) {
            FUZZ_CHECK(r.unwrap_err().value.value() == id, "a failed try_send handed back another value");
            got = r.unwrap_err().is_full() ? SendOutcome::full : SendOutcome::disconnected;
            FUZZ_CHECK(r.unwrap_err().is_disconnected() == (got == SendOutcome::disconnected),
                       "TrySendError is neither Full nor Disconnected");
          }
        } else {
          auto r = tx.send(Tracked(id));
          if (r.is_err()) {
            FUZZ_CHECK(r.unwrap_err().value.value() == id, "a failed send handed back another value");
            got = SendOutcome::disconnected;
          }
        }
      }
    } catch (const MoveFailed&) {
      threw = true;
    }
    const bool fired = Tracked::disarm();
    FUZZ_CHECK(fired == threw, "a throwing move was swallowed, or an exception came from elsewhere");
    // A send always moves its message once: into the channel, or into the
    // error that hands it back.
    FUZZ_CHECK(threw == armed, "an armed send did not move its message (or an unarmed one threw)");
    if (threw) {
      if (expected == SendOutcome::ok) {
        queue_.emplace_back(std::nullopt);  // the position is taken, and holds nothing
      }
      return expected;
    }
    FUZZ_CHECK(got == expected, divergence(got));
    if (got == SendOutcome::ok) {
      queue_.emplace_back(id);
      ++messages_;
    }
    return got;
  }

  void receive(RecvCall call, bool armed) {
    if (!rx_) {
      return;  // the receiver is gone
    }
    Rx& rx = *rx_;
    skip_holes();
    const RecvOutcome expected = predict_recv();
    if (expected == RecvOutcome::empty) {
      // A blocking call would wait for ever: make its non-blocking twin.
      if (call == RecvCall::recv) {
        call = RecvCall::try_recv;
      } else if (call == RecvCall::timeout_max) {
        call = RecvCall::timeout_zero;
      }
    }
    if (armed) {
      Tracked::arm_throw();
    }
    bool threw = false;
    RecvOutcome got = RecvOutcome::value;
    std::uint32_t value = 0;
    try {
      switch (call) {
        case RecvCall::recv: {
          auto r = rx.recv();
          if (r.is_ok()) {
            value = r.value().value();
          } else {
            got = RecvOutcome::disconnected;
          }
          break;
        }
        case RecvCall::try_recv: {
          auto r = rx.try_recv();
          if (r.is_ok()) {
            value = r.value().value();
          } else {
            got = r.unwrap_err() == mpsc::TryRecvError::Empty ? RecvOutcome::empty : RecvOutcome::disconnected;
          }
          break;
        }
        default: {
          auto r = call == RecvCall::timeout_zero       ? rx.recv_timeout(std::chrono::nanoseconds(0))
                   : call == RecvCall::timeout_negative ? rx.recv_timeout(std::chrono::seconds(-1))
                   : call == RecvCall::deadline_past
                       ? rx.recv_deadline(std::chrono::steady_clock::now() - std::chrono::milliseconds(1))
                       : rx.recv_timeout(std::chrono::hours::max());
          if (r.is_ok()) {
            value = r.value().value();
          } else {
            got = r.unwrap_err() == mpsc::RecvTimeoutError::Timeout ? RecvOutcome::empty : RecvOutcome::disconnected;
          }
          break;
        }
      }
    } catch (const MoveFailed&) {
      threw = true;
    }
    const bool fired = Tracked::disarm();
    FUZZ_CHECK(fired == threw, "a throwing move was swallowed, or an exception came from elsewhere");
    // A receive moves a message only when it returns one.
    FUZZ_CHECK(threw == (armed && expected == RecvOutcome::value),
               "an armed receive moved a message the model does not have (or none it has)");
    if (threw) {
      pop_front();  // the message is lost: destroyed in the channel, not leaked
      return;
    }
    FUZZ_CHECK(got == expected, divergence(got));
    if (got == RecvOutcome::value) {
      FUZZ_CHECK(value == pop_front(), "a receive returned another message than the oldest one");
    }
  }

  // Copies sender `i` into slot `j` (copy-assigning over a sender there,
  // itself included).
  void clone_sender(std::size_t i, std::size_t j) {
    std::optional<Tx>* from = pick(i);
    if (from == nullptr) {
      return;
    }
    if (senders_[j]) {
      *senders_[j] = **from;  // one sender more, one less
      released_ = released_ || from != &senders_[j];
    } else {
      senders_[j].emplace(**from);
      ++live_senders_;
    }
  }

  void drop_sender(std::size_t i) {
    std::optional<Tx>* slot = pick(i);
    if (slot == nullptr) {
      return;
    }
    slot->reset();
    --live_senders_;
    released_ = true;
  }

  void drop_receiver() {
    if (!rx_) {
      return;
    }
    rx_.reset();
    receiver_alive_ = false;
    queue_.clear();
    messages_ = 0;
  }

  // Every operation on a moved-from handle throws std::logic_error, and
  // copying one gives another.
  void expect_moved_from(Tx& tx) {
    auto attempt = [this](Tx& t, bool try_form) {
      bool threw = false;
      try {
        if constexpr (F == Flavour::unbounded) {
          (void)try_form;
          (void)t.send(Tracked(next_id_++));
        } else if (try_form) {
          (void)t.try_send(Tracked(next_id_++));
        } else {
          (void)t.send(Tracked(next_id_++));
        }
      } catch (const std::logic_error&) {
        threw = true;
      }
      FUZZ_CHECK(threw, "a send on a moved-from sender did not throw std::logic_error");
    };
    attempt(tx, false);
    Tx copy(tx);
    attempt(copy, true);
  }

  // Moves sender `i` into slot `j` (move-assigning over a sender there,
  // itself included); the moved-from one must refuse to send.
  void move_sender(std::size_t i, std::size_t j) {
    std::optional<Tx>* from = pick(i);
    if (from == nullptr) {
      return;
    }
    if (from == &senders_[j]) {
      *senders_[j] = std::move(**from);  // moving onto itself changes nothing
      return;
    }
    if (senders_[j]) {
      *senders_[j] = std::move(**from);
      --live_senders_;  // the sender that was in slot j went
      released_ = true;
    } else {
      senders_[j].emplace(std::move(**from));
    }
    expect_moved_from(**from);
    from->reset();  // destroying a moved-from sender does nothing
  }

  // Moves the receiver out and back in one of four ways; the moved-from one
  // must refuse to receive.
  void move_receiver(std::size_t i, std::size_t how) {
    if (!rx_) {
      return;
    }
    Rx& rx = *rx_;
    auto expect_refused = [i](Rx& husk) {
      bool threw = false;
      try {
        switch (i) {
          case 0:
            (void)husk.try_recv();
            break;
          case 1:
            (void)husk.recv();
            break;
          case 2:
            (void)husk.recv_timeout(std::chrono::milliseconds(1));
            break;
          default:
            for (const Tracked& m : husk.try_iter()) {
              (void)m;
            }
            break;
        }
      } catch (const std::logic_error&) {
        threw = true;
      }
      FUZZ_CHECK(threw, "a receive on a moved-from receiver did not throw std::logic_error");
    };
    switch (how) {
      case 0: {
        Rx other(std::move(rx));
        expect_refused(rx);
        rx = std::move(other);
        expect_refused(other);
        break;
      }
      case 1: {
        Rx other(std::move(rx));
        rx_.reset();
        rx_.emplace(std::move(other));
        break;
      }
      case 2: {
        Rx& same = *rx_;
        rx = std::move(same);  // onto itself: nothing changes
        break;
      }
      default: {
        Rx tmp(std::move(rx));
        Rx husk(std::move(tmp));  // tmp is moved-from now
        tmp.swap(husk);
        expect_refused(husk);
        rx.swap(tmp);
        expect_refused(tmp);
        break;
      }
    }
  }

  // try_iter(): every message ready now, oldest first.
  void drain_ready() {
    if (!rx_) {
      return;
    }
    for (const Tracked& m : rx_->try_iter()) {
      skip_holes();
      FUZZ_CHECK(!queue_.empty(), "try_iter() yielded a message the model does not have");
      FUZZ_CHECK(m.value() == pop_front(), "try_iter() yielded another message than the oldest one");
    }
    skip_holes();
    FUZZ_CHECK(queue_.empty(), "try_iter() stopped with messages left");
  }

  // Iterates the receiver for at most `limit` messages: the blocking
  // iterator when it cannot block (no sender left), else try_iter().
  void iterate(std::size_t limit) {
    if (!rx_) {
      return;
    }
    std::size_t taken = 0;
    auto body = [&](const Tracked& m) {
      skip_holes();
      FUZZ_CHECK(!queue_.empty(), "an iterator yielded a message the model does not have");
      FUZZ_CHECK(m.value() == pop_front(), "an iterator yielded another message than the oldest one");
      return ++taken < limit;
    };
    if (live_senders_ == 0) {
      for (const Tracked& m : *rx_) {
        if (!body(m)) {
          break;
        }
      }
    } else {
      for (const Tracked& m : rx_->try_iter()) {
        if (!body(m)) {
          break;
        }
      }
    }
    if (taken < limit) {
      skip_holes();
      FUZZ_CHECK(queue_.empty(), "an iterator stopped with messages left");
    }
  }

  // Up to `count` sends in a row, stopping at the first that fails.
  void burst(std::size_t i, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
      if (send(i, /*try_form=*/true, /*armed=*/false) != SendOutcome::ok) {
        break;
      }
    }
  }

  const std::size_t capacity_;
  std::array<std::optional<Tx>, slots> senders_;
  std::optional<Rx> rx_;

  // The model. queue_ holds message ids; std::nullopt is a hole.
  std::deque<std::optional<std::uint32_t>> queue_;
  std::size_t messages_ = 0;  // the ids in queue_
  std::size_t live_senders_ = 0;
  bool released_ = false;  // some sender handle has gone (for the state coverage)
  bool receiver_alive_ = true;
  std::uint32_t next_id_ = 0;
  bool armed_ = false;
};

template <Flavour F>
void run(std::uint8_t config, Input in) {
  const std::size_t bound = 1 + (config & 3U);
  Run<F> r(bound);
  while (!in.empty()) {
    r.step(in.byte());
  }
  r.finish((config & 4U) != 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const Tracked::Counts before = Tracked::counts();
  const Input ops(data + 1, size - 1);
  run<Flavour::unbounded>(data[0], ops);
  run<Flavour::bounded>(data[0], ops);
  run<Flavour::rendezvous>(data[0], ops);
  const Tracked::Counts after = Tracked::counts();
  FUZZ_CHECK(after.constructed - before.constructed == after.destroyed - before.destroyed,
             "constructions and destructions of messages differ");
  FUZZ_CHECK(after.live == 0, "a message outlived its channel");
  return 0;
}
