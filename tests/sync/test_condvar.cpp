// SPDX-License-Identifier: MIT
// spindle::sy::Condvar with MutexGuard: wait releases the mutex while it
// sleeps and holds it again on return; notify_one wakes a waiter,
// notify_all every waiter; timed waits report whether their time ran out.
// Waits may end spuriously, but wait_while and wait_timeout_while re-check
// their condition, so they never return with it still true (unless the
// time ran out). A poisoned mutex comes back as Err with the guard inside.

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
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
using spindle::test::Watchdog;
using spindle::test::sync_support::Boom;
using spindle::test::sync_support::eventually;
using spindle::test::sync_support::guard_of_poisoned;
using spindle::test::sync_support::RunOnExit;
using Clock = std::chrono::steady_clock;

namespace {

struct State {
  int waiting = 0;  // waiters that have checked their condition at least once
  int woken = 0;
  int tickets = 0;
  bool ready = false;
  std::vector<int> log;
};

using Guard = sy::MutexGuard<State>;
using TimedResult = sy::LockResult<std::pair<Guard, sy::WaitTimeoutResult>>;

static_assert(
    std::is_same_v<decltype(std::declval<sy::Condvar&>().wait(std::declval<Guard>())), sy::LockResult<Guard>>);
static_assert(
    std::is_same_v<decltype(std::declval<sy::Condvar&>().wait_timeout(std::declval<Guard>(), 1ms)), TimedResult>);
static_assert(!std::is_copy_constructible_v<sy::Condvar>);
static_assert(!std::is_move_constructible_v<sy::Condvar>);

bool not_ready(const State& s) { return !s.ready; }

// Sets `ready` (on a poisoned mutex too) and wakes every waiter: with
// notify_all, and notify_one for each thread a test starts too, so that a
// broken notify_all still releases them and its test fails instead of hanging.
void set_ready(sy::Mutex<State>& m, sy::Condvar& cv) {
  auto r = m.lock();
  Guard g = r.is_ok() ? std::move(r).unwrap() : std::move(r).unwrap_err().into_inner();
  g->ready = true;
  cv.notify_all();
  for (int i = 0; i < 8; ++i) {
    cv.notify_one();
  }
}

// Locks and unlocks `m` once: a waiter that was seen, under the mutex, to
// be about to wait has then released it inside wait, so a notify that
// follows must reach it.
template <class T>
void sync_with_waiters(sy::Mutex<T>& m) {
  auto g = m.lock().unwrap();
}

}  // namespace

TEST_CASE("Condvar: notify_one wakes a thread blocked in wait", "[sync][condvar]") {
  Watchdog dog("notify_one wakes a waiter");
  sy::Mutex<State> m;
  sy::Condvar cv;
  std::atomic<int> waits{0};
  th::scope([&](th::Scope& s) {
    const RunOnExit release([&] { set_ready(m, cv); });
    auto waiter = s.spawn([&] {
      auto g = m.lock().unwrap();
      g->waiting = 1;
      // Plain wait(), which may end spuriously: loop on the flag. Each
      // return holds the mutex again.
      while (!g->ready) {
        auto r = cv.wait(std::move(g));
        waits.fetch_add(1);
        if (r.is_err()) {
          return false;
        }
        g = std::move(r).unwrap();
      }
      g->woken += 1;
      return true;
    });
    // The waiter set `waiting` while holding the mutex, and holds it until
    // it waits: that we can take the mutex now means wait() released it.
    REQUIRE(eventually([&] { return m.lock().unwrap()->waiting == 1; }));
    m.lock().unwrap()->ready = true;
    cv.notify_one();
    REQUIRE(eventually([&] { return waiter.is_finished(); }));
    REQUIRE(waiter.join().unwrap());
  });
  REQUIRE(waits.load() >= 1);
  REQUIRE(m.lock().unwrap()->woken == 1);
}

TEST_CASE("Condvar: notify_one hands each ticket to one waiter", "[sync][condvar]") {
  Watchdog dog("notify_one tickets");
  constexpr int waiters = 2;
  sy::Mutex<State> m;
  sy::Condvar cv;
  std::atomic<int> consumed{0};
  th::scope([&](th::Scope& s) {
    // On failure: a ticket for everyone, so that no waiter is left behind.
    const RunOnExit release([&] {
      m.lock().unwrap()->tickets += waiters;
      cv.notify_all();
    });
    for (int i = 0; i < waiters; ++i) {
      (void)s.spawn([&] {
        auto g = m.lock().unwrap();
        g->waiting += 1;
        g = cv.wait_while(std::move(g), [](State& st) { return st.tickets == 0; }).unwrap();
        g->tickets -= 1;
        consumed.fetch_add(1);
      });
    }
    REQUIRE(eventually([&] { return m.lock().unwrap()->waiting == waiters; }));
    for (int ticket = 1; ticket <= waiters; ++ticket) {
      m.lock().unwrap()->tickets += 1;
      cv.notify_one();
      REQUIRE(eventually([&] { return consumed.load() == ticket; }));
    }
  });
  REQUIRE(consumed.load() >= waiters);
}

TEST_CASE("Condvar: notify_all wakes every waiter", "[sync][condvar]") {
  Watchdog dog("notify_all");
  constexpr int waiters = 4;
  sy::Mutex<State> m;
  sy::Condvar cv;
  std::atomic<int> returned{0};
  th::scope([&](th::Scope& s) {
    const RunOnExit release([&] { set_ready(m, cv); });
    std::vector<th::ScopedJoinHandle<bool>> handles;
    for (int i = 0; i < waiters; ++i) {
      handles.push_back(s.spawn([&] {
        auto g = m.lock().unwrap();
        g->waiting += 1;
        auto r = cv.wait_while(std::move(g), not_ready);
        returned.fetch_add(1);
        return r.is_ok() && r.unwrap()->ready;
      }));
    }
    REQUIRE(eventually([&] { return m.lock().unwrap()->waiting == waiters; }));
    th::sleep(5ms);
    REQUIRE(returned.load() == 0);  // their condition is still true
    m.lock().unwrap()->ready = true;
    cv.notify_all();  // one notify for all of them
    REQUIRE(eventually([&] { return returned.load() == waiters; }));
    for (auto& h : handles) {
      REQUIRE(h.join().unwrap());
    }
  });
}

TEST_CASE("Condvar: wait_timeout times out and gives the guard back", "[sync][condvar]") {
  Watchdog dog("wait_timeout times out");
  sy::Mutex<State> m;
  sy::Condvar cv;
  constexpr auto timeout = 30ms;
  auto g = m.lock().unwrap();
  g->log.push_back(1);
  bool timed_out = false;
  Clock::duration took{};
  // Nobody notifies; a spurious return (timed_out() false) is allowed, so
  // wait again until one call reports its time ran out.
  for (int attempt = 0; attempt < 100 && !timed_out; ++attempt) {
    const auto start = Clock::now();
    auto r = cv.wait_timeout(std::move(g), timeout);
    took = Clock::now() - start;
    REQUIRE(r.is_ok());
    auto pair = std::move(r).unwrap();
    g = std::move(pair.first);
    timed_out = pair.second.timed_out();
  }
  REQUIRE(timed_out);
  REQUIRE(took >= timeout);
  // The guard is back, holding the mutex.
  REQUIRE(g->log == std::vector<int>{1});
  REQUIRE(m.try_lock().error().is_would_block());

  // A zero timeout times out at once.
  auto zero = cv.wait_timeout(std::move(g), 0ms).unwrap();
  REQUIRE(zero.second.timed_out());
  REQUIRE(zero.first->log.size() == 1U);
}

TEST_CASE("Condvar: wait_timeout returns before its time when notified", "[sync][condvar]") {
  Watchdog dog("wait_timeout notified");
  sy::Mutex<State> m;
  sy::Condvar cv;
  th::scope([&](th::Scope& s) {
    const RunOnExit release([&] { set_ready(m, cv); });
    auto waiter = s.spawn([&] {
      auto g = m.lock().unwrap();
      g->waiting = 1;
      bool timed_out = false;
      while (!g->ready && !timed_out) {
        auto pair = cv.wait_timeout(std::move(g), 30s).unwrap();
        g = std::move(pair.first);
        timed_out = pair.second.timed_out();
      }
      return !timed_out && g->ready;
    });
    REQUIRE(eventually([&] { return m.lock().unwrap()->waiting == 1; }));
    m.lock().unwrap()->ready = true;
    cv.notify_one();
    REQUIRE(eventually([&] { return waiter.is_finished(); }));
    REQUIRE(waiter.join().unwrap());
  });
}

TEST_CASE("Condvar: wait_timeout_while returns early once notified with its condition false", "[sync][condvar]") {
  Watchdog dog("wait_timeout_while notified");
  sy::Mutex<State> m;
  sy::Condvar cv;
  std::atomic<int> checks{0};
  th::scope([&](th::Scope& s) {
    const RunOnExit release([&] { set_ready(m, cv); });
    auto waiter = s.spawn([&] {
      auto g = m.lock().unwrap();
      g->waiting = 1;
      auto pair = cv.wait_timeout_while(std::move(g), 30s, [&checks](State& st) {
                      checks.fetch_add(1);
                      return !st.ready;
                    }).unwrap();
      return !pair.second.timed_out() && pair.first->ready;
    });
    REQUIRE(eventually([&] { return m.lock().unwrap()->waiting == 1; }));
    REQUIRE(checks.load() >= 1);
    m.lock().unwrap()->ready = true;
    cv.notify_one();
    REQUIRE(eventually([&] { return waiter.is_finished(); }));
    REQUIRE(waiter.join().unwrap());
  });
  REQUIRE(checks.load() >= 2);
}

TEST_CASE("Condvar: wait_timeout_while times out while its condition stays true", "[sync][condvar]") {
  Watchdog dog("wait_timeout_while times out");
  sy::Mutex<State> m;
  sy::Condvar cv;
  constexpr auto timeout = 30ms;

  const auto start = Clock::now();
  auto r = cv.wait_timeout_while(m.lock().unwrap(), timeout, not_ready);
  const auto took = Clock::now() - start;
  REQUIRE(r.is_ok());
  auto pair = std::move(r).unwrap();
  REQUIRE(pair.second.timed_out());
  REQUIRE(took >= timeout);
  REQUIRE_FALSE(pair.first->ready);
  REQUIRE(m.try_lock().error().is_would_block());  // the guard is back

  // A condition already false returns at once, not timed out, even with no time.
  pair.first->ready = true;
  auto done = cv.wait_timeout_while(std::move(pair.first), 0ms, not_ready).unwrap();
  REQUIRE_FALSE(done.second.timed_out());
  // A condition still true with no time times out at once.
  done.first->ready = false;
  auto none = cv.wait_timeout_while(std::move(done.first), 0ms, not_ready).unwrap();
  REQUIRE(none.second.timed_out());
}

TEST_CASE("Condvar: wait_while does not return on wake-ups that leave its condition true", "[sync][condvar]") {
  // Every notify wakes the waiter (a spurious wake-up from its point of
  // view: nothing changed); it must re-check and go back to sleep.
  Watchdog dog("spurious wake-ups");
  constexpr int pokes = 5;
  sy::Mutex<State> m;
  sy::Condvar cv;
  std::atomic<int> checks{0};
  std::atomic<bool> returned{false};

  SECTION("wait_while") {
    th::scope([&](th::Scope& s) {
      const RunOnExit release([&] { set_ready(m, cv); });
      auto waiter = s.spawn([&] {
        auto g = m.lock().unwrap();
        auto r = cv.wait_while(std::move(g), [&checks](State& st) {
          checks.fetch_add(1);
          return !st.ready;
        });
        returned = true;
        return r.is_ok() && r.unwrap()->ready;
      });
      for (int i = 1; i <= pokes; ++i) {
        REQUIRE(eventually([&] { return checks.load() >= i; }));
        sync_with_waiters(m);
        cv.notify_all();
        REQUIRE(eventually([&] { return checks.load() >= i + 1; }));  // it woke and re-checked...
        REQUIRE_FALSE(returned.load());                               // ...and did not return
      }
      m.lock().unwrap()->ready = true;
      cv.notify_one();
      REQUIRE(eventually([&] { return returned.load(); }));
      REQUIRE(waiter.join().unwrap());
    });
  }

  SECTION("wait_timeout_while") {
    th::scope([&](th::Scope& s) {
      const RunOnExit release([&] { set_ready(m, cv); });
      auto waiter = s.spawn([&] {
        auto g = m.lock().unwrap();
        auto r = cv.wait_timeout_while(std::move(g), 30s, [&checks](State& st) {
          checks.fetch_add(1);
          return !st.ready;
        });
        returned = true;
        return r.is_ok() && !r.unwrap().second.timed_out() && r.unwrap().first->ready;
      });
      for (int i = 1; i <= pokes; ++i) {
        REQUIRE(eventually([&] { return checks.load() >= i; }));
        sync_with_waiters(m);
        cv.notify_one();
        REQUIRE(eventually([&] { return checks.load() >= i + 1; }));
        REQUIRE_FALSE(returned.load());
      }
      m.lock().unwrap()->ready = true;
      cv.notify_all();
      REQUIRE(eventually([&] { return returned.load(); }));
      REQUIRE(waiter.join().unwrap());
    });
  }
  REQUIRE(checks.load() >= pokes + 2);
}

TEST_CASE("Condvar: a poisoned mutex comes back from every wait as Err with the guard", "[sync][condvar][poison]") {
  Watchdog dog("condvar and poison");
  sy::Mutex<State> m;
  sy::Condvar cv;

  SECTION("poisoned before the wait") {
    REQUIRE_THROWS_AS(
        [&m] {
          auto g = m.lock().unwrap();
          g->log.push_back(1);
          throw Boom();
        }(),
        Boom);
    REQUIRE(m.is_poisoned());
    Guard g = guard_of_poisoned(m.lock());

    auto timed = cv.wait_timeout(std::move(g), 1ms);
    REQUIRE(timed.is_err());
    auto pair = std::move(timed).unwrap_err().into_inner();
    REQUIRE(pair.first->log == std::vector<int>{1});

    auto done = cv.wait_while(std::move(pair.first), [](State& st) { return st.log.empty(); });
    REQUIRE(done.is_err());
    g = std::move(done).unwrap_err().into_inner();

    auto timed_while = cv.wait_timeout_while(std::move(g), 1ms, [](State& st) { return st.log.empty(); });
    REQUIRE(timed_while.is_err());
    auto pair2 = std::move(timed_while).unwrap_err().into_inner();
    REQUIRE_FALSE(pair2.second.timed_out());
    REQUIRE(m.try_lock().error().is_would_block());  // still held through the guard
  }

  SECTION("poisoned by another thread while we wait") {
    std::atomic<bool> waiting{false};
    th::scope([&](th::Scope& s) {
      const RunOnExit release([&] { set_ready(m, cv); });
      auto waiter = s.spawn([&] {
        auto g = m.lock().unwrap();
        waiting = true;
        auto r = cv.wait_while(std::move(g), not_ready);
        if (r.is_ok()) {
          return -1;
        }
        Guard back = std::move(r).unwrap_err().into_inner();
        return back->ready ? static_cast<int>(back->log.size()) : -2;
      });
      auto plain = s.spawn([&] {
        // Plain wait(), looping on the flag itself: whichever wake-up sees
        // `ready` must also see the poison.
        auto g = m.lock().unwrap();
        g->waiting += 1;
        bool poisoned = false;
        while (!g->ready) {
          auto r = cv.wait(std::move(g));
          poisoned = r.is_err();
          g = poisoned ? std::move(r).unwrap_err().into_inner() : std::move(r).unwrap();
        }
        return poisoned;
      });
      REQUIRE(eventually([&] { return waiting.load() && m.lock().unwrap()->waiting == 1; }));
      auto poisoner = s.spawn([&] {
        auto g = m.lock().unwrap();
        g->ready = true;
        g->log.push_back(5);
        cv.notify_all();
        throw Boom();  // unwinds with the guard: poisons, then unlocks
      });
      REQUIRE(poisoner.join().is_err());
      REQUIRE(eventually([&] { return waiter.is_finished() && plain.is_finished(); }));
      REQUIRE(waiter.join().unwrap() == 1);
      REQUIRE(plain.join().unwrap());
    });
    REQUIRE(m.is_poisoned());
  }
}

TEST_CASE("Condvar: waiting with a moved-from guard throws logic_error", "[sync][condvar]") {
  sy::Mutex<State> m;
  sy::Condvar cv;
  auto g = m.lock().unwrap();
  auto kept = std::move(g);
  REQUIRE_THROWS_AS(cv.wait(std::move(g)), std::logic_error);
  auto g2 = std::move(kept);
  REQUIRE_THROWS_AS(cv.wait_timeout(std::move(kept), 1ms), std::logic_error);
  auto g3 = std::move(g2);
  REQUIRE_THROWS_AS(cv.wait_while(std::move(g2), not_ready), std::logic_error);
  // The live guard was never touched: the mutex is still held, not poisoned.
  REQUIRE(m.try_lock().error().is_would_block());
  REQUIRE_FALSE(m.is_poisoned());
  g3->ready = true;
}
