// SPDX-License-Identifier: MIT
// spindle::sy::Mutex<T>: a lock that owns its value, reachable only through
// the move-only MutexGuard that lock() and try_lock() return. Poisoning has
// its own file (test_poison.cpp).

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "sync/common.hpp"

#include <spindle/sync.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace sy = spindle::sync;  // not "sync": that is POSIX sync(2)
using namespace std::chrono_literals;
using spindle::test::SetOnExit;
using spindle::test::Watchdog;
using spindle::test::sync_support::eventually;
using spindle::test::sync_support::MoveOnly;
using spindle::test::sync_support::NoDefault;

namespace {

using IntGuard = sy::MutexGuard<int>;
using IntTryError = sy::TryLockError<IntGuard>;

struct Point {
  int x = 0;
  int y = 0;
};

// The static shape of the API.
static_assert(std::is_default_constructible_v<sy::Mutex<int>>);
static_assert(!std::is_default_constructible_v<sy::Mutex<NoDefault>>);
static_assert(std::is_constructible_v<sy::Mutex<NoDefault>, NoDefault>);
static_assert(std::is_constructible_v<sy::Mutex<NoDefault>, std::in_place_t, int>);
static_assert(!std::is_copy_constructible_v<sy::Mutex<int>>);
static_assert(!std::is_move_constructible_v<sy::Mutex<int>>);
static_assert(!std::is_copy_assignable_v<sy::Mutex<int>>);
static_assert(!std::is_default_constructible_v<IntGuard>);
static_assert(!std::is_copy_constructible_v<IntGuard>);
static_assert(!std::is_copy_assignable_v<IntGuard>);
static_assert(std::is_nothrow_move_constructible_v<IntGuard>);
static_assert(std::is_nothrow_move_assignable_v<IntGuard>);
static_assert(std::is_same_v<decltype(*std::declval<const IntGuard&>()), int&>);
static_assert(std::is_same_v<decltype(std::declval<sy::Mutex<int>&>().lock()), sy::LockResult<IntGuard>>);
static_assert(std::is_same_v<decltype(std::declval<sy::Mutex<int>&>().try_lock()), sy::TryLockResult<IntGuard>>);
static_assert(std::is_same_v<sy::LockResult<IntGuard>, spindle::Result<IntGuard, sy::PoisonError<IntGuard>>>);

}  // namespace

TEST_CASE("Mutex: each constructor holds the value it was given", "[sync][mutex]") {
  sy::Mutex<int> defaulted;
  REQUIRE(*defaulted.lock().unwrap() == 0);

  sy::Mutex<std::string> from_value(std::string("abc"));
  REQUIRE(*from_value.lock().unwrap() == "abc");

  sy::Mutex<std::string> in_place(std::in_place, 3, 'x');
  REQUIRE(*in_place.lock().unwrap() == "xxx");

  sy::Mutex<NoDefault> no_default(NoDefault(7));
  REQUIRE(no_default.lock().unwrap()->value() == 7);
  sy::Mutex<NoDefault> no_default_in_place(std::in_place, 8);
  REQUIRE(no_default_in_place.lock().unwrap()->value() == 8);

  sy::Mutex<MoveOnly> move_only(MoveOnly(9));
  REQUIRE(move_only.lock().unwrap()->value() == 9);
  sy::Mutex<std::unique_ptr<int>> unique(std::make_unique<int>(10));
  REQUIRE(**unique.lock().unwrap() == 10);
}

TEST_CASE("Mutex: the guard reaches the value and unlocks when destroyed", "[sync][mutex]") {
  sy::Mutex<Point> m(Point{1, 2});
  {
    auto r = m.lock();
    REQUIRE(r.is_ok());
    auto g = std::move(r).unwrap();
    REQUIRE(g->x == 1);
    REQUIRE((*g).y == 2);
    g->x = 10;
    (*g).y = 20;
    REQUIRE(m.try_lock().is_err());  // held by g
  }
  auto again = m.try_lock();
  REQUIRE(again.is_ok());
  REQUIRE(again.unwrap()->x == 10);
  REQUIRE(again.unwrap()->y == 20);
  REQUIRE_FALSE(m.is_poisoned());
}

TEST_CASE("Mutex: try_lock would block while the mutex is held", "[sync][mutex]") {
  Watchdog dog("try_lock while held");
  sy::Mutex<int> m(5);

  SECTION("held by the same thread") {
    auto g = m.lock().unwrap();
    auto r = m.try_lock();
    REQUIRE(r.is_err());
    REQUIRE(r.error().kind() == IntTryError::WouldBlock);
    REQUIRE(r.error().is_would_block());
    REQUIRE_FALSE(r.error().is_poisoned());
    REQUIRE(std::string(r.error().what()) == "try_lock failed because the operation would block");
    std::ostringstream out;
    out << r.error();
    REQUIRE(out.str() == "try_lock failed because the operation would block");
    // WouldBlock has no guard to hand over.
    REQUIRE_THROWS_AS(std::move(r).unwrap_err().into_inner(), std::logic_error);
    REQUIRE(*g == 5);  // the failed try_lock left our hold alone
  }

  SECTION("held by another thread") {
    std::atomic<bool> holding{false};
    std::atomic<bool> release{false};
    th::scope([&](th::Scope& s) {
      const SetOnExit release_on_exit(release);
      auto holder = s.spawn([&] {
        auto g = m.lock().unwrap();
        *g = 6;
        holding = true;
        return spindle::test::sync_support::spin_until([&] { return release.load(); });
      });
      REQUIRE(eventually([&] { return holding.load(); }));
      for (int i = 0; i < 100; ++i) {
        auto r = m.try_lock();
        REQUIRE(r.is_err());
        REQUIRE(r.error().is_would_block());
      }
      release = true;
      REQUIRE(holder.join().unwrap());
    });
  }

  // Free again: try_lock takes it.
  auto r = m.try_lock();
  REQUIRE(r.is_ok());
  REQUIRE(*r.unwrap() >= 5);
}

TEST_CASE("Mutex: lock blocks until the holder releases the mutex", "[sync][mutex]") {
  Watchdog dog("lock blocks");
  sy::Mutex<std::vector<int>> m;
  std::atomic<bool> started{false};
  std::atomic<bool> locked{false};
  th::scope([&](th::Scope& s) {
    auto g = m.lock().unwrap();
    g->push_back(1);
    auto waiter = s.spawn([&] {
      started = true;
      auto mine = m.lock().unwrap();
      locked = true;
      mine->push_back(2);
      return mine->size();
    });
    REQUIRE(eventually([&] { return started.load(); }));
    th::sleep(20ms);
    REQUIRE_FALSE(locked.load());  // we still hold the mutex
    g->push_back(3);
    {
      auto dropped = std::move(g);  // unlocks at the end of this block
    }
    // The waiter saw everything we did while holding the mutex.
    REQUIRE(waiter.join().unwrap() == 3);
    REQUIRE(locked.load());
  });
  REQUIRE(*m.lock().unwrap() == std::vector<int>{1, 3, 2});
}

TEST_CASE("Mutex: N threads x M increments add up to N*M", "[sync][mutex]") {
  Watchdog dog("mutex counters");
  constexpr int threads = 4;
  constexpr int increments = 10'000;
  sy::Mutex<long> m(0);
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  th::scope([&](th::Scope& s) {
    for (int t = 0; t < threads; ++t) {
      (void)s.spawn([&, t] {
        for (int i = 0; i < increments; ++i) {
          // Every fourth one through try_lock, retried until it takes the mutex.
          auto g = [&] {
            if ((i + t) % 4 == 0) {
              for (;;) {
                auto r = m.try_lock();
                if (r.is_ok()) {
                  return std::move(r).unwrap();
                }
                std::this_thread::yield();
              }
            }
            return m.lock().unwrap();
          }();
          if (inside.fetch_add(1) != 0) {
            overlaps.fetch_add(1);
          }
          const long seen = *g;  // a plain read-modify-write: only the mutex protects it
          *g = seen + 1;
          inside.fetch_sub(1);
        }
      });
    }
  });
  REQUIRE(overlaps.load() == 0);
  REQUIRE(*m.lock().unwrap() == static_cast<long>(threads) * increments);
}

TEST_CASE("Mutex: a moved guard unlocks exactly once, a moved-from guard throws", "[sync][mutex]") {
  sy::Mutex<Point> m(Point{3, 4});

  SECTION("move construction") {
    {
      auto target = [&] {
        auto source = m.lock().unwrap();
        auto moved = std::move(source);
        REQUIRE_THROWS_AS(*source, std::logic_error);
        REQUIRE_THROWS_AS(source->x, std::logic_error);
        REQUIRE(moved->x == 3);
        return moved;  // source, empty, is destroyed here: it must not unlock
      }();
      REQUIRE(m.try_lock().is_err());
      REQUIRE(target->y == 4);
    }
    REQUIRE(m.try_lock().is_ok());
  }

  SECTION("move assignment releases the mutex the target held") {
    sy::Mutex<Point> other(Point{1, 1});
    auto a = m.lock().unwrap();
    auto b = other.lock().unwrap();
    a = std::move(b);  // a gives up m, takes over other
    REQUIRE_THROWS_AS(*b, std::logic_error);
    REQUIRE(a->x == 1);
    {
      auto free_now = m.try_lock();
      REQUIRE(free_now.is_ok());
    }
    REQUIRE(other.try_lock().is_err());
    { auto gone = std::move(a); }
    REQUIRE(other.try_lock().is_ok());
    // Assigning into a moved-from guard works too.
    b = m.lock().unwrap();
    REQUIRE(b->x == 3);
    REQUIRE(m.try_lock().is_err());
  }

  // Unlocked exactly once: one holder excludes the next, as before.
  auto g = m.lock().unwrap();
  REQUIRE(m.try_lock().is_err());
  REQUIRE_FALSE(m.is_poisoned());
}

TEST_CASE("Mutex: get_mut and into_inner on a clean mutex", "[sync][mutex]") {
  sy::Mutex<NoDefault> m(NoDefault(1));
  auto ref = m.get_mut();
  REQUIRE(ref.is_ok());
  ref.unwrap().set(2);
  REQUIRE(m.lock().unwrap()->value() == 2);

  sy::Mutex<MoveOnly> owner(std::in_place, 5);
  owner.get_mut().unwrap().set(6);
  auto inner = std::move(owner).into_inner();
  REQUIRE(inner.is_ok());
  MoveOnly out = std::move(inner).unwrap();
  REQUIRE(out.value() == 6);
}

TEST_CASE("Mutex: guards of many mutexes, taken and released in any order", "[sync][mutex]") {
  std::vector<std::unique_ptr<sy::Mutex<int>>> mutexes;
  for (int i = 0; i < 8; ++i) {
    mutexes.push_back(std::make_unique<sy::Mutex<int>>(i));
  }
  std::vector<IntGuard> guards;
  for (auto& m : mutexes) {
    guards.push_back(m->lock().unwrap());  // the vector moves guards as it grows
  }
  for (auto& m : mutexes) {
    REQUIRE(m->try_lock().is_err());
  }
  int sum = 0;
  for (const auto& g : guards) {
    sum += *g;
  }
  REQUIRE(sum == 28);
  guards.erase(guards.begin() + 2);
  REQUIRE(mutexes[2]->try_lock().is_ok());
  REQUIRE(mutexes[3]->try_lock().is_err());
  guards.clear();
  for (auto& m : mutexes) {
    REQUIRE(m->try_lock().is_ok());
  }
}

TEST_CASE("spindle::drop of a guard unlocks at once", "[mutex][drop]") {
  sy::Mutex<int> mutex(0);
  auto guard = mutex.lock().unwrap();
  *guard = 5;
  REQUIRE(mutex.try_lock().is_err());
  spindle::drop(std::move(guard));
  auto again = mutex.try_lock();
  REQUIRE(again.is_ok());
  REQUIRE(*again.unwrap() == 5);

  sy::RwLock<int> lock(0);
  auto writer = lock.write().unwrap();
  REQUIRE(lock.try_read().is_err());
  spindle::drop(std::move(writer));
  auto reader = lock.read().unwrap();
  REQUIRE(lock.try_write().is_err());
  spindle::drop(std::move(reader));
  REQUIRE(lock.try_write().is_ok());
}
