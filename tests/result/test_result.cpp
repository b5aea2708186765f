// SPDX-License-Identifier: MIT
#include "support/catch.hpp"

#include <spindle/result.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace {

using spindle::BadResultAccess;
using spindle::Err;
using spindle::in_place_err;
using spindle::in_place_ok;
using spindle::Ok;
using spindle::Result;

// --- helpers ----------------------------------------------------------------

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Runs `f`, which must throw BadResultAccess, and returns its what(). Any other
// exception escapes and fails the test; no exception gives a text no check
// looks for.
template <class F>
std::string bad_access_message(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const BadResultAccess& e) {
    return e.what();
  }
  return "<no BadResultAccess was thrown>";
}

// --- types with each kind of description --------------------------------------

// An error deriving from std::exception: described by what().
struct DiskFull : std::runtime_error {
  DiskFull() : std::runtime_error("the disk is full") {}
};

// A printable error: described by its operator<<.
struct Coord {
  int x;
  int y;
  friend bool operator==(const Coord&, const Coord&) = default;
};
std::ostream& operator<<(std::ostream& os, const Coord& c) { return os << "Coord at (" << c.x << ", " << c.y << ")"; }

// An enum class without operator<<: described by its type name and number.
enum class Color { red = 1, green = 7 };

// An enum class with operator<<: the operator wins over the number.
enum class Level { low, high };
std::ostream& operator<<(std::ostream& os, Level level) {
  return os << (level == Level::high ? "level-high" : "level-low");
}

// Nothing to describe it by but its type name.
struct OpaqueFailure {
  int code;
};

// A move-only error with a what() that does not derive from std::exception.
struct MoveOnlyError {
  std::unique_ptr<std::string> text;
  [[nodiscard]] const char* what() const { return text->c_str(); }
};

// Records how it was copied and moved.
struct Tracked {
  explicit Tracked(int v) : value(v) {}
  Tracked(const Tracked& other) : value(other.value), copies(other.copies + 1), moves(other.moves) {}
  Tracked(Tracked&& other) noexcept : value(other.value), copies(other.copies), moves(other.moves + 1) {
    other.moved_from = true;
  }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) = default;

  int value;
  int copies = 0;
  int moves = 0;
  bool moved_from = false;
};

// Has no default constructor.
struct NoDefault {
  NoDefault() = delete;
  explicit NoDefault(int v) : value(v) {}
  int value;
};

// A value whose move constructor throws on demand, to leave a Result valueless.
struct ThrowsOnMove {
  explicit ThrowsOnMove(int v) : value(v) {}
  ThrowsOnMove(const ThrowsOnMove&) = default;
  ThrowsOnMove(ThrowsOnMove&& other) : value(other.value) {
    if (armed) {
      throw std::runtime_error("move failed");
    }
  }
  ThrowsOnMove& operator=(const ThrowsOnMove&) = default;
  ThrowsOnMove& operator=(ThrowsOnMove&&) = default;

  static inline bool armed = false;
  int value;
};

// Arms ThrowsOnMove for its lifetime.
struct ArmThrowsOnMove {
  ArmThrowsOnMove() { ThrowsOnMove::armed = true; }
  ~ArmThrowsOnMove() { ThrowsOnMove::armed = false; }
  ArmThrowsOnMove(const ArmThrowsOnMove&) = delete;
  ArmThrowsOnMove& operator=(const ArmThrowsOnMove&) = delete;
};

struct Point {
  int x;
  int y;
};

}  // namespace

// ===========================================================================
// Compile-time properties
// ===========================================================================

TEST_CASE("result types expose their value and error types", "[result][static]") {
  STATIC_REQUIRE(std::is_same_v<Result<int, std::string>::value_type, int>);
  STATIC_REQUIRE(std::is_same_v<Result<int, std::string>::error_type, std::string>);
  STATIC_REQUIRE(std::is_same_v<Result<void, int>::value_type, void>);
  STATIC_REQUIRE(std::is_same_v<Result<void, int>::error_type, int>);
}

TEST_CASE("a result converts to bool only explicitly", "[result][static]") {
  STATIC_REQUIRE(std::is_constructible_v<bool, Result<int, int>>);
  STATIC_REQUIRE(!std::is_convertible_v<Result<int, int>, bool>);
  STATIC_REQUIRE(std::is_constructible_v<bool, Result<void, int>>);
  STATIC_REQUIRE(!std::is_convertible_v<Result<void, int>, bool>);
}

TEST_CASE("a result is copyable when its sides are and move-only otherwise", "[result][static]") {
  STATIC_REQUIRE(std::is_copy_constructible_v<Result<int, int>>);
  STATIC_REQUIRE(std::is_copy_assignable_v<Result<int, int>>);
  STATIC_REQUIRE(std::is_copy_constructible_v<Result<void, std::string>>);

  STATIC_REQUIRE(!std::is_copy_constructible_v<Result<std::unique_ptr<int>, int>>);
  STATIC_REQUIRE(!std::is_copy_assignable_v<Result<std::unique_ptr<int>, int>>);
  STATIC_REQUIRE(std::is_move_constructible_v<Result<std::unique_ptr<int>, int>>);
  STATIC_REQUIRE(std::is_move_assignable_v<Result<std::unique_ptr<int>, int>>);

  STATIC_REQUIRE(!std::is_copy_constructible_v<Result<int, std::unique_ptr<int>>>);
  STATIC_REQUIRE(std::is_move_constructible_v<Result<int, std::unique_ptr<int>>>);
  STATIC_REQUIRE(!std::is_copy_constructible_v<Result<void, std::unique_ptr<int>>>);
  STATIC_REQUIRE(std::is_move_constructible_v<Result<void, std::unique_ptr<int>>>);
}

TEMPLATE_TEST_CASE("Result<T, E> copies exactly as its T and E do", "[result][static]", int, std::string,
                   std::unique_ptr<int>, NoDefault) {
  STATIC_REQUIRE(std::is_copy_constructible_v<Result<TestType, int>> == std::is_copy_constructible_v<TestType>);
  STATIC_REQUIRE(std::is_copy_constructible_v<Result<int, TestType>> == std::is_copy_constructible_v<TestType>);
  STATIC_REQUIRE(std::is_move_constructible_v<Result<TestType, int>>);
  STATIC_REQUIRE(std::is_move_constructible_v<Result<int, TestType>>);
}

TEST_CASE("a result is built only through Ok, Err or the in-place tags", "[result][static]") {
  // A bare value could be either side of a Result<int, int>.
  STATIC_REQUIRE(!std::is_constructible_v<Result<int, int>, int>);
  STATIC_REQUIRE(!std::is_convertible_v<int, Result<int, int>>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(Ok(1)), Result<int, int>>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(Err(1)), Result<int, int>>);
  // Ok() is for Result<void, E> only, and Ok(v) not for it.
  STATIC_REQUIRE(std::is_convertible_v<decltype(Ok()), Result<void, int>>);
  STATIC_REQUIRE(!std::is_constructible_v<Result<int, int>, decltype(Ok())>);
  STATIC_REQUIRE(!std::is_constructible_v<Result<void, int>, decltype(Ok(1))>);
  // The in-place constructors are explicit.
  STATIC_REQUIRE(std::is_constructible_v<Result<int, int>, spindle::InPlaceOk, int>);
  STATIC_REQUIRE(!std::is_convertible_v<spindle::InPlaceOk, Result<void, int>>);
  // Ok and Err convert to any Result whose side can hold them.
  STATIC_REQUIRE(std::is_convertible_v<decltype(Ok("text")), Result<std::string, int>>);
  STATIC_REQUIRE(!std::is_convertible_v<decltype(Ok("text")), Result<int, int>>);
  STATIC_REQUIRE(!std::is_convertible_v<decltype(Err("text")), Result<int, int>>);
}

TEST_CASE("accessors return references of the matching value category", "[result][static]") {
  using R = Result<int, std::string>;
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().unwrap()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().unwrap()), const int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().unwrap()), int>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().expect("m")), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().expect("m")), const int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().expect("m")), int>);

  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().value()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().value()), const int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().value()), int&&>);
  STATIC_REQUIRE(std::is_same_v<decltype(*std::declval<R&>()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(*std::declval<const R&>()), const int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(*std::declval<R&&>()), int&&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().operator->()), int*>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().operator->()), const int*>);

  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().error()), std::string&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().error()), const std::string&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().error()), std::string&&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().unwrap_err()), std::string&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().unwrap_err()), const std::string&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().unwrap_err()), std::string>);

  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().unwrap_or(0)), int>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().ok()), std::optional<int>>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().err()), std::optional<std::string>>);

  using V = Result<void, std::string>;
  STATIC_REQUIRE(std::is_void_v<decltype(std::declval<V&>().unwrap())>);
  STATIC_REQUIRE(std::is_void_v<decltype(std::declval<V&&>().unwrap())>);
  STATIC_REQUIRE(std::is_void_v<decltype(std::declval<const V&>().expect("m"))>);
  STATIC_REQUIRE(std::is_void_v<decltype(std::declval<V&>().value())>);
}

TEST_CASE("the observers are noexcept", "[result][static]") {
  const Result<int, std::string> r = Ok(1);
  STATIC_REQUIRE(noexcept(r.is_ok()));
  STATIC_REQUIRE(noexcept(r.is_err()));
  STATIC_REQUIRE(noexcept(static_cast<bool>(r)));
  CHECK(r.is_ok());
}

TEST_CASE("results compare only when both sides are comparable", "[result][static]") {
  STATIC_REQUIRE(std::equality_comparable<Result<int, int>>);
  STATIC_REQUIRE(std::equality_comparable<Result<void, std::string>>);
  STATIC_REQUIRE(!std::equality_comparable<Result<OpaqueFailure, int>>);
  STATIC_REQUIRE(!std::equality_comparable<Result<int, OpaqueFailure>>);
}

TEST_CASE("a result works in constant expressions", "[result][static]") {
  constexpr Result<int, int> ok = Ok(3);
  constexpr Result<int, int> err = Err(4);
  STATIC_REQUIRE(ok.is_ok());
  STATIC_REQUIRE(!ok.is_err());
  STATIC_REQUIRE(static_cast<bool>(ok));
  STATIC_REQUIRE(ok.unwrap() == 3);
  STATIC_REQUIRE(*ok == 3);
  STATIC_REQUIRE(err.is_err());
  STATIC_REQUIRE(err.error() == 4);
  STATIC_REQUIRE(err.unwrap_or(9) == 9);
  STATIC_REQUIRE(ok != err);
  STATIC_REQUIRE(Result<int, int>(Ok(5)).map([](int x) { return x * 2; }).unwrap() == 10);
}

// ===========================================================================
// Construction and observers
// ===========================================================================

TEST_CASE("Ok builds a result holding a value", "[result]") {
  Result<int, std::string> r = Ok(42);
  CHECK(r.is_ok());
  CHECK(!r.is_err());
  CHECK(static_cast<bool>(r));
  CHECK(*r == 42);
  CHECK(r.value() == 42);
  CHECK(r.unwrap() == 42);

  SECTION("from an lvalue Ok, which is copied") {
    const auto ok = Ok(std::string("copied"));
    Result<std::string, int> s = ok;
    REQUIRE(s.is_ok());
    CHECK(*s == "copied");
    CHECK(ok.value == "copied");
  }
  SECTION("converting the value to the result's type") {
    Result<std::string, int> s = Ok("converted");
    REQUIRE(s.is_ok());
    CHECK(*s == "converted");
    Result<long long, int> wide = Ok(7);
    CHECK(*wide == 7LL);
  }
}

TEST_CASE("Err builds a result holding an error", "[result]") {
  Result<int, std::string> r = Err(std::string("broken"));
  CHECK(r.is_err());
  CHECK(!r.is_ok());
  CHECK(!r);
  CHECK(r.error() == "broken");
  CHECK(r.unwrap_err() == "broken");

  SECTION("from an lvalue Err, which is copied") {
    const auto err = Err(std::string("copied"));
    Result<int, std::string> e = err;
    REQUIRE(e.is_err());
    CHECK(e.error() == "copied");
    CHECK(err.error == "copied");
  }
  SECTION("converting the error to the result's type") {
    Result<int, std::string> e = Err("converted");
    REQUIRE(e.is_err());
    CHECK(e.error() == "converted");
  }
}

TEST_CASE("in_place_ok and in_place_err build either side from arguments", "[result]") {
  Result<std::string, std::string> ok(in_place_ok, 3, 'a');
  REQUIRE(ok.is_ok());
  CHECK(*ok == "aaa");

  Result<std::string, std::string> err(in_place_err, 2, 'z');
  REQUIRE(err.is_err());
  CHECK(err.error() == "zz");

  Result<Point, int> point(in_place_ok, Point{1, 2});
  CHECK(point->x == 1);
  CHECK(point->y == 2);

  Result<void, int> nothing(in_place_ok);
  CHECK(nothing.is_ok());
  Result<void, std::string> failed(in_place_err, "no");
  REQUIRE(failed.is_err());
  CHECK(failed.error() == "no");
}

TEST_CASE("Result<int, int> keeps the value and the error apart", "[result]") {
  Result<int, int> ok = Ok(5);
  Result<int, int> err = Err(5);

  CHECK(ok.is_ok());
  CHECK(!ok.is_err());
  CHECK(err.is_err());
  CHECK(!err.is_ok());

  CHECK(ok.unwrap() == 5);
  CHECK(err.unwrap_err() == 5);
  CHECK(ok.ok() == std::optional<int>(5));
  CHECK(ok.err() == std::nullopt);
  CHECK(err.ok() == std::nullopt);
  CHECK(err.err() == std::optional<int>(5));
  CHECK(ok != err);

  REQUIRE_THROWS_AS(ok.error(), BadResultAccess);
  REQUIRE_THROWS_AS(err.value(), BadResultAccess);
  REQUIRE_THROWS_AS(err.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(ok.unwrap_err(), BadResultAccess);

  SECTION("also when built in place") {
    Result<int, int> in_ok(in_place_ok, 8);
    Result<int, int> in_err(in_place_err, 8);
    CHECK(in_ok.is_ok());
    CHECK(in_err.is_err());
    CHECK(in_ok == Result<int, int>(Ok(8)));
    CHECK(in_err == Result<int, int>(Err(8)));
  }
  SECTION("also for string on both sides") {
    Result<std::string, std::string> s_ok = Ok(std::string("same"));
    Result<std::string, std::string> s_err = Err(std::string("same"));
    CHECK(s_ok.is_ok());
    CHECK(s_err.is_err());
    CHECK(s_ok != s_err);
  }
}

TEST_CASE("observers work on const lvalues and rvalues", "[result]") {
  const Result<int, std::string> ok = Ok(1);
  const Result<int, std::string> err = Err(std::string("e"));
  CHECK(ok.is_ok());
  CHECK(static_cast<bool>(ok));
  CHECK(err.is_err());
  CHECK(!err);
  CHECK(Result<int, std::string>(Ok(1)).is_ok());
  CHECK(Result<int, std::string>(Err(std::string("e"))).is_err());
  CHECK(!Result<int, std::string>(Err(std::string("e"))));
}

TEST_CASE("a non-default-constructible value or error can be held", "[result]") {
  STATIC_REQUIRE(!std::is_default_constructible_v<NoDefault>);

  Result<NoDefault, std::string> ok = Ok(NoDefault(3));
  REQUIRE(ok.is_ok());
  CHECK(ok->value == 3);
  CHECK(ok.unwrap().value == 3);
  CHECK(ok.unwrap_or(NoDefault(9)).value == 3);

  Result<NoDefault, std::string> in_place(in_place_ok, 4);
  CHECK(in_place.value().value == 4);

  Result<NoDefault, std::string> err = Err(std::string("none"));
  CHECK(err.unwrap_or(NoDefault(9)).value == 9);
  CHECK(err.unwrap_or_else([](const std::string& e) { return NoDefault(static_cast<int>(e.size())); }).value == 4);
  REQUIRE_THROWS_AS(err.unwrap(), BadResultAccess);

  Result<int, NoDefault> bad = Err(NoDefault(11));
  CHECK(bad.error().value == 11);
}

TEST_CASE("a result can be reassigned from Ok and Err", "[result]") {
  Result<std::string, int> r = Ok(std::string("first"));
  r = Err(3);
  REQUIRE(r.is_err());
  CHECK(r.error() == 3);
  r = Ok(std::string("second"));
  REQUIRE(r.is_ok());
  CHECK(*r == "second");

  Result<std::string, int> copy = r;
  CHECK(copy == r);
  *copy = "changed";
  CHECK(*r == "second");
}

// ===========================================================================
// The value
// ===========================================================================

TEST_CASE("operator* and operator-> give the value", "[result]") {
  Result<Point, int> r = Ok(Point{3, 4});
  CHECK((*r).x == 3);
  CHECK(r->y == 4);
  r->x = 10;
  CHECK((*r).x == 10);
  (*r).y = 20;
  CHECK(r->y == 20);
  CHECK(&*r == r.operator->());

  const Result<Point, int>& cr = r;
  CHECK(cr->x == 10);
  CHECK((*cr).y == 20);
  CHECK(&*cr == &*r);
  CHECK(cr.operator->() == r.operator->());

  CHECK((*Result<Point, int>(Ok(Point{5, 6}))).x == 5);
  CHECK(Result<Point, int>(Ok(Point{5, 6}))->y == 6);
}

TEST_CASE("value() gives the value on lvalues, const lvalues and rvalues", "[result]") {
  Result<std::string, int> r = Ok(std::string("v"));
  CHECK(r.value() == "v");
  r.value() += "w";
  CHECK(*r == "vw");
  CHECK(&r.value() == &*r);

  const Result<std::string, int>& cr = r;
  CHECK(cr.value() == "vw");
  CHECK(&cr.value() == &*r);

  // value() on an rvalue gives an rvalue reference but does not move by itself.
  std::string&& ref = std::move(r).value();
  CHECK(&ref == &*r);
  CHECK(*r == "vw");
  std::string taken = std::move(r).value();
  CHECK(taken == "vw");

  CHECK(Result<std::string, int>(Ok(std::string("temp"))).value() == "temp");
}

TEST_CASE("value(), operator* and operator-> on an error throw BadResultAccess", "[result]") {
  Result<Point, std::string> r = Err(std::string("no point here"));
  const Result<Point, std::string>& cr = r;

  REQUIRE_THROWS_AS(r.value(), BadResultAccess);
  REQUIRE_THROWS_AS(cr.value(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(r).value(), BadResultAccess);
  REQUIRE_THROWS_AS(*r, BadResultAccess);
  REQUIRE_THROWS_AS(*cr, BadResultAccess);
  REQUIRE_THROWS_AS(*std::move(r), BadResultAccess);
  REQUIRE_THROWS_AS(r->x, BadResultAccess);
  REQUIRE_THROWS_AS(cr->x, BadResultAccess);

  CHECK(contains(bad_access_message([&] { (void)r.value(); }), "no point here"));
  CHECK(contains(bad_access_message([&] { (void)*cr; }), "no point here"));
  CHECK(contains(bad_access_message([&] { (void)r->x; }), "no point here"));
  CHECK(contains(bad_access_message([&] { (void)cr->y; }), "no point here"));
  // Still an error after the failed accesses.
  CHECK(r.is_err());
  CHECK(r.error() == "no point here");
}

TEST_CASE("unwrap on an lvalue returns a reference to the stored value", "[result]") {
  Result<Tracked, int> r(in_place_ok, 7);
  Tracked& ref = r.unwrap();
  CHECK(&ref == &*r);
  CHECK(&ref == r.operator->());
  CHECK(ref.value == 7);
  CHECK(!r->moved_from);
  CHECK(r->copies == 0);

  ref.value = 8;
  CHECK(r->value == 8);
  r.unwrap().value = 9;
  CHECK(r->value == 9);

  const Result<Tracked, int>& cr = r;
  const Tracked& cref = cr.unwrap();
  CHECK(&cref == &*r);

  // Copying out of an lvalue copies and leaves the stored value intact.
  Tracked copy = r.unwrap();
  CHECK(copy.value == 9);
  CHECK(copy.copies == 1);
  CHECK(!r->moved_from);
}

TEST_CASE("unwrap on an rvalue moves the value out", "[result]") {
  SECTION("a type that records moves") {
    Result<Tracked, int> r(in_place_ok, 7);
    Tracked taken = std::move(r).unwrap();
    CHECK(taken.value == 7);
    CHECK(taken.copies == 0);
    CHECK(taken.moves >= 1);
    REQUIRE(r.is_ok());
    CHECK(r->moved_from);
  }
  SECTION("a unique_ptr") {
    Result<std::unique_ptr<int>, int> r = Ok(std::make_unique<int>(5));
    int* const raw = r->get();
    std::unique_ptr<int> taken = std::move(r).unwrap();
    REQUIRE(taken != nullptr);
    CHECK(taken.get() == raw);
    CHECK(*taken == 5);
    REQUIRE(r.is_ok());
    CHECK(*r == nullptr);
  }
  SECTION("a temporary") {
    std::unique_ptr<int> taken = Result<std::unique_ptr<int>, int>(Ok(std::make_unique<int>(6))).unwrap();
    REQUIRE(taken != nullptr);
    CHECK(*taken == 6);
  }
  SECTION("expect on an rvalue moves too") {
    Result<Tracked, int> r(in_place_ok, 3);
    Tracked taken = std::move(r).expect("must be there");
    CHECK(taken.value == 3);
    CHECK(taken.copies == 0);
    CHECK(r->moved_from);
  }
}

TEST_CASE("expect gives the value like unwrap", "[result]") {
  Result<std::string, int> r = Ok(std::string("here"));
  CHECK(r.expect("needed") == "here");
  CHECK(&r.expect("needed") == &*r);
  const Result<std::string, int>& cr = r;
  CHECK(&cr.expect("needed") == &*r);
  CHECK(std::move(r).expect("needed") == "here");
}

TEST_CASE("unwrap on an error throws and describes the error", "[result]") {
  Result<int, std::string> r = Err(std::string("file not found"));
  const Result<int, std::string>& cr = r;

  REQUIRE_THROWS_AS(r.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(cr.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(r).unwrap(), BadResultAccess);
  REQUIRE_THROWS_WITH(r.unwrap(), "called unwrap() on an error: file not found");

  const std::string lvalue = bad_access_message([&] { (void)r.unwrap(); });
  CHECK(contains(lvalue, "called unwrap() on an error"));
  CHECK(contains(lvalue, "file not found"));
  const std::string const_lvalue = bad_access_message([&] { (void)cr.unwrap(); });
  CHECK(contains(const_lvalue, "called unwrap() on an error"));
  CHECK(contains(const_lvalue, "file not found"));
  const std::string rvalue = bad_access_message([&] { (void)std::move(r).unwrap(); });
  CHECK(contains(rvalue, "called unwrap() on an error"));
  CHECK(contains(rvalue, "file not found"));

  // The failed unwrap of an rvalue left the error in place.
  REQUIRE(r.is_err());
  CHECK(r.error() == "file not found");
}

TEST_CASE("BadResultAccess is a logic_error", "[result]") {
  STATIC_REQUIRE(std::is_base_of_v<std::logic_error, BadResultAccess>);
  Result<int, int> r = Err(1);
  REQUIRE_THROWS_AS(r.unwrap(), std::logic_error);
  REQUIRE_THROWS_AS(r.unwrap(), std::exception);
}

TEST_CASE("unwrap's message describes each kind of error", "[result]") {
  SECTION("an exception by its what()") {
    Result<int, DiskFull> r = Err(DiskFull());
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "the disk is full"));
    CHECK(message == "called unwrap() on an error: the disk is full");
  }
  SECTION("a standard exception by its what()") {
    Result<int, std::runtime_error> r = Err(std::runtime_error("network unreachable"));
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "network unreachable"));
  }
  SECTION("an error code by its message()") {
    const std::error_code code = std::make_error_code(std::errc::connection_refused);
    REQUIRE(!code.message().empty());
    Result<int, std::error_code> r = Err(code);
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, code.message()));
  }
  SECTION("a printable type by its operator<<") {
    Result<int, Coord> r = Err(Coord{3, 4});
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "Coord at (3, 4)"));
  }
  SECTION("a string by its text") {
    Result<int, const char*> r = Err("plain text");
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "plain text"));
  }
  SECTION("an enum class without operator<< by its type name and number") {
    Result<int, Color> r = Err(Color::green);
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "Color"));
    CHECK(contains(message, "7"));
    CHECK(contains(message, "Color(7)"));

    Result<int, Color> red = Err(Color::red);
    CHECK(contains(bad_access_message([&] { (void)red.unwrap(); }), "Color(1)"));
  }
  SECTION("an enum class with operator<< by that operator") {
    Result<int, Level> r = Err(Level::high);
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "level-high"));
  }
  SECTION("a type with no description by its type name") {
    Result<int, OpaqueFailure> r = Err(OpaqueFailure{99});
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "called unwrap() on an error"));
    CHECK(contains(message, "OpaqueFailure"));
  }
  SECTION("a move-only type with a what()") {
    Result<int, MoveOnlyError> r = Err(MoveOnlyError{std::make_unique<std::string>("moved-only failure")});
    const std::string message = bad_access_message([&] { (void)r.unwrap(); });
    CHECK(contains(message, "moved-only failure"));
  }
}

TEST_CASE("expect on an error throws with the given message and the error", "[result]") {
  Result<int, std::string> r = Err(std::string("timeout"));
  const Result<int, std::string>& cr = r;

  REQUIRE_THROWS_AS(r.expect("loading the config"), BadResultAccess);
  REQUIRE_THROWS_WITH(r.expect("loading the config"), "loading the config: timeout");
  CHECK(bad_access_message([&] { (void)r.expect("loading the config"); }) == "loading the config: timeout");
  CHECK(bad_access_message([&] { (void)cr.expect("from a const"); }) == "from a const: timeout");
  CHECK(bad_access_message([&] { (void)std::move(r).expect("from an rvalue"); }) == "from an rvalue: timeout");

  Result<int, DiskFull> disk = Err(DiskFull());
  CHECK(bad_access_message([&] { (void)disk.expect("saving"); }) == "saving: the disk is full");
  Result<int, OpaqueFailure> opaque = Err(OpaqueFailure{1});
  const std::string message = bad_access_message([&] { (void)opaque.expect("opaque"); });
  CHECK(message.rfind("opaque: ", 0) == 0);
  CHECK(contains(message, "OpaqueFailure"));
}

TEST_CASE("unwrap_or gives the value or the fallback", "[result]") {
  Result<std::string, int> ok = Ok(std::string("value"));
  Result<std::string, int> err = Err(1);
  const Result<std::string, int>& cok = ok;
  const Result<std::string, int>& cerr = err;

  CHECK(ok.unwrap_or("fallback") == "value");
  CHECK(err.unwrap_or("fallback") == "fallback");
  CHECK(cok.unwrap_or(std::string("fallback")) == "value");
  CHECK(cerr.unwrap_or(std::string("fallback")) == "fallback");
  // On an lvalue the stored value stays.
  CHECK(*ok == "value");

  CHECK(Result<std::string, int>(Ok(std::string("temp"))).unwrap_or("fallback") == "temp");
  CHECK(Result<std::string, int>(Err(2)).unwrap_or("fallback") == "fallback");

  SECTION("copies from an lvalue, moves from an rvalue") {
    Result<Tracked, int> tracked(in_place_ok, 1);
    Tracked copied = tracked.unwrap_or(Tracked(0));
    CHECK(copied.value == 1);
    CHECK(copied.copies == 1);
    CHECK(!tracked->moved_from);
    Tracked moved = std::move(tracked).unwrap_or(Tracked(0));
    CHECK(moved.value == 1);
    CHECK(moved.copies == 0);
    CHECK(tracked->moved_from);
  }
  SECTION("a move-only value") {
    Result<std::unique_ptr<int>, int> p = Ok(std::make_unique<int>(4));
    std::unique_ptr<int> got = std::move(p).unwrap_or(std::make_unique<int>(0));
    REQUIRE(got != nullptr);
    CHECK(*got == 4);
    Result<std::unique_ptr<int>, int> q = Err(1);
    std::unique_ptr<int> fallback = std::move(q).unwrap_or(std::make_unique<int>(-1));
    REQUIRE(fallback != nullptr);
    CHECK(*fallback == -1);
    CHECK(std::move(q).unwrap_or(nullptr) == nullptr);
  }
}

TEST_CASE("unwrap_or_else calls the function only on an error", "[result]") {
  int calls = 0;
  auto length = [&calls](const std::string& e) {
    ++calls;
    return static_cast<int>(e.size());
  };

  Result<int, std::string> ok = Ok(10);
  Result<int, std::string> err = Err(std::string("four"));
  CHECK(ok.unwrap_or_else(length) == 10);
  CHECK(calls == 0);
  CHECK(err.unwrap_or_else(length) == 4);
  CHECK(calls == 1);

  const Result<int, std::string>& cerr = err;
  CHECK(cerr.unwrap_or_else(length) == 4);
  CHECK(calls == 2);
  CHECK(err.error() == "four");

  SECTION("an rvalue passes its error as an rvalue") {
    std::string received;
    Result<int, std::string> moving = Err(std::string("moved error"));
    const int got = std::move(moving).unwrap_or_else([&received](std::string&& e) {
      received = std::move(e);
      return -1;
    });
    CHECK(got == -1);
    CHECK(received == "moved error");
  }
  SECTION("an rvalue moves its value out") {
    Result<std::unique_ptr<int>, int> p = Ok(std::make_unique<int>(3));
    std::unique_ptr<int> got = std::move(p).unwrap_or_else([](int) { return std::unique_ptr<int>(); });
    REQUIRE(got != nullptr);
    CHECK(*got == 3);
    CHECK(*p == nullptr);
  }
}

// ===========================================================================
// The error
// ===========================================================================

TEST_CASE("error() and unwrap_err() give the error on lvalues, const lvalues and rvalues", "[result]") {
  Result<int, std::string> r = Err(std::string("bad"));
  CHECK(r.error() == "bad");
  CHECK(r.unwrap_err() == "bad");
  CHECK(&r.error() == &r.unwrap_err());
  r.error() += "der";
  CHECK(r.unwrap_err() == "badder");
  r.unwrap_err() = "worst";
  CHECK(r.error() == "worst");

  const Result<int, std::string>& cr = r;
  CHECK(cr.error() == "worst");
  CHECK(cr.unwrap_err() == "worst");
  CHECK(&cr.error() == &r.error());
  CHECK(&cr.unwrap_err() == &r.error());

  // error() on an rvalue is a reference; unwrap_err() moves the error out.
  std::string&& ref = std::move(r).error();
  CHECK(&ref == &r.error());
  std::string taken = std::move(r).unwrap_err();
  CHECK(taken == "worst");
  REQUIRE(r.is_err());
  CHECK(r.error().empty());

  CHECK(Result<int, std::string>(Err(std::string("t"))).error() == "t");
  CHECK(Result<int, std::string>(Err(std::string("t"))).unwrap_err() == "t");
}

TEST_CASE("error() and unwrap_err() on a value throw and describe the value", "[result]") {
  Result<int, std::string> r = Ok(4242);
  const Result<int, std::string>& cr = r;

  REQUIRE_THROWS_AS(r.error(), BadResultAccess);
  REQUIRE_THROWS_AS(cr.error(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(r).error(), BadResultAccess);
  REQUIRE_THROWS_AS(r.unwrap_err(), BadResultAccess);
  REQUIRE_THROWS_AS(cr.unwrap_err(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(r).unwrap_err(), BadResultAccess);

  const std::string error_message = bad_access_message([&] { (void)r.error(); });
  CHECK(contains(error_message, "error()"));
  CHECK(contains(error_message, "4242"));
  const std::string unwrap_err_message = bad_access_message([&] { (void)cr.unwrap_err(); });
  CHECK(contains(unwrap_err_message, "unwrap_err()"));
  CHECK(contains(unwrap_err_message, "4242"));
  CHECK(contains(bad_access_message([&] { (void)std::move(r).unwrap_err(); }), "4242"));
  CHECK(*r == 4242);

  SECTION("described like errors are") {
    Result<Coord, int> printable = Ok(Coord{1, 2});
    CHECK(contains(bad_access_message([&] { (void)printable.unwrap_err(); }), "Coord at (1, 2)"));
    Result<Color, int> colored = Ok(Color::green);
    CHECK(contains(bad_access_message([&] { (void)colored.error(); }), "Color(7)"));
    Result<OpaqueFailure, int> opaque = Ok(OpaqueFailure{0});
    CHECK(contains(bad_access_message([&] { (void)opaque.error(); }), "OpaqueFailure"));
    Result<std::string, int> text = Ok(std::string("a string value"));
    CHECK(contains(bad_access_message([&] { (void)text.unwrap_err(); }), "a string value"));
  }
}

TEST_CASE("ok() and err() turn a side into an optional", "[result]") {
  Result<int, std::string> ok = Ok(1);
  Result<int, std::string> err = Err(std::string("e"));
  const Result<int, std::string>& cok = ok;
  const Result<int, std::string>& cerr = err;

  CHECK(cok.ok() == std::optional<int>(1));
  CHECK(cok.err() == std::nullopt);
  CHECK(cerr.ok() == std::nullopt);
  CHECK(cerr.err() == std::optional<std::string>("e"));
  CHECK(*ok == 1);
  CHECK(err.error() == "e");

  CHECK(Result<int, std::string>(Ok(2)).ok() == std::optional<int>(2));
  CHECK(Result<int, std::string>(Err(std::string("f"))).err() == std::optional<std::string>("f"));

  SECTION("move-only sides move out of an rvalue") {
    Result<std::unique_ptr<int>, std::unique_ptr<int>> p = Ok(std::make_unique<int>(5));
    std::optional<std::unique_ptr<int>> value = std::move(p).ok();
    REQUIRE(value.has_value());
    REQUIRE(*value != nullptr);
    CHECK(**value == 5);
    CHECK(*p == nullptr);

    Result<std::unique_ptr<int>, std::unique_ptr<int>> q = Err(std::make_unique<int>(6));
    std::optional<std::unique_ptr<int>> error = std::move(q).err();
    REQUIRE(error.has_value());
    REQUIRE(*error != nullptr);
    CHECK(**error == 6);
    CHECK(q.error() == nullptr);
    CHECK(!Result<std::unique_ptr<int>, int>(Err(1)).ok().has_value());
  }
  SECTION("err() on Result<void, E>") {
    Result<void, int> v = Ok();
    CHECK(v.err() == std::nullopt);
    Result<void, int> e = Err(3);
    CHECK(e.err() == std::optional<int>(3));
  }
}

// ===========================================================================
// Move-only sides
// ===========================================================================

TEST_CASE("a move-only value can be held, moved and taken", "[result]") {
  Result<std::unique_ptr<int>, int> r = Ok(std::make_unique<int>(1));
  REQUIRE(r.is_ok());
  CHECK(**r == 1);
  CHECK(*r.value() == 1);
  CHECK(*r.unwrap() == 1);
  CHECK(r->get() != nullptr);
  CHECK(&r.unwrap() == &*r);

  Result<std::unique_ptr<int>, int> moved = std::move(r);
  REQUIRE(moved.is_ok());
  CHECK(**moved == 1);

  Result<std::unique_ptr<int>, int> assigned = Err(0);
  assigned = std::move(moved);
  REQUIRE(assigned.is_ok());
  CHECK(**assigned == 1);

  Result<std::unique_ptr<int>, int> in_place(in_place_ok, new int(2));
  CHECK(**in_place == 2);

  Result<std::unique_ptr<int>, int> err = Err(5);
  CHECK(err.error() == 5);
  CHECK(contains(bad_access_message([&] { (void)std::move(err).unwrap(); }), "5"));
}

TEST_CASE("a move-only error can be held, moved and taken", "[result]") {
  Result<int, std::unique_ptr<int>> r = Err(std::make_unique<int>(7));
  REQUIRE(r.is_err());
  CHECK(*r.error() == 7);
  int* const raw = r.error().get();
  CHECK(r.unwrap_err().get() == raw);

  Result<int, std::unique_ptr<int>> moved = std::move(r);
  REQUIRE(moved.is_err());
  CHECK(moved.error().get() == raw);

  std::unique_ptr<int> taken = std::move(moved).unwrap_err();
  CHECK(taken.get() == raw);
  CHECK(moved.error() == nullptr);

  Result<int, std::unique_ptr<int>> ok = Ok(3);
  CHECK(ok.unwrap() == 3);
  REQUIRE_THROWS_AS(ok.error(), BadResultAccess);

  Result<void, MoveOnlyError> v = Err(MoveOnlyError{std::make_unique<std::string>("gone")});
  CHECK(contains(bad_access_message([&] { v.unwrap(); }), "gone"));
  MoveOnlyError e = std::move(v).unwrap_err();
  REQUIRE(e.text != nullptr);
  CHECK(*e.text == "gone");
}

TEST_CASE("unwrap_err on an rvalue moves the error out", "[result]") {
  Result<int, Tracked> r(in_place_err, 5);
  Tracked taken = std::move(r).unwrap_err();
  CHECK(taken.value == 5);
  CHECK(taken.copies == 0);
  REQUIRE(r.is_err());
  CHECK(r.error().moved_from);

  Result<int, Tracked> other(in_place_err, 6);
  Tracked copy = other.unwrap_err();
  CHECK(copy.copies == 1);
  CHECK(!other.error().moved_from);
}

// ===========================================================================
// Result<void, E>
// ===========================================================================

TEST_CASE("Result<void, E> holds success or an error", "[result][void]") {
  Result<void, std::string> ok = Ok();
  REQUIRE(ok.is_ok());
  CHECK(!ok.is_err());
  CHECK(static_cast<bool>(ok));
  REQUIRE_NOTHROW(ok.value());
  REQUIRE_NOTHROW(ok.unwrap());
  REQUIRE_NOTHROW(ok.expect("fine"));
  REQUIRE_NOTHROW(std::move(ok).unwrap());

  const Result<void, std::string>& cok = ok;
  REQUIRE_NOTHROW(cok.value());
  REQUIRE_NOTHROW(cok.unwrap());
  REQUIRE_NOTHROW(cok.expect("fine"));

  Result<void, std::string> err = Err(std::string("failed"));
  REQUIRE(err.is_err());
  CHECK(!err.is_ok());
  CHECK(!err);
  CHECK(err.error() == "failed");
  CHECK(err.unwrap_err() == "failed");
}

TEST_CASE("Result<void, E> on an error throws from unwrap, expect and value", "[result][void]") {
  Result<void, std::string> err = Err(std::string("cannot write"));
  const Result<void, std::string>& cerr = err;

  REQUIRE_THROWS_AS(err.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(cerr.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(err).unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(err.value(), BadResultAccess);
  REQUIRE_THROWS_AS(err.expect("x"), BadResultAccess);

  CHECK(bad_access_message([&] { err.unwrap(); }) == "called unwrap() on an error: cannot write");
  CHECK(bad_access_message([&] { cerr.expect("writing"); }) == "writing: cannot write");
  CHECK(bad_access_message([&] { std::move(err).expect("writing"); }) == "writing: cannot write");
  CHECK(contains(bad_access_message([&] { err.value(); }), "cannot write"));

  Result<void, std::error_code> code = Err(std::make_error_code(std::errc::permission_denied));
  CHECK(contains(bad_access_message([&] { code.unwrap(); }),
                 std::make_error_code(std::errc::permission_denied).message()));
}

TEST_CASE("Result<void, E> on success throws from error and unwrap_err", "[result][void]") {
  Result<void, int> ok = Ok();
  const Result<void, int>& cok = ok;
  REQUIRE_THROWS_AS(ok.error(), BadResultAccess);
  REQUIRE_THROWS_AS(cok.error(), BadResultAccess);
  REQUIRE_THROWS_AS(ok.unwrap_err(), BadResultAccess);
  REQUIRE_THROWS_AS(cok.unwrap_err(), BadResultAccess);
  REQUIRE_THROWS_AS(std::move(ok).unwrap_err(), BadResultAccess);
  CHECK(contains(bad_access_message([&] { (void)ok.unwrap_err(); }), "unwrap_err()"));
  CHECK(ok.is_ok());
}

TEST_CASE("Result<void, E> compares, copies and moves", "[result][void]") {
  Result<void, int> a = Ok();
  Result<void, int> b = Ok();
  Result<void, int> e1 = Err(1);
  Result<void, int> e2 = Err(2);
  CHECK(a == b);
  CHECK(a != e1);
  CHECK(e1 != e2);
  CHECK(e1 == Result<void, int>(Err(1)));

  Result<void, int> copy = e1;
  CHECK(copy == e1);
  copy = a;
  CHECK(copy.is_ok());

  Result<void, std::unique_ptr<int>> move_only = Err(std::make_unique<int>(3));
  Result<void, std::unique_ptr<int>> moved = std::move(move_only);
  REQUIRE(moved.is_err());
  CHECK(*moved.error() == 3);
}

// ===========================================================================
// map, map_err, and_then
// ===========================================================================

TEST_CASE("map transforms the value and passes an error through", "[result][combinators]") {
  Result<int, std::string> ok = Ok(21);
  Result<int, std::string> doubled = std::move(ok).map([](int x) { return x * 2; });
  REQUIRE(doubled.is_ok());
  CHECK(*doubled == 42);

  auto text = Result<int, std::string>(Ok(7)).map([](int x) { return std::to_string(x); });
  STATIC_REQUIRE(std::is_same_v<decltype(text), Result<std::string, std::string>>);
  REQUIRE(text.is_ok());
  CHECK(*text == "7");

  int calls = 0;
  auto failed = Result<int, std::string>(Err(std::string("nope"))).map([&calls](int x) {
    ++calls;
    return std::to_string(x);
  });
  STATIC_REQUIRE(std::is_same_v<decltype(failed), Result<std::string, std::string>>);
  REQUIRE(failed.is_err());
  CHECK(failed.error() == "nope");
  CHECK(calls == 0);

  SECTION("to void") {
    int seen = 0;
    auto done = Result<int, std::string>(Ok(3)).map([&seen](int x) { seen = x; });
    STATIC_REQUIRE(std::is_same_v<decltype(done), Result<void, std::string>>);
    CHECK(done.is_ok());
    CHECK(seen == 3);
  }
  SECTION("from void") {
    auto made = Result<void, int>(Ok()).map([] { return 5; });
    STATIC_REQUIRE(std::is_same_v<decltype(made), Result<int, int>>);
    REQUIRE(made.is_ok());
    CHECK(*made == 5);
    auto kept = Result<void, int>(Err(9)).map([] { return 5; });
    REQUIRE(kept.is_err());
    CHECK(kept.error() == 9);
  }
  SECTION("move-only values and errors") {
    auto bigger = Result<std::unique_ptr<int>, std::unique_ptr<int>>(Ok(std::make_unique<int>(2)))
                      .map([](std::unique_ptr<int> p) {
                        *p *= 10;
                        return p;
                      });
    REQUIRE(bigger.is_ok());
    CHECK(**bigger == 20);
    auto still_err = Result<std::unique_ptr<int>, std::unique_ptr<int>>(Err(std::make_unique<int>(4)))
                         .map([](std::unique_ptr<int> p) { return p; });
    REQUIRE(still_err.is_err());
    CHECK(*still_err.error() == 4);
  }
}

TEST_CASE("map_err transforms the error and passes a value through", "[result][combinators]") {
  auto described = Result<int, int>(Err(404)).map_err([](int code) { return "code " + std::to_string(code); });
  STATIC_REQUIRE(std::is_same_v<decltype(described), Result<int, std::string>>);
  REQUIRE(described.is_err());
  CHECK(described.error() == "code 404");

  int calls = 0;
  auto kept = Result<int, int>(Ok(404)).map_err([&calls](int code) {
    ++calls;
    return std::to_string(code);
  });
  STATIC_REQUIRE(std::is_same_v<decltype(kept), Result<int, std::string>>);
  REQUIRE(kept.is_ok());
  CHECK(*kept == 404);
  CHECK(calls == 0);

  auto void_err = Result<void, int>(Err(1)).map_err([](int code) { return code + 1; });
  REQUIRE(void_err.is_err());
  CHECK(void_err.error() == 2);
  auto void_ok = Result<void, int>(Ok()).map_err([](int code) { return std::to_string(code); });
  STATIC_REQUIRE(std::is_same_v<decltype(void_ok), Result<void, std::string>>);
  CHECK(void_ok.is_ok());

  auto moved_value = Result<std::unique_ptr<int>, int>(Ok(std::make_unique<int>(8))).map_err([](int e) { return e; });
  REQUIRE(moved_value.is_ok());
  CHECK(**moved_value == 8);
}

TEST_CASE("and_then chains results and stops at the first error", "[result][combinators]") {
  auto half = [](int x) -> Result<int, std::string> {
    if (x % 2 != 0) {
      return Err("odd: " + std::to_string(x));
    }
    return Ok(x / 2);
  };

  auto quarter = Result<int, std::string>(Ok(20)).and_then(half).and_then(half);
  REQUIRE(quarter.is_ok());
  CHECK(*quarter == 5);

  auto stopped = Result<int, std::string>(Ok(10)).and_then(half).and_then(half);
  REQUIRE(stopped.is_err());
  CHECK(stopped.error() == "odd: 5");

  int calls = 0;
  auto never =
      Result<int, std::string>(Err(std::string("early"))).and_then([&calls](int x) -> Result<int, std::string> {
        ++calls;
        return Ok(x);
      });
  REQUIRE(never.is_err());
  CHECK(never.error() == "early");
  CHECK(calls == 0);

  SECTION("changing the value type") {
    auto text = Result<int, std::string>(Ok(3)).and_then(
        [](int x) -> Result<std::string, std::string> { return Ok(std::string(static_cast<std::size_t>(x), '*')); });
    REQUIRE(text.is_ok());
    CHECK(*text == "***");
  }
  SECTION("from and to void") {
    auto from_void = Result<void, int>(Ok()).and_then([]() -> Result<int, int> { return Ok(1); });
    REQUIRE(from_void.is_ok());
    CHECK(*from_void == 1);
    auto to_void = Result<int, int>(Ok(1)).and_then([](int) -> Result<void, int> { return Err(2); });
    REQUIRE(to_void.is_err());
    CHECK(to_void.error() == 2);
    auto err_from_void = Result<void, int>(Err(6)).and_then([]() -> Result<int, int> { return Ok(1); });
    REQUIRE(err_from_void.is_err());
    CHECK(err_from_void.error() == 6);
  }
}

// ===========================================================================
// operator==
// ===========================================================================

TEST_CASE("results are equal when they hold equal values or equal errors", "[result]") {
  using R = Result<std::string, int>;
  const R a = Ok(std::string("x"));
  const R b = Ok(std::string("x"));
  const R c = Ok(std::string("y"));
  const R e1 = Err(1);
  const R e2 = Err(1);
  const R e3 = Err(2);

  CHECK(a == b);
  CHECK(b == a);
  CHECK(a != c);
  CHECK(e1 == e2);
  CHECK(e1 != e3);
  CHECK(a != e1);
  CHECK(e1 != a);
  CHECK(a == R(Ok(std::string("x"))));

  Result<Coord, Coord> p = Ok(Coord{1, 1});
  Result<Coord, Coord> q = Err(Coord{1, 1});
  CHECK(p != q);
  CHECK(p == Result<Coord, Coord>(Ok(Coord{1, 1})));
  CHECK(q == Result<Coord, Coord>(Err(Coord{1, 1})));
}

// ===========================================================================
// A Result left valueless
// ===========================================================================

TEST_CASE("a result emptied by a throwing move is neither ok nor err and throws on access", "[result]") {
  Result<int, ThrowsOnMove> r = Ok(1);
  Result<int, ThrowsOnMove> source(in_place_err, 2);
  {
    const ArmThrowsOnMove armed;
    REQUIRE_THROWS_AS(r = std::move(source), std::runtime_error);
  }
  REQUIRE(!ThrowsOnMove::armed);

  CHECK(!r.is_ok());
  CHECK(!r.is_err());
  CHECK(!r);
  REQUIRE_THROWS_AS(r.unwrap(), BadResultAccess);
  REQUIRE_THROWS_AS(r.value(), BadResultAccess);
  REQUIRE_THROWS_AS(r.error(), BadResultAccess);
  CHECK(contains(bad_access_message([&] { (void)r.unwrap(); }), "empty"));
  CHECK(contains(bad_access_message([&] { (void)r.unwrap_err(); }), "empty"));
  // The combinators refuse it too, rather than touching the missing side.
  using Empty = Result<int, ThrowsOnMove>;
  const auto identity = [](int v) { return v; };
  const auto to_zero = [](ThrowsOnMove&&) { return 0; };
  REQUIRE_THROWS_AS((void)Empty(r).map(identity), BadResultAccess);
  REQUIRE_THROWS_AS((void)Empty(r).map_err(to_zero), BadResultAccess);
  REQUIRE_THROWS_AS((void)r.unwrap_or_else([](const ThrowsOnMove&) { return 0; }), BadResultAccess);

  // It can be given a side again.
  r = Ok(3);
  REQUIRE(r.is_ok());
  CHECK(*r == 3);
}

TEST_CASE("map, map_err and and_then store values even when f returns a reference", "[result][combinators]") {
  struct Person {
    std::string name;
  };
  spindle::Result<Person, int> person = spindle::Ok(Person{"Ada"});
  auto name = std::move(person).map(&Person::name);
  STATIC_REQUIRE(std::is_same_v<decltype(name), spindle::Result<std::string, int>>);
  REQUIRE(name.unwrap() == "Ada");

  spindle::Result<int, std::string> failed = spindle::Err(std::string("why"));
  auto same = std::move(failed).map_err([](std::string&& s) -> const std::string& { return s; });
  STATIC_REQUIRE(std::is_same_v<decltype(same), spindle::Result<int, std::string>>);
  REQUIRE(same.error() == "why");
}

TEST_CASE("unwrap_or takes a braced fallback", "[result]") {
  spindle::Result<std::vector<int>, int> r = spindle::Err(1);
  REQUIRE(r.unwrap_or({}).empty());
  REQUIRE(r.unwrap_or({1, 2}).size() == 2);
}

TEST_CASE("Result<void, E> is not built from a placeholder value", "[result][void]") {
  STATIC_REQUIRE_FALSE(std::is_constructible_v<spindle::Result<void, int>, decltype(spindle::Ok(std::monostate{}))>);
  STATIC_REQUIRE(std::is_constructible_v<spindle::Result<void, int>, decltype(spindle::Ok())>);
}

TEST_CASE("Ok and Err convert implicitly only where T and E do", "[result][static]") {
  // std::vector<int> is only explicitly constructible from an int.
  STATIC_REQUIRE_FALSE(std::is_convertible_v<decltype(spindle::Ok(3)), spindle::Result<std::vector<int>, int>>);
  STATIC_REQUIRE(std::is_constructible_v<spindle::Result<std::vector<int>, int>, decltype(spindle::Ok(3))>);
  // A raw pointer does not silently become an owning pointer.
  STATIC_REQUIRE_FALSE(
      std::is_convertible_v<decltype(spindle::Ok(static_cast<int*>(nullptr))), spindle::Result<std::unique_ptr<int>, int>>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<decltype(spindle::Err(3)), spindle::Result<int, std::vector<int>>>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(spindle::Ok(3)), spindle::Result<long, int>>);
}

// --- Result<T&, E>: a reference, as Rust's Result<&mut T, E> -------------------

namespace {
template <class R, class U>
concept UnwrapOrTakes = requires(R r, U&& fallback) {
  r.unwrap_or(std::forward<U>(fallback));
};
}  // namespace

TEST_CASE("Result<T&, E>: every access gives the T& itself", "[result][reference][static]") {
  using R = Result<int&, std::string>;
  STATIC_REQUIRE(std::is_same_v<R::value_type, int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().unwrap()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const R&>().unwrap()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().unwrap()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().expect("m")), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().value()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&&>().value()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(*std::declval<R&>()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(*std::declval<const R&&>()), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().operator->()), int*>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().ok()), int*>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().unwrap_or(std::declval<int&>())), int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<R&>().err()), std::optional<std::string>>);
  using C = Result<const int&, std::string>;
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<C&>().unwrap()), const int&>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<C&>().operator->()), const int*>);

  // It refers to an lvalue: never to a copy or a temporary.
  STATIC_REQUIRE(std::is_constructible_v<R, spindle::InPlaceOk, int&>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<R, spindle::InPlaceOk, int>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<R, spindle::InPlaceOk, const int&>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<C, spindle::InPlaceOk, int>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<R, spindle::InPlaceOk, int*>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<R, decltype(Ok(1))>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(Ok(std::ref(std::declval<int&>()))), R>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(Ok(std::ref(std::declval<int&>()))), C>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<decltype(Ok(std::cref(std::declval<int&>()))), R>);
  STATIC_REQUIRE(std::is_convertible_v<decltype(Err(std::string())), R>);
  // unwrap_or takes no temporary either.
  STATIC_REQUIRE_FALSE(UnwrapOrTakes<C, int>);
  STATIC_REQUIRE(UnwrapOrTakes<C, int&>);

  STATIC_REQUIRE(std::is_nothrow_copy_constructible_v<Result<int&, int>>);
  STATIC_REQUIRE(std::is_copy_assignable_v<Result<int&, int>>);
  STATIC_REQUIRE(std::is_copy_constructible_v<Result<std::unique_ptr<int>&, int>>);
}

TEST_CASE("Result<T&, E>: ok and err, and unwrap returns the same object", "[result][reference]") {
  std::vector<int> v{1, 2};
  Result<std::vector<int>&, std::string> r(in_place_ok, v);
  REQUIRE(r.is_ok());
  REQUIRE_FALSE(r.is_err());
  REQUIRE(static_cast<bool>(r));
  REQUIRE(&r.unwrap() == &v);
  REQUIRE(&r.value() == &v);
  REQUIRE(&*r == &v);
  REQUIRE(r.ok() == &v);
  r.unwrap().push_back(3);  // the value itself, not a copy
  r->push_back(4);
  (*r).push_back(5);
  REQUIRE(&std::move(r).unwrap() == &v);  // an rvalue gives the same object, moves nothing
  REQUIRE(v == std::vector<int>{1, 2, 3, 4, 5});
  REQUIRE(r.unwrap().size() == 5);
  REQUIRE(r.expect("referred to").size() == 5);
  REQUIRE_FALSE(r.err().has_value());
  REQUIRE(contains(bad_access_message([&] { (void)r.unwrap_err(); }), "called unwrap_err() on a value"));

  int x = 7;
  const Result<int&, std::string> from_ok = Ok(std::ref(x));
  ++from_ok.unwrap();  // a const Result<int&> still refers to a mutable int
  REQUIRE(x == 8);
  REQUIRE(contains(bad_access_message([&] { (void)from_ok.error(); }), "on a value: 8"));

  Result<int&, std::string> failed = Err(std::string("no such key"));
  REQUIRE(failed.is_err());
  REQUIRE_FALSE(static_cast<bool>(failed));
  REQUIRE(failed.error() == "no such key");
  REQUIRE(failed.ok() == nullptr);
  REQUIRE(bad_access_message([&] { (void)failed.unwrap(); }) == "called unwrap() on an error: no such key");
  REQUIRE(bad_access_message([&] { (void)failed.expect("lookup"); }) == "lookup: no such key");
  REQUIRE(contains(bad_access_message([&] { (void)*failed; }), "no such key"));
  int fallback = 0;
  REQUIRE(&failed.unwrap_or(fallback) == &fallback);
  REQUIRE(&r.unwrap_or(v) == &v);
  REQUIRE(&failed.unwrap_or_else([&](const std::string&) -> int& { return fallback; }) == &fallback);
  REQUIRE(&from_ok.unwrap_or_else([&](const std::string&) -> int& { return fallback; }) == &x);
  REQUIRE(std::move(failed).unwrap_err() == "no such key");

  // A reference to a base refers to the derived object.
  struct Base {
    int id = 1;
  };
  struct Derived : Base {};
  Derived d;
  Result<Base&, int> base(in_place_ok, d);
  REQUIRE(&base.unwrap() == static_cast<Base*>(&d));
}

TEST_CASE("Result<T&, E>: copies refer to the same object, == compares the objects", "[result][reference]") {
  int a = 1;
  int b = 1;
  int c = 2;
  Result<int&, std::string> ra(in_place_ok, a);
  Result<int&, std::string> copy = ra;
  REQUIRE(&copy.unwrap() == &a);
  copy.unwrap() = 5;
  REQUIRE(a == 5);
  REQUIRE(ra.unwrap() == 5);
  copy = Result<int&, std::string>(in_place_ok, c);  // assignment rebinds, as for a pointer
  REQUIRE(&copy.unwrap() == &c);
  REQUIRE(a == 5);
  REQUIRE(c == 2);

  a = 1;
  const Result<int&, std::string> rb(in_place_ok, b);
  const Result<int&, std::string> rc(in_place_ok, c);
  const Result<int&, std::string> err1 = Err(std::string("e"));
  const Result<int&, std::string> err2 = Err(std::string("e"));
  const Result<int&, std::string> other_err = Err(std::string("f"));
  REQUIRE(ra == rb);  // different objects, equal values: equal, as Rust compares references
  REQUIRE(ra != rc);
  REQUIRE(ra != err1);
  REQUIRE(err1 == err2);
  REQUIRE(err1 != other_err);
  // Without == on the object, there is none on the Result.
  struct NoEq {};
  STATIC_REQUIRE_FALSE(std::equality_comparable<Result<NoEq&, int>>);
  STATIC_REQUIRE(std::equality_comparable<Result<int&, int>>);
}

TEST_CASE("Result<T&, E>: map, map_err and and_then", "[result][reference][combinators]") {
  struct Person {
    std::string name;
    int age = 0;
  };
  Person ada{"Ada", 36};
  using R = Result<Person&, std::string>;

  // f gets the object itself.
  auto older = R(in_place_ok, ada).map([](Person& p) { return ++p.age; });
  STATIC_REQUIRE(std::is_same_v<decltype(older), Result<int, std::string>>);
  REQUIRE(older.unwrap() == 37);
  REQUIRE(ada.age == 37);

  // A reference f returns stays a reference: it points into the object.
  auto name = R(in_place_ok, ada).map([](Person& p) -> std::string& { return p.name; });
  STATIC_REQUIRE(std::is_same_v<decltype(name), Result<std::string&, std::string>>);
  REQUIRE(&name.unwrap() == &ada.name);
  auto member = R(in_place_ok, ada).map(&Person::name);
  STATIC_REQUIRE(std::is_same_v<decltype(member), Result<std::string&, std::string>>);
  member.unwrap() += " Lovelace";
  REQUIRE(ada.name == "Ada Lovelace");

  auto failed = R(Err(std::string("nobody"))).map([](Person& p) { return p.age; });
  REQUIRE(failed.error() == "nobody");

  auto numbered = R(in_place_ok, ada).map_err([](std::string&& s) { return s.size(); });
  STATIC_REQUIRE(std::is_same_v<decltype(numbered), Result<Person&, std::size_t>>);
  REQUIRE(&numbered.unwrap() == &ada);
  REQUIRE(R(Err(std::string("four"))).map_err([](std::string&& s) { return s.size(); }).error() == 4);

  auto checked = R(in_place_ok, ada).and_then([](Person& p) -> Result<Person&, std::string> {
    if (p.age < 18) {
      return Err(std::string("too young"));
    }
    return Ok(std::ref(p));
  });
  REQUIRE(&checked.unwrap() == &ada);
}

namespace {

// Counts its own destructions in a counter it points to; a moved-from one
// points nowhere and counts nothing.
class Dropped {
 public:
  explicit Dropped(int& destroyed) noexcept : destroyed_(&destroyed) {}
  Dropped(Dropped&& other) noexcept : destroyed_(std::exchange(other.destroyed_, nullptr)) {}
  Dropped& operator=(Dropped&&) = delete;
  Dropped(const Dropped&) = delete;
  Dropped& operator=(const Dropped&) = delete;
  ~Dropped() {
    if (destroyed_ != nullptr) {
      ++*destroyed_;
    }
  }
  [[nodiscard]] bool empty() const noexcept { return destroyed_ == nullptr; }

 private:
  int* destroyed_;
};

// Whether spindle::drop accepts an argument of this type and value category.
template <class T>
concept droppable = requires(T&& value) { spindle::drop(std::forward<T>(value)); };

}  // namespace

TEST_CASE("spindle::drop destroys what the object holds at once", "[drop]") {
  int destroyed = 0;
  Dropped tracked(destroyed);
  spindle::drop(std::move(tracked));
  CHECK(destroyed == 1);
  CHECK(tracked.empty());  // NOLINT(bugprone-use-after-move): left moved-from, on purpose
}

TEST_CASE("spindle::drop of a temporary destroys it before returning", "[drop]") {
  int destroyed = 0;
  spindle::drop(Dropped(destroyed));
  CHECK(destroyed == 1);
}

TEST_CASE("spindle::drop releases a Result's value or error", "[drop][result]") {
  int destroyed = 0;
  Result<Dropped, std::string> ok(in_place_ok, destroyed);
  spindle::drop(std::move(ok));
  CHECK(destroyed == 1);

  Result<std::string, Dropped> err(in_place_err, destroyed);
  spindle::drop(std::move(err));
  CHECK(destroyed == 2);
}

TEST_CASE("spindle::drop empties a std::unique_ptr and a std::string", "[drop]") {
  auto owned = std::make_unique<int>(17);
  spindle::drop(std::move(owned));
  CHECK(owned == nullptr);  // NOLINT(bugprone-use-after-move): moved-from unique_ptr is null

  std::vector<int> values(1000, 1);
  spindle::drop(std::move(values));
  CHECK(values.empty());  // NOLINT(bugprone-use-after-move): checked on purpose
}

TEST_CASE("spindle::drop takes rvalues only", "[drop][static]") {
  STATIC_REQUIRE(droppable<Dropped>);     // a temporary
  STATIC_REQUIRE(droppable<Dropped&&>);   // std::move(x)
  STATIC_REQUIRE(noexcept(spindle::drop(std::declval<Dropped>())));
  STATIC_REQUIRE(std::is_void_v<decltype(spindle::drop(std::declval<Dropped>()))>);
  // (spindle::drop(x) on an lvalue stops at a static_assert whose message
  // says to write spindle::drop(std::move(x)); a requires-expression does
  // not look into the body, so that is checked by hand, not here.)
}
