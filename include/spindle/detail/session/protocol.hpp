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
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as Head<P>::branches
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

// How many branches a Choose or an Offer has (0 for any other step).
template <class P>
inline constexpr std::size_t branches_of = 0;
template <class... P>
inline constexpr std::size_t branches_of<Choose<P...>> = sizeof...(P);
template <class... P>
inline constexpr std::size_t branches_of<Offer<P...>> = sizeof...(P);

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

// Whether P is a protocol a session can start with (well_formed<P>).
template <class P>
inline constexpr bool accepted = WellFormed<P>::value&& Scoped<P, 0>::value;

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

// Whether P's first message (past any Rec) comes in: Recv or Offer.
template <class P>
struct ReceivesFirst : std::false_type {};
template <class T, class P>
struct ReceivesFirst<Recv<T, P>> : std::true_type {};
template <class... P>
struct ReceivesFirst<Offer<P...>> : std::true_type {};
template <class P>
struct ReceivesFirst<Rec<P>> : ReceivesFirst<P> {};

// What a session whose protocol is P (seen from either end) is checked as:
// P or its dual, whichever sends first. The two ends share one check, so a
// protocol it rejects is reported once, not once per end.
template <class P>
using Checked = std::conditional_t<ReceivesFirst<P>::value, typename DualOf<P>::type, P>;

// The recursion environment Env<Root, Bodies...>: the protocol a session
// started with, and the bodies of the Recs an endpoint is inside.
template <class E>
struct EnvTraits;
template <class Root, class... Bodies>
struct EnvTraits<Env<Root, Bodies...>> {
  using root = Root;
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as EnvTraits<E>::loops
  static constexpr std::size_t loops = sizeof...(Bodies);
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

// The environment at the start of the loop Var<N> jumps to: N loops out of
// E, but not past the outermost one (a Var of a rejected protocol may point
// further out).
template <class V, class E>
struct LoopOf {
  using type = E;  // Var<Z>, or no loop further out
};
template <class N, class Root, class B, class Outer, class... Bodies>
struct LoopOf<Var<S<N>>, Env<Root, B, Outer, Bodies...>> : LoopOf<Var<N>, Env<Root, Outer, Bodies...>> {};

// --- naming an endpoint in the middle of a protocol ---------------------------------------

template <class... E>
struct EnvList {};

template <class... L>
struct Concat {
  using type = EnvList<>;
};
template <class... A>
struct Concat<EnvList<A...>> {
  using type = EnvList<A...>;
};
template <class... A, class... B, class... Rest>
struct Concat<EnvList<A...>, EnvList<B...>, Rest...> : Concat<EnvList<A..., B...>, Rest...> {};

// The environments of the places where Here occurs in P, an endpoint of
// which has environment E: one entry per place.
template <class Here, class P, class E, bool = std::is_same_v<Here, P>>
struct Places {
  using type = EnvList<>;  // Eps, Var, or not a protocol
};
template <class Here, class P, class E>
struct Places<Here, P, E, true> {
  using type = EnvList<E>;
};
template <class Here, class T, class P, class E>
struct Places<Here, Send<T, P>, E, false> : Places<Here, P, E> {};
template <class Here, class T, class P, class E>
struct Places<Here, Recv<T, P>, E, false> : Places<Here, P, E> {};
template <class Here, class... P, class E>
struct Places<Here, Choose<P...>, E, false> : Concat<typename Places<Here, P, E>::type...> {};
template <class Here, class... P, class E>
struct Places<Here, Offer<P...>, E, false> : Concat<typename Places<Here, P, E>::type...> {};
template <class Here, class P, class E>
struct Places<Here, Rec<P>, E, false> : Places<Here, P, typename EnvTraits<E>::template push<P>> {};

template <class L>
struct OneEnv {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as At::found, At::unique
  static constexpr bool found = false, unique = false;
  using type = void;
};
template <class E, class... More>
struct OneEnv<EnvList<E, More...>> {
  // cppcheck-suppress unusedStructMember ; false positive (cppcheck 2.10): read as At::found, At::unique
  static constexpr bool found = true, unique = (std::is_same_v<E, More> && ...);
  using type = E;
};

/// The environment of protocol Root's endpoint at the point Here.
template <class Root, class Here>
using EnvAt = OneEnv<typename Places<Here, Root, Env<Root>>::type>;

// ChanAt<Root, Here>, with what it says when there is no one answer.
template <class Root, class Here>
struct ChanAt {
  using At = EnvAt<Root, Here>;
  static_assert(At::found, "spindle::session: ChanAt<Root, Here>: Here is not a part of the protocol Root");
  static_assert(!At::found || At::unique,
                "spindle::session: ChanAt<Root, Here>: Here occurs inside different loops of Root, so its endpoint "
                "type is not one: write Chan<Here, Env<Root, Bodies...>> (the bodies of the enclosing Recs, "
                "innermost first)");
  using type = Chan<Here, typename At::type>;
};

// Whether T is an endpoint (a delegated one, when it is a message).
template <class T>
struct IsChan : std::false_type {};
template <class P, class E>
struct IsChan<Chan<P, E>> : std::true_type {};

}  // namespace spindle::session::detail
