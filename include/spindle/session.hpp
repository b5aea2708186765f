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
///   - destroying an endpoint that is neither closed nor moved-from is a
///     protocol violation: the violation handler runs (by default it prints
///     the endpoint's protocol state and aborts), and if it returns, the
///     peer's pending or next step throws Disconnected instead of hanging.
///     Messages still in flight are destroyed, never leaked;
///   - a step that throws Disconnected leaves its endpoint spent, so
///     destroying it afterwards is not a violation.
///
/// Transport: each direction is one spindle::mpsc bounded channel whose
/// message type is a std::variant of exactly the types the protocol sends
/// that way (and a one-byte choice label if it chooses that way), computed
/// at compile time. Nothing is allocated per message; the two buffers are
/// allocated once, when the session is made. A send waits only while
/// SPINDLE_SESSION_BUFFER messages in its direction are still unread.
/// Memory ordering: everything a thread did before a send is visible to the
/// peer once the matching recv (or offer) returns.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "spindle/detail/session/diagnostics.hpp"
#include "spindle/detail/session/fwd.hpp"
#include "spindle/detail/session/protocol.hpp"
#include "spindle/detail/session/wire.hpp"
#include "spindle/mpsc.hpp"
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
};

/// Called with a description when an endpoint is destroyed in the middle
/// of its protocol. It runs inside a destructor: it must not throw.
using ViolationHandler = void (*)(std::string_view description);

namespace detail {

[[noreturn]] inline void default_violation(std::string_view description) noexcept {
  // About to abort: a failed write has nowhere to be reported.
  (void)std::fprintf(stderr, "%.*s\n", static_cast<int>(description.size()), description.data());
  (void)std::fflush(stderr);
  std::abort();
}

inline std::atomic<ViolationHandler>& violation_handler() noexcept {
  static std::atomic<ViolationHandler> handler{&default_violation};
  return handler;
}

}  // namespace detail

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
inline constexpr bool well_formed = detail::WellFormed<P>::value&& detail::Scoped<P, 0>::value;

/// The environment of an endpoint: the whole protocol it started with
/// (which fixes the session's message types) and the bodies of the Recs it
/// is inside, innermost first. Chan<P> starts with Env<P>.
template <class Root, class... Bodies>
struct Env {};

namespace detail {

template <class P, class E>
struct Access;

}  // namespace detail

// --- the endpoint ----------------------------------------------------------------------------

/// An endpoint that speaks protocol P. Move-only; each step is
/// &&-qualified, consumes it, and returns the endpoint for the rest.
template <class P, class E = Env<P>>
class [[nodiscard]] SPINDLE_SESSION_CONSUMABLE Chan {
  // Checked where a session starts (Chan<P> = Chan<P, Env<P>>): every
  // later endpoint speaks a part of that protocol.
  static constexpr bool starts = std::is_same_v<E, Env<P>>;
  static_assert(!starts || detail::WellFormed<P>::value,
                "spindle::session: this is not a well-formed protocol: build it from Eps, Send<T, P>, Recv<T, P>, "
                "Choose<P...> and Offer<P...> with two or more branches, Rec<P> (whose body is not just a Var) "
                "and Var<N> with N = Z, S<Z>, S<S<Z>>, ...");
  static_assert(!starts || detail::Scoped<P, 0>::value,
                "spindle::session: a Var<N> jumps to a Rec that does not enclose it: Var<Z> names the nearest "
                "enclosing Rec, Var<S<Z>> the one around that, and so on");

  using Root = typename detail::EnvTraits<E>::root;
  using Out = detail::Message<Root, true>;
  using In = detail::Message<Root, false>;

 public:
  /// The protocol still to run, and the environment.
  using protocol = P;
  using environment = E;

  SPINDLE_SESSION_FRESH Chan(Chan&& other SPINDLE_SESSION_TAKEN) noexcept
      : tx_(std::move(other.tx_)), rx_(std::move(other.rx_)), live_(std::exchange(other.live_, false)) {}
  SPINDLE_SESSION_REFILLED Chan& operator=(Chan&& other SPINDLE_SESSION_TAKEN) noexcept {
    if (this != &other) {
      abandon();
      tx_ = std::move(other.tx_);
      rx_ = std::move(other.rx_);
      live_ = std::exchange(other.live_, false);
    }
    return *this;
  }
  Chan(const Chan&) = delete;
  Chan& operator=(const Chan&) = delete;
  SPINDLE_SESSION_FINISHED ~Chan() { abandon(); }

  /// Whether this endpoint can still take a step (not moved from, closed,
  /// or spent by Disconnected).
  [[nodiscard]] bool is_live() const noexcept { return live_; }

  /// Send<T, Q>: sends `value` (anything T can be made from); returns Chan<Q>.
  template <class V>
  SPINDLE_SESSION_STEP auto send(V&& value) && {
    static_assert(detail::ExpectStep<P, detail::Op::send>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::send) {
      using T = typename detail::Head<P>::value;
      static_assert(std::is_constructible_v<T, V&&>,
                    "spindle::session: protocol violation: send(value): the value's type is not the T of the "
                    "protocol's Send<T, P>, nor convertible to it");
      if constexpr (std::is_constructible_v<T, V&&>) {
        live_or_throw("send()");
        put(Out(std::in_place_type<T>, std::forward<V>(value)));
        return next<typename detail::Head<P>::next, E>();
      }
    }
  }

  /// Recv<T, Q>: waits for the peer's value; returns {Chan<Q>, value}.
  SPINDLE_SESSION_STEP auto recv() && {
    static_assert(detail::ExpectStep<P, detail::Op::recv>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::recv) {
      using T = typename detail::Head<P>::value;
      live_or_throw("recv()");
      In message = take();
      T* value = std::get_if<T>(&message);
      if (value == nullptr) {
        spend();
        throw ProtocolError("spindle::session: recv(): the peer sent another type than the protocol's T");
      }
      auto rest = next<typename detail::Head<P>::next, E>();
      try {
        return std::pair<Chan<typename detail::Head<P>::next, E>, T>(std::move(rest), std::move(*value));
      } catch (...) {
        rest.spend();  // T's move threw: the message is lost, the session too
        throw;
      }
    }
  }

  /// Choose<P0, P1, ...>: picks branch I (0-based) and tells the peer;
  /// returns Chan<PI>.
  template <std::size_t I>
  SPINDLE_SESSION_STEP auto select() && {
    static_assert(detail::ExpectStep<P, detail::Op::choose>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::choose) {
      static_assert(I < detail::Head<P>::branches,
                    "spindle::session: select<I>(): the protocol's Choose<...> has no branch I (I is 0-based)");
      static_assert(detail::Head<P>::branches <= 256, "spindle::session: a choice has at most 256 branches");
      if constexpr (I < detail::Head<P>::branches) {
        live_or_throw("select()");
        put(Out(std::in_place_type<detail::Label>, detail::Label{static_cast<std::uint8_t>(I)}));
        return next<Branch<I>, E>();
      }
    }
  }
  /// Choose<P0, P1, ...>: the first branch.
  SPINDLE_SESSION_STEP auto sel1() && { return std::move(*this).template select<0>(); }
  /// Choose<P0, P1, ...>: the second branch.
  SPINDLE_SESSION_STEP auto sel2() && { return std::move(*this).template select<1>(); }

  /// Offer<P0, P1, ...>: waits for the peer's choice; returns a
  /// std::variant<Chan<P0>, Chan<P1>, ...> holding the branch it picked.
  SPINDLE_SESSION_STEP auto offer() && {
    static_assert(detail::ExpectStep<P, detail::Op::offer>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::offer) {
      live_or_throw("offer()");
      In message = take();
      const detail::Label* label = std::get_if<detail::Label>(&message);
      if (label == nullptr || label->index >= detail::Head<P>::branches) {
        spend();
        throw ProtocolError("spindle::session: offer(): the peer sent something other than a choice");
      }
      return branch_at(label->index, std::make_index_sequence<detail::Head<P>::branches>{});
    }
  }

  /// Rec<Q>: enters the loop; returns Chan<Q> (Var<Z> inside jumps back here).
  SPINDLE_SESSION_STEP auto enter() && {
    static_assert(detail::ExpectStep<P, detail::Op::enter>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::rec) {
      using Body = typename detail::Head<P>::body;
      live_or_throw("enter()");
      return next<Body, typename detail::EnvTraits<E>::template push<Body>>();
    }
  }

  /// Var<Z>: jumps back to the start of the nearest loop.
  SPINDLE_SESSION_STEP auto zero() && {
    static_assert(detail::ExpectStep<P, detail::Op::zero>::ok);
    if constexpr (std::is_same_v<P, Var<Z>>) {
      live_or_throw("zero()");
      return next<typename detail::Top<E>::body, E>();
    } else if constexpr (detail::kind_of<P> == detail::Kind::var) {
      static_assert(std::is_same_v<P, Var<Z>>,
                    "spindle::session: protocol violation: zero() needs Var<Z> here; for Var<S<N>> call succ()");
    }
  }

  /// Var<S<N>>: leaves the nearest loop; returns Chan<Var<N>> for the loop
  /// around it.
  SPINDLE_SESSION_STEP auto succ() && {
    static_assert(detail::ExpectStep<P, detail::Op::succ>::ok);
    if constexpr (detail::kind_of<P> == detail::Kind::var && !std::is_same_v<P, Var<Z>>) {
      live_or_throw("succ()");
      return next<Var<Predecessor<P>>, typename detail::Top<E>::pop>();
    } else if constexpr (detail::kind_of<P> == detail::Kind::var) {
      static_assert(!std::is_same_v<P, Var<Z>>,
                    "spindle::session: protocol violation: succ() needs Var<S<N>> here; for Var<Z> call zero()");
    }
  }

  /// Eps: ends the session on this side.
  SPINDLE_SESSION_STEP void close() && {
    static_assert(detail::ExpectStep<P, detail::Op::close>::ok);
    live_or_throw("close()");
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
  template <class Self = Chan>
  auto offer() const& {
    static_assert(detail::always_false<Self>, SPINDLE_SESSION_LVALUE_STEP("offer()"));
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

  template <class V>
  struct Pred;
  template <class N>
  struct Pred<Var<S<N>>> {
    using type = N;
  };
  template <class V>
  using Predecessor = typename Pred<V>::type;

  SPINDLE_SESSION_FRESH Chan(mpsc::SyncSender<Out>&& tx, mpsc::Receiver<In>&& rx) noexcept
      : tx_(std::move(tx)), rx_(std::move(rx)), live_(true) {}

  void live_or_throw(const char* step) const {
    if (!live_) {
      throw ProtocolError(detail::moved_from_message(step));
    }
  }

  // Drops the transport: the peer sees Disconnected once it has read what
  // is still in flight.
  void spend() noexcept {
    live_ = false;
    auto tx = std::move(tx_);
    auto rx = std::move(rx_);
  }

  // Inlined in every step's temporaries: one test, the rest out of line.
  void abandon() noexcept {
    // Every constructor sets live_ (and it has a default): clang-analyzer 14
    // loses track of it through a pair returned from enter() and calls it
    // uninitialized. NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch)
    if (live_) [[unlikely]] {
      violated();
    }
  }
  [[gnu::noinline, gnu::cold]] void violated() noexcept {
    {
      const std::string description = detail::describe_state<P, E>();
      detail::violation_handler().load()(description);
    }
    spend();
  }

  void put(Out&& message) {
    if (tx_.send(std::move(message)).is_err()) {
      spend();
      throw Disconnected();
    }
  }

  // Any failure spends the endpoint: a message it could not take is lost,
  // so the session cannot go on.
  In take() {
    try {
      auto received = rx_.recv();
      if (received.is_err()) {
        spend();
        throw Disconnected();
      }
      return std::move(received).unwrap();
    } catch (...) {
      spend();
      throw;
    }
  }

  template <class Q, class F>
  Chan<Q, F> next() noexcept {
    live_ = false;
    return Chan<Q, F>(std::move(tx_), std::move(rx_));
  }

  template <std::size_t... Is>
  auto branch_at(std::size_t index, std::index_sequence<Is...> /*branches*/) {
    using Branches = std::variant<Chan<Branch<Is>, E>...>;
    using Make = Branches (*)(Chan&);
    static constexpr std::array<Make, sizeof...(Is)> make = {
        +[](Chan& self) { return Branches(std::in_place_index<Is>, self.template next<Branch<Is>, E>()); }...};
    return make[index](*this);
  }

  mpsc::SyncSender<Out> tx_;
  mpsc::Receiver<In> rx_;
  bool live_ = false;
};

namespace detail {

template <class P, class E>
struct Access {
  static Chan<P, E> make(mpsc::SyncSender<Message<typename EnvTraits<E>::root, true>> tx,
                         mpsc::Receiver<Message<typename EnvTraits<E>::root, false>> rx) {
    return Chan<P, E>(std::move(tx), std::move(rx));
  }
  static void discard(Chan<P, E>& endpoint) noexcept { endpoint.spend(); }
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

template <class F>
struct FirstParam : FirstParam<decltype(&F::operator())> {};
template <class R, class A, class... Rest>
struct FirstParam<R (*)(A, Rest...)> {
  using type = std::remove_cvref_t<A>;
};
template <class R, class A, class... Rest>
struct FirstParam<R(A, Rest...)> {
  using type = std::remove_cvref_t<A>;
};
template <class C, class R, class A>
struct FirstParam<R (C::*)(A) const> {
  using type = std::remove_cvref_t<A>;
};
template <class C, class R, class A>
struct FirstParam<R (C::*)(A)> {
  using type = std::remove_cvref_t<A>;
};
template <class C, class R, class A>
struct FirstParam<R (C::*)(A) const noexcept> {
  using type = std::remove_cvref_t<A>;
};
template <class C, class R, class A>
struct FirstParam<R (C::*)(A) noexcept> {
  using type = std::remove_cvref_t<A>;
};

template <class C>
struct ProtocolOfChan;
template <class P>
struct ProtocolOfChan<Chan<P, Env<P>>> {
  using type = P;
};

}  // namespace detail

// --- making sessions ------------------------------------------------------------------------

/// A new session: the endpoint that speaks P and the one that speaks its dual.
template <class P>
[[nodiscard]] std::pair<Chan<P>, Chan<Dual<P>>> session_channel() {
  static_assert(detail::WellFormed<P>::value,
                "spindle::session: session_channel<P>(): P is not a well-formed protocol (see Chan)");
  static_assert(detail::Scoped<P, 0>::value,
                "spindle::session: session_channel<P>(): a Var<N> in P jumps to a Rec that does not enclose it");
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
/// one with the other, then joins the server. P is the server's protocol
/// (deduced from its parameter Chan<P> when it is not generic). An
/// exception from either is rethrown here, the client's first.
template <class P, class Server, class Client>
void connect(Server&& server, Client&& client) {
  auto [server_end, client_end] = session_channel<P>();
  // If the thread cannot start, both endpoints go quietly (no violation:
  // neither side ever ran) and spawn's error reaches the caller.
  detail::Parcel<Chan<P>> parcel(std::move(server_end));
  auto quiet_client = detail::Parcel<Chan<Dual<P>>>(std::move(client_end));
  auto handle = spindle::thread::spawn(
      [run = std::forward<Server>(server), end = std::move(parcel)]() mutable { run(end.take()); });
  client_end = quiet_client.take();
  std::exception_ptr client_error;
  {
    // The client's endpoint lives here, not in the client: one the client
    // took by reference and left unfinished is destroyed (a violation,
    // which disconnects the server) before the server is joined.
    auto end = std::move(client_end);
    try {
      std::forward<Client>(client)(std::move(end));
    } catch (...) {
      client_error = std::current_exception();
    }
  }
  auto joined = handle.join();
  if (client_error) {
    std::rethrow_exception(client_error);
  }
  if (joined.is_err()) {
    joined.unwrap_err().rethrow();
  }
}

template <class Server, class Client>
void connect(Server&& server, Client&& client) {
  using P = typename detail::ProtocolOfChan<typename detail::FirstParam<std::remove_cvref_t<Server>>::type>::type;
  connect<P>(std::forward<Server>(server), std::forward<Client>(client));
}

}  // namespace spindle::session

#if defined(SPINDLE_SESSION_TYPESTATE) && defined(__clang__)
#pragma clang diagnostic pop
#endif
