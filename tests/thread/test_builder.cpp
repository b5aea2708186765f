// SPDX-License-Identifier: MIT
// Builder: names (ours and the OS's), stack sizes, and start failures as values.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/fragile_move.hpp"

#include <spindle/thread.hpp>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace th = spindle::thread;

namespace {

#if defined(__linux__)
// The calling thread's name as the OS has it.
std::string os_thread_name() {
  char buf[64] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) {
    return "<error>";
  }
  return buf;
}

// The calling thread's stack size as the OS set it up.
std::size_t os_stack_size() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) {
    return 0;
  }
  std::size_t size = 0;
  pthread_attr_getstacksize(&attr, &size);
  pthread_attr_destroy(&attr);
  return size;
}
#endif

}  // namespace

TEST_CASE("a builder's name is the thread's name, inside and out", "[thread][builder]") {
  auto handle = th::Builder().name("worker-1").spawn([] { return std::string(th::current().name().value_or("")); });
  REQUIRE(handle.is_ok());
  REQUIRE(handle->thread().name() == std::optional<std::string_view>("worker-1"));
  REQUIRE(handle->join().unwrap() == "worker-1");
}

TEST_CASE("an unnamed thread has no name, the process's first thread is \"main\"", "[thread][builder]") {
  auto handle = th::spawn([] { return th::current().name().has_value(); });
  REQUIRE_FALSE(handle.thread().name().has_value());
  REQUIRE_FALSE(handle.join().unwrap());
#if defined(__linux__)
  // Catch2 runs the tests on the process's first thread.
  REQUIRE(th::current().name() == std::optional<std::string_view>("main"));
#endif
}

#if defined(__linux__)
TEST_CASE("the OS sees the name, cut to 15 bytes while name() keeps it whole", "[thread][builder][linux]") {
  SECTION("a short name") {
    auto h = th::Builder().name("short").spawn(os_thread_name).unwrap();
    REQUIRE(h.join().unwrap() == "short");
  }
  SECTION("a long name") {
    const std::string name = "a-rather-long-thread-name";
    auto h = th::Builder().name(name).spawn(os_thread_name).unwrap();
    REQUIRE(h.thread().name() == std::optional<std::string_view>(name));
    REQUIRE(h.join().unwrap() == name.substr(0, 15));
  }
  SECTION("a cut never splits a UTF-8 character") {
    // 14 ASCII bytes and a two-byte character: a 15-byte cut would split it.
    const std::string name = "abcdefghijklmn\xC3\xA9";
    auto h = th::Builder().name(name).spawn(os_thread_name).unwrap();
    REQUIRE(h.join().unwrap() == "abcdefghijklmn");
  }
}

TEST_CASE("the stack size is honoured", "[thread][builder][linux]") {
  constexpr std::size_t four_mib = std::size_t{4} << 20;
  auto big = th::Builder().stack_size(four_mib).spawn(os_stack_size).unwrap();
  REQUIRE(big.join().unwrap() >= four_mib);

  // A size below the platform's minimum is raised to it, and the thread runs.
  auto tiny = th::Builder().stack_size(1).spawn(os_stack_size).unwrap();
  REQUIRE(tiny.join().unwrap() >= static_cast<std::size_t>(PTHREAD_STACK_MIN));
}

TEST_CASE("deep recursion fits in a large requested stack", "[thread][builder][linux]") {
  struct Recurse {
    static std::uint64_t depth(int n) {
      volatile char pad[1024] = {};  // ~1 KiB a frame
      pad[0] = static_cast<char>(n);
      return n == 0 ? pad[0] : 1 + depth(n - 1);
    }
  };
  // ~16 MiB of frames: more than glibc's usual 8 MiB default.
  auto h = th::Builder().stack_size(std::size_t{64} << 20).spawn([] { return Recurse::depth(16 * 1024); }).unwrap();
  REQUIRE(h.join().unwrap() == 16 * 1024);
}
#endif

TEST_CASE("a name with a NUL byte is refused with an error value", "[thread][builder]") {
  std::atomic<bool> ran{false};
  auto handle = th::Builder().name(std::string("bad\0name", 8)).spawn([&ran] { ran = true; });
  REQUIRE(handle.is_err());
  REQUIRE(handle.error().code() == std::errc::invalid_argument);
  REQUIRE(std::string(handle.error().what()).find("NUL") != std::string::npos);
  REQUIRE_FALSE(ran);
}

TEST_CASE("a thread the OS cannot start comes back as an error, not a crash", "[thread][builder]") {
  std::atomic<bool> ran{false};
  // No machine gives a thread a stack of a quarter of the address space.
  auto handle = th::Builder().stack_size(std::size_t{1} << 62).spawn([&ran] { ran = true; });
  REQUIRE(handle.is_err());
  REQUIRE(handle.error().code().value() != 0);
  REQUIRE_FALSE(ran);

  // Other threads still start afterwards.
  th::Builder builder;
  builder.name("again");
  auto ok = builder.spawn([] { return 1; });
  REQUIRE(ok.is_ok());
  REQUIRE(ok->join().unwrap() == 1);
}

TEST_CASE("a builder can be reused and chained as an lvalue or an rvalue", "[thread][builder]") {
  th::Builder builder;
  builder.name("twin").stack_size(std::size_t{1} << 20);
  auto a = builder.spawn([] { return 1; }).unwrap();
  auto b = builder.spawn([](int x) { return x; }, 2).unwrap();
  REQUIRE(a.thread().name() == b.thread().name());
  REQUIRE(a.thread().id() != b.thread().id());
  REQUIRE(a.join().unwrap() + b.join().unwrap() == 3);

  auto c = th::Builder().stack_size(std::size_t{1} << 20).name("chained").spawn([] { return 3; }).unwrap();
  // An rvalue chain yields a Builder by value: nothing dangles.
  STATIC_REQUIRE(std::is_same_v<decltype(th::Builder().name("x")), th::Builder>);
  STATIC_REQUIRE(std::is_same_v<decltype(th::Builder().stack_size(1)), th::Builder>);
  REQUIRE(c.join().unwrap() == 3);
}

TEST_CASE("a built thread whose result's move throws joins to a Panic", "[thread][builder][panic]") {
  using spindle::test::FragileMove;
  const spindle::test::Watchdog dog("join of built threads whose results' moves throw");
  const spindle::test::LifetimeCheck check;
  // Budget k: the (k+1)th move of the value throws, on the thread or in join().
  for (const int budget : {0, 1, 2, FragileMove::plenty}) {
    CAPTURE(budget);
    auto handle = th::Builder().name("fragile").stack_size(std::size_t{1} << 20).spawn([budget] {
      return FragileMove(budget, budget);
    });
    REQUIRE(handle.is_ok());
    auto result = handle->join();
    if (result.is_ok()) {
      REQUIRE(result->value() == budget);
    } else {
      REQUIRE(std::string(result.error().what()) == spindle::test::MoveFailed::message);
    }
    REQUIRE((budget != 0 || result.is_err()));
    REQUIRE((budget != FragileMove::plenty || result.is_ok()));
  }
}
