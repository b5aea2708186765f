// SPDX-License-Identifier: MIT
//
// RwLock's writers' phases, built with phases of 30 s (SPINDLE_RWLOCK_MIN_PHASE_NS
// and SPINDLE_RWLOCK_MAX_PHASE_NS, set for this binary alone): readers asleep
// in a phase whose writer stops must go in at once, not when the phase ends.
// With phases this long, a reader left asleep until the end fails the test's
// bounded wait (10 s) instead of passing late.

#include <atomic>
#include <chrono>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "sync/common.hpp"

#include <spindle/sync.hpp>
#include <spindle/thread.hpp>

namespace {

namespace th = spindle::thread;
namespace sy = spindle::sync;
using namespace std::chrono_literals;
using spindle::test::SetOnExit;
using spindle::test::Watchdog;
using spindle::test::sync_support::eventually;
using PhaseClock = std::chrono::steady_clock;

static_assert(SPINDLE_RWLOCK_MIN_PHASE_NS >= 30'000'000'000, "this binary is built with 30 s phases");

}  // namespace

TEST_CASE("RwLock: readers asleep in a writers' phase go in once its writer stops", "[sync][rwlock][fairness]") {
  // The writer locks back to back while two readers wait, long enough for
  // a phase to begin and the readers to fall asleep in it (they spin for
  // microseconds); then it stops for good, in the middle of a 30 s phase.
  Watchdog dog("readers asleep in a writers' phase");
  constexpr int rounds = 5;
  constexpr int readers = 2;
  constexpr long reads_after_stop = 100;
  for (int round = 0; round < rounds; ++round) {
    sy::RwLock<long> lock(0);
    std::atomic<int> readers_started{0};
    std::atomic<bool> writer_stopped{false};
    std::atomic<bool> stop{false};
    std::atomic<int> readers_finished{0};
    std::atomic<long> backwards{0};
    long writes = 0;
    th::scope([&](th::Scope& s) {
      const SetOnExit stop_on_exit(stop);
      for (int r = 0; r < readers; ++r) {
        (void)s.spawn([&] {
          readers_started.fetch_add(1);
          long after = 0;
          long last = 0;
          while (!stop.load() && after < reads_after_stop) {
            const bool stopped = writer_stopped.load();
            const long v = *lock.read().unwrap();
            backwards.fetch_add(v < last ? 1 : 0);
            last = v;
            after += stopped ? 1 : 0;
          }
          readers_finished.fetch_add(after == reads_after_stop ? 1 : 0);
        });
      }
      (void)s.spawn([&] {
        while (readers_started.load() < readers && !stop.load()) {
          std::this_thread::yield();
        }
        const auto until = PhaseClock::now() + 5ms;
        while (PhaseClock::now() < until) {
          ++*lock.write().unwrap();
          ++writes;
        }
        writer_stopped = true;
      });
      REQUIRE(eventually([&] { return readers_finished.load() == readers; }));
    });
    REQUIRE(backwards.load() == 0);
    REQUIRE(*lock.read().unwrap() == writes);
  }
}
