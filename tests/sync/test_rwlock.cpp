// SPDX-License-Identifier: MIT
// spindle::sy::RwLock<T>: any number of readers or one writer, owning its
// value. Readers never block each other; a waiting writer holds off new
// readers, so a stream of readers cannot starve it; writers give waiting
// readers turns, so a stream of writers cannot starve them either.
// Poisoning has its own file (test_poison.cpp).

#include <atomic>
#include <chrono>
#include <cstdint>
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
using spindle::test::sync_support::spin_until;
using Clock = std::chrono::steady_clock;

namespace {

using ReadGuard = sy::RwLockReadGuard<int>;
using WriteGuard = sy::RwLockWriteGuard<int>;

static_assert(std::is_default_constructible_v<sy::RwLock<int>>);
static_assert(!std::is_default_constructible_v<sy::RwLock<NoDefault>>);
static_assert(std::is_constructible_v<sy::RwLock<NoDefault>, std::in_place_t, int>);
static_assert(!std::is_copy_constructible_v<sy::RwLock<int>>);
static_assert(!std::is_move_constructible_v<sy::RwLock<int>>);
static_assert(!std::is_default_constructible_v<ReadGuard>);
static_assert(!std::is_copy_constructible_v<ReadGuard>);
static_assert(!std::is_copy_assignable_v<ReadGuard>);
static_assert(std::is_nothrow_move_constructible_v<ReadGuard>);
static_assert(std::is_nothrow_move_assignable_v<ReadGuard>);
static_assert(!std::is_default_constructible_v<WriteGuard>);
static_assert(!std::is_copy_constructible_v<WriteGuard>);
static_assert(!std::is_copy_assignable_v<WriteGuard>);
static_assert(std::is_nothrow_move_constructible_v<WriteGuard>);
static_assert(std::is_nothrow_move_assignable_v<WriteGuard>);
// Readers get const access, writers mutable access.
static_assert(std::is_same_v<decltype(*std::declval<const ReadGuard&>()), const int&>);
static_assert(
    std::is_same_v<decltype(std::declval<const sy::RwLockReadGuard<std::string>&>().operator->()), const std::string*>);
static_assert(std::is_same_v<decltype(*std::declval<const WriteGuard&>()), int&>);
// read() and try_read() work on a const lock.
static_assert(std::is_same_v<decltype(std::declval<const sy::RwLock<int>&>().read()), sy::LockResult<ReadGuard>>);
static_assert(
    std::is_same_v<decltype(std::declval<const sy::RwLock<int>&>().try_read()), sy::TryLockResult<ReadGuard>>);
static_assert(std::is_same_v<decltype(std::declval<sy::RwLock<int>&>().write()), sy::LockResult<WriteGuard>>);
static_assert(std::is_same_v<decltype(std::declval<sy::RwLock<int>&>().try_write()), sy::TryLockResult<WriteGuard>>);

// Burns a little time inside a lock, so that holds overlap.
void busy(int rounds) {
  volatile int sink = 0;
  for (int i = 0; i < rounds; ++i) {
    sink = sink + i;
  }
}

// A write guard taken with try_write, retried until it succeeds.
sy::RwLockWriteGuard<long> write_by_trying(sy::RwLock<long>& lock) {
  for (;;) {
    auto r = lock.try_write();
    if (r.is_ok()) {
      return std::move(r).unwrap();
    }
    std::this_thread::yield();
  }
}

}  // namespace

TEST_CASE("RwLock: each constructor holds the value it was given", "[sync][rwlock]") {
  const sy::RwLock<int> defaulted;
  REQUIRE(*defaulted.read().unwrap() == 0);

  sy::RwLock<std::string> from_value(std::string("abc"));
  REQUIRE(*from_value.read().unwrap() == "abc");
  REQUIRE(from_value.read().unwrap()->size() == 3);

  sy::RwLock<std::string> in_place(std::in_place, 2, 'y');
  REQUIRE(*in_place.write().unwrap() == "yy");

  sy::RwLock<NoDefault> no_default(std::in_place, 4);
  REQUIRE(no_default.read().unwrap()->value() == 4);
  no_default.write().unwrap()->set(5);
  REQUIRE(no_default.read().unwrap()->value() == 5);

  sy::RwLock<MoveOnly> move_only(MoveOnly(6));
  REQUIRE(move_only.read().unwrap()->value() == 6);
}

TEST_CASE("RwLock: readers share, a writer excludes everyone (one thread, try_*)", "[sync][rwlock]") {
  sy::RwLock<int> lock(1);
  {
    auto r1 = lock.read().unwrap();
    auto r2 = lock.try_read();  // try_read never waits, so this nesting is safe
    REQUIRE(r2.is_ok());
    REQUIRE(*r1 == 1);
    REQUIRE(*r2.unwrap() == 1);

    auto w = lock.try_write();
    REQUIRE(w.is_err());
    REQUIRE(w.error().kind() == sy::TryLockError<WriteGuard>::WouldBlock);
    REQUIRE(w.error().is_would_block());
    REQUIRE_FALSE(w.error().is_poisoned());
    REQUIRE(std::string(w.error().what()) == "try_lock failed because the operation would block");
    REQUIRE_THROWS_AS(std::move(w).unwrap_err().into_inner(), std::logic_error);
  }
  {
    auto w = lock.try_write();
    REQUIRE(w.is_ok());
    *w.unwrap() = 2;

    auto r = lock.try_read();
    REQUIRE(r.is_err());
    REQUIRE(r.error().kind() == sy::TryLockError<ReadGuard>::WouldBlock);
    REQUIRE(r.error().is_would_block());
    std::ostringstream out;
    out << r.error();
    REQUIRE(out.str() == "try_lock failed because the operation would block");

    auto w2 = lock.try_write();
    REQUIRE(w2.is_err());
    REQUIRE(w2.error().is_would_block());
  }
  REQUIRE(*lock.read().unwrap() == 2);
  REQUIRE(lock.try_write().is_ok());
  REQUIRE_FALSE(lock.is_poisoned());
}

TEST_CASE("RwLock: try_write would block while another thread holds a read guard", "[sync][rwlock]") {
  Watchdog dog("try_write versus a reader");
  sy::RwLock<int> lock(3);
  std::atomic<bool> reading{false};
  std::atomic<bool> release{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit release_on_exit(release);
    auto reader = s.spawn([&] {
      auto g = lock.read().unwrap();
      reading = true;
      const bool released = spin_until([&] { return release.load(); });
      return released ? *g : -1;
    });
    REQUIRE(eventually([&] { return reading.load(); }));
    for (int i = 0; i < 100; ++i) {
      auto w = lock.try_write();
      REQUIRE(w.is_err());
      REQUIRE(w.error().is_would_block());
    }
    // Another reader gets in alongside.
    REQUIRE(lock.try_read().is_ok());
    release = true;
    REQUIRE(reader.join().unwrap() == 3);
  });
  auto w = lock.try_write();
  REQUIRE(w.is_ok());
}

TEST_CASE("RwLock: try_read would block while another thread holds the write guard", "[sync][rwlock]") {
  Watchdog dog("try_read versus a writer");
  sy::RwLock<int> lock(3);
  std::atomic<bool> writing{false};
  std::atomic<bool> release{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit release_on_exit(release);
    auto writer = s.spawn([&] {
      auto g = lock.write().unwrap();
      *g = 4;
      writing = true;
      return spin_until([&] { return release.load(); });
    });
    REQUIRE(eventually([&] { return writing.load(); }));
    for (int i = 0; i < 100; ++i) {
      auto r = lock.try_read();
      REQUIRE(r.is_err());
      REQUIRE(r.error().is_would_block());
      REQUIRE(lock.try_write().is_err());
    }
    release = true;
    REQUIRE(writer.join().unwrap());
  });
  auto r = lock.try_read();
  REQUIRE(r.is_ok());
  REQUIRE(*r.unwrap() == 4);
}

TEST_CASE("RwLock: readers never block each other", "[sync][rwlock]") {
  // Each reader waits, inside its read section, until every reader is
  // inside: only possible if they hold their read guards at the same time.
  Watchdog dog("readers together");
  constexpr int readers = 4;
  sy::RwLock<int> lock(11);
  std::atomic<int> inside{0};
  std::atomic<bool> give_up{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit give_up_on_exit(give_up);  // a failed wait releases them all at once
    std::vector<th::ScopedJoinHandle<int>> handles;
    for (int i = 0; i < readers; ++i) {
      handles.push_back(s.spawn([&] {
        auto g = lock.read().unwrap();
        inside.fetch_add(1);
        (void)spin_until([&] { return inside.load() == readers || give_up.load(); });
        return inside.load() == readers ? *g : -1;
      }));
    }
    REQUIRE(eventually([&] { return inside.load() == readers; }));
    for (auto& h : handles) {
      REQUIRE(h.join().unwrap() == 11);
    }
  });
  REQUIRE(inside.load() == readers);
  REQUIRE(lock.try_write().is_ok());  // and they all left
}

TEST_CASE("RwLock: a writer waits until the readers leave, and holds off new readers meanwhile", "[sync][rwlock]") {
  Watchdog dog("writer waits for readers");
  sy::RwLock<std::vector<int>> lock(std::vector<int>{1});
  std::atomic<bool> release_other{false};
  std::atomic<bool> other_reading{false};
  std::atomic<bool> writer_started{false};
  std::atomic<bool> written{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit release_on_exit(release_other);
    auto mine = lock.read().unwrap();
    auto other = s.spawn([&] {
      auto g = lock.read().unwrap();
      other_reading = true;
      (void)spin_until([&] { return release_other.load(); });
      return g->size();
    });
    REQUIRE(eventually([&] { return other_reading.load(); }));

    auto writer = s.spawn([&] {
      writer_started = true;
      auto g = lock.write().unwrap();
      written = true;
      g->push_back(2);
      return g->size();
    });
    REQUIRE(eventually([&] { return writer_started.load(); }));
    // Once the writer has announced itself, a new reader is held off even
    // though only readers hold the lock.
    REQUIRE(eventually([&] { return lock.try_read().is_err(); }));
    REQUIRE_FALSE(written.load());

    release_other = true;
    REQUIRE(other.join().unwrap() == 1U);
    th::sleep(20ms);
    REQUIRE_FALSE(written.load());  // we still read
    REQUIRE(mine->size() == 1);
    { auto leave = std::move(mine); }
    REQUIRE(writer.join().unwrap() == 2U);
    REQUIRE(written.load());
  });
  REQUIRE(*lock.read().unwrap() == std::vector<int>{1, 2});
}

TEST_CASE("RwLock: a stream of readers does not starve a waiting writer", "[sync][rwlock][fairness]") {
  // Three readers take read locks back to back, with no gap between them,
  // so that at any moment some reader is inside. The writer must get in
  // while that stream still runs (the readers give up by themselves only
  // after `stream_limit`).
  Watchdog dog("writer under a stream of readers");
  constexpr int readers = 3;
  constexpr auto stream_limit = 8s;
  sy::RwLock<long> lock(0);
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<int> readers_done{0};
  std::atomic<int> readers_gave_up{0};
  std::atomic<int> readers_inside{0};
  std::atomic<bool> writer_done{false};
  std::atomic<bool> stream_alive_at_write{false};
  std::atomic<int> readers_inside_at_write{-1};
  std::atomic<long> reads_after_write{0};
  th::scope([&](th::Scope& s) {
    const SetOnExit stop_on_exit(stop);
    for (int i = 0; i < readers; ++i) {
      (void)s.spawn([&] {
        const auto give_up = Clock::now() + stream_limit;
        while (!stop.load()) {
          if (Clock::now() >= give_up) {
            readers_gave_up.fetch_add(1);
            break;
          }
          auto g = lock.read().unwrap();
          readers_inside.fetch_add(1);
          busy(200);
          if (*g != 0) {
            reads_after_write.fetch_add(1);
          }
          reads.fetch_add(1);
          readers_inside.fetch_sub(1);
        }
        readers_done.fetch_add(1);
      });
    }
    // Let the stream get going before the writer arrives.
    REQUIRE(eventually([&] { return reads.load() > 3000; }));
    auto writer = s.spawn([&] {
      auto g = lock.write().unwrap();
      readers_inside_at_write = readers_inside.load();
      stream_alive_at_write = readers_done.load() == 0;
      *g = 1;
      writer_done = true;
    });
    REQUIRE(eventually([&] { return writer_done.load(); }));
    REQUIRE(writer.join().is_ok());
    // The readers go on after the writer, and see its write.
    REQUIRE(eventually([&] { return reads_after_write.load() > 100; }));
    stop = true;
  });
  REQUIRE(stream_alive_at_write.load());
  REQUIRE(readers_inside_at_write.load() == 0);
  REQUIRE(readers_gave_up.load() == 0);
  REQUIRE(*lock.read().unwrap() == 1);
}

TEST_CASE("RwLock: a stream of writers does not starve waiting readers", "[sync][rwlock][fairness]") {
  // Two writers take write locks back to back; a reader must still get in,
  // again and again, while they keep at it.
  Watchdog dog("readers under a stream of writers");
  constexpr int writers = 2;
  constexpr int reads_wanted = 20;
  constexpr auto stream_limit = 8s;
  sy::RwLock<long> lock(0);
  std::atomic<bool> stop{false};
  std::atomic<long> writes{0};
  std::atomic<int> writers_done{0};
  std::atomic<int> writers_gave_up{0};
  std::atomic<bool> writer_inside{false};
  std::atomic<int> overlaps{0};
  th::scope([&](th::Scope& s) {
    const SetOnExit stop_on_exit(stop);
    for (int i = 0; i < writers; ++i) {
      (void)s.spawn([&] {
        const auto give_up = Clock::now() + stream_limit;
        while (!stop.load()) {
          if (Clock::now() >= give_up) {
            writers_gave_up.fetch_add(1);
            break;
          }
          auto g = lock.write().unwrap();
          if (writer_inside.exchange(true)) {
            overlaps.fetch_add(1);
          }
          busy(100);
          ++*g;
          writes.fetch_add(1);
          writer_inside = false;
        }
        writers_done.fetch_add(1);
      });
    }
    REQUIRE(eventually([&] { return writes.load() > 3000; }));
    auto reader = s.spawn([&] {
      // Each read must see the writers' progress; the stream must still run
      // when the last read is done.
      long last = -1;
      int monotonic_breaks = 0;
      int reads_done = 0;
      for (int i = 0; i < reads_wanted; ++i) {
        auto g = lock.read().unwrap();
        if (writer_inside.load()) {
          overlaps.fetch_add(1);
        }
        if (*g < last) {
          ++monotonic_breaks;
        }
        last = *g;
        ++reads_done;
      }
      const bool stream_alive = writers_done.load() == 0;
      return stream_alive && monotonic_breaks == 0 ? reads_done : -reads_done;
    });
    const bool finished = eventually([&] { return reader.is_finished(); });
    REQUIRE(finished);
    REQUIRE(reader.join().unwrap() == reads_wanted);
    stop = true;
  });
  REQUIRE(overlaps.load() == 0);
  REQUIRE(writers_gave_up.load() == 0);
  REQUIRE(*lock.read().unwrap() == writes.load());
}

TEST_CASE("RwLock: readers held off by a writers' phase get in once the writer stops", "[sync][rwlock][fairness]") {
  // A writer locking back to back while readers wait runs a "phase": the
  // gate stays closed to readers between its writes and they go to sleep.
  // Here the writer stops for good in the middle of such phases; every
  // reader must then get in again (none may sleep on, waiting for a wake-up
  // that nobody will send). Many short rounds, to hit the writer stopping
  // at every point of a phase.
  Watchdog dog("readers after a writers' phase");
  constexpr int rounds = 20;
  constexpr int readers = 2;
  constexpr long reads_after_stop = 200;
  for (int round = 0; round < rounds; ++round) {
    sy::RwLock<long> lock(0);
    std::atomic<bool> writer_done{false};
    std::atomic<bool> stop{false};
    std::atomic<int> readers_finished{0};
    std::atomic<long> reads_before_stop{0};
    std::atomic<long> backwards{0};
    long writes = 0;
    th::scope([&](th::Scope& s) {
      const SetOnExit stop_on_exit(stop);
      for (int r = 0; r < readers; ++r) {
        (void)s.spawn([&] {
          long after = 0;
          long last = 0;
          while (!stop.load() && after < reads_after_stop) {
            const bool writer_gone = writer_done.load();
            const long v = *lock.read().unwrap();
            backwards.fetch_add(v < last ? 1 : 0);
            last = v;
            if (writer_gone) {
              ++after;
            } else {
              reads_before_stop.fetch_add(1);
            }
          }
          readers_finished.fetch_add(after == reads_after_stop ? 1 : 0);
        });
      }
      (void)s.spawn([&] {
        // Write until the readers have been at it a little, a few ms at most.
        const auto until = Clock::now() + std::chrono::milliseconds(1 + round % 4);
        while (Clock::now() < until || reads_before_stop.load() < 10) {
          ++*lock.write().unwrap();
          ++writes;
        }
        writer_done = true;
      });
      REQUIRE(eventually([&] { return readers_finished.load() == readers; }));
    });
    REQUIRE(backwards.load() == 0);
    REQUIRE(*lock.read().unwrap() == writes);
  }
}

TEST_CASE("RwLock: N writers x M increments add up, readers never overlap a writer", "[sync][rwlock]") {
  Watchdog dog("rwlock counters");
  constexpr int writers = 3;
  constexpr int increments = 5'000;
  constexpr long total = static_cast<long>(writers) * increments;
  sy::RwLock<long> lock(0);
  std::atomic<int> writers_inside{0};
  std::atomic<int> readers_inside{0};
  std::atomic<int> violations{0};
  std::atomic<long> reads_between{0};  // reads of a count strictly between 0 and total
  std::atomic<int> pauses_timed_out{0};
  std::atomic<bool> stop{false};
  th::scope([&](th::Scope& s) {
    const SetOnExit stop_on_exit(stop);
    auto reader = s.spawn([&] {
      long last = 0;
      long reads = 0;
      do {
        auto g = lock.read().unwrap();
        readers_inside.fetch_add(1);
        if (writers_inside.load() != 0 || *g < last) {
          violations.fetch_add(1);
        }
        last = *g;
        if (*g > 0 && *g < total) {
          reads_between.fetch_add(1);
        }
        readers_inside.fetch_sub(1);
        ++reads;
      } while (!stop.load());
      return reads;
    });
    std::vector<th::ScopedJoinHandle<void>> writer_handles;
    for (int t = 0; t < writers; ++t) {
      writer_handles.push_back(s.spawn([&, t] {
        for (int i = 0; i < increments; ++i) {
          if (i == increments / 2) {
            // Half-way, wait for the reader to have read a count in the
            // middle, so that its checks meet the writers' (whatever the
            // scheduler does; the fairness tests cover the timing).
            if (!eventually([&] { return reads_between.load() > 0 || stop.load(); })) {
              pauses_timed_out.fetch_add(1);
            }
          }
          auto g = (i + t) % 3 == 0 ? write_by_trying(lock) : lock.write().unwrap();
          if (writers_inside.fetch_add(1) != 0 || readers_inside.load() != 0) {
            violations.fetch_add(1);
          }
          const long seen = *g;
          *g = seen + 1;
          writers_inside.fetch_sub(1);
        }
      }));
    }
    for (auto& h : writer_handles) {
      REQUIRE(h.join().is_ok());
    }
    stop = true;
    REQUIRE(reader.join().unwrap() > 0);
  });
  REQUIRE(pauses_timed_out.load() == 0);
  REQUIRE(reads_between.load() > 0);
  REQUIRE(violations.load() == 0);
  REQUIRE(*lock.read().unwrap() == total);
}

TEST_CASE("RwLock: moved guards unlock exactly once, moved-from guards throw", "[sync][rwlock]") {
  Watchdog dog("moved guards");
  sy::RwLock<std::string> lock(std::string("v"));

  SECTION("read guard, moved within the thread") {
    {
      auto a = lock.read().unwrap();
      auto b = std::move(a);
      REQUIRE_THROWS_AS(*a, std::logic_error);
      REQUIRE_THROWS_AS(a->size(), std::logic_error);
      REQUIRE(*b == "v");
      {
        auto c = std::move(b);
        REQUIRE(lock.try_write().is_err());
      }
      // c gave the lock back; a and b, empty, must not give it back again.
      REQUIRE(lock.try_write().is_ok());
    }
    REQUIRE(lock.try_write().is_ok());
  }

  SECTION("read guard, move-assigned") {
    sy::RwLock<std::string> other(std::string("o"));
    auto a = lock.read().unwrap();
    auto b = other.read().unwrap();
    a = std::move(b);  // gives up the read lock on `lock`
    REQUIRE(lock.try_write().is_ok());
    REQUIRE(other.try_write().is_err());
    REQUIRE(*a == "o");
    REQUIRE_THROWS_AS(*b, std::logic_error);
  }

  SECTION("read guard, moved to another thread and released there") {
    auto g = lock.read().unwrap();
    auto len = th::spawn([g = std::move(g)]() mutable {
                 const std::size_t n = g->size();
                 auto drop = std::move(g);
                 return n;
               }).join();
    REQUIRE(len.unwrap() == 1U);
    REQUIRE_THROWS_AS(*g, std::logic_error);
    REQUIRE(lock.try_write().is_ok());  // released exactly once, elsewhere
    // The lock still counts readers right: a read excludes try_write again.
    auto again = lock.read().unwrap();
    REQUIRE(lock.try_write().is_err());
  }

  SECTION("write guard, moved and move-assigned") {
    sy::RwLock<std::string> other(std::string("w"));
    auto a = lock.write().unwrap();
    auto b = std::move(a);
    REQUIRE_THROWS_AS(*a, std::logic_error);
    REQUIRE_THROWS_AS(a->size(), std::logic_error);
    *b += "2";
    REQUIRE(lock.try_read().is_err());
    auto c = other.write().unwrap();
    b = std::move(c);  // gives up `lock`, takes over `other`
    REQUIRE(lock.try_read().is_ok());
    REQUIRE(other.try_read().is_err());
    REQUIRE(*b == "w");
    REQUIRE(*lock.read().unwrap() == "v2");
  }

  // Nothing left held, nothing released twice: a writer still excludes.
  auto w = lock.write().unwrap();
  REQUIRE(lock.try_read().is_err());
  REQUIRE(lock.try_write().is_err());
}

TEST_CASE("RwLock: get_mut and into_inner on a clean lock", "[sync][rwlock]") {
  sy::RwLock<NoDefault> lock(NoDefault(1));
  auto ref = lock.get_mut();
  REQUIRE(ref.is_ok());
  ref.unwrap().set(2);
  REQUIRE(lock.read().unwrap()->value() == 2);

  sy::RwLock<MoveOnly> owner(std::in_place, 3);
  owner.write().unwrap()->set(4);
  auto inner = std::move(owner).into_inner();
  REQUIRE(inner.is_ok());
  REQUIRE(std::move(inner).unwrap().value() == 4);
}
