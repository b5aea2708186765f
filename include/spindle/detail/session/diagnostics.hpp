// SPDX-License-Identifier: MIT
#pragma once

// What spindle::session says when a program steps outside its protocol: at
// compile time (ExpectStep), and at run time when an endpoint is destroyed
// in the middle of its protocol (describe_state, the violation handler).

#include <cstdint>
#include <string>
#include <string_view>

#include "spindle/detail/describe.hpp"
#include "spindle/detail/session/protocol.hpp"

namespace spindle::session::detail {

template <class T>
inline constexpr bool always_false = false;

enum class Op : std::uint8_t { send, recv, choose, offer, enter, zero, succ, close };

// One static_assert per step the protocol may hold where `op` was called;
// only the one that matches fires, and its message says what the protocol
// expects there. A class, not a function: it is checked the moment a step
// names it, so its message comes before any error in the caller.
template <class P, Op op>
struct ExpectStep {
  static constexpr Kind k = kind_of<P>;
  static_assert(k != Kind::none,
                "spindle::session: this is not a protocol: build it from Eps, Send, Recv, Choose, Offer, Rec and Var");
  static_assert(op == Op::send || k != Kind::send,
                "spindle::session: protocol violation: the protocol says Send<T, P> here, so this side must send: "
                "call send(value)");
  static_assert(op == Op::recv || k != Kind::recv,
                "spindle::session: protocol violation: the protocol says Recv<T, P> here, so this side must "
                "receive: call recv()");
  static_assert(op == Op::choose || k != Kind::choose,
                "spindle::session: protocol violation: the protocol says Choose<...> here, so this side must pick "
                "a branch: call sel1(), sel2() or select<I>()");
  static_assert(op == Op::offer || k != Kind::offer,
                "spindle::session: protocol violation: the protocol says Offer<...> here, so the peer picks the "
                "branch: call offer()");
  static_assert(op == Op::enter || k != Kind::rec,
                "spindle::session: protocol violation: the protocol says Rec<P> here: call enter()");
  static_assert(op == Op::zero || op == Op::succ || k != Kind::var,
                "spindle::session: protocol violation: the protocol says Var<N> here: call zero() for Var<Z> or "
                "succ() for Var<S<N>>");
  static_assert(op == Op::close || k != Kind::eps,
                "spindle::session: protocol violation: the protocol has ended here (Eps): call close()");
  static constexpr bool ok = true;
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
