// SPDX-License-Identifier: MIT
// spawn, JoinHandle and join: typed results, panics, detaching, lifetimes.

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <pthread.h>
#endif

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/fragile_move.hpp"

#include <spindle/thread.hpp>

namespace th = spindle::thread;
using spindle::test::eventually;
using spindle::test::FragileMove;
using spindle::test::LifetimeCheck;
using spindle::test::MoveFailed;
using spindle::test::Watchdog;

TEST_CASE("join returns what the thread's function returned", "[thread][spawn]") {
  auto handle = th::spawn([] { return 17; });
  auto result = handle.join();
  REQUIRE(result.is_ok());
  REQUIRE(*result == 17);

  auto text = th::spawn([] { return std::string("from a thread"); }).join();
  REQUIRE(text.unwrap() == "from a thread");
}

TEST_CASE("a void thread joins to an ok Result<void>", "[thread][spawn]") {
  std::atomic<bool> ran{false};
  auto result = th::spawn([&ran] { ran = true; }).join();
  REQUIRE(result.is_ok());
  REQUIRE(ran);
}

TEST_CASE("arguments are passed to the thread's function", "[thread][spawn]") {
  auto handle =
      th::spawn([](int a, const std::string& b, double c) { return b + std::to_string(a + static_cast<int>(c)); }, 40,
                std::string("answer "), 2.0);
  REQUIRE(handle.join().unwrap() == "answer 42");
}

TEST_CASE("move-only callables, arguments and results work", "[thread][spawn]") {
  auto owned = std::make_unique<int>(5);
  auto arg = std::make_unique<int>(6);
  auto handle = th::spawn(
      [p = std::move(owned)](std::unique_ptr<int> q) { return std::make_unique<int>(*p * 10 + *q); }, std::move(arg));
  std::unique_ptr<int> out = handle.join().unwrap();
  REQUIRE(out != nullptr);
  REQUIRE(*out == 56);
}

TEST_CASE("arguments are copied, not referenced, unless wrapped in std::ref", "[thread][spawn]") {
  int value = 1;
  auto copied = th::spawn(
      [](int v) {
        v += 10;
        return v;
      },
      value);
  REQUIRE(copied.join().unwrap() == 11);
  REQUIRE(value == 1);
  auto referenced = th::spawn([](int& v) { v = 2; }, std::ref(value));
  REQUIRE(referenced.join().is_ok());
  REQUIRE(value == 2);
}

TEST_CASE("an exception escaping the thread comes back from join as a Panic", "[thread][spawn][panic]") {
  auto result = th::spawn([]() -> int { throw std::runtime_error("boom"); }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()) == "boom");
  REQUIRE_THROWS_AS(result.error().rethrow(), std::runtime_error);
}

TEST_CASE("a thrown value that is not a std::exception is caught too", "[thread][spawn][panic]") {
  auto result = th::spawn([] { throw 42; }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()) == spindle::Panic::non_standard_description);
  try {
    result.error().rethrow();
    FAIL("rethrow returned");
  } catch (int thrown) {
    REQUIRE(thrown == 42);
  }
}

TEST_CASE("unwrap on a panicked join names the panic", "[thread][spawn][panic]") {
  auto result = th::spawn([]() -> int { throw std::logic_error("broken invariant"); }).join();
  try {
    (void)std::move(result).unwrap();
    FAIL("unwrap returned");
  } catch (const spindle::BadResultAccess& e) {
    const std::string what = e.what();
    REQUIRE(what.find("broken invariant") != std::string::npos);
  }
}

TEST_CASE("a result whose move throws joins to that exception as a Panic", "[thread][spawn][panic]") {
  const Watchdog dog("join of a thread whose result's move throws");
  const LifetimeCheck check;
  auto handle = th::spawn([] { return FragileMove(7, 0); });
  auto result = handle.join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()) == MoveFailed::message);
  REQUIRE_THROWS_AS(result.error().rethrow(), MoveFailed);
  REQUIRE(handle.is_finished());
}

TEST_CASE("a result whose move throws only sometimes joins to its value or to the Panic", "[thread][spawn][panic]") {
  const Watchdog dog("join of threads whose results' moves throw late");
  const LifetimeCheck check;
  // Budget k: the (k+1)th move of the value throws. Whichever move that is,
  // on the thread or in join(), join() returns the value or the Panic, and
  // a larger budget never turns a value into a Panic.
  bool got_value = false;
  for (int budget = 0; budget <= 8; ++budget) {
    CAPTURE(budget);
    auto result = th::spawn([budget] { return FragileMove(100 + budget, budget); }).join();
    if (result.is_ok()) {
      REQUIRE(result->value() == 100 + budget);
      got_value = true;
    } else {
      REQUIRE(std::string(result.error().what()) == MoveFailed::message);
      REQUIRE_FALSE(got_value);
    }
    REQUIRE((budget != 0 || result.is_err()));  // the value is moved at least once
  }
  REQUIRE(got_value);  // eight moves are more than join needs
}

TEST_CASE("threads whose results' moves throw, many at once", "[thread][spawn][scope][panic][stress]") {
  const Watchdog dog("many threads with throwing result moves");
  const LifetimeCheck check;
  constexpr int rounds = 20;
  constexpr int threads = 6;
  std::mt19937 rng(20240611);
  // 0: the first move throws; 1 and 2: a later one may; plenty: none does.
  const std::array<int, 4> budgets = {0, 1, 2, FragileMove::plenty};
  std::uniform_int_distribution<std::size_t> pick(0, budgets.size() - 1);
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    std::atomic<bool> go{false};
    const spindle::test::SetOnExit go_on_exit(go);
    auto body = [&go](int value, int budget) {
      // Every thread of the round is started before any of them returns.
      while (!go.load()) {
        th::yield_now();
      }
      return FragileMove(value, budget);
    };

    // Plain threads, all joined.
    std::vector<int> plain_budgets;
    std::vector<th::JoinHandle<FragileMove>> handles;
    for (int i = 0; i < threads; ++i) {
      plain_budgets.push_back(budgets[pick(rng)]);
      handles.push_back(th::spawn(body, i, plain_budgets.back()));
    }

    // Scoped threads: the even ones joined, the odd ones left to the scope,
    // with a budget of 0 or plenty, so that which of them panic is known.
    std::vector<int> scoped_budgets;
    int unjoined_panics = 0;
    for (int i = 0; i < threads; ++i) {
      scoped_budgets.push_back(i % 2 == 0 ? budgets[pick(rng)] : (pick(rng) < 2 ? 0 : FragileMove::plenty));
      unjoined_panics += i % 2 == 1 && scoped_budgets.back() == 0 ? 1 : 0;
    }
    std::size_t reported = 0;
    try {
      th::scope([&](th::Scope& s) {
        std::vector<th::ScopedJoinHandle<FragileMove>> joined;
        for (int i = 0; i < threads; ++i) {
          auto h = s.spawn(body, 1000 + i, scoped_budgets[static_cast<std::size_t>(i)]);
          if (i % 2 == 0) {
            joined.push_back(std::move(h));
          }
        }
        go = true;
        for (std::size_t j = 0; j < joined.size(); ++j) {
          const int budget = scoped_budgets[2 * j];
          auto result = joined[j].join();
          REQUIRE((result.is_err() || result->value() == 1000 + static_cast<int>(2 * j)));
          REQUIRE((budget != 0 || result.is_err()));
          REQUIRE((budget != FragileMove::plenty || result.is_ok()));
        }
      });
    } catch (const th::ScopePanic& e) {
      reported = e.panics().size();
      for (const auto& panic : e.panics()) {
        REQUIRE(std::string(panic.what()) == MoveFailed::message);
      }
    }
    REQUIRE(reported == static_cast<std::size_t>(unjoined_panics));

    go = true;  // already, unless the scope failed before its threads were released
    for (std::size_t i = 0; i < handles.size(); ++i) {
      auto result = handles[i].join();
      if (result.is_ok()) {
        REQUIRE(result->value() == static_cast<int>(i));
      } else {
        REQUIRE(std::string(result.error().what()) == MoveFailed::message);
      }
      REQUIRE((plain_budgets[i] != 0 || result.is_err()));
      REQUIRE((plain_budgets[i] != FragileMove::plenty || result.is_ok()));
    }
  }
}

TEST_CASE("join makes everything the thread wrote visible", "[thread][spawn]") {
  std::vector<int> data;  // plain memory, written only by the thread before join
  auto handle = th::spawn([&data] {
    for (int i = 0; i < 1000; ++i) {
      data.push_back(i);
    }
  });
  REQUIRE(handle.join().is_ok());
  REQUIRE(data.size() == 1000);
  REQUIRE(data[999] == 999);
}

TEST_CASE("the callable and its captures are destroyed before join returns", "[thread][spawn]") {
  struct Flag {
    std::atomic<bool>* destroyed;
    explicit Flag(std::atomic<bool>* d) : destroyed(d) {}
    Flag(Flag&& other) noexcept : destroyed(std::exchange(other.destroyed, nullptr)) {}
    Flag(const Flag&) = delete;
    ~Flag() {
      if (destroyed != nullptr) {
        destroyed->store(true);
      }
    }
  };

  SECTION("after a normal return") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] { return flag.destroyed != nullptr; });
    REQUIRE(handle.join().unwrap());
    REQUIRE(destroyed);
  }
  SECTION("after an exception") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] {
      (void)flag;
      throw std::runtime_error("x");
    });
    REQUIRE(handle.join().is_err());
    REQUIRE(destroyed);
  }
  SECTION("before is_finished() becomes true") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] { (void)flag; });
    REQUIRE(eventually([&] { return handle.is_finished(); }));
    REQUIRE(destroyed);
    REQUIRE(handle.join().is_ok());
  }
}

TEST_CASE("is_finished turns true when the function returns", "[thread][spawn]") {
  std::atomic<bool> release{false};
  const spindle::test::SetOnExit release_on_exit(release);
  auto handle = th::spawn([&release] {
    while (!release.load()) {
      th::yield_now();
    }
    return 3;
  });
  REQUIRE_FALSE(handle.is_finished());
  release = true;
  REQUIRE(eventually([&] { return handle.is_finished(); }));
  REQUIRE(handle.join().unwrap() == 3);
  REQUIRE(handle.is_finished());
}

TEST_CASE("destroying an unjoined handle detaches the thread, which runs on", "[thread][spawn]") {
  // Shared state outlives this test case's frame: the detached thread may
  // still be running when the test returns.
  auto started = std::make_shared<std::atomic<bool>>(false);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto done = std::make_shared<std::atomic<bool>>(false);
  {
    auto handle = th::spawn([started, release, done] {
      started->store(true);
      const bool released = eventually([&] { return release->load(); });
      done->store(released);
    });
    REQUIRE(eventually([&] { return started->load(); }));
  }  // handle destroyed while the thread is blocked
  release->store(true);
  REQUIRE(eventually([&] { return done->load(); }));
}

TEST_CASE("move-assigning over an unjoined handle detaches its thread", "[thread][spawn]") {
  auto done = std::make_shared<std::atomic<int>>(0);
  auto first = th::spawn([done] { done->fetch_add(1); });
  first = th::spawn([done] { done->fetch_add(1); });
  REQUIRE(first.join().is_ok());
  REQUIRE(eventually([&] { return done->load() == 2; }));
}

TEST_CASE("a moved handle joins from its new owner", "[thread][spawn]") {
  auto handle = th::spawn([] { return 9; });
  th::JoinHandle<int> moved = std::move(handle);
  REQUIRE(moved.join().unwrap() == 9);
  // The moved-from handle is empty.
  REQUIRE_THROWS_AS((void)handle.join(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  REQUIRE_THROWS_AS((void)handle.thread(), std::logic_error);
}

TEST_CASE("joining twice is reported as a programming error", "[thread][spawn]") {
  auto handle = th::spawn([] { return 1; });
  REQUIRE(handle.join().is_ok());
  REQUIRE_THROWS_AS((void)handle.join(), std::logic_error);
}

TEST_CASE("a thread joining its own handle gets an error, not a deadlock", "[thread][spawn]") {
  Watchdog watchdog("self-join");
  std::atomic<th::JoinHandle<void>*> self{nullptr};
  std::atomic<int> code{-1};
  auto handle = th::spawn([&self, &code] {
    th::JoinHandle<void>* me = nullptr;
    if (!eventually([&] { return (me = self.load()) != nullptr; })) {
      return;
    }
    try {
      (void)me->join();
      code = 0;
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
  });
  self = &handle;
  REQUIRE(eventually([&] { return handle.is_finished(); }));
  REQUIRE(handle.join().is_ok());
  REQUIRE(code.load() == static_cast<int>(std::errc::resource_deadlock_would_occur));
}

TEST_CASE("the handle's thread() is the spawned thread", "[thread][spawn]") {
  std::atomic<std::uint64_t> seen{0};
  auto handle = th::spawn([&seen] { seen = th::current().id().as_u64(); });
  const th::ThreadId id = handle.thread().id();
  REQUIRE(handle.join().is_ok());
  REQUIRE(seen.load() == id.as_u64());
  REQUIRE(handle.thread().id() == id);  // still readable after join
  REQUIRE(id != th::current().id());
}

TEST_CASE("many threads each return their own result", "[thread][spawn][stress]") {
  std::vector<th::JoinHandle<int>> handles;
  for (int i = 0; i < 64; ++i) {
    handles.push_back(th::spawn([i] { return i * i; }));
  }
  for (int i = 0; i < 64; ++i) {
    REQUIRE(handles[static_cast<std::size_t>(i)].join().unwrap() == i * i);
  }
}

TEST_CASE("a detached thread whose result holds its own Thread is still freed", "[thread][spawn]") {
  struct Tracker {
    std::shared_ptr<std::atomic<bool>> destroyed;
    Tracker(Tracker&&) noexcept = default;
    explicit Tracker(std::shared_ptr<std::atomic<bool>> d) : destroyed(std::move(d)) {}
    ~Tracker() {
      if (destroyed) {
        destroyed->store(true);
      }
    }
  };
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  {
    auto handle = th::spawn([destroyed] { return std::pair<th::Thread, Tracker>(th::current(), Tracker(destroyed)); });
  }  // detached
  REQUIRE(eventually([&] { return destroyed->load(); }));
}

TEST_CASE("a result type that cannot be assigned works", "[thread][spawn]") {
  struct Fixed {
    const int x;
  };
  auto handle = th::spawn([] { return Fixed{7}; });
  REQUIRE(handle.join().unwrap().x == 7);
  auto lambda = th::spawn([] { return [](int v) { return v * 2; }; }).join().unwrap();
  REQUIRE(lambda(21) == 42);
}

#if defined(__GLIBC__)
TEST_CASE("a thread that calls pthread_exit joins to a Panic saying so", "[thread][spawn]") {
  auto result = th::spawn([]() -> int { pthread_exit(nullptr); }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()).find("pthread_exit") != std::string::npos);
}
#endif
