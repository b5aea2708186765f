// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// The fingerprint of a session protocol: a string that spells its
/// structure and the wire names of the types it carries, the same for every
/// compiler and build. Two programs that talk across processes compare
/// fingerprints before any step (<spindle/session/zmq.hpp>).
///
///   fingerprint<Recv<std::uint64_t, Choose<Send<std::string, Eps>, Eps>>>()
///     == "Recv<u64,Choose<Send<string,Eps>,Eps>>"
///
/// Wire names: bool, char, i8 ... i64 and u8 ... u64 (by size and
/// signedness), f32, f64, string, vector<T>, array<T,N>, optional<T>,
/// pair<A,B>, tuple<T...>. An enum or a user type with a Codec is named by
/// its Codec's `static constexpr std::string_view name` if it has one, and
/// otherwise by the name the Itanium C++ ABI gives it (g++ and clang agree
/// on it); "enum" types also carry their underlying type. Name your own
/// types in their Codec when the two programs may be built by compilers
/// that use another ABI.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "spindle/detail/session/fwd.hpp"
#include "spindle/session/codec.hpp"

namespace spindle::session {

template <class T>
std::string wire_name();

namespace detail {

template <class... T>
std::string wire_names() {
  const std::array<std::string, sizeof...(T)> each{wire_name<T>()...};
  std::string names;
  for (const std::string& name : each) {
    if (!names.empty()) {
      names.push_back(',');
    }
    names.append(name);
  }
  return names;
}

template <class T>
struct WireName {
  static std::string get() {
    if constexpr (requires { Codec<T>::name; }) {
      return std::string(std::string_view(Codec<T>::name));
    } else {
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
      std::string name = typeid(T).name();
#else
      static_assert(sizeof(T) == 0,
                    "spindle::session: without RTTI, a message type needs a name in its codec: "
                    "static constexpr std::string_view name = \"...\"; in Codec<T>");
      std::string name;
#endif
      if constexpr (std::is_enum_v<T>) {
        return "enum " + name + ":" + wire_name<std::underlying_type_t<T>>();
      } else {
        return name;
      }
    }
  }
};

template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>) struct WireName<T> {
  static std::string get() {
    std::string name(1, std::is_signed<T>::value ? 'i' : 'u');
    return name.append(std::to_string(8 * sizeof(T)));
  }
};
template <>
struct WireName<bool> {
  static std::string get() { return "bool"; }
};
template <>
struct WireName<char> {
  static std::string get() { return "char"; }
};
template <>
struct WireName<float> {
  static std::string get() { return "f32"; }
};
template <>
struct WireName<double> {
  static std::string get() { return "f64"; }
};
template <>
struct WireName<std::string> {
  static std::string get() { return "string"; }
};
template <class T, class A>
struct WireName<std::vector<T, A>> {
  static std::string get() { return "vector<" + wire_name<T>() + ">"; }
};
template <class T, std::size_t N>
struct WireName<std::array<T, N>> {
  static std::string get() { return "array<" + wire_name<T>() + "," + std::to_string(N) + ">"; }
};
template <class T>
struct WireName<std::optional<T>> {
  static std::string get() { return "optional<" + wire_name<T>() + ">"; }
};
template <class A, class B>
struct WireName<std::pair<A, B>> {
  static std::string get() { return "pair<" + wire_names<A, B>() + ">"; }
};
template <class... T>
struct WireName<std::tuple<T...>> {
  static std::string get() { return "tuple<" + wire_names<T...>() + ">"; }
};

template <class N>
struct VarDepth;
template <>
struct VarDepth<Z> : std::integral_constant<std::size_t, 0> {};
template <class N>
struct VarDepth<S<N>> : std::integral_constant<std::size_t, 1 + VarDepth<N>::value> {};

template <class P>
struct Spell;
template <>
struct Spell<Eps> {
  static void to(std::string& out) { out.append("Eps"); }
};
template <class T, class P>
struct Spell<Send<T, P>> {
  static void to(std::string& out) {
    out.append("Send<").append(wire_name<T>()).append(",");
    Spell<P>::to(out);
    out.append(">");
  }
};
template <class T, class P>
struct Spell<Recv<T, P>> {
  static void to(std::string& out) {
    out.append("Recv<").append(wire_name<T>()).append(",");
    Spell<P>::to(out);
    out.append(">");
  }
};
template <class... P>
struct SpellBranches {
  // Each branch and a comma; the last comma becomes the closing bracket.
  static void to(std::string& out) {
    ((Spell<P>::to(out), out.push_back(',')), ...);
    if constexpr (sizeof...(P) > 0) {
      out.back() = '>';
    } else {
      out.push_back('>');
    }
  }
};
template <class... P>
struct Spell<Choose<P...>> {
  static void to(std::string& out) {
    out.append("Choose<");
    SpellBranches<P...>::to(out);
  }
};
template <class... P>
struct Spell<Offer<P...>> {
  static void to(std::string& out) {
    out.append("Offer<");
    SpellBranches<P...>::to(out);
  }
};
template <class P>
struct Spell<Rec<P>> {
  static void to(std::string& out) {
    out.append("Rec<");
    Spell<P>::to(out);
    out.append(">");
  }
};
template <class N>
struct Spell<Var<N>> {
  static void to(std::string& out) { out.append("Var<").append(std::to_string(VarDepth<N>::value)).append(">"); }
};

}  // namespace detail

/// The name a message type has on the wire (see the top of this header).
template <class T>
std::string wire_name() {
  return detail::WireName<std::remove_cv_t<T>>::get();
}

/// The fingerprint of protocol P: its structure, with the wire name of
/// every type it carries.
template <class P>
std::string fingerprint() {
  std::string out;
  detail::Spell<P>::to(out);
  return out;
}

}  // namespace spindle::session
