// SPDX-License-Identifier: MIT
#pragma once

// What the compiler knows about a protocol: its first step (Head), whether
// it is well formed and every Var jumps to an enclosing Rec, its dual, and
// the recursion environment an endpoint carries.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "spindle/detail/session/fwd.hpp"

namespace spindle::session::detail {

enum class Kind : std::uint8_t { none, eps, send, recv, choose, offer, rec, var };

template <class P>
struct Head {
  static constexpr Kind kind = Kind::none;
};
template <>
struct Head<Eps> {
  static constexpr Kind kind = Kind::eps;
};
template <class T, class P>
struct Head<Send<T, P>> {
  static constexpr Kind kind = Kind::send;
  using value = T;
  using next = P;
};
template <class T, class P>
struct Head<Recv<T, P>> {
  static constexpr Kind kind = Kind::recv;
  using value = T;
  using next = P;
};
template <class... P>
struct Head<Choose<P...>> {
  static constexpr Kind kind = Kind::choose;
  static constexpr std::size_t branches = sizeof...(P);
};
template <class... P>
struct Head<Offer<P...>> {
  static constexpr Kind kind = Kind::offer;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Head<P>::branches
  static constexpr std::size_t branches = sizeof...(P);
};
template <class P>
struct Head<Rec<P>> {
  static constexpr Kind kind = Kind::rec;
  using body = P;
};
template <class N>
struct Head<Var<N>> {
  static constexpr Kind kind = Kind::var;
};

template <class P>
inline constexpr Kind kind_of = Head<P>::kind;

// Natural numbers Z, S<Z>, ...
template <class N>
struct Nat {
  static constexpr bool valid = false;
  static constexpr std::size_t value = 0;
};
template <>
struct Nat<Z> {
  static constexpr bool valid = true;
  static constexpr std::size_t value = 0;
};
template <class N>
struct Nat<S<N>> {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Nat<N>::valid
  static constexpr bool valid = Nat<N>::valid;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Nat<N>::value
  static constexpr std::size_t value = Nat<N>::value + 1;
};

// Whether P is built from the protocol types only (message types aside),
// every Choose/Offer has two or more branches, and no Rec's body is a bare Var.
template <class P>
struct WellFormed : std::false_type {};
template <>
struct WellFormed<Eps> : std::true_type {};
template <class T, class P>
struct WellFormed<Send<T, P>> : WellFormed<P> {};
template <class T, class P>
struct WellFormed<Recv<T, P>> : WellFormed<P> {};
template <class... P>
struct WellFormed<Choose<P...>> : std::bool_constant<(sizeof...(P) >= 2) && (WellFormed<P>::value && ...)> {};
template <class... P>
struct WellFormed<Offer<P...>> : std::bool_constant<(sizeof...(P) >= 2) && (WellFormed<P>::value && ...)> {};
template <class P>
struct WellFormed<Rec<P>> : std::bool_constant<kind_of<P> != Kind::var && WellFormed<P>::value> {};
template <class N>
struct WellFormed<Var<N>> : std::bool_constant<Nat<N>::valid> {};

// Whether every Var in P jumps to a Rec that encloses it, given `depth`
// Recs around P.
template <class P, std::size_t depth>
struct Scoped : std::true_type {};
template <class T, class P, std::size_t depth>
struct Scoped<Send<T, P>, depth> : Scoped<P, depth> {};
template <class T, class P, std::size_t depth>
struct Scoped<Recv<T, P>, depth> : Scoped<P, depth> {};
template <class... P, std::size_t depth>
struct Scoped<Choose<P...>, depth> : std::bool_constant<(Scoped<P, depth>::value && ...)> {};
template <class... P, std::size_t depth>
struct Scoped<Offer<P...>, depth> : std::bool_constant<(Scoped<P, depth>::value && ...)> {};
template <class P, std::size_t depth>
struct Scoped<Rec<P>, depth> : Scoped<P, depth + 1> {};
template <class N, std::size_t depth>
struct Scoped<Var<N>, depth> : std::bool_constant<(Nat<N>::value < depth)> {};

// The dual: Send <-> Recv and Choose <-> Offer throughout.
template <class P>
struct DualOf {
  using type = P;  // Eps, Var<N>, and anything that is not a protocol
};
template <class T, class P>
struct DualOf<Send<T, P>> {
  using type = Recv<T, typename DualOf<P>::type>;
};
template <class T, class P>
struct DualOf<Recv<T, P>> {
  using type = Send<T, typename DualOf<P>::type>;
};
template <class... P>
struct DualOf<Choose<P...>> {
  using type = Offer<typename DualOf<P>::type...>;
};
template <class... P>
struct DualOf<Offer<P...>> {
  using type = Choose<typename DualOf<P>::type...>;
};
template <class P>
struct DualOf<Rec<P>> {
  using type = Rec<typename DualOf<P>::type>;
};

// The recursion environment Env<Root, Bodies...>: the protocol a session
// started with, and the bodies of the Recs an endpoint is inside.
template <class E>
struct EnvTraits;
template <class Root, class... Bodies>
struct EnvTraits<Env<Root, Bodies...>> {
  using root = Root;
  template <class B>
  using push = Env<Root, B, Bodies...>;
};

template <class E>
struct Top;
template <class Root, class B, class... Bodies>
struct Top<Env<Root, B, Bodies...>> {
  using body = B;
  using pop = Env<Root, Bodies...>;
};

}  // namespace spindle::session::detail
