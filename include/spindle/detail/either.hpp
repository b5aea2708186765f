// SPDX-License-Identifier: MIT
#pragma once

// Either<A, B>: an A, a B, or (after an assignment that threw) neither. What
// Result needs of std::variant<A, B>, with the same rules for copies, moves,
// assignments, triviality and exceptions, without <variant>: its machinery
// for any number of alternatives costs more compile time, once per file and
// again for each new Result type, than the rest of Result.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

namespace either {

// The index of neither: after an assignment whose construction threw.
inline constexpr unsigned char none = 2;

// Builds a Union that holds neither, for a copy or a move to fill.
struct Unfilled {};

// The union of A and B and the index of the one it holds. It has a
// destructor only where A or B needs one: as with std::variant, trivially
// destructible alternatives keep Either trivially destructible, and
// trivially copyable ones keep it trivially copyable (such a Result then
// travels in registers). Without C++20's conditionally trivial special
// members (clang 14 lacks them), that takes two copies of the union.
template <class A, class B, bool = std::is_trivially_destructible_v<A> && std::is_trivially_destructible_v<B>>
struct Union {
  constexpr explicit Union(Unfilled /*tag*/) noexcept : which(none) {}
  template <class... Args>
  constexpr explicit Union(std::in_place_index_t<0> /*tag*/, Args&&... args)
      : a(std::forward<Args>(args)...), which(0) {}
  template <class... Args>
  constexpr explicit Union(std::in_place_index_t<1> /*tag*/, Args&&... args)
      : b(std::forward<Args>(args)...), which(1) {}

  union {
    A a;
    B b;
  };
  // Each constructor sets its own value: no default would be right.
  unsigned char which;  // NOLINT(modernize-use-default-member-init): 0, 1 or none
};

template <class A, class B>
struct Union<A, B, false> {
  constexpr explicit Union(Unfilled /*tag*/) noexcept : which(none) {}
  template <class... Args>
  constexpr explicit Union(std::in_place_index_t<0> /*tag*/, Args&&... args)
      : a(std::forward<Args>(args)...), which(0) {}
  template <class... Args>
  constexpr explicit Union(std::in_place_index_t<1> /*tag*/, Args&&... args)
      : b(std::forward<Args>(args)...), which(1) {}
  Union(const Union&) = delete;  // Storage copies and moves
  Union& operator=(const Union&) = delete;
  ~Union() {
    if (which == 0) {
      a.~A();
    } else if (which == 1) {
      b.~B();
    }
  }

  union {
    A a;
    B b;
  };
  // Each constructor sets its own value: no default would be right.
  unsigned char which;  // NOLINT(modernize-use-default-member-init): 0, 1 or none
};

// Copies, moves and assignments: the implicit ones (which copy the bytes)
// for trivially copyable A and B, else written out by hand. The rules are
// std::variant's: copyable when both are; movable when both are (else a
// move copies); assignable when both are constructible and assignable that
// way; a construction that throws in an assignment leaves neither.
template <class A, class B, bool = std::is_trivially_copyable_v<A> && std::is_trivially_copyable_v<B>>
struct Storage : Union<A, B> {
  using Union<A, B>::Union;
};

template <class A, class B>
struct Storage<A, B, false> : Union<A, B> {
  using Union<A, B>::Union;

  Storage(const Storage& other) noexcept(std::is_nothrow_copy_constructible_v<A> &&
                                         std::is_nothrow_copy_constructible_v<B>)
    requires(std::is_copy_constructible_v<A> && std::is_copy_constructible_v<B>)
      : Union<A, B>(Unfilled{}) {
    if (other.which == 0) {
      emplace<0>(other.a);
    } else if (other.which == 1) {
      emplace<1>(other.b);
    }
  }

  Storage(Storage&& other) noexcept(std::is_nothrow_move_constructible_v<A> &&
                                    std::is_nothrow_move_constructible_v<B>)
    requires(std::is_move_constructible_v<A> && std::is_move_constructible_v<B>)
      : Union<A, B>(Unfilled{}) {
    if (other.which == 0) {
      emplace<0>(std::move(other.a));
    } else if (other.which == 1) {
      emplace<1>(std::move(other.b));
    }
  }

  Storage& operator=(const Storage& other)
    requires(std::is_copy_constructible_v<A> && std::is_copy_assignable_v<A> && std::is_copy_constructible_v<B> &&
             std::is_copy_assignable_v<B>)
  {
    if (other.which == none) {
      destroy();
    } else if (this->which == other.which) {
      if (other.which == 0) {
        this->a = other.a;
      } else {
        this->b = other.b;
      }
    } else if (other.which == 0) {
      replace_with_copy<0>(other.a);
    } else {
      replace_with_copy<1>(other.b);
    }
    return *this;
  }

  Storage& operator=(Storage&& other) noexcept(
      std::is_nothrow_move_constructible_v<A> && std::is_nothrow_move_assignable_v<A> &&
      std::is_nothrow_move_constructible_v<B> && std::is_nothrow_move_assignable_v<B>)
    requires(std::is_move_constructible_v<A> && std::is_move_assignable_v<A> && std::is_move_constructible_v<B> &&
             std::is_move_assignable_v<B>)
  {
    if (other.which == none) {
      destroy();
    } else if (this->which == other.which) {
      if (other.which == 0) {
        this->a = std::move(other.a);
      } else {
        this->b = std::move(other.b);
      }
    } else {
      destroy();
      if (other.which == 0) {
        emplace<0>(std::move(other.a));
      } else {
        emplace<1>(std::move(other.b));
      }
    }
    return *this;
  }

  ~Storage() = default;

 private:
  // Builds alternative I from `args`. Holds neither before, and after if
  // the construction throws.
  template <std::size_t I, class... Args>
  void emplace(Args&&... args) {
    if constexpr (I == 0) {
      ::new (static_cast<void*>(__builtin_addressof(this->a))) A(std::forward<Args>(args)...);
    } else {
      ::new (static_cast<void*>(__builtin_addressof(this->b))) B(std::forward<Args>(args)...);
    }
    this->which = static_cast<unsigned char>(I);
  }

  void destroy() noexcept {
    if (this->which == 0) {
      this->a.~A();
    } else if (this->which == 1) {
      this->b.~B();
    }
    this->which = none;
  }

  // A copy that cannot throw, or whose type cannot be moved without
  // throwing, is made in place; otherwise it is made first, so that a
  // throwing copy leaves the old value (std::variant's choice).
  template <std::size_t I, class V>
  void replace_with_copy(const V& value) {
    if constexpr (std::is_nothrow_copy_constructible_v<V> || !std::is_nothrow_move_constructible_v<V>) {
      destroy();
      emplace<I>(value);
    } else {
      V copy(value);
      destroy();
      emplace<I>(std::move(copy));
    }
  }
};

}  // namespace either

/// One A (index 0) or one B (index 1), or neither (valueless), as
/// std::variant<A, B>.
template <class A, class B>
class Either : either::Storage<A, B> {
 public:
  using either::Storage<A, B>::Storage;

  /// 0 for an A, 1 for a B; for neither, std::size_t(-1) (std::variant_npos).
  [[nodiscard]] constexpr std::size_t index() const noexcept {
    return this->which == either::none ? static_cast<std::size_t>(-1) : this->which;
  }
  [[nodiscard]] constexpr bool valueless_by_exception() const noexcept { return this->which == either::none; }

  /// A pointer to alternative I, or null when it is not the one held.
  template <std::size_t I>
  [[nodiscard]] constexpr auto* get_if() noexcept {
    static_assert(I < 2);
    if constexpr (I == 0) {
      return this->which == 0 ? __builtin_addressof(this->a) : nullptr;
    } else {
      return this->which == 1 ? __builtin_addressof(this->b) : nullptr;
    }
  }
  template <std::size_t I>
  [[nodiscard]] constexpr const auto* get_if() const noexcept {
    static_assert(I < 2);
    if constexpr (I == 0) {
      return this->which == 0 ? __builtin_addressof(this->a) : nullptr;
    } else {
      return this->which == 1 ? __builtin_addressof(this->b) : nullptr;
    }
  }
};

}  // namespace spindle::detail
