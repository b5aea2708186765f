// SPDX-License-Identifier: MIT
#pragma once

// What connect() works out about the two functions it is given: the
// protocol a non-generic server takes, what each side's result is kept as,
// and which of two exceptions is the cause.

#include <exception>
#include <type_traits>

#include "spindle/detail/session/fwd.hpp"

namespace spindle::session::detail {

// The type of a function's (or a lambda's) first parameter.
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

// What one side of connect() returns, kept by value.
template <class R>
using Kept = std::conditional_t<std::is_void_v<R>, void, std::remove_cvref_t<R>>;

// Whether `error` holds an E (for connect: a Disconnected, the peer's
// failure seen from this side, a consequence rather than a cause).
template <class E>
bool holds(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace spindle::session::detail
