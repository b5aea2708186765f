// SPDX-License-Identifier: MIT
#pragma once

// A channel handle's one pointer to its channel, whatever the flavour: a
// tagged union of pointers to the flavours' types (crossbeam's SenderFlavor
// and ReceiverFlavor enums). It is made only from one of those pointers and
// hands it back only with its own type, to a visitor.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"

namespace spindle::detail::channel {

template <std::size_t I, class First, class... Rest>
struct NthType {
  using type = typename NthType<I - 1, Rest...>::type;
};
template <class First, class... Rest>
struct NthType<0, First, Rest...> {
  using type = First;
};

/// The index of U among Ts (U must be one of them).
template <class U, class First, class... Rest>
constexpr std::uint8_t index_of() noexcept {
  if constexpr (std::is_same_v<U, First>) {
    return 0;
  } else {
    return 1 + index_of<U, Rest...>();
  }
}

template <class... Ts>
class FlavorRef {
  static_assert(sizeof...(Ts) < 255, "too many flavours");
  static constexpr std::uint8_t none = 255;

 public:
  /// Empty: a moved-from handle's.
  FlavorRef() noexcept = default;

  template <class U>
  explicit FlavorRef(U* flavour) noexcept : tag_(index_of<U, Ts...>()), ptr_(flavour) {}

  [[nodiscard]] bool empty() const noexcept { return tag_ == none; }

  /// Calls f with the flavour, as its own type; must not be empty. Every
  /// call of f must return the same type.
  template <class F>
  decltype(auto) visit(F&& f) const {
    // One flat switch (not a chain of calls), which the compiler inlines
    // into the caller's loop as it would a hand-written one.
    static_assert(sizeof...(Ts) <= 4, "visit() handles up to four flavours");
    switch (tag_) {
      case 0:
        return f(get<0>());
      case 1:
        if constexpr (sizeof...(Ts) > 1) {
          return f(get<1>());
        }
        break;
      case 2:
        if constexpr (sizeof...(Ts) > 2) {
          return f(get<2>());
        }
        break;
      case 3:
        if constexpr (sizeof...(Ts) > 3) {
          return f(get<3>());
        }
        break;
      default:
        break;
    }
    SPINDLE_UNREACHABLE();
    return f(get<0>());  // for compilers that cannot mark the line above
  }

  /// Leaves this one empty, returning what it held.
  FlavorRef take() noexcept { return std::exchange(*this, FlavorRef()); }

 private:
  template <std::size_t I>
  typename NthType<I, Ts...>::type& get() const noexcept {
    return *static_cast<typename NthType<I, Ts...>::type*>(ptr_);
  }

  std::uint8_t tag_ = none;
  void* ptr_ = nullptr;  // a Ts...[tag_]*, restored to its type only in get()
};

}  // namespace spindle::detail::channel
