// SPDX-License-Identifier: MIT
// Poisoning, as in Rust: an exclusive guard (MutexGuard, RwLockWriteGuard)
// destroyed while an exception unwinds the thread that holds it marks the
// lock poisoned. A read guard never poisons. A poisoned lock still locks:
// lock()/read()/write() return the guard inside a PoisonError, try_* a
// TryLockError of kind Poisoned with the guard; clear_poison() forgets it.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
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
using spindle::test::sync_support::Boom;
using spindle::test::sync_support::eventually;
using spindle::test::sync_support::guard_of_poisoned;
using spindle::test::sync_support::MoveOnly;
using spindle::test::sync_support::NoDefault;

namespace {

constexpr const char* poison_message = "poisoned lock: another task failed inside";

using IntGuard = sy::MutexGuard<int>;
using IntPoison = sy::PoisonError<IntGuard>;

static_assert(std::is_same_v<decltype(std::declval<IntPoison&&>().into_inner()), IntGuard>);
static_assert(std::is_same_v<decltype(std::declval<const IntPoison&>().get_ref()), const IntGuard&>);
static_assert(std::is_same_v<decltype(std::declval<IntPoison&>().get_mut()), IntGuard&>);
static_assert(std::is_same_v<decltype(std::declval<sy::Mutex<int>&>().get_mut()), sy::LockResult<int&>>);
static_assert(std::is_same_v<decltype(std::declval<sy::RwLock<int>&>().get_mut()), sy::LockResult<int&>>);
static_assert(std::is_same_v<sy::LockResult<int&>, spindle::Result<int&, sy::PoisonError<int&>>>);
static_assert(std::is_same_v<decltype(std::declval<sy::PoisonError<int&>&>().into_inner()), int&>);
static_assert(std::is_same_v<decltype(std::declval<sy::PoisonError<int&>&&>().into_inner()), int&>);
static_assert(std::is_same_v<decltype(std::declval<const sy::PoisonError<int&>&>().get_ref()), const int&>);
static_assert(std::is_same_v<decltype(std::declval<sy::PoisonError<int&>&>().get_mut()), int&>);
static_assert(std::is_same_v<decltype(std::declval<sy::RwLock<int>&&>().into_inner()),
                             spindle::Result<int, sy::PoisonError<int>>>);

// Poisons `m` from the calling thread: throws while holding its guard.
void poison_here(sy::Mutex<int>& m, int value) {
  try {
    auto g = m.lock().unwrap_or_else([](IntPoison e) { return std::move(e).into_inner(); });
    *g = value;
    throw Boom();
  } catch (const Boom&) {
  }
}

template <class T>
void poison_here(sy::RwLock<T>& lock) {
  try {
    auto g = lock.write();
    throw Boom();
  } catch (const Boom&) {
  }
}

// A destructor that takes and releases a lock: run during unwinding, it
// holds a guard made while the exception was already in flight.
struct LocksOnDestruction {
  sy::Mutex<int>* mutex;
  sy::RwLock<int>* rwlock;
  std::atomic<int>* ran;
  LocksOnDestruction(sy::Mutex<int>* m, sy::RwLock<int>* rw, std::atomic<int>* r) noexcept
      : mutex(m), rwlock(rw), ran(r) {}
  LocksOnDestruction(const LocksOnDestruction&) = delete;
  LocksOnDestruction& operator=(const LocksOnDestruction&) = delete;
  ~LocksOnDestruction() {
    auto g = mutex->lock();
    if (g.is_ok()) {
      ++*g.unwrap();
    }
    auto w = rwlock->write();
    if (w.is_ok()) {
      ++*w.unwrap();
    }
    ran->fetch_add(1);
  }
};

}  // namespace

TEST_CASE("poison: a thread that throws while holding a MutexGuard poisons the mutex", "[sync][poison][mutex]") {
  Watchdog dog("mutex poisoned by a thread");
  sy::Mutex<int> m(0);
  auto died = th::spawn([&m] {
                auto g = m.lock().unwrap();
                *g = 1;
                throw Boom();
              }).join();
  REQUIRE(died.is_err());
  REQUIRE(std::string(died.error().what()) == "boom");
  REQUIRE(m.is_poisoned());

  // lock() still locks, and hands the guard over inside the error.
  {
    auto r = m.lock();
    REQUIRE(r.is_err());
    REQUIRE(std::string(r.error().what()) == poison_message);
    std::ostringstream out;
    out << r.error();
    REQUIRE(out.str() == poison_message);
    REQUIRE(*r.error().get_ref() == 1);
    *r.error().get_mut() = 2;
    IntGuard g = std::move(r).unwrap_err().into_inner();
    REQUIRE(*g == 2);
    *g = 3;
    REQUIRE(m.try_lock().is_err());  // held through the guard from the error
    REQUIRE(m.try_lock().error().is_would_block());
  }
  // Dropping that guard normally neither clears nor renews the poison.
  REQUIRE(m.is_poisoned());

  // try_lock: Poisoned, with the guard.
  {
    auto r = m.try_lock();
    REQUIRE(r.is_err());
    REQUIRE(r.error().kind() == sy::TryLockError<IntGuard>::Poisoned);
    REQUIRE(r.error().is_poisoned());
    REQUIRE_FALSE(r.error().is_would_block());
    REQUIRE(std::string(r.error().what()) == poison_message);
    std::ostringstream out;
    out << r.error();
    REQUIRE(out.str() == poison_message);
    IntGuard g = std::move(r).unwrap_err().into_inner();
    REQUIRE(*g == 3);
    REQUIRE(m.try_lock().error().is_would_block());
  }

  m.clear_poison();
  REQUIRE_FALSE(m.is_poisoned());
  auto r = m.lock();
  REQUIRE(r.is_ok());
  REQUIRE(*r.unwrap() == 3);
  REQUIRE(m.try_lock().error().is_would_block());
}

TEST_CASE("poison: a MutexGuard destroyed by an exception in the same thread poisons", "[sync][poison][mutex]") {
  sy::Mutex<int> m(0);
  REQUIRE_THROWS_AS(
      [&m] {
        auto g = m.lock().unwrap();
        *g = 5;
        throw Boom();
      }(),
      Boom);
  REQUIRE(m.is_poisoned());
  REQUIRE(*guard_of_poisoned(m.lock()) == 5);

  // A second unwinding does not make it any worse, and clear_poison cures both.
  poison_here(m, 6);
  REQUIRE(m.is_poisoned());
  m.clear_poison();
  REQUIRE(m.lock().is_ok());
  REQUIRE(m.try_lock().is_ok());
  REQUIRE(*m.lock().unwrap() == 6);
}

TEST_CASE("poison: a thread waiting in lock() gets the guard of a mutex poisoned meanwhile", "[sync][poison][mutex]") {
  Watchdog dog("waiter of a poisoned mutex");
  sy::Mutex<int> m(0);
  std::atomic<bool> holding{false};
  std::atomic<bool> waiter_started{false};
  std::atomic<bool> go{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit go_on_exit(go);
    auto poisoner = s.spawn([&] {
      auto g = m.lock().unwrap();
      holding = true;
      (void)spindle::test::sync_support::spin_until([&] { return go.load(); });
      *g = 7;
      throw Boom();
    });
    REQUIRE(eventually([&] { return holding.load(); }));
    auto waiter = s.spawn([&] {
      waiter_started = true;
      auto r = m.lock();  // blocks until the poisoner unwinds
      if (r.is_ok()) {
        return -1;
      }
      IntGuard g = std::move(r).unwrap_err().into_inner();
      return *g;
    });
    REQUIRE(eventually([&] { return waiter_started.load(); }));
    th::sleep(5ms);
    go = true;
    REQUIRE(poisoner.join().is_err());
    REQUIRE(waiter.join().unwrap() == 7);
  });
  REQUIRE(m.is_poisoned());
}

TEST_CASE("poison: a write guard destroyed by an exception poisons the RwLock", "[sync][poison][rwlock]") {
  Watchdog dog("rwlock poisoned");
  sy::RwLock<std::string> lock(std::string("a"));

  SECTION("in another thread") {
    auto died = th::spawn([&lock] {
                  auto g = lock.write().unwrap();
                  *g = "b";
                  throw Boom();
                }).join();
    REQUIRE(died.is_err());
    REQUIRE(std::string(died.error().what()) == "boom");
  }
  SECTION("in the same thread") {
    REQUIRE_THROWS_AS(
        [&lock] {
          auto g = lock.write().unwrap();
          *g = "b";
          throw Boom();
        }(),
        Boom);
  }
  SECTION("with a write guard taken by try_write") {
    REQUIRE_THROWS_AS(
        [&lock] {
          auto g = lock.try_write().unwrap();
          *g = "b";
          throw Boom();
        }(),
        Boom);
  }
  REQUIRE(lock.is_poisoned());

  // Every way in still gets in, with the guard inside the error.
  {
    auto r = lock.read();
    REQUIRE(r.is_err());
    REQUIRE(std::string(r.error().what()) == poison_message);
    REQUIRE(*r.error().get_ref() == "b");
    auto g = std::move(r).unwrap_err().into_inner();
    REQUIRE(*g == "b");
    REQUIRE(lock.try_write().error().is_would_block());  // a reader is in
    auto r2 = lock.try_read();
    REQUIRE(r2.is_err());
    REQUIRE(r2.error().kind() == sy::TryLockError<sy::RwLockReadGuard<std::string>>::Poisoned);
    REQUIRE(r2.error().is_poisoned());
    REQUIRE(std::string(r2.error().what()) == poison_message);
    REQUIRE(*std::move(r2).unwrap_err().into_inner() == "b");
  }
  {
    auto w = lock.try_write();
    REQUIRE(w.is_err());
    REQUIRE(w.error().kind() == sy::TryLockError<sy::RwLockWriteGuard<std::string>>::Poisoned);
    REQUIRE_FALSE(w.error().is_would_block());
    auto g = std::move(w).unwrap_err().into_inner();
    *g = "c";
    REQUIRE(lock.try_read().error().is_would_block());
  }
  {
    auto w = lock.write();
    REQUIRE(w.is_err());
    REQUIRE(*w.error().get_ref() == "c");
    *std::move(w).unwrap_err().into_inner() += "d";
  }
  REQUIRE(lock.is_poisoned());
  lock.clear_poison();
  REQUIRE_FALSE(lock.is_poisoned());
  REQUIRE(lock.read().is_ok());
  REQUIRE(lock.try_read().is_ok());
  REQUIRE(lock.try_write().is_ok());
  REQUIRE(*lock.write().unwrap() == "cd");
}

TEST_CASE("poison: a read guard never poisons", "[sync][poison][rwlock]") {
  Watchdog dog("read guard does not poison");
  sy::RwLock<int> lock(1);

  SECTION("in another thread") {
    auto died = th::spawn([&lock] {
                  auto g = lock.read().unwrap();
                  auto h = lock.try_read().unwrap();
                  if (*g + *h == 2) {
                    throw Boom();
                  }
                  return *g;
                }).join();
    REQUIRE(died.is_err());
  }
  SECTION("in the same thread") {
    REQUIRE_THROWS_AS(
        [&lock] {
          auto g = lock.read().unwrap();
          throw Boom();
        }(),
        Boom);
  }
  REQUIRE_FALSE(lock.is_poisoned());
  REQUIRE(lock.read().is_ok());
  REQUIRE(lock.try_write().is_ok());  // and the read lock was released
  REQUIRE(*lock.write().unwrap() == 1);
}

TEST_CASE("poison: only an exception unwinding through the guard poisons", "[sync][poison]") {
  sy::Mutex<int> m(0);
  sy::RwLock<int> lock(0);

  SECTION("an exception thrown and caught while the guard lives on") {
    {
      auto g = m.lock().unwrap();
      auto w = lock.write().unwrap();
      try {
        throw Boom();
      } catch (const Boom&) {
        auto in_handler = m.try_lock();  // WouldBlock: g holds it
        REQUIRE(in_handler.is_err());
      }
      *g = 1;
      *w = 1;
    }
    REQUIRE_FALSE(m.is_poisoned());
    REQUIRE_FALSE(lock.is_poisoned());
  }

  SECTION("guards taken and dropped inside a catch handler") {
    try {
      throw Boom();
    } catch (const Boom&) {
      auto g = m.lock().unwrap();
      auto w = lock.write().unwrap();
      *g = 1;
      *w = 1;
    }
    REQUIRE_FALSE(m.is_poisoned());
    REQUIRE_FALSE(lock.is_poisoned());
  }

  SECTION("guards moved out before the throw") {
    std::optional<IntGuard> kept;
    std::optional<sy::RwLockWriteGuard<int>> kept_w;
    try {
      auto g = m.lock().unwrap();
      auto w = lock.write().unwrap();
      *g = 1;
      *w = 1;
      kept.emplace(std::move(g));
      kept_w.emplace(std::move(w));
      throw Boom();  // g and w, empty, are destroyed unwinding: nothing to poison or unlock
    } catch (const Boom&) {
    }
    REQUIRE(m.try_lock().error().is_would_block());  // still held by kept
    REQUIRE(lock.try_read().error().is_would_block());
    kept.reset();
    kept_w.reset();
    REQUIRE_FALSE(m.is_poisoned());
    REQUIRE_FALSE(lock.is_poisoned());
  }

  SECTION("guards made and dropped by a destructor that runs during unwinding") {
    std::atomic<int> ran{0};
    try {
      const LocksOnDestruction on_unwind(&m, &lock, &ran);
      throw Boom();
    } catch (const Boom&) {
    }
    REQUIRE(ran.load() == 1);
    REQUIRE_FALSE(m.is_poisoned());
    REQUIRE_FALSE(lock.is_poisoned());
  }

  REQUIRE(*m.lock().unwrap() == 1);
  REQUIRE(*lock.read().unwrap() == 1);
}

TEST_CASE("poison: a poisoned lock still excludes: others block until its guard is dropped", "[sync][poison]") {
  Watchdog dog("poisoned lock excludes");
  sy::Mutex<int> m(0);
  sy::RwLock<int> lock(0);
  poison_here(m, 1);
  poison_here(lock);
  REQUIRE(m.is_poisoned());
  REQUIRE(lock.is_poisoned());

  std::atomic<int> blocked_in{0};
  std::atomic<bool> mutex_locked{false};
  std::atomic<bool> read_locked{false};
  th::scope([&](th::Scope& s) {
    auto g = guard_of_poisoned(m.lock());
    auto w = guard_of_poisoned(lock.write());
    auto other = s.spawn([&] {
      // Held elsewhere: try_* says WouldBlock, not Poisoned.
      const bool would_block = m.try_lock().error().is_would_block() && lock.try_read().error().is_would_block() &&
                               lock.try_write().error().is_would_block();
      blocked_in.fetch_add(1);
      auto mine = m.lock();
      mutex_locked = true;
      blocked_in.fetch_add(1);
      auto reading = lock.read();
      read_locked = true;
      const bool both_poisoned = mine.is_err() && reading.is_err();
      const int seen = both_poisoned ? *mine.error().get_ref() + *reading.error().get_ref() : -1;
      return would_block ? seen : -2;
    });
    REQUIRE(eventually([&] { return blocked_in.load() == 1; }));
    th::sleep(10ms);
    REQUIRE_FALSE(mutex_locked.load());
    *g = 10;
    { auto release = std::move(g); }
    REQUIRE(eventually([&] { return blocked_in.load() == 2; }));
    th::sleep(10ms);
    REQUIRE_FALSE(read_locked.load());
    *w = 20;
    { auto release = std::move(w); }
    REQUIRE(other.join().unwrap() == 30);
  });
  REQUIRE(m.is_poisoned());
  REQUIRE(lock.is_poisoned());
}

TEST_CASE("poison: get_mut and into_inner on poisoned and clean locks", "[sync][poison]") {
  SECTION("Mutex") {
    sy::Mutex<NoDefault> m(NoDefault(1));
    REQUIRE(m.get_mut().is_ok());
    REQUIRE_THROWS_AS(
        [&m] {
          auto g = m.lock().unwrap();
          g->set(2);
          throw Boom();
        }(),
        Boom);
    auto ref = m.get_mut();
    REQUIRE(ref.is_err());
    REQUIRE(std::string(ref.error().what()) == poison_message);
    REQUIRE(ref.error().get_ref().value() == 2);
    ref.error().get_mut().set(3);
    NoDefault& inside = std::move(ref).unwrap_err().into_inner();
    REQUIRE(inside.value() == 3);
    inside.set(4);
    REQUIRE(guard_of_poisoned(m.lock())->value() == 4);
    m.clear_poison();
    REQUIRE(m.get_mut().unwrap().value() == 4);

    sy::Mutex<MoveOnly> owner(MoveOnly(5));
    REQUIRE_THROWS_AS(
        [&owner] {
          auto g = owner.lock().unwrap();
          g->set(6);
          throw Boom();
        }(),
        Boom);
    auto taken = std::move(owner).into_inner();
    REQUIRE(taken.is_err());
    REQUIRE(taken.error().get_ref().value() == 6);
    MoveOnly out = std::move(taken).unwrap_err().into_inner();
    REQUIRE(out.value() == 6);

    sy::Mutex<MoveOnly> clean(MoveOnly(7));
    REQUIRE(std::move(clean).into_inner().unwrap().value() == 7);
  }

  SECTION("RwLock") {
    sy::RwLock<NoDefault> lock(std::in_place, 1);
    REQUIRE(lock.get_mut().is_ok());
    REQUIRE_THROWS_AS(
        [&lock] {
          auto g = lock.write().unwrap();
          g->set(2);
          throw Boom();
        }(),
        Boom);
    auto ref = lock.get_mut();
    REQUIRE(ref.is_err());
    REQUIRE(ref.error().get_ref().value() == 2);
    std::move(ref).unwrap_err().into_inner().set(3);
    REQUIRE(guard_of_poisoned(lock.read())->value() == 3);
    lock.clear_poison();
    REQUIRE(lock.get_mut().unwrap().value() == 3);

    sy::RwLock<MoveOnly> owner(MoveOnly(5));
    poison_here(owner);
    auto taken = std::move(owner).into_inner();
    REQUIRE(taken.is_err());
    REQUIRE(std::move(taken).unwrap_err().into_inner().value() == 5);

    sy::RwLock<MoveOnly> clean(MoveOnly(7));
    auto kept = std::move(clean).into_inner();
    REQUIRE(kept.is_ok());
    REQUIRE(std::move(kept).unwrap().value() == 7);
  }
}

// get_mut() returns LockResult<T&>: the value itself, as Rust's &mut T, so
// its members are called directly on what unwrap() returns.
TEST_CASE("poison: get_mut gives the value itself, poisoned or not", "[sync][poison]") {
  auto check = [](auto& lock, auto poison) {
    lock.get_mut().unwrap().push_back(3);
    std::vector<int>& same = lock.get_mut().unwrap();
    REQUIRE(&same == &lock.get_mut().unwrap());
    REQUIRE(same == std::vector<int>{1, 2, 3});

    poison(lock);
    REQUIRE(lock.is_poisoned());
    auto poisoned = lock.get_mut();
    REQUIRE(poisoned.is_err());
    REQUIRE_THROWS_AS(poisoned.unwrap(), spindle::BadResultAccess);
    REQUIRE(std::string(poisoned.error().what()) == poison_message);
    // The error still reaches the value (Rust's PoisonError::into_inner).
    REQUIRE(&poisoned.error().get_ref() == &same);
    poisoned.error().get_mut().push_back(4);
    std::vector<int>& inside = poisoned.error().into_inner();
    REQUIRE(&inside == &same);
    std::move(poisoned).unwrap_err().into_inner().push_back(5);
    REQUIRE(same == std::vector<int>{1, 2, 3, 4, 5});
    lock.clear_poison();
    lock.get_mut().unwrap().push_back(6);
    REQUIRE(same == std::vector<int>{1, 2, 3, 4, 5, 6});
  };
  SECTION("Mutex") {
    sy::Mutex<std::vector<int>> m(std::vector<int>{1, 2});
    check(m, [](auto& lock) {
      REQUIRE_THROWS_AS(
          [&lock] {
            auto g = lock.lock().unwrap();
            throw Boom();
          }(),
          Boom);
    });
  }
  SECTION("RwLock") {
    sy::RwLock<std::vector<int>> lock(std::vector<int>{1, 2});
    check(lock, [](auto& l) {
      REQUIRE_THROWS_AS(
          [&l] {
            auto g = l.write().unwrap();
            throw Boom();
          }(),
          Boom);
    });
  }
}
