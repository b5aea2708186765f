// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::Result<T, E>: a value or an error, as Rust's Result; spindle::Panic:
/// what a thread died of.

#include <concepts>
#include <exception>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"
#include "spindle/detail/describe.hpp"
#include "spindle/detail/either.hpp"
#include "spindle/detail/invoke.hpp"

namespace spindle {

/// Thrown by Result's accessors (unwrap, expect, value, error, ...) when the
/// Result does not hold what was asked for. what() says what was called and
/// describes what the Result held instead.
class BadResultAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
template <class T>
struct OkValue {
  T value;
};
// What a Result<void, E> holds on its ok side: nothing, and all such are equal.
struct Unit {
  friend constexpr bool operator==(Unit, Unit) noexcept { return true; }
};
template <>
struct OkValue<void> {};
template <class E>
struct ErrValue {
  E error;
};
}  // namespace detail

/// Wraps a value for conversion into any Result whose T can hold it:
/// `return spindle::Ok(42);`
template <class T>
[[nodiscard]] constexpr detail::OkValue<std::decay_t<T>> Ok(T&& value) {
  return {std::forward<T>(value)};
}

/// The success of a Result<void, E>: `return spindle::Ok();`
[[nodiscard]] constexpr detail::OkValue<void> Ok() noexcept { return {}; }

/// Wraps an error for conversion into any Result whose E can hold it:
/// `return spindle::Err(RecvError{});`
template <class E>
[[nodiscard]] constexpr detail::ErrValue<std::decay_t<E>> Err(E&& error) {
  return {std::forward<E>(error)};
}

/// Tags for building a Result's value or error in place.
struct InPlaceOk {
  explicit InPlaceOk() = default;
};
struct InPlaceErr {
  explicit InPlaceErr() = default;
};
inline constexpr InPlaceOk in_place_ok{};
inline constexpr InPlaceErr in_place_err{};

template <class T, class E>
class Result;

namespace detail {
template <class R>
struct IsResult : std::false_type {};
template <class T, class E>
struct IsResult<Result<T, E>> : std::true_type {};

// A std::reference_wrapper (what std::ref makes), recognised by its shape,
// so that this header needs no <functional>: a `type` and a get() that
// returns a `type&`.
template <class W>
concept ReferenceWrapper = requires(const W& w) {
  typename W::type;
  { w.get() } -> std::same_as<typename W::type&>;
};
}  // namespace detail

/// Either a value of type T (ok) or an error of type E (err). T may be void,
/// or an lvalue reference `U&` (Rust's `Result<&mut U, E>`): the Result then
/// refers to an object that lives elsewhere, every access to the value
/// (`unwrap()`, `*r`, `value()`, on lvalues and rvalues alike) gives that
/// `U&` itself, copies refer to the same object, and `==` compares the
/// objects referred to. It is built with `Result<U&, E>(in_place_ok, object)`
/// or from `Ok(std::ref(object))`.
///
/// Accessing the side that is not there (unwrap() on an error, error() on a
/// value, ...) is a programming error and throws BadResultAccess, whose
/// what() describes what the Result held: an exception's what(), an error
/// code's message(), anything printable with operator<<, or the type's name.
///
/// Move-only T and E are supported; the Result is then move-only too.
template <class T, class E>
class [[nodiscard]] Result {
  static_assert(!std::is_rvalue_reference_v<T>, "Result<T&&, E> is not supported: use Result<T, E> or Result<T&, E>");
  static_assert(!std::is_reference_v<E>, "Result<T, E&> is not supported: the error is held by value");
  static_assert(!std::is_void_v<E>, "Result<T, void> has no error to hold: use std::optional<T>");

  static constexpr bool is_void = std::is_void_v<T>;
  static constexpr bool is_ref = std::is_lvalue_reference_v<T>;
  // The object a reference Result refers to, with its constness.
  using Referent = std::remove_reference_t<T>;
  // What the ok side stores: T; an empty placeholder when T is void; a
  // pointer to the object when T is a reference.
  using Stored = std::conditional_t<is_void, detail::Unit, std::conditional_t<is_ref, Referent*, T>>;
  // What == compares on the ok side: the object itself for a reference.
  using Compared = std::conditional_t<is_ref, Referent, Stored>;

 public:
  using value_type = T;
  using error_type = E;

  // --- construction ---------------------------------------------------------

  /// From spindle::Ok(value).
  template <class U>
    requires(!is_void && !is_ref && std::is_constructible_v<T, U &&>)
  constexpr explicit(!std::is_convertible_v<U&&, T>) Result(detail::OkValue<U>&& ok) : state_(std::in_place_index<0>, std::move(ok.value)) {}
  template <class U>
    requires(!is_void && !is_ref && std::is_constructible_v<T, const U&>)
  constexpr explicit(!std::is_convertible_v<const U&, T>) Result(const detail::OkValue<U>& ok) : state_(std::in_place_index<0>, ok.value) {}
  /// From spindle::Ok(std::ref(object)), for Result<T&, E>: refers to `object`.
  template <class W>
    requires(is_ref && detail::ReferenceWrapper<W> && std::is_convertible_v<typename W::type*, Stored>)
  // cppcheck-suppress noExplicitConstructor ; implicit on purpose: `return Ok(std::ref(x));` as `return Ok(v);`
  constexpr Result(detail::OkValue<W> ok) noexcept
      : state_(std::in_place_index<0>, detail::addressof(ok.value.get())) {}
  /// From spindle::Ok(), for Result<void, E>.
  constexpr Result(detail::OkValue<void> /*ok*/)
    requires is_void
      : state_(std::in_place_index<0>) {}

  /// From spindle::Err(error).
  template <class G>
    requires std::is_constructible_v<E, G &&>
  constexpr explicit(!std::is_convertible_v<G&&, E>) Result(detail::ErrValue<G>&& err) : state_(std::in_place_index<1>, std::move(err.error)) {}
  template <class G>
    requires std::is_constructible_v<E, const G&>
  constexpr explicit(!std::is_convertible_v<const G&, E>) Result(const detail::ErrValue<G>& err) : state_(std::in_place_index<1>, err.error) {}

  /// Builds the value in place from `args`.
  template <class... Args>
    requires(!is_ref && std::is_constructible_v<Stored, Args && ...>)
  constexpr explicit Result(InPlaceOk /*tag*/, Args&&... args)
      : state_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  /// For Result<T&, E>: refers to `object` (an lvalue; a temporary would
  /// be gone before the Result is used).
  template <class U>
    requires(is_ref && std::is_convertible_v<U*, Stored>)
  constexpr explicit Result(InPlaceOk /*tag*/, U& object) noexcept
      : state_(std::in_place_index<0>, detail::addressof(object)) {}

  /// Builds the error in place from `args`.
  template <class... Args>
    requires std::is_constructible_v<E, Args&&...>
  constexpr explicit Result(InPlaceErr /*tag*/, Args&&... args)
      : state_(std::in_place_index<1>, std::forward<Args>(args)...) {}

  // --- observers ------------------------------------------------------------

  /// True when the Result holds a value.
  [[nodiscard]] constexpr bool is_ok() const noexcept { return state_.index() == 0; }
  /// True when the Result holds an error.
  [[nodiscard]] constexpr bool is_err() const noexcept { return state_.index() == 1; }
  /// True when the Result holds a value.
  constexpr explicit operator bool() const noexcept { return is_ok(); }

  // --- the value ------------------------------------------------------------

  /// The value; throws BadResultAccess on an error. A reference of the
  /// Result's own value category (for Result<T&, E>: the T& itself).
  constexpr decltype(auto) value() &
    requires(!is_void)
  {
    return access(*this, "value()");
  }
  constexpr decltype(auto) value() const&
    requires(!is_void)
  {
    return access(*this, "value()");
  }
  constexpr decltype(auto) value() &&
    requires(!is_void)
  {
    return access(std::move(*this), "value()");
  }
  constexpr decltype(auto) value() const&&
    requires(!is_void)
  {
    return access(std::move(*this), "value()");
  }
  /// For Result<void, E>: returns if ok, throws BadResultAccess on an error.
  constexpr void value() const&
    requires is_void
  {
    ok_or_throw("value()");
  }

  /// The value, as value(); throws BadResultAccess on an error.
  constexpr decltype(auto) operator*() &
    requires(!is_void)
  {
    return access(*this, "operator*");
  }
  constexpr decltype(auto) operator*() const&
    requires(!is_void)
  {
    return access(*this, "operator*");
  }
  constexpr decltype(auto) operator*() &&
    requires(!is_void)
  {
    return access(std::move(*this), "operator*");
  }
  constexpr decltype(auto) operator*() const&&
    requires(!is_void)
  {
    return access(std::move(*this), "operator*");
  }
  /// A pointer to the value; throws BadResultAccess on an error.
  constexpr auto* operator->()
    requires(!is_void)
  {
    return detail::addressof(access(*this, "operator->"));
  }
  constexpr auto* operator->() const
    requires(!is_void)
  {
    return detail::addressof(access(*this, "operator->"));
  }

  /// The value (a reference to it on an lvalue; moved out of an rvalue; the
  /// T& itself for Result<T&, E>). On an error throws BadResultAccess:
  /// "called unwrap() on an error: <the error>".
  constexpr decltype(auto) unwrap() & { return take(*this, "called unwrap() on an error"); }
  constexpr decltype(auto) unwrap() const& { return take(*this, "called unwrap() on an error"); }
  constexpr decltype(auto) unwrap() && { return take(std::move(*this), "called unwrap() on an error"); }

  /// As unwrap(), but the message of the BadResultAccess is "<msg>: <the error>".
  constexpr decltype(auto) expect(std::string_view msg) & { return take(*this, msg); }
  constexpr decltype(auto) expect(std::string_view msg) const& { return take(*this, msg); }
  constexpr decltype(auto) expect(std::string_view msg) && { return take(std::move(*this), msg); }

  /// The value, or `fallback` on an error.
  template <class U = Stored>
    requires(!is_void && !is_ref && std::is_convertible_v<U &&, T>)
  constexpr T unwrap_or(U&& fallback) const& {
    return is_ok() ? *state_.template get_if<0>() : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U = Stored>
    requires(!is_void && !is_ref && std::is_convertible_v<U &&, T>)
  constexpr T unwrap_or(U&& fallback) && {
    return is_ok() ? std::move(*state_.template get_if<0>()) : static_cast<T>(std::forward<U>(fallback));
  }
  /// For Result<T&, E>: the object referred to, or `fallback` (an lvalue,
  /// never a temporary) on an error.
  template <class U>
    requires(is_ref && std::is_convertible_v<U*, Stored>)
  constexpr T unwrap_or(U& fallback) const& noexcept {
    return is_ok() ? **state_.template get_if<0>() : fallback;
  }

  /// The value, or `f(error)` on an error. For Result<T&, E>, f must return
  /// an lvalue reference.
  template <class F>
    requires(!is_void && std::is_invocable_v<F &&, const E&> &&
             (!is_ref || std::is_lvalue_reference_v<std::invoke_result_t<F &&, const E&>>))
  constexpr T unwrap_or_else(F&& f) const& {
    check_not_empty();
    if (is_ok()) {
      return access(*this, "unwrap_or_else()");
    }
    return static_cast<T>(detail::invoke(std::forward<F>(f), *state_.template get_if<1>()));
  }
  template <class F>
    requires(!is_void && std::is_invocable_v<F &&, E &&> &&
             (!is_ref || std::is_lvalue_reference_v<std::invoke_result_t<F &&, E &&>>))
  constexpr T unwrap_or_else(F&& f) && {
    check_not_empty();
    if (is_ok()) {
      return access(std::move(*this), "unwrap_or_else()");
    }
    return static_cast<T>(detail::invoke(std::forward<F>(f), std::move(*state_.template get_if<1>())));
  }

  // --- the error ------------------------------------------------------------

  /// The error; throws BadResultAccess when the Result holds a value.
  constexpr E& error() & { return err_or_throw("error()"); }
  constexpr const E& error() const& { return err_or_throw("error()"); }
  constexpr E&& error() && { return std::move(err_or_throw("error()")); }
  constexpr const E&& error() const&& { return std::move(err_or_throw("error()")); }

  /// The error (moved out of an rvalue); on a value throws BadResultAccess:
  /// "called unwrap_err() on a value: <the value>".
  constexpr E& unwrap_err() & { return err_or_throw("unwrap_err()"); }
  constexpr const E& unwrap_err() const& { return err_or_throw("unwrap_err()"); }
  constexpr E unwrap_err() && { return std::move(err_or_throw("unwrap_err()")); }

  // --- conversions ----------------------------------------------------------

  /// The value as an optional (empty on an error).
  [[nodiscard]] constexpr std::optional<T> ok() const&
    requires(!is_void && !is_ref)
  {
    return is_ok() ? std::optional<T>(*state_.template get_if<0>()) : std::nullopt;
  }
  [[nodiscard]] constexpr std::optional<T> ok() &&
    requires(!is_void && !is_ref)
  {
    return is_ok() ? std::optional<T>(std::move(*state_.template get_if<0>())) : std::nullopt;
  }
  /// For Result<T&, E>: a pointer to the object referred to (null on an
  /// error), C++'s optional reference.
  [[nodiscard]] constexpr Referent* ok() const& noexcept
    requires is_ref
  {
    const Stored* object = state_.template get_if<0>();
    return object != nullptr ? *object : nullptr;
  }
  /// The error as an optional (empty on a value).
  [[nodiscard]] constexpr std::optional<E> err() const& {
    return is_err() ? std::optional<E>(*state_.template get_if<1>()) : std::nullopt;
  }
  [[nodiscard]] constexpr std::optional<E> err() && {
    return is_err() ? std::optional<E>(std::move(*state_.template get_if<1>())) : std::nullopt;
  }

  /// Result<U, E> holding f(value) (f() for void T), or the same error. U
  /// is what f returns, as a value; for Result<T&, E> an lvalue reference
  /// that f returns stays a reference (the object f got outlives the Result).
  template <class F>
  constexpr auto map(F&& f) && {
    using Returned = decltype(call_on_value(std::forward<F>(f), std::move(*this)));
    using U =
        std::conditional_t<is_ref && std::is_lvalue_reference_v<Returned>, Returned, std::remove_cvref_t<Returned>>;
    check_not_empty();
    if (!is_ok()) {
      return Result<U, E>(in_place_err, std::move(*state_.template get_if<1>()));
    }
    if constexpr (std::is_void_v<U>) {
      call_on_value(std::forward<F>(f), std::move(*this));
      return Result<U, E>(in_place_ok);
    } else {
      return Result<U, E>(in_place_ok, call_on_value(std::forward<F>(f), std::move(*this)));
    }
  }

  /// Result<T, G> holding the same value, or f(error).
  template <class F>
  constexpr auto map_err(F&& f) && {
    using G = std::remove_cvref_t<std::invoke_result_t<F&&, E&&>>;
    check_not_empty();
    if (is_ok()) {
      if constexpr (is_void) {
        return Result<T, G>(in_place_ok);
      } else if constexpr (is_ref) {
        return Result<T, G>(in_place_ok, **state_.template get_if<0>());
      } else {
        return Result<T, G>(in_place_ok, std::move(*state_.template get_if<0>()));
      }
    }
    return Result<T, G>(in_place_err, detail::invoke(std::forward<F>(f), std::move(*state_.template get_if<1>())));
  }

  /// f(value) (f() for void T), which must return a Result<U, E>, or the same error.
  template <class F>
  constexpr auto and_then(F&& f) && {
    using R = std::remove_cvref_t<decltype(call_on_value(std::forward<F>(f), std::move(*this)))>;
    static_assert(detail::IsResult<R>::value && std::is_same_v<typename R::error_type, E>,
                  "and_then: the function must return a Result with the same error type");
    check_not_empty();
    if (!is_ok()) {
      return R(in_place_err, std::move(*state_.template get_if<1>()));
    }
    return call_on_value(std::forward<F>(f), std::move(*this));
  }

  /// Equal when both hold equal values or both hold equal errors (for
  /// Result<T&, E>: refer to equal objects, as Rust compares references).
  friend constexpr bool operator==(const Result& a, const Result& b)
    requires requires(const Compared& x, const Compared& y, const E& e, const E& f) {
      { x == y } -> std::convertible_to<bool>;
      { e == f } -> std::convertible_to<bool>;
    }
  {
    if constexpr (is_ref) {
      if (a.is_ok() && b.is_ok()) {
        return static_cast<bool>(**a.state_.template get_if<0>() == **b.state_.template get_if<0>());
      }
    }
    if (a.state_.index() != b.state_.index()) {
      return false;
    }
    if (const Stored* x = a.state_.template get_if<0>()) {
      return static_cast<bool>(*x == *b.state_.template get_if<0>());
    }
    if (const E* e = a.state_.template get_if<1>()) {
      return static_cast<bool>(*e == *b.state_.template get_if<1>());
    }
    return true;  // both left empty by an exception
  }

 private:
  template <class F>
  static constexpr decltype(auto) call_on_value(F&& f, Result&& self) {
    if constexpr (is_void) {
      return detail::invoke(std::forward<F>(f));
    } else if constexpr (is_ref) {
      return detail::invoke(std::forward<F>(f), **self.state_.template get_if<0>());
    } else {
      return detail::invoke(std::forward<F>(f), std::move(*self.state_.template get_if<0>()));
    }
  }

  // What the Result holds, for a BadResultAccess message.
  [[nodiscard]] std::string describe_err() const {
    if (const E* e = state_.template get_if<1>()) {
      return detail::describe(*e);
    }
    return "(a Result left empty by an exception)";
  }
  [[nodiscard]] std::string describe_ok() const {
    if constexpr (is_void) {
      return "()";
    } else {
      if (const Stored* v = state_.template get_if<0>()) {
        if constexpr (is_ref) {
          return detail::describe(std::as_const(**v));
        } else {
          return detail::describe(*v);
        }
      }
      return "(a Result left empty by an exception)";
    }
  }

  // A Result left empty by a throwing assignment holds neither side.
  constexpr void check_not_empty() const {
    if (state_.valueless_by_exception()) {
      throw BadResultAccess("(a Result left empty by an exception) cannot be used");
    }
  }

  [[noreturn]] void throw_not_ok(std::string_view msg) const {
    throw BadResultAccess(std::string(msg) + ": " + describe_err());
  }

  constexpr Stored& ok_or_throw(std::string_view what_called) {
    return const_cast<Stored&>(std::as_const(*this).ok_or_throw(what_called));
  }
  constexpr const Stored& ok_or_throw(std::string_view what_called) const {
    if (const Stored* v = state_.template get_if<0>()) {
      return *v;
    }
    throw_not_ok("called " + std::string(what_called) + " on an error");
  }

  // value()'s, operator*'s and operator->'s common body: a reference to the
  // value with the value category of `self`; the T& for a reference.
  template <class Self>
  static constexpr decltype(auto) access(Self&& self, std::string_view what_called) {
    if constexpr (is_ref) {
      return *self.ok_or_throw(what_called);
    } else if constexpr (std::is_lvalue_reference_v<Self>) {
      return self.ok_or_throw(what_called);
    } else {
      // cppcheck-suppress returnStdMoveLocal ; false positive (cppcheck 2.10): this returns a reference
      return std::move(self.ok_or_throw(what_called));
    }
  }

  // unwrap()'s and expect()'s common body: a reference to the value of an
  // lvalue, the value moved out of an rvalue, the T& for a reference,
  // nothing for void T.
  template <class Self>
  static constexpr decltype(auto) take(Self&& self, std::string_view msg) {
    auto* value = self.state_.template get_if<0>();
    if (value == nullptr) {
      self.throw_not_ok(msg);
    }
    if constexpr (is_void) {
      return;
    } else if constexpr (is_ref) {
      return **value;
    } else if constexpr (std::is_lvalue_reference_v<Self>) {
      return *value;
    } else {
      return Stored(std::move(*value));
    }
  }

  constexpr E& err_or_throw(std::string_view what_called) {
    return const_cast<E&>(std::as_const(*this).err_or_throw(what_called));
  }
  constexpr const E& err_or_throw(std::string_view what_called) const {
    if (const E* e = state_.template get_if<1>()) {
      return *e;
    }
    throw BadResultAccess("called " + std::string(what_called) + " on a value: " + describe_ok());
  }

  detail::Either<Stored, E> state_;
};

namespace detail {
struct Drop {
  template <class T>
  void operator()(T&& value) const noexcept(std::is_nothrow_move_constructible_v<std::remove_cvref_t<T>>) {
    static_assert(!std::is_lvalue_reference_v<T>,
                  "spindle::drop(x) takes over what x holds and destroys it: pass an rvalue, "
                  "spindle::drop(std::move(x))");
    static_assert(!std::is_const_v<std::remove_reference_t<T>>,
                  "spindle::drop: a const object cannot be moved from, so what it holds would not be destroyed");
    static_assert(std::is_move_constructible_v<std::remove_cvref_t<T>>,
                  "spindle::drop: this type cannot be moved from; let it go out of scope instead");
    if constexpr (!std::is_lvalue_reference_v<T> && !std::is_const_v<std::remove_reference_t<T>>) {
      [[maybe_unused]] const std::remove_cvref_t<T> dropped(std::forward<T>(value));
    }
  }
};
}  // namespace detail

/// spindle::drop(value) destroys what `value` holds now, as Rust's `drop`:
/// it moves it into a local that is destroyed before drop returns.
/// `spindle::drop(std::move(tx))` disconnects a sender (if it was the
/// last), `spindle::drop(std::move(guard))` unlocks; `value` is left
/// moved-from (empty), and its own destructor later does nothing more.
///
/// Takes an rvalue only: `spindle::drop(x)` does not compile (a
/// static_assert says so), since C++ cannot move out of `x` behind its
/// owner's back; write `spindle::drop(std::move(x))`. A type whose move is
/// a copy keeps its value, as Rust's drop of a Copy type changes nothing.
/// A function object, not a function: argument-dependent lookup never
/// brings it into a call of some other `drop`.
inline constexpr detail::Drop drop{};

/// What a thread died of: the exception that escaped its function.
///
/// Holds the std::exception_ptr. what() is the message of a std::exception,
/// and a fixed description for anything else that was thrown. is<E>() and
/// get_if<E>() look inside without the caller rethrowing (Rust's
/// downcast_ref).
class Panic {
 public:
  /// The description what() gives for a thrown value that is not a std::exception.
  static constexpr std::string_view non_standard_description = "a value that is not a std::exception was thrown";

  /// Wraps a caught exception. Throws std::invalid_argument for a null pointer.
  explicit Panic(std::exception_ptr exception)
      : exception_(not_null(std::move(exception))), message_(message_of(exception_)) {}

  // Copies share the exception and the message; there is no separate move,
  // so no Panic is ever left without an exception.
  Panic(const Panic&) noexcept = default;
  Panic& operator=(const Panic&) noexcept = default;
  ~Panic() = default;

  /// The exception being handled now; call inside a catch block.
  [[nodiscard]] static Panic current() { return Panic(std::current_exception()); }

  /// The std::exception's message, or non_standard_description.
  [[nodiscard]] const char* what() const noexcept { return message_.what(); }

  /// Throws the original exception again.
  [[noreturn]] void rethrow() const { std::rethrow_exception(exception_); }

  /// The original exception.
  [[nodiscard]] std::exception_ptr exception() const noexcept { return exception_; }

  /// The exception as an E, or null when `catch (const E&)` would not catch
  /// it (an E's public base class, such as std::exception, catches it too).
  /// The pointer stays valid while this Panic, a copy of it, or another
  /// exception_ptr to the same exception lives.
  ///
  /// Cost: a throw and a catch. The exception is rethrown inside this
  /// function, the only portable way to ask an exception_ptr what it holds:
  /// about a microsecond, and one small allocation by the C++ runtime,
  /// whatever the answer. Keep the pointer rather than asking in a hot loop.
  template <class E>
    requires(!std::is_reference_v<E> && !std::is_void_v<E>)
  [[nodiscard]] const E* get_if() const noexcept {
    try {
      std::rethrow_exception(exception_);
    } catch (const E& e) {
      return detail::addressof(e);
    } catch (...) {
      return nullptr;
    }
  }

  /// True when the exception is an E (as get_if<E>() != nullptr, at the same cost).
  template <class E>
    requires(!std::is_reference_v<E> && !std::is_void_v<E>)
  [[nodiscard]] bool is() const noexcept {
    return get_if<E>() != nullptr;
  }

  friend std::ostream& operator<<(std::ostream& os, const Panic& panic) { return os << panic.what(); }

 private:
  static std::exception_ptr not_null(std::exception_ptr exception) {
    if (!exception) {
      throw std::invalid_argument("spindle::Panic needs an exception, not a null std::exception_ptr");
    }
    return exception;
  }

  // The message, kept in a std::runtime_error: a string whose copies share
  // it and never throw, without std::shared_ptr.
  static std::runtime_error message_of(const std::exception_ptr& exception) {
    try {
      std::rethrow_exception(exception);
    } catch (const std::exception& e) {
      return std::runtime_error(e.what());
    } catch (...) {
      return std::runtime_error(std::string(non_standard_description));
    }
  }

  std::exception_ptr exception_;
  std::runtime_error message_;
};

}  // namespace spindle
