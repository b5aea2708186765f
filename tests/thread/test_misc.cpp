// SPDX-License-Identifier: MIT
// current(), ThreadId, Thread, sleep, yield_now, available_parallelism, and the
// deadline arithmetic every timed wait relies on.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/detail/native_thread.hpp>
#include <spindle/detail/time.hpp>
#include <spindle/thread.hpp>

#if defined(__linux__)
#include <sched.h>
#endif

namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

TEST_CASE("every thread has its own id, stable for its life", "[thread][id]") {
  const th::ThreadId mine = th::current().id();
  REQUIRE(th::current().id() == mine);

  std::vector<th::JoinHandle<std::uint64_t>> handles;
  for (int i = 0; i < 16; ++i) {
    handles.push_back(th::spawn([] {
      const auto first = th::current().id();
      th::yield_now();
      return first == th::current().id() ? first.as_u64() : 0;
    }));
  }
  std::set<std::uint64_t> ids{mine.as_u64()};
  for (auto& h : handles) {
    const std::uint64_t id = h.join().unwrap();
    REQUIRE(id != 0);
    ids.insert(id);
  }
  REQUIRE(ids.size() == 17);
}

TEST_CASE("ids are never reused, unlike std::thread::id", "[thread][id]") {
  std::unordered_set<th::ThreadId> seen;
  for (int i = 0; i < 50; ++i) {
    auto h = th::spawn([] { return th::current().id(); });
    REQUIRE(seen.insert(h.join().unwrap()).second);
  }
}

TEST_CASE("ThreadId prints and orders", "[thread][id]") {
  const th::ThreadId id = th::current().id();
  std::ostringstream out;
  out << id;
  REQUIRE(out.str() == "ThreadId(" + std::to_string(id.as_u64()) + ")");
  auto later = th::spawn([] { return th::current().id(); }).join().unwrap();
  REQUIRE(id < later);  // handed out in increasing order
}

TEST_CASE("a moved-from Thread is still a handle to its thread", "[thread][id]") {
  th::Thread a = th::current();
  const th::Thread b = std::move(a);
  REQUIRE(a == b);  // NOLINT(bugprone-use-after-move): moving a Thread copies it
  a.unpark();
  th::park_timeout(0ms);  // consume that token
  REQUIRE(a.name() == b.name());
}

TEST_CASE("copies of a Thread refer to the same thread", "[thread][id]") {
  const th::Thread a = th::current();
  const th::Thread b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  REQUIRE(a == b);
  REQUIRE(a.id() == b.id());
  auto other = th::spawn([] { return th::current(); }).join().unwrap();
  REQUIRE_FALSE(a == other);
}

TEST_CASE("sleep sleeps at least as long as asked", "[thread][sleep]") {
  const auto start = Clock::now();
  th::sleep(15ms);
  REQUIRE(Clock::now() - start >= 15ms);

  Watchdog watchdog("sleep with zero, negative and fractional durations");
  th::sleep(0ms);
  th::sleep(-1h);
  th::sleep(std::chrono::duration<double, std::milli>(0.5));
  SUCCEED();
}

TEST_CASE("yield_now returns", "[thread][sleep]") {
  Watchdog watchdog("yield_now");
  for (int i = 0; i < 100; ++i) {
    th::yield_now();
  }
  SUCCEED();
}

TEST_CASE("available_parallelism is at least one and at most the CPUs", "[thread][parallelism]") {
  auto n = th::available_parallelism();
  REQUIRE(n.is_ok());
  REQUIRE(*n >= 1);
  if (const unsigned hw = std::thread::hardware_concurrency(); hw != 0) {
    REQUIRE(*n <= hw);
  }
}

#if defined(__linux__)
TEST_CASE("available_parallelism follows the affinity mask", "[thread][parallelism][linux]") {
  // Affinity is per thread: pin a fresh thread to one CPU and ask there.
  auto pinned = th::spawn([] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
      return std::size_t{0};
    }
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &set)) {
      ++first;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
      return std::size_t{0};
    }
    return th::available_parallelism().unwrap_or(0);
  });
  REQUIRE(pinned.join().unwrap() == 1);
}
#endif

TEST_CASE("deadlines saturate instead of overflowing", "[thread][time]") {
  using spindle::detail::deadline_after;
  using spindle::detail::forever;
  REQUIRE(deadline_after(std::chrono::nanoseconds::max()) == forever);
  REQUIRE(deadline_after(std::chrono::hours::max()) == forever);
  REQUIRE(deadline_after(std::chrono::duration<double>::max()) == forever);
  // A fine-grained max() is short (int64 picoseconds: about 106 days) and
  // still a real deadline.
  REQUIRE(deadline_after(std::chrono::duration<long long, std::pico>::max()) != forever);
  REQUIRE(deadline_after(std::chrono::duration<double>(std::numeric_limits<double>::infinity())) == forever);

  const auto before = Clock::now();
  const auto soon = deadline_after(10ms);
  REQUIRE(soon != forever);
  REQUIRE(soon >= before + 10ms);
  REQUIRE(soon <= Clock::now() + 10ms);

  // Zero, negative and NaN timeouts give a deadline that has already passed.
  for (const auto& d : {deadline_after(0ns), deadline_after(-1h),
                        deadline_after(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()))}) {
    REQUIRE(d != forever);
    REQUIRE(spindle::detail::expired(d));
  }
  REQUIRE_FALSE(spindle::detail::expired(forever));
}

TEST_CASE("a fractional timeout rounds up to whole clock ticks, never down", "[thread][time]") {
  using spindle::detail::ceil_ticks;
  using Tick = Clock::duration;
  REQUIRE(ceil_ticks(std::chrono::duration<double, Tick::period>(0.25)) == 1.0L);
  REQUIRE(ceil_ticks(std::chrono::duration<double, Tick::period>(3.0)) == 3.0L);
  REQUIRE(ceil_ticks(std::chrono::duration<double, Tick::period>(3.5)) == 4.0L);
  REQUIRE(ceil_ticks(Tick(7)) == 7.0L);
  REQUIRE(ceil_ticks(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())) == 0.0L);
}

TEST_CASE("long timeouts in coarse or floating units give a future deadline", "[thread][time]") {
  using spindle::detail::deadline_after;
  // 150 years in 1/60 s ticks: the tick count times the period's numerator
  // must not overflow on the way to nanoseconds.
  using Sixtieths = std::chrono::duration<long long, std::ratio<1, 60>>;
  const auto before = Clock::now();
  const auto far = deadline_after(Sixtieths(150LL * 365 * 24 * 3600 * 60));
  REQUIRE(far != spindle::detail::forever);
  REQUIRE(far > before + std::chrono::hours(24 * 365 * 149));
  // Just under the clock's range, in double seconds: never, or far ahead,
  // and no overflow either way.
  const auto range = std::chrono::duration<double>(Clock::duration::max());
  for (double fraction : {0.5, 0.99, 0.9999, 1.0, 2.0}) {
    const auto d = deadline_after(range * fraction);
    REQUIRE(d > before + std::chrono::hours(24 * 365 * 100));
  }
}

TEST_CASE("thread names are cut at UTF-8 character boundaries", "[thread][builder]") {
  using spindle::detail::truncate_utf8;
  REQUIRE(truncate_utf8("short", 15) == "short");
  REQUIRE(truncate_utf8("exactly-fifteen", 15) == "exactly-fifteen");
  REQUIRE(truncate_utf8("sixteen-chars-xx", 15) == "sixteen-chars-x");
  // "é" is two bytes (C3 A9): a cut between them backs off before it.
  REQUIRE(truncate_utf8("abcdefghijklmn\xC3\xA9", 15) == "abcdefghijklmn");
  // A three-byte "€" (E2 82 AC) cut after its first or second byte.
  REQUIRE(truncate_utf8("ab\xE2\x82\xAC", 3) == "ab");
  REQUIRE(truncate_utf8("ab\xE2\x82\xAC", 4) == "ab");
  REQUIRE(truncate_utf8("ab\xE2\x82\xAC", 5) == "ab\xE2\x82\xAC");
}

TEST_CASE("the main thread is ThreadId(1), as in Rust", "[thread][id]") {
#if defined(__linux__)
  // Catch2 runs the test cases on the process's main thread. Number 1 is
  // kept for it however many threads asked for an id first.
  auto spawned = th::spawn([] { return th::current().id(); }).join().unwrap();
  REQUIRE(spawned.as_u64() >= 2);
  REQUIRE(th::current().id().as_u64() == 1);
  REQUIRE(th::current().id() < spawned);
  std::ostringstream out;
  out << th::current().id();
  REQUIRE(out.str() == "ThreadId(1)");
  REQUIRE(th::current().name() == std::optional<std::string_view>("main"));
#else
  SUCCEED("spindle tells the main thread apart on Linux only");
#endif
}

TEST_CASE("threads spindle did not start get ids from 2 upwards, never 1", "[thread][id]") {
  std::uint64_t foreign = 0;
  std::thread plain([&foreign] { foreign = th::current().id().as_u64(); });
  plain.join();
  REQUIRE(foreign >= 2);
  REQUIRE_FALSE(th::spawn([] { return th::current().name(); }).join().unwrap().has_value());
}
