// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::session: session-typed channels. The protocol two threads speak
/// is a type; the compiler derives the other side's protocol (its dual) and
/// refuses a program that steps outside it.
///
///   using Server = Recv<std::uint32_t, Eps>;          // receive a number, end
///   auto [server, client] = session_channel<Server>(); // client: Chan<Dual<Server>>
///   auto c = std::move(client).send(42);               // Chan<Eps>
///   std::move(c).close();
///
/// Every step consumes the endpoint (it is &&-qualified) and returns the
/// endpoint for the rest of the protocol, a new type. A step the protocol
/// does not allow at that point fails to compile, with a message that says
/// what the protocol expects there.
///
/// At run time:
///   - a step on a moved-from (or closed) endpoint throws ProtocolError;
///   - an endpoint destroyed at Eps closes, as close() would;
///   - an endpoint destroyed by unwinding (an exception thrown after the
///     session began is on its way out) only disconnects: the peer's pending
///     or next step throws Disconnected, and the exception is the report;
///   - any other endpoint destroyed before its protocol ended is a protocol
///     violation: the violation handler runs (by default it prints the
///     endpoint's protocol state and the thread, and aborts), and if it
///     returns, the peer's pending or next step throws Disconnected instead
///     of hanging. Messages still in flight are destroyed, never leaked;
///   - a step that throws Disconnected leaves its endpoint spent, so
///     destroying it afterwards is not a violation;
///   - recv and offer have timed forms (recv_timeout, recv_deadline,
///     offer_timeout, offer_deadline) that hand the same endpoint back when
///     the peer says nothing in time.
///
/// Transport (docs/internals.md has the layering): each direction is one
/// spindle::mpsc bounded channel whose message type is a std::variant of
/// exactly the types the protocol sends that way (and a one-byte choice
/// label if it chooses that way), computed at compile time. Nothing is allocated per message; the two buffers are
/// allocated once, when the session is made. A send waits only while
/// SPINDLE_SESSION_BUFFER messages in its direction are still unread.
/// Memory ordering: everything a thread did before a send is visible to the
/// peer once the matching recv (or offer) returns.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "spindle/detail/poison.hpp"
#include "spindle/detail/session/connect.hpp"
#include "spindle/detail/session/diagnostics.hpp"
#include "spindle/detail/session/fwd.hpp"
#include "spindle/detail/session/link.hpp"
#include "spindle/detail/session/protocol.hpp"
#include "spindle/detail/session/wire.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/mpsc.hpp"
#include "spindle/result.hpp"
#include "spindle/thread.hpp"

/// Messages each direction of a session buffers before a send waits.
#ifndef SPINDLE_SESSION_BUFFER
#define SPINDLE_SESSION_BUFFER 16
#endif

/// Opt-in, clang only: with SPINDLE_SESSION_TYPESTATE defined, Chan carries
/// clang's typestate attributes, and -Wconsumed flags at compile time a step
/// on an endpoint already consumed ("used after consumed") and an endpoint
/// that goes out of scope unconsumed ("never closed"). The analysis is
/// local to a function and has false positives (an endpoint consumed after
/// a loop that steps it; `return c;` instead of `return std::move(c);`), so
/// it is off by default. On other compilers the macros are empty.
#if defined(SPINDLE_SESSION_TYPESTATE) && defined(__clang__)
#define SPINDLE_SESSION_CONSUMABLE __attribute__((consumable(unconsumed)))
#define SPINDLE_SESSION_STEP __attribute__((callable_when("unconsumed"), set_typestate(consumed)))
#define SPINDLE_SESSION_FRESH __attribute__((return_typestate(unconsumed)))
#define SPINDLE_SESSION_TAKEN __attribute__((return_typestate(consumed)))
#define SPINDLE_SESSION_REFILLED __attribute__((set_typestate(unconsumed)))
#define SPINDLE_SESSION_FINISHED __attribute__((callable_when("consumed")))
#else
#define SPINDLE_SESSION_CONSUMABLE
#define SPINDLE_SESSION_STEP
#define SPINDLE_SESSION_FRESH
#define SPINDLE_SESSION_TAKEN
#define SPINDLE_SESSION_REFILLED
#define SPINDLE_SESSION_FINISHED
#endif

// The library's own code moves endpoints in ways the typestate analysis
// cannot follow; only the user's code is checked.
#if defined(SPINDLE_SESSION_TYPESTATE) && defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wconsumed"
#endif

namespace spindle::session {

// --- protocol types (empty tags, never instantiated at run time) ----------------------

/// The end of the session: only close() is allowed.
struct Eps {};
/// Send a T, then continue as P.
template <class T, class P>
struct Send {};
/// Receive a T, then continue as P.
template <class T, class P>
struct Recv {};
/// This side picks one of the branches (sel1, sel2, select<I>).
template <class... P>
struct Choose {};
/// The peer picks one of the branches; offer() says which.
template <class... P>
struct Offer {};
/// A loop: P may jump back here with Var.
template <class P>
struct Rec {};
/// Zero and successor: the de Bruijn index of a Var.
struct Z {};
template <class N>
struct S {};
/// Jump back to an enclosing Rec: Var<Z> to the nearest, Var<S<Z>> to the
/// one around it, and so on.
template <class N>
struct Var {};

template <class P, class E>
class Chan;

// --- errors and the violation handler ------------------------------------------------

/// A step on an endpoint that was moved from or closed.
class ProtocolError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// The peer's endpoint is gone (destroyed without finishing its protocol).
class Disconnected : public std::runtime_error {
 public:
  Disconnected() : std::runtime_error("spindle::session: the peer's endpoint is gone (disconnected)") {}
  /// With the reason, where the transport knows more (a session with
  /// another process: the peer vanished, went silent, or broke the protocol).
  explicit Disconnected(const std::string& why)
      : std::runtime_error(
            std::string("spindle::session: the session with the peer is over (disconnected): ").append(why)) {}
};

/// Called with a description when an endpoint is destroyed in the middle
/// of its protocol. It runs inside a destructor: it must not throw.
using ViolationHandler = detail::ViolationHandler;

/// Installs `handler` (nullptr: the default, which prints and aborts) and
/// returns the one it replaces.
inline ViolationHandler set_violation_handler(ViolationHandler handler) noexcept {
  return detail::violation_handler().exchange(handler != nullptr ? handler : &detail::default_violation);
}

/// The protocol the other side speaks.
template <class P>
using Dual = typename detail::DualOf<P>::type;

/// Whether Q is the dual of P (and so P of Q).
template <class P, class Q>
inline constexpr bool are_dual = detail::WellFormed<P>::value&& std::is_same_v<Dual<P>, Q>;

/// Whether P is a protocol in which every Var jumps to an enclosing Rec.
template <class P>
inline constexpr bool well_formed = detail::accepted<P>;

/// The environment of an endpoint: the whole protocol it started with
/// (which fixes the session's message types) and the bodies of the Recs it
/// is inside, innermost first. Chan<P> starts with Env<P>.
template <class Root, class... Bodies>
struct Env {};

namespace detail {

template <class P, class E>
struct Access;

// "\n  thread:     'name' (ThreadId(3))": which thread dropped an endpoint.
inline std::string describe_thread() noexcept {
#if defined(SPINDLE_MODEL_CHECK)
  // The model checker's threads are fibers of one thread, which
  // spindle::thread cannot tell apart.
  return {};
#else
  try {
    // The thread's own record, not a handle to it (which would count a
    // reference in and out for nothing).
    const auto& self = spindle::thread::detail::current_inner();
    std::string line = "\n  thread:     ";
    if (self.named) {
      line.append(1, '\'').append(self.name).append(1, '\'');
    } else {
      line.append("unnamed");
    }
    line.append(" (ThreadId(").append(std::to_string(self.id.as_u64())).append("))");
    return line;
  } catch (...) {
    return {};  // out of memory: the report goes without it
  }
#endif
}

}  // namespace detail

// --- the endpoint ----------------------------------------------------------------------------

/// An endpoint that speaks protocol P. Move-only; each step is
/// &&-qualified, consumes it, and returns the endpoint for the rest.
template <class P, class E = Env<P>>
class [[nodiscard]] SPINDLE_SESSION_CONSUMABLE Chan {
  using Root = typename detail::EnvTraits<E>::root;
  // The protocol the session started with (Chan<P> = Chan<P, Env<P>>):
  // every endpoint speaks a part of it. One check for all the endpoints of
  // a session, both ends (see detail/session/diagnostics.hpp).
  static_assert(detail::ExpectProtocol<detail::Checked<Root>>{});
  using Out = detail::Message<Root, true>;
  using In = detail::Message<Root, false>;
  using Link = detail::Link<Out, In>;
  using LocalLink = detail::LocalLink<Out, In>;

 public:
  /// The protocol still to run, and the environment.
  using protocol = P;
  using environment = E;

  SPINDLE_SESSION_FRESH Chan(Chan&& other SPINDLE_SESSION_TAKEN) noexcept
      : link_(std::exchange(other.link_, nullptr)) {}
  SPINDLE_SESSION_REFILLED Chan& operator=(Chan&& other SPINDLE_SESSION_TAKEN) noexcept {
    if (this != &other) {
      abandon();
      link_ = std::exchange(other.link_, nullptr);
    }
    return *this;
  }
  Chan(const Chan&) = delete;
  Chan& operator=(const Chan&) = delete;
  // Only where the session's protocol was rejected (an error already):
  // takes any endpoint, so that passing the one the program meant is not a
  // second error. Never defined: such a program does not compile anyway.
  template <class Q, class F>
  requires(!detail::accepted<Root>)
      // cppcheck-suppress noExplicitConstructor ; implicit on purpose, as the conversion the program meant
      Chan(Chan<Q, F>&& meant)
  noexcept;
  SPINDLE_SESSION_FINISHED ~Chan() { abandon(); }

  /// Whether this endpoint can still take a step (not moved from, closed,
  /// or spent by Disconnected).
  [[nodiscard]] bool is_live() const noexcept { return link_ != nullptr; }

  /// Send<T, Q>: sends `value` (anything T can be made from); returns Chan<Q>.
  template <class V>
  SPINDLE_SESSION_STEP auto send(V&& value) && {
    static_assert(detail::ExpectStep<P, E, detail::Op::send>{});
    if constexpr (detail::kind_of<P> == detail::Kind::send) {
      using T = typename detail::Head<P>::value;
      static_assert(detail::ExpectValue<T, V&&>{});
      live_or_throw("send()");
      if constexpr (std::is_constructible_v<T, V&&>) {
        put(Out(std::in_place_type<T>, std::forward<V>(value)));
      }  // else the error above, and go on as if sent
      return next<typename detail::Head<P>::next, E>();
    }
  }

  /// Recv<T, Q>: waits for the peer's value; returns {Chan<Q>, value}.
  SPINDLE_SESSION_STEP auto recv() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::recv>{});
    if constexpr (detail::kind_of<P> == detail::Kind::recv) {
      live_or_throw("recv()");
      return received(take(expect_value()));
    }
  }

  /// Recv<T, Q>, waiting until `deadline` at most: Ok({Chan<Q>, value}),
  /// or, if no value came by then, Err(this same endpoint), still at
  /// Recv<T, Q>: retry, or give up (dropping it is then a violation like
  /// any other endpoint left mid-protocol). A peer that is gone throws
  /// Disconnected, as recv() does.
  SPINDLE_SESSION_STEP auto recv_deadline(std::chrono::steady_clock::time_point deadline) && {
    static_assert(detail::ExpectStep<P, E, detail::Op::recv>{});
    if constexpr (detail::kind_of<P> == detail::Kind::recv) {
      live_or_throw("recv_deadline()");
      using Timed = Result<decltype(std::declval<Chan&>().received(std::declval<In>())), Chan>;
      std::optional<In> message = take_until(deadline, expect_value());
      if (!message) {
        return Timed(in_place_err, std::move(*this));
      }
      return Timed(in_place_ok, received(std::move(*message)));
    }
  }
  /// recv_deadline(now + timeout).
  template <class Rep, class Period>
  SPINDLE_SESSION_STEP auto recv_timeout(std::chrono::duration<Rep, Period> timeout) && {
    return std::move(*this).recv_deadline(spindle::detail::deadline_after(timeout));
  }

  /// Choose<P0, P1, ...>: picks branch I (0-based) and tells the peer;
  /// returns Chan<PI>.
  template <std::size_t I>
  SPINDLE_SESSION_STEP auto select() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::choose>{});
    // On an Offer (the error above), go on in branch I all the same.
    if constexpr (detail::kind_of<P> == detail::Kind::choose || detail::kind_of<P> == detail::Kind::offer) {
      static_assert(I < detail::Head<P>::branches,
                    "spindle::session: select<I>(): the protocol's Choose<...> has no branch I (I is 0-based)");
      static_assert(detail::Head<P>::branches <= 256, "spindle::session: a choice has at most 256 branches");
      if constexpr (I < detail::Head<P>::branches) {
        live_or_throw("select()");
        if constexpr (detail::kind_of<P> == detail::Kind::choose) {
          put(Out(std::in_place_type<detail::Label>, detail::Label{static_cast<std::uint8_t>(I)}));
        }
        return next<Branch<I>, E>();
      }
    }
  }
  // sel1() and sel2() check before select<I>() does: one instantiation
  // note less before the error.
  /// Choose<P0, P1, ...>: the first branch.
  SPINDLE_SESSION_STEP auto sel1() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::choose>{});
    return std::move(*this).template select<0>();
  }
  /// Choose<P0, P1, ...>: the second branch.
  SPINDLE_SESSION_STEP auto sel2() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::choose>{});
    return std::move(*this).template select<1>();
  }

  /// Choose<P0, P1, ...> whose branch I is Send<T, Q>: picks branch I and
  /// sends `value`; returns Chan<Q>. The same as select<I>().send(value),
  /// but one step: with a peer in another process, the choice and the
  /// value go in one frame.
  template <std::size_t I, class V>
  SPINDLE_SESSION_STEP auto select(V&& value) && {
    static_assert(detail::ExpectStep<P, E, detail::Op::choose>{});
    if constexpr (detail::kind_of<P> == detail::Kind::choose) {
      live_or_throw("select()");
      if (remote()) [[unlikely]] {
        link_->wire->hold_next();  // the send follows at once, with no wait between
      }
    }
    return std::move(*this).template select<I>().send(std::forward<V>(value));
  }

  /// Offer<P0, P1, ...>: waits for the peer's choice; returns a
  /// std::variant<Chan<P0>, Chan<P1>, ...> holding the branch it picked.
  SPINDLE_SESSION_STEP auto offer() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::offer>{});
    if constexpr (detail::kind_of<P> == detail::Kind::offer) {
      live_or_throw("offer()");
      const std::size_t index = chosen(take(expect_label()));
      return branch_at(index, Branches{});
    }
  }

  /// Offer<P0, P1, ...> as Rust's offer!: waits for the peer's choice and
  /// calls the handler of the branch it picked (f0 for P0, ...) with that
  /// branch's endpoint; returns what the handler returns. One handler per
  /// branch, in order; their results have a common type (or are all void).
  /// This endpoint is spent before the handler runs, so a handler may store
  /// the endpoint for the next round in the variable offer was called on.
  template <class... F>
  requires(sizeof...(F) > 0) SPINDLE_SESSION_STEP decltype(auto) offer(F&&... handlers) && {
    static_assert(detail::ExpectStep<P, E, detail::Op::offer>{});
    if constexpr (detail::kind_of<P> == detail::Kind::offer) {
      using Check = detail::Handlers<typename Endpoints<Branches>::type, std::tuple<F...>>;
      static_assert(detail::ExpectHandlers<Check::counted, Check::callable, Check::agree>{});
      if constexpr (Check::counted && Check::callable && Check::agree) {
        live_or_throw("offer()");
        const std::size_t index = chosen(take(expect_label()));
        std::tuple<F&&...> all(std::forward<F>(handlers)...);
        return dispatch<typename Check::result>(index, all, Branches{});
      }
    }
  }

  /// Offer<P0, P1, ...>, waiting until `deadline` at most: Ok(the variant
  /// offer() returns), or Err(this same endpoint) if the peer had not
  /// chosen by then. A peer that is gone throws Disconnected.
  SPINDLE_SESSION_STEP auto offer_deadline(std::chrono::steady_clock::time_point deadline) && {
    static_assert(detail::ExpectStep<P, E, detail::Op::offer>{});
    if constexpr (detail::kind_of<P> == detail::Kind::offer) {
      live_or_throw("offer_deadline()");
      using Timed = Result<decltype(std::declval<Chan&>().branch_at(0, Branches{})), Chan>;
      std::optional<In> message = take_until(deadline, expect_label());
      if (!message) {
        return Timed(in_place_err, std::move(*this));
      }
      const std::size_t index = chosen(std::move(*message));
      return Timed(in_place_ok, branch_at(index, Branches{}));
    }
  }
  /// offer_deadline(now + timeout).
  template <class Rep, class Period>
  SPINDLE_SESSION_STEP auto offer_timeout(std::chrono::duration<Rep, Period> timeout) && {
    return std::move(*this).offer_deadline(spindle::detail::deadline_after(timeout));
  }

  /// Rec<Q>: enters the loop; returns Chan<Q> (Var<Z> inside jumps back here).
  SPINDLE_SESSION_STEP auto enter() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::enter>{});
    if constexpr (detail::kind_of<P> == detail::Kind::rec) {
      using Body = typename detail::Head<P>::body;
      live_or_throw("enter()");
      return next<Body, typename detail::EnvTraits<E>::template push<Body>>();
    }
  }

  /// Var<Z>: jumps back to the start of the nearest loop.
  SPINDLE_SESSION_STEP auto zero() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::zero>{});
    // On Var<S<N>> (the error above), go on at the loop it names, as
    // succ()...zero() would.
    if constexpr (detail::kind_of<P> == detail::Kind::var && detail::EnvTraits<E>::loops > 0) {
      using Loop = typename detail::LoopOf<P, E>::type;
      live_or_throw("zero()");
      return next<typename detail::Top<Loop>::body, Loop>();
    }
  }

  /// Var<S<N>>: leaves the nearest loop; returns Chan<Var<N>> for the loop
  /// around it.
  SPINDLE_SESSION_STEP auto succ() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::succ>{});
    if constexpr (std::is_same_v<P, Var<Z>>) {
      return std::move(*this).zero();  // the error above, and go on as zero() would
    } else if constexpr (detail::kind_of<P> == detail::Kind::var && detail::EnvTraits<E>::loops > 0) {
      live_or_throw("succ()");
      return next<Var<Predecessor<P>>, typename detail::Top<E>::pop>();
    }
  }

  /// Eps: ends the session on this side.
  SPINDLE_SESSION_STEP void close() && {
    static_assert(detail::ExpectStep<P, E, detail::Op::close>{});
    live_or_throw("close()");
    finish();
    spend();
  }

  // The same steps called on an lvalue (or a const endpoint): each step
  // consumes its endpoint, so it must be called on an rvalue. These say so
  // at compile time (auto: checked at the call).
#define SPINDLE_SESSION_LVALUE_STEP(step)                                                             \
  "spindle::session: " step " consumes its endpoint: call it on an rvalue, std::move(endpoint)." step \
  ", and go on with the endpoint it returns"
  template <class V>
  auto send(V&& /*value*/) const& {
    static_assert(detail::always_false<V>, SPINDLE_SESSION_LVALUE_STEP("send(value)"));
  }
  template <class Self = Chan>
  auto recv() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("recv()"));
  }
  template <std::size_t I>
  auto select() const& {
    static_assert(detail::always_false<std::integral_constant<std::size_t, I>>,
                  SPINDLE_SESSION_LVALUE_STEP("select<I>()"));
  }
  template <class Self = Chan>
  auto sel1() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("sel1()"));
  }
  template <class Self = Chan>
  auto sel2() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("sel2()"));
  }
  template <class... F>
  auto offer(F&&... /*handlers*/) const& {
    static_assert(detail::always_false<std::tuple<F...>>, SPINDLE_SESSION_LVALUE_STEP("offer()"));
  }
  template <class Clock = std::chrono::steady_clock>
  auto recv_deadline(typename Clock::time_point /*deadline*/) const& {
    static_assert(detail::always_false<Clock>, SPINDLE_SESSION_LVALUE_STEP("recv_deadline(deadline)"));
  }
  template <class Rep, class Period>
  auto recv_timeout(std::chrono::duration<Rep, Period> /*timeout*/) const& {
    static_assert(detail::always_false<Rep>, SPINDLE_SESSION_LVALUE_STEP("recv_timeout(timeout)"));
  }
  template <class Clock = std::chrono::steady_clock>
  auto offer_deadline(typename Clock::time_point /*deadline*/) const& {
    static_assert(detail::always_false<Clock>, SPINDLE_SESSION_LVALUE_STEP("offer_deadline(deadline)"));
  }
  template <class Rep, class Period>
  auto offer_timeout(std::chrono::duration<Rep, Period> /*timeout*/) const& {
    static_assert(detail::always_false<Rep>, SPINDLE_SESSION_LVALUE_STEP("offer_timeout(timeout)"));
  }
  template <class Self = Chan>
  auto enter() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("enter()"));
  }
  template <class Self = Chan>
  auto zero() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("zero()"));
  }
  template <class Self = Chan>
  auto succ() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("succ()"));
  }
  template <class Self = Chan>
  auto close() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("close()"));
  }
#undef SPINDLE_SESSION_LVALUE_STEP

 private:
  template <class, class>
  friend class Chan;
  template <class, class>
  friend struct detail::Access;

  template <std::size_t I, class Q = P>
  struct BranchOf;
  template <std::size_t I, template <class...> class C, class... Ps>
  struct BranchOf<I, C<Ps...>> {
    using type = std::tuple_element_t<I, std::tuple<Ps...>>;
  };
  template <std::size_t I>
  using Branch = typename BranchOf<I>::type;
  using Branches = std::make_index_sequence<detail::branches_of<P>>;
  template <class Is>
  struct Endpoints;
  template <std::size_t... Is>
  struct Endpoints<std::index_sequence<Is...>> {
    using type = std::tuple<Chan<Branch<Is>, E>...>;
  };

  template <class V>
  struct Pred;
  template <class N>
  struct Pred<Var<S<N>>> {
    using type = N;
  };
  template <class V>
  using Predecessor = typename Pred<V>::type;

  // Takes ownership of `link`.
  SPINDLE_SESSION_FRESH explicit Chan(Link* link) noexcept : link_(link) {}

  void live_or_throw(const char* step) const {
    if (link_ == nullptr) {
      throw ProtocolError(detail::moved_from_message(step));
    }
  }

  // Drops the transport: the peer sees Disconnected once it has read what
  // is still in flight.
  void spend() noexcept { detail::destroy(std::exchange(link_, nullptr)); }

  // Inlined in every step's temporaries: one test, the rest out of line.
  void abandon() noexcept {
    // Every constructor sets link_ (and it has a default): clang-analyzer 14
    // loses track of it through a pair moved from, and calls it garbage.
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    if (link_ != nullptr) [[unlikely]] {
      dropped();
    }
  }
  // A live endpoint destroyed: at Eps it closes; destroyed by unwinding it
  // only disconnects (the exception is the report); otherwise it was
  // abandoned mid-protocol, a violation.
  [[gnu::noinline, gnu::cold]] void dropped() noexcept {
    if constexpr (detail::kind_of<P> == detail::Kind::eps) {
      finish();
    } else if (!link_->unwinding()) {
      const std::string description = detail::describe_state<P, E>() + detail::describe_thread();
      detail::violation_handler().load()(description);
    }
    spend();
  }

  // The in-process transport, or (rarely) a Wire to another process.
  LocalLink& local() noexcept { return *static_cast<LocalLink*>(link_); }
  [[nodiscard]] bool remote() const noexcept { return link_->wire != nullptr; }

  // What recv and offer expect next: the index of T (or of a choice's
  // Label) among the messages this side receives.
  detail::Expect expect_value() const noexcept { return {detail::index_in<typename detail::Head<P>::value, In>, 0}; }
  detail::Expect expect_label() const noexcept {
    return {detail::index_in<detail::Label, In>, detail::Head<P>::branches};
  }

  // The remote transport's steps, out of the in-process path.
  [[gnu::noinline, gnu::cold]] void remote_put(Out&& message) {
    try {
      link_->wire->put(std::move(message));
    } catch (...) {
      spend();
      throw;
    }
  }
  [[gnu::noinline, gnu::cold]] std::optional<In> remote_take(detail::Expect expected,
                                                             spindle::detail::Deadline deadline) {
    try {
      return link_->wire->take(expected, deadline);
    } catch (...) {
      spend();
      throw;
    }
  }

  // At Eps: a remote transport delivers what is in flight before it goes.
  void finish() noexcept {
    if (remote()) [[unlikely]] {
      link_->wire->finish();
    }
  }

  // Any failure spends the endpoint: the session cannot go on.
  void put(Out&& message) {
    if (remote()) [[unlikely]] {
      remote_put(std::move(message));
      return;
    }
    if (local().tx.send(std::move(message)).is_err()) {
      spend();
      throw Disconnected();
    }
  }

  // Any failure spends the endpoint: a message it could not take is lost,
  // so the session cannot go on.
  In take(detail::Expect expected) {
    if (remote()) [[unlikely]] {
      return *remote_take(expected, spindle::detail::forever);
    }
    try {
      auto got = local().rx.recv();
      if (got.is_err()) {
        spend();
        throw Disconnected();
      }
      return std::move(got).unwrap();
    } catch (...) {
      spend();
      throw;
    }
  }

  // As take(), but nothing (and the endpoint untouched) once `deadline`
  // has passed without a message.
  std::optional<In> take_until(std::chrono::steady_clock::time_point deadline, detail::Expect expected) {
    if (remote()) [[unlikely]] {
      return remote_take(expected, deadline);
    }
    try {
      auto got = local().rx.recv_deadline(deadline);
      if (got.is_ok()) {
        return std::optional<In>(std::in_place, std::move(got).unwrap());
      }
      if (got.unwrap_err() == mpsc::RecvTimeoutError::Timeout) {
        return std::nullopt;
      }
      spend();
      throw Disconnected();
    } catch (...) {
      spend();
      throw;
    }
  }

  // Recv<T, Q>: the rest of the protocol and the value, from the message.
  auto received(In&& message) {
    using T = typename detail::Head<P>::value;
    T* value = std::get_if<T>(&message);
    if (value == nullptr) {
      spend();
      throw ProtocolError("spindle::session: recv(): the peer sent another type than the protocol's T");
    }
    if constexpr (detail::IsChan<T>::value) {
      value->rebase();  // a delegated endpoint: unwinding is now counted in this thread
    }
    auto rest = next<typename detail::Head<P>::next, E>();
    try {
      return std::pair<Chan<typename detail::Head<P>::next, E>, T>(std::move(rest), std::move(*value));
    } catch (...) {
      rest.spend();  // T's move threw: the message is lost, the session too
      throw;
    }
  }

  // Offer<...>: the index of the branch the peer chose, from the message.
  std::size_t chosen(In&& message) {
    const detail::Label* label = std::get_if<detail::Label>(&message);
    if (label == nullptr || label->index >= detail::Head<P>::branches) {
      spend();
      throw ProtocolError("spindle::session: offer(): the peer sent something other than a choice");
    }
    return label->index;
  }

  template <class Q, class F>
  Chan<Q, F> next() noexcept {
    return Chan<Q, F>(std::exchange(link_, nullptr));
  }

  // Calls handler `index` with the endpoint of branch `index`.
  template <class R, class Handlers, std::size_t... Is>
  R dispatch(std::size_t index, Handlers& handlers, std::index_sequence<Is...> /*branches*/) {
    using Call = R (*)(Chan&, Handlers&);
    static constexpr std::array<Call, sizeof...(Is)> call = {+[](Chan& self, Handlers& all) -> R {
      return std::invoke(std::get<Is>(std::move(all)), self.template next<Branch<Is>, E>());
    }...};
    return call[index](*this, handlers);
  }

  template <std::size_t... Is>
  auto branch_at(std::size_t index, std::index_sequence<Is...> /*branches*/) {
    using Branches = std::variant<Chan<Branch<Is>, E>...>;
    using Make = Branches (*)(Chan&);
    static constexpr std::array<Make, sizeof...(Is)> make = {
        +[](Chan& self) { return Branches(std::in_place_index<Is>, self.template next<Branch<Is>, E>()); }...};
    return make[index](*this);
  }

  // For an endpoint that has moved to another thread: unwinding there is
  // counted from that thread's exceptions in flight.
  void rebase() noexcept {
    if (link_ != nullptr) {
      link_->rebase_here();
    }
  }

  // The transport, or null once the endpoint is spent (moved from, closed,
  // or disconnected). One pointer, so that a step, which moves it into the
  // next endpoint, costs a pointer's copy.
  Link* link_ = nullptr;  // owned
};

/// The endpoint of protocol Root at the point Here of it (a part of Root),
/// as the steps from Chan<Root> reach it: inside loops, an endpoint carries
/// the bodies of the Recs around it (Chan<Here, Env<Root, Body>>), which
/// this spells for you. ChanAt<Root> is Chan<Root>.
///
///   using Menu = Offer<Recv<int, Send<int, Var<Z>>>, Eps>;
///   using Server = Rec<Menu>;
///   void serve(ChanAt<Server, Menu> c);   // Chan<Menu, Env<Server, Menu>>
template <class Root, class Here = Root>
using ChanAt = typename detail::ChanAt<Root, Here>::type;

namespace detail {

#if defined(__clang_analyzer__)
// clang's static analyzer (clang-tidy) loses track of an endpoint's Link as
// the endpoint moves through containers, variants and threads, and then
// reports a leak in the caller's code. Under the analyzer only, a new Link
// passes through this function, which it cannot see into (it is never
// defined: the analyzer does not link), so it stops tracking the Link.
void* analyzer_loses_track(void* link) noexcept;
#endif

template <class P, class E>
struct Access {
  using Root = typename EnvTraits<E>::root;
  using Out = Message<Root, true>;
  using In = Message<Root, false>;

  // An in-process endpoint, over these channels.
  static Chan<P, E> make(mpsc::SyncSender<Out> tx, mpsc::Receiver<In> rx) {
    return adopt(new LocalLink<Out, In>(std::move(tx), std::move(rx)));
  }
  // An endpoint of a session with another process, over `wire`.
  static Chan<P, E> make_remote(std::unique_ptr<Wire<Out, In>> wire) {
    return adopt(new Link<Out, In>(std::move(wire)));
  }
  static void discard(Chan<P, E>& endpoint) noexcept { endpoint.spend(); }

 private:
  static Chan<P, E> adopt(Link<Out, In>* link) noexcept {
#if defined(__clang_analyzer__)
    link = static_cast<Link<Out, In>*>(analyzer_loses_track(link));
#endif
    return Chan<P, E>(link);
  }
};

// Holds an endpoint and destroys it quietly unless it was taken out: for
// an endpoint whose session never started.
template <class C>
class Parcel {
 public:
  explicit Parcel(C&& endpoint) noexcept : endpoint_(std::move(endpoint)) {}
  Parcel(Parcel&& other) noexcept : endpoint_(std::move(other.endpoint_)) {}
  Parcel& operator=(Parcel&&) = delete;
  ~Parcel() { Access<typename C::protocol, typename C::environment>::discard(endpoint_); }
  C take() noexcept { return std::move(endpoint_); }

 private:
  C endpoint_;
};

}  // namespace detail

// --- making sessions ------------------------------------------------------------------------

/// A new session: the endpoint that speaks P and the one that speaks its dual.
template <class P>
[[nodiscard]] std::pair<Chan<P>, Chan<Dual<P>>> session_channel() {
  // P is checked by Chan<P>, in the return type, before this body.
  using Forward = detail::Message<P, true>;
  using Backward = detail::Message<P, false>;
  static_assert(std::is_same_v<Forward, detail::Message<Dual<P>, false>> &&
                std::is_same_v<Backward, detail::Message<Dual<P>, true>>);
  auto [forward_tx, forward_rx] = mpsc::sync_channel<Forward>(SPINDLE_SESSION_BUFFER);
  auto [backward_tx, backward_rx] = mpsc::sync_channel<Backward>(SPINDLE_SESSION_BUFFER);
  return {detail::Access<P, Env<P>>::make(std::move(forward_tx), std::move(backward_rx)),
          detail::Access<Dual<P>, Env<Dual<P>>>::make(std::move(backward_tx), std::move(forward_rx))};
}

/// As session_channel<P>(), for a pair of protocols that must be dual.
template <class P, class Q>
[[nodiscard]] auto session_channel() {  // auto: checked at the call, before any step
  static_assert(are_dual<P, Q>,
                "spindle::session: session_channel<P, Q>(): the two protocols are not dual: each Send in one must "
                "be a Recv of the same type in the other at the same point (and each Choose an Offer with the "
                "same branches), so Q must be Dual<P>");
  if constexpr (are_dual<P, Q>) {
    return session_channel<P>();
  }
}

/// Runs `server` on a new thread with one endpoint and `client` on this
/// one with the other, joins the server, and returns what they returned:
/// the client's result, the server's if only it returns one, both as
/// std::pair{server's, client's} if both do, or nothing. P is the server's
/// protocol (deduced from its parameter Chan<P> when it is not generic); the
/// client must take Chan<Dual<P>>.
///
/// An exception from either side comes out of connect, after the server is
/// joined. When one side threw Disconnected because the other failed, the
/// other's exception (the cause) is the one rethrown; when both failed on
/// their own, the client's.
template <class P, class Server, class Client>
auto connect(Server&& server, Client&& client) {
  using ServerFn = std::decay_t<Server>;
  constexpr bool server_fits = std::is_invocable_v<ServerFn&, Chan<P>>;
  constexpr bool client_fits = std::is_invocable_v<Client, Chan<Dual<P>>>;
  static_assert(server_fits,
                "spindle::session: connect<P>(server, client): the server cannot take Chan<P>, the endpoint of its "
                "protocol P");
  static_assert(!server_fits || client_fits,
                "spindle::session: connect(server, client): the two protocols are not dual: the client must take "
                "Chan<Dual<P>> where the server takes Chan<P> (each Send in one a Recv of the same type in the "
                "other at the same point, each Choose an Offer with the same branches)");
  if constexpr (server_fits && client_fits) {
    using S = detail::Kept<std::invoke_result_t<ServerFn&, Chan<P>>>;
    using C = detail::Kept<std::invoke_result_t<Client, Chan<Dual<P>>>>;
    auto [server_end, client_end] = session_channel<P>();
    // If the thread cannot start, both endpoints go quietly (no violation:
    // neither side ever ran) and spawn's error reaches the caller.
    detail::Parcel<Chan<P>> parcel(std::move(server_end));
    auto quiet_client = detail::Parcel<Chan<Dual<P>>>(std::move(client_end));
    auto handle = spindle::thread::spawn(
        [run = std::forward<Server>(server), end = std::move(parcel)]() mutable -> S { return run(end.take()); });
    std::conditional_t<std::is_void_v<C>, bool, std::optional<C>> client_result{};
    std::exception_ptr client_error;
    {
      // The client's endpoint lives here, not in the client: one the client
      // took by reference and left unfinished is destroyed (a violation,
      // which disconnects the server) before the server is joined. One the
      // client left because it threw goes quietly, as if unwound.
      auto end = quiet_client.take();
      try {
        if constexpr (std::is_void_v<C>) {
          std::forward<Client>(client)(std::move(end));
        } else {
          client_result.emplace(std::forward<Client>(client)(std::move(end)));
        }
      } catch (...) {
        client_error = std::current_exception();
        detail::Access<Dual<P>, Env<Dual<P>>>::discard(end);
      }
    }
    auto joined = handle.join();
    std::exception_ptr server_error = joined.is_err() ? joined.unwrap_err().exception() : nullptr;
    if (client_error && server_error && detail::holds<Disconnected>(client_error) &&
        !detail::holds<Disconnected>(server_error)) {
      std::rethrow_exception(server_error);
    }
    if (client_error || server_error) {
      std::rethrow_exception(client_error ? client_error : server_error);
    }
    if constexpr (std::is_void_v<S> && std::is_void_v<C>) {
      return;
    } else if constexpr (std::is_void_v<S>) {
      return C(std::move(*client_result));
    } else if constexpr (std::is_void_v<C>) {
      return S(std::move(joined).unwrap());
    } else {
      return std::pair<S, C>(std::move(joined).unwrap(), std::move(*client_result));
    }
  }
}

/// connect<P>(server, client) with P deduced from the server's parameter
/// Chan<P> (the server must not be generic).
template <class Server, class Client>
auto connect(Server&& server, Client&& client) {
  using P = typename detail::ProtocolOfChan<typename detail::FirstParam<std::remove_cvref_t<Server>>::type>::type;
  return connect<P>(std::forward<Server>(server), std::forward<Client>(client));
}

}  // namespace spindle::session

#if defined(SPINDLE_SESSION_TYPESTATE) && defined(__clang__)
#pragma clang diagnostic pop
#endif
