// SPDX-License-Identifier: MIT
#pragma once

// What spindle::session says when a program steps outside its protocol: at
// compile time (ExpectProtocol, ExpectStep, ExpectValue), and at run time
// when an endpoint is destroyed in the middle of its protocol
// (describe_state, the violation handler).

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "spindle/detail/describe.hpp"
#include "spindle/detail/session/fwd.hpp"
#include "spindle/detail/session/protocol.hpp"

namespace spindle::session::detail {

/// The type of spindle::session::ViolationHandler (see set_violation_handler).
using ViolationHandler = void (*)(std::string_view description);

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

template <class T>
inline constexpr bool always_false = false;

enum class Op : std::uint8_t { send, recv, choose, offer, enter, zero, succ, close };

// The compile-time checks. Each is a class with one static_assert per
// mistake it reports, used as `static_assert(ExpectStep<...>{});`, so that
// a mistake makes one error and nothing else:
//   - a class, not a function: it is checked the moment it is named, so its
//     message comes before any error in the caller;
//   - named by a temporary, not through a member (ExpectStep<...>::ok):
//     clang marks a class whose static_assert failed incomplete, so reading
//     a member would be a second error ("incomplete definition of type"),
//     while the temporary is dropped quietly, and with it the return type of
//     the step that named it, which spares the caller's code an error too;
//   - apart from Chan: a static_assert failing in Chan itself would make
//     clang reject every later use of Chan<P> again.
// g++ keeps the step, and its return type (void where it has nothing to
// return), so the caller's next use of it would be a second error: a step
// whose check failed goes on, where it can, as the step the program meant
// (see Chan).

// The protocol of a session, seen from either end (Checked<P>).
template <class P>
struct ExpectProtocol {
  static_assert(WellFormed<P>::value,
                "spindle::session: this is not a well-formed protocol: build it from Eps, Send<T, P>, Recv<T, P>, "
                "Choose<P...> and Offer<P...> with two or more branches, Rec<P> (whose body is not just a Var) "
                "and Var<N> with N = Z, S<Z>, S<S<Z>>, ...");
  static_assert(!WellFormed<P>::value || Scoped<P, 0>::value,
                "spindle::session: a Var<N> jumps to a Rec that does not enclose it: Var<Z> names the nearest "
                "enclosing Rec, Var<S<Z>> the one around that, and so on");
  constexpr explicit operator bool() const { return true; }
};

// The step `op` on an endpoint Chan<P, E>: one static_assert per step the
// protocol may hold there; only the one that matches fires, and its message
// says what the protocol expects there. A rejected protocol has been
// reported by ExpectProtocol: its steps report nothing more (and on clang,
// where this base is then incomplete, they are dropped quietly).
template <class P, class E, Op op>
struct ExpectStep : ExpectProtocol<Checked<typename EnvTraits<E>::root>> {
  static constexpr Kind k = kind_of<P>;
  static constexpr bool rejected = !accepted<typename EnvTraits<E>::root>;
  static_assert(rejected || k != Kind::none,
                "spindle::session: this is not a protocol: build it from Eps, Send, Recv, Choose, Offer, Rec and Var");
  static_assert(rejected || op == Op::send || k != Kind::send,
                "spindle::session: protocol violation: the protocol says Send<T, P> here, so this side must send: "
                "call send(value)");
  static_assert(rejected || op == Op::recv || k != Kind::recv,
                "spindle::session: protocol violation: the protocol says Recv<T, P> here, so this side must "
                "receive: call recv()");
  static_assert(rejected || op == Op::choose || k != Kind::choose,
                "spindle::session: protocol violation: the protocol says Choose<...> here, so this side must pick "
                "a branch: call sel1(), sel2() or select<I>()");
  static_assert(rejected || op == Op::offer || k != Kind::offer,
                "spindle::session: protocol violation: the protocol says Offer<...> here, so the peer picks the "
                "branch: call offer()");
  static_assert(rejected || op == Op::enter || k != Kind::rec,
                "spindle::session: protocol violation: the protocol says Rec<P> here: call enter()");
  static_assert(rejected || op == Op::zero || op == Op::succ || k != Kind::var,
                "spindle::session: protocol violation: the protocol says Var<N> here: call zero() for Var<Z> or "
                "succ() for Var<S<N>>");
  static_assert(rejected || op != Op::zero || k != Kind::var || std::is_same_v<P, Var<Z>>,
                "spindle::session: protocol violation: zero() needs Var<Z> here; for Var<S<N>> call succ()");
  static_assert(rejected || op != Op::succ || !std::is_same_v<P, Var<Z>>,
                "spindle::session: protocol violation: succ() needs Var<S<N>> here; for Var<Z> call zero()");
  static_assert(rejected || op == Op::close || k != Kind::eps,
                "spindle::session: protocol violation: the protocol has ended here (Eps): call close()");
  constexpr explicit operator bool() const { return true; }
};

// send(value) where the protocol says Send<T, P>: V is the value's type.
template <class T, class V>
struct ExpectValue {
  static_assert(std::is_constructible_v<T, V>,
                "spindle::session: protocol violation: send(value): the value's type is not the T of the "
                "protocol's Send<T, P>, nor convertible to it");
  constexpr explicit operator bool() const { return true; }
};

// offer(f0, f1, ...): one handler per branch, in order (counted); handler I
// callable with branch I's endpoint (callable); results of a common type
// (agree).
template <bool counted, bool callable, bool agree>
struct ExpectHandlers {
  static_assert(counted, "spindle::session: offer(f0, f1, ...): one handler per branch of the Offer, in order");
  static_assert(!counted || callable,
                "spindle::session: offer(f0, f1, ...): handler I must take the endpoint of branch I, Chan<PI, E>&&");
  static_assert(!counted || !callable || agree,
                "spindle::session: offer(f0, f1, ...): the handlers must all return the same type (or all void)");
  constexpr explicit operator bool() const { return true; }
};

// What offer(f0, f1, ...) checks of its handlers F..., given the branches'
// endpoints C...: one handler per branch, each callable with its branch's
// endpoint, and results that have a common type (`result`).
template <class Results, class = void>
struct CommonResult : std::false_type {
  using type = void;
};
template <class... R>
struct CommonResult<std::tuple<R...>, std::void_t<std::common_type_t<R...>>> : std::true_type {
  using type = std::common_type_t<R...>;
};
template <bool callable, class Endpoints, class Fs>
struct ResultsOf {
  using type = std::tuple<>;
};
template <class... C, class... F>
struct ResultsOf<true, std::tuple<C...>, std::tuple<F...>> {
  using type = std::tuple<std::invoke_result_t<F, C>...>;
};
template <class Endpoints, class Fs, bool = std::tuple_size_v<Endpoints> == std::tuple_size_v<Fs>>
struct Handlers {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Check::counted, ...
  static constexpr bool counted = false, callable = false, agree = false;
  using result = void;
};
template <class... C, class... F>
struct Handlers<std::tuple<C...>, std::tuple<F...>, true> {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Check::counted
  static constexpr bool counted = true;
  static constexpr bool callable = (std::is_invocable_v<F, C> && ...);
  using Common = CommonResult<typename ResultsOf<callable, std::tuple<C...>, std::tuple<F...>>::type>;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Check::agree
  static constexpr bool agree = Common::value;
  using result = typename Common::type;
};

/// What a step on a moved-from endpoint says.
inline std::string moved_from_message(const char* step) {
  return std::string("spindle::session: ") + step +
         " on an endpoint that was moved from or closed (each step consumes the endpoint: use the one it "
         "returned)";
}

// "spindle::session::Send<int, spindle::session::Eps>" -> "Send<int, Eps>".
inline std::string without_namespace(std::string_view name) {
  constexpr std::string_view prefix = "spindle::session::";
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    if (name.substr(i, prefix.size()) == prefix) {
      i += prefix.size();
    } else {
      out += name[i++];
    }
  }
  return out;
}

template <class P, class E>
std::string describe_state() {
  return "spindle::session: protocol violation: an endpoint was destroyed before its protocol ended.\n"
         "  next step:  " +
         without_namespace(spindle::detail::type_name<P>()) +
         "\n  protocol:   " + without_namespace(spindle::detail::type_name<typename EnvTraits<E>::root>()) +
         "\n  Finish the protocol and call close() on Eps, or move the endpoint on.";
}

}  // namespace spindle::session::detail
