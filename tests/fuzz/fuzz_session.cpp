// SPDX-License-Identifier: MIT
//
// Fuzzes spindle::session's transport against a model, from one thread
// that drives both endpoints of a session.
//
// The protocol, seen from side A (side B speaks its dual):
//
//   Rec<Choose<Send<Tracked, Var<Z>>,            0: A sends a message
//              Recv<std::uint32_t, Var<Z>>,      1: B sends a number
//              Offer<Var<Z>, Eps>,               2: B decides: go on, or stop
//              Eps>>                             3: A stops
//
// Every input byte is one operation: step side A or B (the input picks the
// branch at each choice and the low bits of each value), step one side as
// far as it goes, abandon one side's endpoint in the middle of its protocol
// (destroy it, or move-assign a moved-from endpoint over it), arm a throwing
// move for B's next receive of a Tracked, move an endpoint out and back, or
// check that the endpoint a step consumed refuses another step
// (ProtocolError). The model
// is the messages in flight each way (labels, Tracked ids, numbers) and
// which sides are gone. A step that would block (a receive with nothing in
// flight from a live peer, a send into a full buffer) is not made; the other
// side steps instead, and one of them always can.
//
// What must hold: every value and every branch received is the one the
// model has next; an endpoint destroyed live calls the violation handler
// (installed here: it counts and returns) exactly once, with a description
// that names its next step; its peer then reads what is still in flight and
// its next step that needs the dead side throws Disconnected, at exactly
// the point the model says, after which it is spent and destroying it calls
// no handler; the messages alive are those in flight after every operation,
// and none is left at the end. A session that ends (both sides closed, or
// gone) is followed by a new one while input remains.
//
// Any divergence aborts with a message.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "fuzz_support.hpp"
#include "spindle/session.hpp"

namespace {

namespace ss = spindle::session;
using spindle_fuzz::Input;
using spindle_fuzz::MoveFailed;
using spindle_fuzz::Tracked;

using Body = ss::Choose<ss::Send<Tracked, ss::Var<ss::Z>>, ss::Recv<std::uint32_t, ss::Var<ss::Z>>,
                        ss::Offer<ss::Var<ss::Z>, ss::Eps>, ss::Eps>;
using Protocol = ss::Rec<Body>;

// Every endpoint type one side goes through, and "no endpoint".
template <class Root>
struct StatesOf;
template <template <class...> class Pick, class P0, class P1, class P2>
struct StatesOf<ss::Rec<Pick<P0, P1, P2, ss::Eps>>> {
  using Root = ss::Rec<Pick<P0, P1, P2, ss::Eps>>;
  using E = ss::Env<Root, Pick<P0, P1, P2, ss::Eps>>;
  using type = std::variant<std::monostate, ss::Chan<Root>, ss::Chan<Pick<P0, P1, P2, ss::Eps>, E>, ss::Chan<P0, E>,
                            ss::Chan<P1, E>, ss::Chan<P2, E>, ss::Chan<ss::Var<ss::Z>, E>, ss::Chan<ss::Eps, E>>;
};
using SideA = StatesOf<Protocol>::type;
using SideB = StatesOf<ss::Dual<Protocol>>::type;

// --- what a step is ------------------------------------------------------------

enum class Step : std::uint8_t { enter, zero, close, send, recv, choose, offer };

template <class P>
struct Shape;
template <class B>
struct Shape<ss::Rec<B>> {
  static constexpr Step step = Step::enter;
  static constexpr std::string_view name = "Rec<";
};
template <class N>
struct Shape<ss::Var<N>> {
  static constexpr Step step = Step::zero;
  static constexpr std::string_view name = "Var<";
};
template <>
struct Shape<ss::Eps> {
  static constexpr Step step = Step::close;
  static constexpr std::string_view name = "Eps";
};
template <class T, class Q>
struct Shape<ss::Send<T, Q>> {
  static constexpr Step step = Step::send;
  static constexpr std::string_view name = "Send<";
  using value = T;
};
template <class T, class Q>
struct Shape<ss::Recv<T, Q>> {
  static constexpr Step step = Step::recv;
  static constexpr std::string_view name = "Recv<";
  using value = T;
};
template <class... Q>
struct Shape<ss::Choose<Q...>> {
  static constexpr Step step = Step::choose;
  static constexpr std::string_view name = "Choose<";
  static constexpr std::size_t branches = sizeof...(Q);
};
template <class... Q>
struct Shape<ss::Offer<Q...>> {
  static constexpr Step step = Step::offer;
  static constexpr std::string_view name = "Offer<";
  static constexpr std::size_t branches = sizeof...(Q);
};

// Calls f(std::integral_constant<std::size_t, i>{}) for a run-time i < N.
template <class F, std::size_t... I>
void with_index(std::size_t i, F&& f, std::index_sequence<I...> /*all*/) {
  ((i == I ? (f(std::integral_constant<std::size_t, I>{}), 0) : 0), ...);
}
template <std::size_t N, class F>
void with_index(std::size_t i, F&& f) {
  with_index(i, std::forward<F>(f), std::make_index_sequence<N>{});
}

// --- the violation handler --------------------------------------------------------

struct Violations {
  int count = 0;
  std::array<char, 1024> text{};  // the last description (no heap: it outlives inputs)
  std::size_t length = 0;
};

Violations& violations() noexcept {
  static Violations v;
  return v;
}

void record_violation(std::string_view description) noexcept {
  Violations& v = violations();
  ++v.count;
  v.length = std::min(description.size(), v.text.size());
  std::memcpy(v.text.data(), description.data(), v.length);
}

// --- the model ---------------------------------------------------------------------

struct Message {
  enum class Kind : std::uint8_t { label, tracked, number };
  Kind kind;
  std::uint32_t value;
};

constexpr std::size_t buffer = SPINDLE_SESSION_BUFFER;

// One counter per (A's endpoint type, B's, messages in flight to B: none,
// some, a full buffer; kind of operation: a step, a run of steps, an
// abandonment, the rest): see SPINDLE_FUZZ_EXTRA_COUNTERS. Coarse on
// purpose: each counter reached keeps an input in the corpus.
constexpr std::size_t state_count = std::variant_size_v<SideA> * std::variant_size_v<SideB> * 3 * 4;
SPINDLE_FUZZ_EXTRA_COUNTERS std::uint8_t state_coverage[state_count];

// The kind of each operation code, for the state coverage.
constexpr std::array<std::uint8_t, 8> op_kind = {0, 0, 0, 0, 1, 2, 3, 3};

// Whether the step of the side holding `c` would block, given the model.
enum class Expect : std::uint8_t { ok, disconnected, blocks };

class Session {
 public:
  Session() {
    auto [a, b] = ss::session_channel<Protocol>();
    a_ = std::move(a);
    b_ = std::move(b);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() = default;

  [[nodiscard]] bool over() const noexcept {
    return std::holds_alternative<std::monostate>(a_) && std::holds_alternative<std::monostate>(b_);
  }

  // One operation of the input.
  void operate(std::uint8_t b) {
    const std::size_t side = (b >> 3) & 1U;
    const std::uint8_t arg = b >> 4;
    record_state(b & 7U);
    switch (b & 7U) {
      case 0:
      case 1:
      case 2:
      case 3:
        step_either(side, arg);
        break;
      case 4:
        // As far as this side goes (a few steps at most: every loop round
        // passes a choice, which may block on a full buffer; bound it).
        for (int k = 0; k < 8 && step(side, arg, false); ++k) {
        }
        break;
      case 5:
        abandon(side, /*by_assignment=*/(arg & 1U) != 0);
        break;
      case 6:
        arm_ = true;  // B's next receive of a Tracked: its move throws
        break;
      default:
        if ((arg & 1U) != 0) {
          misuse_ = true;  // the next step also checks the consumed endpoint
        } else {
          reshuffle(side);
        }
        break;
    }
    check_invariants();
  }

  // Ends the session: either both sides run to the end of the protocol
  // (A stops at its next choice, B too), or each live endpoint is destroyed
  // where it stands.
  void finish(bool gracefully) {
    if (gracefully) {
      for (int k = 0; k < 4 * static_cast<int>(buffer) + 16 && !over(); ++k) {
        step_either(k & 1, /*arg=*/0xf, /*finishing=*/true);
      }
      FUZZ_CHECK(over(), "the protocol did not run to its end");
    } else {
      abandon(0, false);
      abandon(1, false);
    }
    check_invariants();
  }

 private:
  // Steps `side`, or the other one if `side` cannot step now.
  void step_either(std::size_t side, std::uint8_t arg, bool finishing = false) {
    if (!step(side, arg, finishing) && !step(1 - side, arg, finishing)) {
      FUZZ_CHECK(over(), "neither side can step: the model deadlocked");
    }
  }

  // Steps side 0 (A) or 1 (B); false if it has no endpoint or would block.
  bool step(std::size_t side, std::uint8_t arg, bool finishing) {
    const bool misuse = std::exchange(misuse_, false);
    if (side == 0) {
      return std::visit([&](auto& c) { return step_on<0>(a_, c, arg, misuse, finishing); }, a_);
    }
    return std::visit([&](auto& c) { return step_on<1>(b_, c, arg, misuse, finishing); }, b_);
  }

  template <std::size_t S, class Holder, class C>
  bool step_on(Holder& holder, C& c, std::uint8_t arg, bool misuse, bool finishing) {
    if constexpr (std::is_same_v<C, std::monostate>) {
      return false;
    } else {
      using P = typename C::protocol;
      constexpr Step kind = Shape<P>::step;
      constexpr std::size_t peer = 1 - S;
      FUZZ_CHECK(c.is_live(), "an endpoint held by the harness is not live");
      if constexpr (kind == Step::enter) {
        auto next = std::move(c).enter();
        consumed(c, next, misuse, [&] { (void)std::move(c).enter(); });
        holder = std::move(next);
      } else if constexpr (kind == Step::zero) {
        auto next = std::move(c).zero();
        consumed(c, next, misuse, [&] { (void)std::move(c).zero(); });
        holder = std::move(next);
      } else if constexpr (kind == Step::close) {
        std::move(c).close();
        FUZZ_CHECK(!c.is_live(), "a closed endpoint is still live");
        if (misuse) {
          expect_protocol_error([&] { std::move(c).close(); });
        }
        holder = std::monostate{};
        gone(S);
      } else if constexpr (kind == Step::send || kind == Step::choose) {
        const Expect expect = expect_send(peer);
        if (expect == Expect::blocks) {
          return false;
        }
        Message m{Message::Kind::label, 0};
        try {
          if constexpr (kind == Step::send) {
            using T = typename Shape<P>::value;
            const std::uint32_t value = (next_value_++ << 4) | arg;
            if constexpr (std::is_same_v<T, Tracked>) {
              m = {Message::Kind::tracked, value};
              auto next = std::move(c).send(Tracked(value));
              consumed(c, next, misuse, [&] { (void)std::move(c).send(Tracked(value)); });
              holder = std::move(next);
            } else {
              m = {Message::Kind::number, value};
              auto next = std::move(c).send(value);
              consumed(c, next, misuse, [&] { (void)std::move(c).send(value); });
              holder = std::move(next);
            }
          } else {
            constexpr std::size_t n = Shape<P>::branches;
            // Finishing: the last branch, which is Eps on both sides here.
            const std::size_t branch = finishing ? n - 1 : arg % n;
            m = {Message::Kind::label, static_cast<std::uint32_t>(branch)};
            with_index<n>(branch, [&](auto index) {
              constexpr std::size_t I = decltype(index)::value;
              if constexpr (I == 0) {
                if ((arg & 8U) != 0) {
                  auto next = std::move(c).sel1();
                  consumed(c, next, misuse, [&] { (void)std::move(c).sel1(); });
                  holder = std::move(next);
                  return;
                }
              } else if constexpr (I == 1) {
                if ((arg & 8U) != 0) {
                  auto next = std::move(c).sel2();
                  consumed(c, next, misuse, [&] { (void)std::move(c).sel2(); });
                  holder = std::move(next);
                  return;
                }
              }
              auto next = std::move(c).template select<I>();
              consumed(c, next, misuse, [&] { (void)std::move(c).template select<I>(); });
              holder = std::move(next);
            });
          }
          FUZZ_CHECK(expect == Expect::ok, "a send succeeded although the peer is gone");
          push(peer, m);
        } catch (const ss::Disconnected&) {
          FUZZ_CHECK(expect == Expect::disconnected, "a send threw Disconnected although the peer is there");
          spent(S, holder, c);
        }
      } else {
        static_assert(kind == Step::recv || kind == Step::offer);
        const Expect expect = expect_recv(S);
        if (expect == Expect::blocks) {
          return false;
        }
        const Message front = expect == Expect::ok ? queue_[S].front() : Message{};
        bool armed = false;
        if constexpr (kind == Step::recv) {
          if constexpr (std::is_same_v<typename Shape<P>::value, Tracked>) {
            armed = std::exchange(arm_, false) && expect == Expect::ok;
          }
        }
        if (armed) {
          Tracked::arm_throw();
        }
        try {
          if constexpr (kind == Step::recv) {
            using T = typename Shape<P>::value;
            auto received = std::move(c).recv();
            auto& next = received.first;
            std::uint32_t got = 0;
            if constexpr (std::is_same_v<T, Tracked>) {
              got = received.second.value();
            } else {
              got = received.second;
            }
            consumed(c, next, misuse, [&] { (void)std::move(c).recv(); });
            FUZZ_CHECK(expect == Expect::ok, "a receive returned a value although nothing is in flight");
            FUZZ_CHECK(front.kind == (std::is_same_v<T, Tracked> ? Message::Kind::tracked : Message::Kind::number),
                       "a receive returned a value where the model has a choice in flight");
            FUZZ_CHECK(got == front.value, "a receive returned another value than the one sent");
            holder = std::move(next);
          } else {
            auto branches = std::move(c).offer();
            FUZZ_CHECK(!c.is_live(), "offer() left its endpoint live");
            if (misuse) {
              expect_protocol_error([&] { (void)std::move(c).offer(); });
            }
            FUZZ_CHECK(expect == Expect::ok, "offer() returned a branch although nothing is in flight");
            FUZZ_CHECK(front.kind == Message::Kind::label, "offer() returned a branch where the model has a value");
            FUZZ_CHECK(branches.index() == front.value, "offer() returned another branch than the one chosen");
            std::visit(
                [&](auto& branch) {
                  FUZZ_CHECK(branch.is_live(), "offer() returned a branch that is not live");
                  holder = std::move(branch);
                },
                branches);
          }
          pop(S);
        } catch (const ss::Disconnected&) {
          FUZZ_CHECK(expect == Expect::disconnected, "a receive threw Disconnected with a message in flight");
          spent(S, holder, c);
        } catch (const MoveFailed&) {
          FUZZ_CHECK(armed, "a move threw that was not armed to");
          pop(S);  // the message is lost, and the endpoint with it
          spent(S, holder, c);
        }
        FUZZ_CHECK(Tracked::disarm() == armed, "an armed receive did not move its message");
      }
      return true;
    }
  }

  // After a step: the endpoint it consumed is no longer live, the one it
  // returned is; with `misuse`, another step on the consumed one throws.
  template <class C, class N, class F>
  static void consumed(const C& old, const N& next, bool misuse, F&& again) {
    FUZZ_CHECK(!old.is_live(), "a step left the endpoint it consumed live");
    FUZZ_CHECK(next.is_live(), "a step returned an endpoint that is not live");
    if (misuse) {
      expect_protocol_error(std::forward<F>(again));
    }
  }

  template <class F>
  static void expect_protocol_error(F&& f) {
    bool threw = false;
    try {
      f();
    } catch (const ss::ProtocolError&) {
      threw = true;
    }
    FUZZ_CHECK(threw, "a step on a consumed endpoint did not throw ProtocolError");
  }

  // A step threw Disconnected (or lost its message): the endpoint is spent,
  // and destroying it is no violation.
  template <class Holder, class C>
  void spent(std::size_t side, Holder& holder, C& c) {
    FUZZ_CHECK(!c.is_live(), "an endpoint is still live after its step failed");
    const int before = violations().count;
    holder = std::monostate{};
    FUZZ_CHECK(violations().count == before, "destroying a spent endpoint called the violation handler");
    gone(side);
  }

  // Moves side's endpoint out and back (move construction, move assignment
  // onto a moved-from endpoint, and onto itself): nothing may change, and
  // no handler run.
  void reshuffle(std::size_t side) {
    auto shuffle = [](auto& c) {
      using C = std::remove_cvref_t<decltype(c)>;
      if constexpr (!std::is_same_v<C, std::monostate>) {
        const int before = violations().count;
        C moved(std::move(c));
        FUZZ_CHECK(!c.is_live() && moved.is_live(), "moving an endpoint did not move its liveness");
        C& alias = moved;
        moved = std::move(alias);
        FUZZ_CHECK(moved.is_live(), "moving an endpoint onto itself changed it");
        c = std::move(moved);
        FUZZ_CHECK(c.is_live() && !moved.is_live(), "move-assigning an endpoint did not move its liveness");
        FUZZ_CHECK(violations().count == before, "moving an endpoint around called the violation handler");
      }
    };
    if (side == 0) {
      std::visit(shuffle, a_);
    } else {
      std::visit(shuffle, b_);
    }
  }

  // Destroys side's endpoint where it stands, or assigns a moved-from
  // endpoint over it: a violation either way, unless it has none or it is
  // at Eps (which closes it).
  void abandon(std::size_t side, bool by_assignment) {
    if (side == 0) {
      abandon_on<0>(a_, by_assignment);
    } else {
      abandon_on<1>(b_, by_assignment);
    }
  }

  template <std::size_t S, class Holder>
  void abandon_on(Holder& holder, bool by_assignment) {
    if (std::holds_alternative<std::monostate>(holder)) {
      return;
    }
    const std::string_view expected_step = std::visit(
        [](const auto& c) -> std::string_view {
          using C = std::remove_cvref_t<decltype(c)>;
          if constexpr (std::is_same_v<C, std::monostate>) {
            return {};
          } else {
            return Shape<typename C::protocol>::name;
          }
        },
        holder);
    // At Eps the protocol is over: destroying the endpoint closes it, no
    // violation.
    const bool at_end = std::visit(
        [](const auto& c) {
          using C = std::remove_cvref_t<decltype(c)>;
          if constexpr (std::is_same_v<C, std::monostate>) {
            return false;
          } else {
            return std::is_same_v<typename C::protocol, ss::Eps>;
          }
        },
        holder);
    const int reports = at_end ? 0 : 1;
    const int before = violations().count;
    if (by_assignment) {
      std::visit(
          [](auto& c) {
            using C = std::remove_cvref_t<decltype(c)>;
            if constexpr (!std::is_same_v<C, std::monostate>) {
              C live(std::move(c));
              live = std::move(c);  // c was moved from: live's protocol is abandoned (or closed) here
              FUZZ_CHECK(!live.is_live(), "an endpoint assigned a moved-from one is still live");
            }
          },
          holder);
      FUZZ_CHECK(violations().count == before + reports,
                 "assigning over a live endpoint did not call the handler exactly once (none at Eps)");
    }
    holder = std::monostate{};
    FUZZ_CHECK(violations().count == before + reports,
               "destroying a live endpoint did not call the handler exactly once (none at Eps)");
    if (!at_end) {
      const std::string_view text(violations().text.data(), violations().length);
      FUZZ_CHECK(text.find("protocol violation") != std::string_view::npos,
                 "the violation description does not say it is one");
      const std::string_view key = "next step:  ";
      const std::size_t at = text.find(key);
      FUZZ_CHECK(at != std::string_view::npos && text.substr(at + key.size()).starts_with(expected_step),
                 "the violation description names another step than the endpoint's next one");
    }
    gone(S);
  }

  // --- the model -------------------------------------------------------------------

  void record_state(std::size_t op) const noexcept {
    const std::size_t to_b = queue_[1].empty() ? 0 : queue_[1].size() < buffer ? 1 : 2;
    std::size_t index = a_.index();
    index = index * std::variant_size_v<SideB> + b_.index();
    index = index * 3 + to_b;
    index = index * 4 + op_kind[op];
    spindle_fuzz::cover(state_coverage[index]);
  }

  // Sending to `peer`: fails at once if it is gone, blocks on a full buffer.
  [[nodiscard]] Expect expect_send(std::size_t peer) const noexcept {
    if (gone_[peer]) {
      return Expect::disconnected;
    }
    return queue_[peer].size() >= buffer ? Expect::blocks : Expect::ok;
  }

  // Receiving at `side`: what is in flight first, then Disconnected if the
  // peer is gone.
  [[nodiscard]] Expect expect_recv(std::size_t side) const noexcept {
    if (!queue_[side].empty()) {
      return Expect::ok;
    }
    return gone_[1 - side] ? Expect::disconnected : Expect::blocks;
  }

  void push(std::size_t to, Message m) {
    queue_[to].push_back(m);
    tracked_ += m.kind == Message::Kind::tracked ? 1 : 0;
  }

  void pop(std::size_t at) {
    tracked_ -= queue_[at].front().kind == Message::Kind::tracked ? 1 : 0;
    queue_[at].pop_front();
  }

  // Side's transport is released: what was in flight to it is destroyed.
  void gone(std::size_t side) {
    gone_[side] = true;
    while (!queue_[side].empty()) {
      pop(side);
    }
  }

  void check_invariants() const {
    FUZZ_CHECK(Tracked::counts().live == static_cast<std::int64_t>(tracked_),
               "the messages alive are not those in flight (one leaked, or was destroyed early)");
    FUZZ_CHECK(std::holds_alternative<std::monostate>(a_) || !gone_[0], "side A is gone but holds an endpoint");
    FUZZ_CHECK(std::holds_alternative<std::monostate>(b_) || !gone_[1], "side B is gone but holds an endpoint");
  }

  SideA a_;
  SideB b_;
  std::array<std::deque<Message>, 2> queue_;  // queue_[s]: in flight to side s
  std::array<bool, 2> gone_{false, false};
  std::size_t tracked_ = 0;  // Tracked messages in flight
  std::uint32_t next_value_ = 0;
  bool arm_ = false;
  bool misuse_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ss::ViolationHandler previous = ss::set_violation_handler(&record_violation);
  const Tracked::Counts before = Tracked::counts();
  Input in(data, size);
  // The first byte says how sessions end when the input runs out: by
  // running the protocol to its end, or by abandoning the endpoints.
  const bool graceful = (in.byte() & 1U) != 0;
  do {
    Session session;
    while (!in.empty() && !session.over()) {
      session.operate(in.byte());
    }
    session.finish(graceful || !in.empty());
  } while (!in.empty());
  ss::set_violation_handler(previous);
  const Tracked::Counts after = Tracked::counts();
  FUZZ_CHECK(after.constructed - before.constructed == after.destroyed - before.destroyed,
             "constructions and destructions of messages differ");
  FUZZ_CHECK(after.live == 0, "a message outlived its session");
  return 0;
}
