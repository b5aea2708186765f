// SPDX-License-Identifier: MIT
#pragma once

// What travels between the two ends of a session: for each direction, a
// std::variant of exactly the types the protocol sends that way, and a
// one-byte Label for each choice made that way.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "spindle/detail/session/fwd.hpp"

namespace spindle::session::detail {

// --- the messages each direction carries -------------------------------------------------

/// A choice on the wire: the index of the branch taken.
struct Label {
  std::uint8_t index;
};

template <class... T>
struct List {};

template <class L, class T>
struct Add;
template <class... Ts, class T>
struct Add<List<Ts...>, T> {
  using type = std::conditional_t<(std::is_same_v<T, Ts> || ...), List<Ts...>, List<Ts..., T>>;
};

// Collects, in order of first appearance, the types P sends (outgoing) or
// receives (incoming), with Label for a choice made that way. The dual
// protocol visits the same nodes in the same order, so one side's outgoing
// list is exactly the other side's incoming list.
template <bool outgoing, class P, class Acc>
struct Collect {
  using type = Acc;  // Eps, Var
};
template <bool outgoing, class T, class P, class Acc>
struct Collect<outgoing, Send<T, P>, Acc> {
  using type = typename Collect<outgoing, P, std::conditional_t<outgoing, typename Add<Acc, T>::type, Acc>>::type;
};
template <bool outgoing, class T, class P, class Acc>
struct Collect<outgoing, Recv<T, P>, Acc> {
  using type = typename Collect<outgoing, P, std::conditional_t<outgoing, Acc, typename Add<Acc, T>::type>>::type;
};
template <bool outgoing, class Acc, class... P>
struct CollectAll {
  using type = Acc;
};
template <bool outgoing, class Acc, class P, class... Rest>
struct CollectAll<outgoing, Acc, P, Rest...> {
  using type = typename CollectAll<outgoing, typename Collect<outgoing, P, Acc>::type, Rest...>::type;
};
template <bool outgoing, class... P, class Acc>
struct Collect<outgoing, Choose<P...>, Acc> {
  using type =
      typename CollectAll<outgoing, std::conditional_t<outgoing, typename Add<Acc, Label>::type, Acc>, P...>::type;
};
template <bool outgoing, class... P, class Acc>
struct Collect<outgoing, Offer<P...>, Acc> {
  using type =
      typename CollectAll<outgoing, std::conditional_t<outgoing, Acc, typename Add<Acc, Label>::type>, P...>::type;
};
template <bool outgoing, class P, class Acc>
struct Collect<outgoing, Rec<P>, Acc> {
  using type = typename Collect<outgoing, P, Acc>::type;
};

template <class L>
struct VariantOf;
template <class... Ts>
struct VariantOf<List<Ts...>> {
  // The list starts with monostate (unless a protocol sends one): it keeps
  // the variant well-formed when a direction carries nothing at all.
  using type = std::variant<Ts...>;
};

// The index of T among the alternatives of the variant V.
template <class T, class V>
struct IndexIn;
template <class T, class... Ts>
struct IndexIn<T, std::variant<Ts...>> {
  static constexpr std::size_t value = [] {
    std::size_t index = 0;
    for (const bool same : {std::is_same_v<T, Ts>...}) {
      if (same) {
        return index;
      }
      ++index;
    }
    return index;
  }();
};
template <class T, class V>
inline constexpr std::size_t index_in = IndexIn<T, V>::value;

/// The message type of one direction of a session whose protocol (seen
/// from one side) is Root.
template <class Root, bool outgoing>
using Message = typename VariantOf<typename Collect<outgoing, Root, List<std::monostate>>::type>::type;

}  // namespace spindle::session::detail
