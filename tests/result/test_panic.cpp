// SPDX-License-Identifier: MIT
#include "support/catch.hpp"

#include <spindle/result.hpp>

#include <exception>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace {

using spindle::Panic;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A custom exception carrying more than its message.
struct NetworkDown : std::runtime_error {
  NetworkDown(const std::string& host, int port)
      : std::runtime_error("network down: " + host), host(host), port(port) {}
  std::string host;
  int port;
};

// A thrown type that is not a std::exception.
struct NotAnException {
  int code;
};

template <class E>
std::exception_ptr pointer_to(E e) {
  return std::make_exception_ptr(std::move(e));
}

}  // namespace

TEST_CASE("Panic's compile-time properties", "[panic][static]") {
  STATIC_REQUIRE(std::is_copy_constructible_v<Panic>);
  STATIC_REQUIRE(std::is_copy_assignable_v<Panic>);
  STATIC_REQUIRE(std::is_move_constructible_v<Panic>);
  // Built from an exception_ptr only explicitly.
  STATIC_REQUIRE(std::is_constructible_v<Panic, std::exception_ptr>);
  STATIC_REQUIRE(!std::is_convertible_v<std::exception_ptr, Panic>);
  STATIC_REQUIRE(!std::is_default_constructible_v<Panic>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const Panic&>().what()), const char*>);
  STATIC_REQUIRE(noexcept(std::declval<const Panic&>().what()));
  STATIC_REQUIRE(noexcept(std::declval<const Panic&>().exception()));
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const Panic&>().exception()), std::exception_ptr>);
  STATIC_REQUIRE(!Panic::non_standard_description.empty());
}

TEST_CASE("Panic's what() is the message of a std::exception", "[panic]") {
  const Panic panic(pointer_to(std::runtime_error("worker exploded")));
  CHECK(std::string(panic.what()) == "worker exploded");

  const Panic logic(pointer_to(std::logic_error("broken invariant")));
  CHECK(std::string(logic.what()) == "broken invariant");

  const std::error_code code = std::make_error_code(std::errc::broken_pipe);
  const Panic system(pointer_to(std::system_error(code, "writing")));
  const std::string message = system.what();
  CHECK(contains(message, "writing"));
  CHECK(contains(message, code.message()));
  CHECK(message == std::system_error(code, "writing").what());
}

TEST_CASE("Panic's what() is the message of a custom exception type", "[panic]") {
  const Panic panic(pointer_to(NetworkDown("db.local", 5432)));
  CHECK(std::string(panic.what()) == "network down: db.local");
  CHECK(std::string(panic.what()) != std::string(Panic::non_standard_description));
}

TEST_CASE("Panic's what() is the fixed description for a non-standard exception", "[panic]") {
  SECTION("a thrown int") {
    const Panic panic(pointer_to(42));
    CHECK(std::string_view(panic.what()) == Panic::non_standard_description);
  }
  SECTION("a thrown std::string") {
    const Panic panic(pointer_to(std::string("not an exception object")));
    CHECK(std::string_view(panic.what()) == Panic::non_standard_description);
  }
  SECTION("a thrown struct") {
    const Panic panic(pointer_to(NotAnException{3}));
    CHECK(std::string_view(panic.what()) == Panic::non_standard_description);
  }
}

TEST_CASE("Panic's rethrow() throws the original exception", "[panic]") {
  SECTION("a custom exception, caught by its own type") {
    const Panic panic(pointer_to(NetworkDown("cache.local", 6379)));
    bool caught = false;
    try {
      panic.rethrow();
    } catch (const NetworkDown& e) {
      caught = true;
      CHECK(e.host == "cache.local");
      CHECK(e.port == 6379);
      CHECK(std::string(e.what()) == "network down: cache.local");
    }
    CHECK(caught);
  }
  SECTION("a standard exception") {
    const Panic panic(pointer_to(std::out_of_range("index 9")));
    REQUIRE_THROWS_AS(panic.rethrow(), std::out_of_range);
    REQUIRE_THROWS_WITH(panic.rethrow(), "index 9");
  }
  SECTION("a thrown int") {
    const Panic panic(pointer_to(42));
    bool caught = false;
    try {
      panic.rethrow();
    } catch (int value) {
      caught = true;
      CHECK(value == 42);
    }
    CHECK(caught);
  }
  SECTION("a non-standard struct") {
    const Panic panic(pointer_to(NotAnException{17}));
    bool caught = false;
    try {
      panic.rethrow();
    } catch (const NotAnException& e) {
      caught = true;
      CHECK(e.code == 17);
    }
    CHECK(caught);
  }
  SECTION("the very same exception object each time") {
    const Panic panic(pointer_to(NetworkDown("x", 1)));
    const void* first = nullptr;
    const void* second = nullptr;
    try {
      panic.rethrow();
    } catch (const NetworkDown& e) {
      first = &e;
    }
    try {
      panic.rethrow();
    } catch (const NetworkDown& e) {
      second = &e;
    }
    REQUIRE(first != nullptr);
    CHECK(first == second);
  }
}

TEST_CASE("Panic's exception() returns the pointer it was given", "[panic]") {
  const std::exception_ptr pointer = pointer_to(std::runtime_error("kept"));
  const Panic panic(pointer);
  CHECK(panic.exception() == pointer);
  CHECK(panic.exception() != nullptr);

  const std::exception_ptr other = pointer_to(std::runtime_error("kept"));
  CHECK(panic.exception() != other);

  bool caught = false;
  try {
    std::rethrow_exception(panic.exception());
  } catch (const std::runtime_error& e) {
    caught = true;
    CHECK(std::string(e.what()) == "kept");
  }
  CHECK(caught);
}

TEST_CASE("Panic::current() wraps the exception being handled", "[panic]") {
  SECTION("a standard exception") {
    bool caught = false;
    try {
      throw NetworkDown("api.local", 443);
    } catch (...) {
      caught = true;
      const Panic panic = Panic::current();
      CHECK(panic.exception() == std::current_exception());
      CHECK(std::string(panic.what()) == "network down: api.local");
      REQUIRE_THROWS_AS(panic.rethrow(), NetworkDown);
    }
    CHECK(caught);
  }
  SECTION("a thrown int") {
    bool caught = false;
    try {
      throw 7;
    } catch (int) {
      caught = true;
      const Panic panic = Panic::current();
      CHECK(std::string_view(panic.what()) == Panic::non_standard_description);
      REQUIRE_THROWS_AS(panic.rethrow(), int);
    }
    CHECK(caught);
  }
  SECTION("outside a catch block there is nothing to wrap") {
    REQUIRE_THROWS_AS(Panic::current(), std::invalid_argument);
  }
}

TEST_CASE("Panic rejects a null exception_ptr", "[panic]") {
  REQUIRE_THROWS_AS(Panic(std::exception_ptr()), std::invalid_argument);
  REQUIRE_THROWS_AS(Panic(std::exception_ptr(nullptr)), std::invalid_argument);
}

TEST_CASE("Panic prints its what() with operator<<", "[panic]") {
  const Panic standard(pointer_to(std::runtime_error("printed message")));
  std::ostringstream out;
  out << standard;
  CHECK(out.str() == "printed message");

  const Panic other(pointer_to(3.5));
  std::ostringstream out2;
  out2 << "[" << other << "]";
  CHECK(out2.str() == "[" + std::string(Panic::non_standard_description) + "]");
}

TEST_CASE("a copied Panic keeps the message and the exception", "[panic]") {
  const std::exception_ptr pointer = pointer_to(NetworkDown("copy.local", 80));
  std::optional<Panic> original(std::in_place, pointer);
  const Panic copy = *original;
  CHECK(std::string(copy.what()) == std::string(original->what()));
  CHECK(copy.exception() == original->exception());
  CHECK(copy.exception() == pointer);

  // The copy does not depend on the original.
  original.reset();
  CHECK(std::string(copy.what()) == "network down: copy.local");
  bool caught = false;
  try {
    copy.rethrow();
  } catch (const NetworkDown& e) {
    caught = true;
    CHECK(e.port == 80);
  }
  CHECK(caught);

  SECTION("copy assignment") {
    Panic assigned(pointer_to(1));
    CHECK(std::string_view(assigned.what()) == Panic::non_standard_description);
    assigned = copy;
    CHECK(std::string(assigned.what()) == "network down: copy.local");
    CHECK(assigned.exception() == pointer);
  }
  SECTION("move construction") {
    Panic source = copy;
    const Panic moved = std::move(source);
    CHECK(std::string(moved.what()) == "network down: copy.local");
    CHECK(moved.exception() == pointer);
  }
}

TEST_CASE("Panic can be the error of a Result and is described by its what()", "[panic][result]") {
  spindle::Result<int, Panic> r = spindle::Err(Panic(pointer_to(std::runtime_error("thread died"))));
  REQUIRE(r.is_err());
  CHECK(std::string(r.error().what()) == "thread died");

  std::string message;
  try {
    (void)r.unwrap();
  } catch (const spindle::BadResultAccess& e) {
    message = e.what();
  }
  CHECK(message == "called unwrap() on an error: thread died");

  spindle::Result<void, Panic> v = spindle::Err(Panic(pointer_to(5)));
  std::string void_message;
  try {
    v.expect("joining");
  } catch (const spindle::BadResultAccess& e) {
    void_message = e.what();
  }
  CHECK(void_message == "joining: " + std::string(Panic::non_standard_description));
  REQUIRE_THROWS_AS(std::move(v).unwrap_err().rethrow(), int);
}

TEST_CASE("a moved-from Panic still holds its exception", "[panic]") {
  Panic source(std::make_exception_ptr(std::runtime_error("kept")));
  Panic target = std::move(source);
  REQUIRE(std::string(target.what()) == "kept");
  REQUIRE(source.exception() != nullptr);  // NOLINT(bugprone-use-after-move): checked on purpose
  REQUIRE(std::string(source.what()) == "kept");
  REQUIRE_THROWS_AS(source.rethrow(), std::runtime_error);
}

TEST_CASE("Panic::get_if<E>() points at the exception when it is an E", "[panic]") {
  const Panic panic(pointer_to(NetworkDown("db.local", 5432)));

  const NetworkDown* down = panic.get_if<NetworkDown>();
  REQUIRE(down != nullptr);
  CHECK(down->host == "db.local");
  CHECK(down->port == 5432);
  STATIC_REQUIRE(std::is_same_v<decltype(panic.get_if<NetworkDown>()), const NetworkDown*>);
  STATIC_REQUIRE(noexcept(panic.get_if<NetworkDown>()));

  // The exception object itself, not a copy: every call gives the same one.
  CHECK(panic.get_if<NetworkDown>() == down);
  // As `catch (const E&)` would: a public base catches it too.
  CHECK(panic.get_if<std::runtime_error>() == down);
  CHECK(panic.get_if<std::exception>() == down);
  // Anything else is null.
  CHECK(panic.get_if<std::logic_error>() == nullptr);
  CHECK(panic.get_if<int>() == nullptr);
  CHECK(panic.get_if<NotAnException>() == nullptr);
}

TEST_CASE("Panic::get_if<E>() sees thrown values that are not std::exceptions", "[panic]") {
  const Panic number(pointer_to(42));
  const int* value = number.get_if<int>();
  REQUIRE(value != nullptr);
  CHECK(*value == 42);
  CHECK(number.get_if<long>() == nullptr);  // no conversions, as in a catch clause
  CHECK(number.get_if<std::exception>() == nullptr);

  const Panic custom(pointer_to(NotAnException{7}));
  const NotAnException* thrown = custom.get_if<NotAnException>();
  REQUIRE(thrown != nullptr);
  CHECK(thrown->code == 7);
}

TEST_CASE("Panic::is<E>() says whether get_if<E>() finds it", "[panic]") {
  const Panic panic(pointer_to(std::out_of_range("index 9")));
  STATIC_REQUIRE(std::is_same_v<decltype(panic.is<std::out_of_range>()), bool>);
  STATIC_REQUIRE(noexcept(panic.is<std::out_of_range>()));
  CHECK(panic.is<std::out_of_range>());
  CHECK(panic.is<std::logic_error>());
  CHECK(panic.is<std::exception>());
  CHECK_FALSE(panic.is<std::runtime_error>());
  CHECK_FALSE(panic.is<NetworkDown>());
  CHECK_FALSE(panic.is<int>());
}

TEST_CASE("what Panic::get_if<E>() points at lives as long as any copy of the Panic", "[panic]") {
  std::optional<Panic> original(std::in_place, pointer_to(NetworkDown("copy.local", 80)));
  const NetworkDown* down = original->get_if<NetworkDown>();
  REQUIRE(down != nullptr);
  const Panic copy = *original;
  original.reset();
  CHECK(copy.get_if<NetworkDown>() == down);
  CHECK(down->host == "copy.local");
}

TEST_CASE("Panic::get_if<E>() inside a catch block leaves the exception being handled alone", "[panic]") {
  try {
    throw std::runtime_error("outer");
  } catch (const std::runtime_error&) {
    const Panic inner(pointer_to(std::logic_error("inner")));
    CHECK(inner.is<std::logic_error>());
    CHECK_FALSE(inner.is<std::runtime_error>());
    // The exception this block handles is still the current one.
    const Panic current = Panic::current();
    CHECK(std::string(current.what()) == "outer");
    CHECK(current.is<std::runtime_error>());
  }
  CHECK(std::uncaught_exceptions() == 0);
}
