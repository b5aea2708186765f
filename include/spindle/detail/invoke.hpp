// SPDX-License-Identifier: MIT
#pragma once

// std::invoke and std::addressof without <functional> and <memory>, whose
// other contents (std::function, hash tables, searchers; allocators, smart
// pointers) add a third and a tenth to what <thread> costs to compile
// (docs/compile-time.md).

#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

/// std::addressof.
template <class T>
[[nodiscard]] constexpr T* addressof(T& object) noexcept {
  return __builtin_addressof(object);
}
template <class T>
const T* addressof(const T&&) = delete;

namespace invoke_impl {

// The object a pointer to a member of C is applied to: `t` itself when it
// is a C (or derived from one), else what `t` refers to: `*t` for a pointer
// or a smart pointer, `t.get()` for a std::reference_wrapper.
template <class C, class T>
constexpr decltype(auto) object(T&& t) noexcept {
  if constexpr (std::is_base_of_v<C, std::remove_cvref_t<T>>) {
    return std::forward<T>(t);
  } else if constexpr (requires { *std::forward<T>(t); }) {
    return *std::forward<T>(t);
  } else {
    return t.get();
  }
}

template <class M>
struct MemberOf;
template <class M, class C>
struct MemberOf<M C::*> {
  using type = C;
};

}  // namespace invoke_impl

/// std::invoke: f(args...), or for a pointer to a member function or data
/// member, that member of the first argument (an object, a pointer or smart
/// pointer to one, or a std::reference_wrapper).
template <class F, class... Args>
constexpr decltype(auto) invoke(F&& f, Args&&... args) noexcept(std::is_nothrow_invocable_v<F, Args...>) {
  using Fn = std::remove_cvref_t<F>;
  if constexpr (std::is_member_function_pointer_v<Fn>) {
    return [&]<class T, class... Rest>(T&& t, Rest&&... rest) -> decltype(auto) {
      return (invoke_impl::object<typename invoke_impl::MemberOf<Fn>::type>(std::forward<T>(t)).*f)(
          std::forward<Rest>(rest)...);
    }(std::forward<Args>(args)...);
  } else if constexpr (std::is_member_object_pointer_v<Fn>) {
    static_assert(sizeof...(Args) == 1, "a pointer to a data member is invoked on one object");
    return [&]<class T>(T&& t) -> decltype(auto) {
      return (invoke_impl::object<typename invoke_impl::MemberOf<Fn>::type>(std::forward<T>(t)).*f);
    }(std::forward<Args>(args)...);
  } else {
    return std::forward<F>(f)(std::forward<Args>(args)...);
  }
}

}  // namespace spindle::detail
