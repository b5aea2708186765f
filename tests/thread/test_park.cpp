// SPDX-License-Identifier: MIT
// park / unpark / park_timeout: the token is never lost, never doubled, and
// wake-ups that nobody asked for do not leak out of park().

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <limits>
#include <memory>
#include <thread>

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/thread.hpp>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::eventually;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

TEST_CASE("an unpark before park is not lost", "[thread][park]") {
  Watchdog watchdog("park after unpark");
  th::current().unpark();
  th::park();  // returns at once: the token was waiting
  SUCCEED("park returned");
}

TEST_CASE("park blocks until another thread unparks it", "[thread][park]") {
  std::atomic<bool> parked_returned{false};
  int message = 0;  // plain memory, published by unpark
  auto handle = th::spawn([&] {
    th::park();
    parked_returned = true;
    return message;
  });
  // Nothing unparked it: it must still be parked a while later.
  th::sleep(50ms);
  REQUIRE_FALSE(parked_returned);
  message = 42;
  handle.thread().unpark();
  REQUIRE(eventually([&] { return parked_returned.load(); }));
  REQUIRE(handle.join().unwrap() == 42);
}

TEST_CASE("tokens do not accumulate: two unparks release one park", "[thread][park]") {
  Watchdog watchdog("token accumulation");
  th::park_timeout(0ms);  // drop a token an earlier test may have left
  th::current().unpark();
  th::current().unpark();
  th::park();  // consumes the single token
  const auto start = Clock::now();
  th::park_timeout(30ms);  // no token left: waits the whole timeout
  REQUIRE(Clock::now() - start >= 30ms);
}

TEST_CASE("park_timeout returns after the timeout when nobody unparks", "[thread][park]") {
  th::park_timeout(0ms);  // drop a token an earlier test may have left
  const auto start = Clock::now();
  th::park_timeout(20ms);
  REQUIRE(Clock::now() - start >= 20ms);

  // Zero and negative timeouts return at once.
  Watchdog watchdog("zero timeouts");
  th::park_timeout(0ms);
  th::park_timeout(-5s);
  SUCCEED();
}

TEST_CASE("park_timeout returns early on unpark, whatever the timeout", "[thread][park]") {
  Watchdog watchdog("park_timeout with a token");
  SECTION("token already there") {
    th::current().unpark();
    th::park_timeout(std::chrono::hours(1));
  }
  SECTION("duration::max() of several types, unparked from another thread") {
    for (int round = 0; round < 4; ++round) {
      std::atomic<bool> woke{false};
      auto handle = th::spawn([&woke, round] {
        switch (round) {
          case 0: th::park_timeout(std::chrono::nanoseconds::max()); break;
          case 1: th::park_timeout(std::chrono::hours::max()); break;
          case 2: th::park_timeout(std::chrono::duration<double>::max()); break;
          default: th::park_timeout(std::chrono::duration<std::int64_t, std::pico>::max()); break;
        }
        woke = true;
      });
      th::sleep(20ms);
      const bool woke_early = woke.load();  // a max() that overflowed returns at once
      handle.thread().unpark();
      REQUIRE(eventually([&] { return woke.load(); }));
      REQUIRE_FALSE(woke_early);
      REQUIRE(handle.join().is_ok());
    }
  }
  SUCCEED();
}

TEST_CASE("park works in a thread spindle did not start", "[thread][park]") {
  std::atomic<bool> woke{false};
  std::atomic<bool> have_handle{false};
  std::shared_ptr<th::Thread> handle;
  std::thread plain([&] {
    handle = std::make_shared<th::Thread>(th::current());
    have_handle = true;
    th::park();
    woke = true;
  });
  // Whatever happens below, the plain thread is released and joined.
  struct Release {
    std::thread& plain;
    std::atomic<bool>& have_handle;
    std::shared_ptr<th::Thread>& handle;
    ~Release() {
      if (eventually([&] { return have_handle.load(); })) {
        handle->unpark();
      }
      plain.join();
    }
  } release{plain, have_handle, handle};
  REQUIRE(eventually([&] { return have_handle.load(); }));
  REQUIRE_FALSE(handle->name().has_value());
  handle->unpark();
  REQUIRE(eventually([&] { return woke.load(); }));
}

TEST_CASE("ping-pong through park/unpark never loses a wake-up", "[thread][park][stress]") {
  Watchdog watchdog("park ping-pong", 60s);
  constexpr int rounds = 20000;
  std::atomic<int> turn{0};  // even: main's move, odd: the partner's
  const th::Thread main_thread = th::current();
  auto partner = th::spawn([&turn, main_thread] {
    for (int i = 0; i < rounds; ++i) {
      while (turn.load() != 2 * i + 1) {
        th::park();
      }
      turn.store(2 * i + 2);
      main_thread.unpark();
    }
  });
  const th::Thread& other = partner.thread();
  for (int i = 0; i < rounds; ++i) {
    while (turn.load() != 2 * i) {
      th::park();
    }
    turn.store(2 * i + 1);
    other.unpark();
  }
  while (turn.load() != 2 * rounds) {
    th::park();
  }
  REQUIRE(partner.join().is_ok());
  REQUIRE(turn.load() == 2 * rounds);
}

#if defined(__linux__)
namespace {
void ignore_signal(int /*signo*/) {}
}  // namespace

TEST_CASE("signals interrupting the sleep do not make park return", "[thread][park][linux]") {
  // A handler without SA_RESTART makes the futex wait return early (EINTR):
  // a spurious wake-up that park() must absorb.
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  REQUIRE(sigaction(SIGUSR1, &action, &previous) == 0);

  std::atomic<bool> returned{false};
  std::atomic<bool> ready{false};
  std::atomic<pthread_t> native{};
  auto handle = th::spawn([&] {
    native = pthread_self();
    ready = true;
    th::park();
    returned = true;
  });
  REQUIRE(eventually([&] { return ready.load(); }));
  for (int i = 0; i < 20; ++i) {
    th::sleep(2ms);
    pthread_kill(native.load(), SIGUSR1);
  }
  th::sleep(20ms);
  REQUIRE_FALSE(returned);
  handle.thread().unpark();
  REQUIRE(eventually([&] { return returned.load(); }));
  REQUIRE(handle.join().is_ok());
  sigaction(SIGUSR1, &previous, nullptr);
}

TEST_CASE("signals interrupting park_timeout do not cut the timeout short", "[thread][park][linux]") {
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  REQUIRE(sigaction(SIGUSR1, &action, &previous) == 0);

  std::atomic<bool> ready{false};
  std::atomic<pthread_t> native{};
  auto handle = th::spawn([&] {
    native = pthread_self();
    ready = true;
    const auto start = Clock::now();
    th::park_timeout(100ms);
    return Clock::now() - start;
  });
  REQUIRE(eventually([&] { return ready.load(); }));
  for (int i = 0; i < 10; ++i) {
    th::sleep(3ms);
    pthread_kill(native.load(), SIGUSR1);
  }
  REQUIRE(handle.join().unwrap() >= 100ms);
  sigaction(SIGUSR1, &previous, nullptr);
}
#endif
