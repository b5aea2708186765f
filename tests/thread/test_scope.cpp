// SPDX-License-Identifier: MIT
// scope(): threads that borrow locals, are all joined, and report unjoined panics.

#include <array>
#include <atomic>
#include <stdexcept>
#include <string>
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
using namespace std::chrono_literals;
using spindle::test::eventually;

TEST_CASE("scoped threads borrow locals and are joined before scope returns", "[thread][scope]") {
  std::array<int, 8> slots{};  // plain ints: each thread writes its own
  const std::string prefix = "value";
  th::scope([&](th::Scope& s) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      // Unjoined on purpose: scope() joins them.
      (void)s.spawn([&slots, &prefix, i] {
        th::sleep(1ms);
        slots[i] = static_cast<int>(prefix.size() + i);
      });
    }
  });
  for (std::size_t i = 0; i < slots.size(); ++i) {
    REQUIRE(slots[i] == static_cast<int>(5 + i));
  }
}

TEST_CASE("scope returns what its function returns", "[thread][scope]") {
  const int total = th::scope([](th::Scope& s) {
    auto a = s.spawn([] { return 40; });
    auto b = s.spawn([](int x) { return x; }, 2);
    return a.join().unwrap() + b.join().unwrap();
  });
  REQUIRE(total == 42);

  int target = 0;
  int& same = th::scope([&target](th::Scope&) -> int& { return target; });
  REQUIRE(&same == &target);
}

TEST_CASE("a scoped handle joins to the thread's result or panic", "[thread][scope]") {
  th::scope([](th::Scope& s) {
    auto good = s.spawn([] { return std::string("ok"); });
    auto bad = s.spawn([]() -> int { throw std::runtime_error("scoped boom"); });
    REQUIRE(good.join().unwrap() == "ok");
    auto result = bad.join();
    REQUIRE(result.is_err());
    REQUIRE(std::string(result.error().what()) == "scoped boom");
  });
  // The panic was joined, so scope() did not throw.
}

TEST_CASE("an unjoined scoped panic makes scope throw after every thread ended", "[thread][scope]") {
  std::atomic<bool> slow_done{false};
  try {
    th::scope([&](th::Scope& s) {
      (void)s.spawn([] { throw std::runtime_error("nobody joined me"); });
      (void)s.spawn([&slow_done] {
        th::sleep(20ms);
        slow_done = true;
      });
    });
    FAIL("scope did not throw");
  } catch (const th::ScopePanic& e) {
    REQUIRE(slow_done);
    REQUIRE(e.panics().size() == 1);
    REQUIRE(std::string(e.panics()[0].what()) == "nobody joined me");
    REQUIRE(std::string(e.what()).find("a scoped thread panicked: nobody joined me") != std::string::npos);
  }
}

TEST_CASE("every unjoined panic is reported, in spawn order", "[thread][scope]") {
  try {
    th::scope([](th::Scope& s) {
      (void)s.spawn([] { throw std::runtime_error("first"); });
      (void)s.spawn([] { return 1; });
      (void)s.spawn([] { throw 7; });
    });
    FAIL("scope did not throw");
  } catch (const th::ScopePanic& e) {
    REQUIRE(e.panics().size() == 2);
    REQUIRE(std::string(e.panics()[0].what()) == "first");
    REQUIRE(std::string(e.panics()[1].what()) == spindle::Panic::non_standard_description);
    REQUIRE(std::string(e.what()).find("2 scoped threads panicked") != std::string::npos);
  }
}

TEST_CASE("an exception from scope's function wins, after the threads ended", "[thread][scope]") {
  std::atomic<bool> slow_done{false};
  try {
    th::scope([&](th::Scope& s) {
      (void)s.spawn([] { throw std::runtime_error("thread"); });
      (void)s.spawn([&slow_done] {
        th::sleep(20ms);
        slow_done = true;
      });
      throw std::invalid_argument("caller");
    });
    FAIL("scope did not throw");
  } catch (const std::invalid_argument& e) {
    REQUIRE(slow_done);
    REQUIRE(std::string(e.what()) == "caller");
  }
}

TEST_CASE("scoped threads can spawn more scoped threads", "[thread][scope]") {
  std::atomic<int> count{0};
  th::scope([&count](th::Scope& s) {
    for (int i = 0; i < 4; ++i) {
      (void)s.spawn([&s, &count] {
        for (int j = 0; j < 4; ++j) {
          (void)s.spawn([&count] { count.fetch_add(1); });
        }
        count.fetch_add(1);
      });
    }
  });
  REQUIRE(count.load() == 4 + 16);
}

TEST_CASE("a scoped handle passed to another scoped thread can be joined there", "[thread][scope]") {
  const int result = th::scope([](th::Scope& s) {
    auto inner = s.spawn([] { return 5; });
    auto outer = s.spawn([h = std::move(inner)]() mutable { return h.join().unwrap() * 2; });
    return outer.join().unwrap();
  });
  REQUIRE(result == 10);
}

TEST_CASE("spawn_scoped names a scoped thread and reports start failures as values", "[thread][scope][builder]") {
  th::scope([](th::Scope& s) {
    auto named = th::Builder().name("scoped-worker").spawn_scoped(s, [] {
      return std::string(th::current().name().value_or(""));
    });
    REQUIRE(named.is_ok());
    REQUIRE(named->join().unwrap() == "scoped-worker");

    auto failed = th::Builder().stack_size(std::size_t{1} << 62).spawn_scoped(s, [] { return 0; });
    REQUIRE(failed.is_err());
  });
  // A failed start is not waited for: the scope ended.
}

TEST_CASE("is_finished works on scoped handles", "[thread][scope]") {
  th::scope([](th::Scope& s) {
    std::atomic<bool> release{false};
    const spindle::test::SetOnExit release_on_exit(release);
    auto h = s.spawn([&release] {
      while (!release.load()) {
        th::yield_now();
      }
    });
    REQUIRE_FALSE(h.is_finished());
    release = true;
    REQUIRE(eventually([&] { return h.is_finished(); }));
    REQUIRE(h.join().is_ok());
  });
}

TEST_CASE("many short-lived scopes in a row", "[thread][scope][stress]") {
  long long total = 0;
  for (int round = 0; round < 200; ++round) {
    std::array<int, 4> parts{};
    th::scope([&parts, round](th::Scope& s) {
      for (std::size_t i = 0; i < parts.size(); ++i) {
        (void)s.spawn([&parts, i, round] { parts[i] = round + static_cast<int>(i); });
      }
    });
    for (int p : parts) {
      total += p;
    }
  }
  // sum over rounds of (4*round + 0+1+2+3)
  REQUIRE(total == 4LL * (199 * 200 / 2) + 6LL * 200);
}

namespace {
// Counts destructions of the values a test's threads return.
struct Tracked {
  std::atomic<int>* destroyed;
  explicit Tracked(std::atomic<int>* d) : destroyed(d) {}
  Tracked(Tracked&& other) noexcept : destroyed(std::exchange(other.destroyed, nullptr)) {}
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (destroyed != nullptr) {
      destroyed->fetch_add(1);
    }
  }
};
}  // namespace

TEST_CASE("results nobody joined are destroyed before scope returns", "[thread][scope]") {
  std::atomic<int> destroyed{0};
  th::scope([&destroyed](th::Scope& s) {
    for (int i = 0; i < 3; ++i) {
      (void)s.spawn([&destroyed] { return Tracked(&destroyed); });
    }
    auto kept = s.spawn([&destroyed] { return Tracked(&destroyed); });
    REQUIRE(kept.join().is_ok());  // this one is destroyed right here
  });
  REQUIRE(destroyed.load() == 4);
}

TEST_CASE("a scoped result whose move throws joins to a Panic, or makes scope throw", "[thread][scope][panic]") {
  using spindle::test::FragileMove;
  using spindle::test::MoveFailed;
  const spindle::test::Watchdog dog("scoped threads whose results' moves throw");
  const spindle::test::LifetimeCheck check;
  // Budget k: the (k+1)th move of the value throws, on the thread or in join().
  const auto joins_well = [](const spindle::Result<FragileMove, spindle::Panic>& result, int budget) {
    if (result.is_ok()) {
      REQUIRE(result->value() == budget);
    } else {
      REQUIRE(std::string(result.error().what()) == MoveFailed::message);
    }
    REQUIRE((budget != 0 || result.is_err()));
    REQUIRE((budget != FragileMove::plenty || result.is_ok()));
  };
  SECTION("joined") {
    th::scope([&joins_well](th::Scope& s) {
      for (const int budget : {0, 1, 2, FragileMove::plenty}) {
        CAPTURE(budget);
        joins_well(s.spawn([budget] { return FragileMove(budget, budget); }).join(), budget);
        auto built = th::Builder().name("fragile").spawn_scoped(s, [budget] { return FragileMove(budget, budget); });
        REQUIRE(built.is_ok());
        joins_well(built->join(), budget);
      }
    });
    // Every panic was joined: scope() returned normally.
  }
  SECTION("left to the scope") {
    for (const int budget : {0, 1, 2, FragileMove::plenty}) {
      CAPTURE(budget);
      std::size_t reported = 0;
      try {
        th::scope([budget](th::Scope& s) { (void)s.spawn([budget] { return FragileMove(budget, budget); }); });
      } catch (const th::ScopePanic& e) {
        reported = e.panics().size();
        REQUIRE(reported == 1);
        REQUIRE(std::string(e.panics()[0].what()) == MoveFailed::message);
      }
      // Nobody takes the value out: only the moves on the thread can throw.
      REQUIRE((budget != 0 || reported == 1));
      REQUIRE((budget != FragileMove::plenty || reported == 0));
    }
  }
}

namespace {
// A scoped thread's result whose destructor, after a short sleep, spawns one
// more thread on the same scope. That thread sleeps, counts itself, and
// returns the next link of the chain (depth - 1), until depth 0. The last
// link's thread throws, leaving a panic nobody joins.
struct SpawnsWhenDestroyed {
  th::Scope* scope;
  std::atomic<int>* finished;
  int depth;

  SpawnsWhenDestroyed(th::Scope& s, std::atomic<int>& counter, int d) : scope(&s), finished(&counter), depth(d) {}
  SpawnsWhenDestroyed(SpawnsWhenDestroyed&& other) noexcept
      : scope(std::exchange(other.scope, nullptr)), finished(other.finished), depth(other.depth) {}
  SpawnsWhenDestroyed(const SpawnsWhenDestroyed&) = delete;
  SpawnsWhenDestroyed& operator=(const SpawnsWhenDestroyed&) = delete;
  SpawnsWhenDestroyed& operator=(SpawnsWhenDestroyed&&) = delete;
  ~SpawnsWhenDestroyed() {
    if (scope == nullptr || depth == 0) {
      return;
    }
    th::sleep(20ms);
    th::Scope& s = *scope;
    std::atomic<int>& counter = *finished;
    const int next = depth - 1;
    (void)s.spawn([&s, &counter, next] {
      th::sleep(20ms);
      counter.fetch_add(1);
      if (next == 0) {
        throw std::runtime_error("the last link");
      }
      return SpawnsWhenDestroyed(s, counter, next);
    });
  }
};
}  // namespace

// After Rust's test_scoped_threads_drop_result_before_join
// (library/std/src/thread/tests.rs): a result nobody joined is destroyed
// before the scope's last wait, so the thread its destructor spawns is
// waited for too.
TEST_CASE("a result whose destructor spawns on the scope: scope waits for that thread too", "[thread][scope]") {
  const spindle::test::Watchdog dog("scope() with a result whose destructor spawns");
  std::atomic<bool> late_thread_done{false};
  struct SpawnOnce {
    th::Scope* scope;
    std::atomic<bool>* done;
    SpawnOnce(th::Scope* s, std::atomic<bool>* d) : scope(s), done(d) {}
    SpawnOnce(SpawnOnce&& other) noexcept : scope(std::exchange(other.scope, nullptr)), done(other.done) {}
    SpawnOnce(const SpawnOnce&) = delete;
    SpawnOnce& operator=(const SpawnOnce&) = delete;
    SpawnOnce& operator=(SpawnOnce&&) = delete;
    ~SpawnOnce() {
      if (scope != nullptr) {
        th::sleep(20ms);
        (void)scope->spawn([done = done] {
          th::sleep(20ms);
          done->store(true);
        });
      }
    }
  };
  th::scope([&late_thread_done](th::Scope& s) {
    (void)s.spawn([&s, &late_thread_done] {
      th::sleep(20ms);
      return SpawnOnce(&s, &late_thread_done);
    });
  });
  REQUIRE(late_thread_done.load());
}

TEST_CASE("results that spawn from their destructors, links deep, are all waited for", "[thread][scope]") {
  const spindle::test::Watchdog dog("scope() with a chain of results that spawn");
  constexpr int depth = 3;
  std::atomic<int> finished{0};
  SECTION("scope's function returns") {
    try {
      th::scope([&finished](th::Scope& s) {
        (void)s.spawn([&s, &finished] { return SpawnsWhenDestroyed(s, finished, depth); });
      });
      FAIL("scope did not throw");
    } catch (const th::ScopePanic& e) {
      // The last link's panic, from a thread spawned after the scope's function returned.
      REQUIRE(e.panics().size() == 1);
      REQUIRE(std::string(e.panics()[0].what()) == "the last link");
    }
    REQUIRE(finished.load() == depth);
  }
  SECTION("scope's function throws") {
    try {
      th::scope([&finished](th::Scope& s) {
        (void)s.spawn([&s, &finished] { return SpawnsWhenDestroyed(s, finished, depth); });
        throw std::invalid_argument("caller");
      });
      FAIL("scope did not throw");
    } catch (const std::invalid_argument& e) {
      REQUIRE(std::string(e.what()) == "caller");
    }
    REQUIRE(finished.load() == depth);
  }
}

#if defined(__GLIBC__)
TEST_CASE("a scoped thread that calls pthread_exit is reported, not waited for forever", "[thread][scope]") {
  try {
    th::scope([](th::Scope& s) { (void)s.spawn([] { pthread_exit(nullptr); }); });
    FAIL("scope did not throw");
  } catch (const th::ScopePanic& e) {
    REQUIRE(e.panics().size() == 1);
    REQUIRE(std::string(e.what()).find("pthread_exit") != std::string::npos);
  }
}
#endif
