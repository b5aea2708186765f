// SPDX-License-Identifier: MIT
// spindle::sy::Barrier(n): wait() blocks until n threads have called it,
// then all continue; exactly one of them (per generation) is the leader.
// Reusable: the next n calls form the next generation. n of 0 or 1 never
// blocks and always leads.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <type_traits>
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
using spindle::test::sync_support::eventually;

static_assert(!std::is_copy_constructible_v<sy::Barrier>);
static_assert(!std::is_move_constructible_v<sy::Barrier>);
static_assert(!std::is_convertible_v<std::size_t, sy::Barrier>);  // explicit

TEST_CASE("Barrier: n of 1 or 0 returns at once, always as leader", "[sync][barrier]") {
  Watchdog dog("trivial barriers");
  const std::size_t n = GENERATE(0U, 1U);
  sy::Barrier barrier(n);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(barrier.wait().is_leader());
  }
  // From other threads too.
  auto leader = th::spawn([&barrier] { return barrier.wait().is_leader(); }).join();
  REQUIRE(leader.unwrap());
}

TEST_CASE("Barrier: wait blocks until the n-th thread arrives, and one of them leads", "[sync][barrier]") {
  Watchdog dog("barrier of three");
  constexpr std::size_t n = 3;
  sy::Barrier barrier(n);
  std::atomic<int> arrived{0};
  std::atomic<int> passed{0};
  th::scope([&](th::Scope& s) {
    std::vector<th::ScopedJoinHandle<bool>> handles;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      handles.push_back(s.spawn([&] {
        arrived.fetch_add(1);
        const bool leader = barrier.wait().is_leader();
        passed.fetch_add(1);
        return leader;
      }));
    }
    // The checks are asserted only after our own wait: failing before it
    // would leave the others waiting for the arrival we owe them.
    const bool others_arrived = eventually([&] { return arrived.load() == static_cast<int>(n) - 1; });
    th::sleep(20ms);
    const int passed_one_short = passed.load();  // one short: nobody may pass
    const bool main_leads = barrier.wait().is_leader();
    int leaders = main_leads ? 1 : 0;
    for (auto& h : handles) {
      leaders += h.join().unwrap() ? 1 : 0;
    }
    REQUIRE(others_arrived);
    REQUIRE(passed_one_short == 0);
    REQUIRE(leaders == 1);
    REQUIRE(passed.load() == static_cast<int>(n) - 1);
  });
}

TEST_CASE("Barrier: exactly one leader per generation, and nobody leaves before everyone arrived", "[sync][barrier]") {
  Watchdog dog("barrier generations");
  constexpr int threads = 4;
  constexpr int generations = 300;
  sy::Barrier barrier(threads);
  std::array<std::atomic<int>, generations> arrived{};
  std::array<std::atomic<int>, generations> left{};
  std::array<std::atomic<int>, generations> leaders{};
  std::atomic<int> early_leaves{0};   // left generation g before all of g arrived
  std::atomic<int> overtakers{0};     // arrived at g+1 before all of g arrived
  std::vector<int> written(threads);  // plain ints, ordered by the barrier
  std::atomic<int> stale_reads{0};
  th::scope([&](th::Scope& s) {
    for (int t = 0; t < threads; ++t) {
      (void)s.spawn([&, t] {
        for (int g = 0; g < generations; ++g) {
          if (g + 1 < generations && arrived[static_cast<std::size_t>(g) + 1].load() != 0) {
            overtakers.fetch_add(1);
          }
          written[static_cast<std::size_t>(t)] = g;
          arrived[static_cast<std::size_t>(g)].fetch_add(1);
          const bool leader = barrier.wait().is_leader();
          if (arrived[static_cast<std::size_t>(g)].load() != threads) {
            early_leaves.fetch_add(1);
          }
          // What every thread wrote before the barrier is visible after it.
          for (int other = 0; other < threads; ++other) {
            if (written[static_cast<std::size_t>(other)] < g) {
              stale_reads.fetch_add(1);
            }
          }
          if (leader) {
            leaders[static_cast<std::size_t>(g)].fetch_add(1);
          }
          left[static_cast<std::size_t>(g)].fetch_add(1);
          // A second barrier per round keeps the writes above from racing
          // with the reads of the slower threads.
          (void)barrier.wait();
        }
      });
    }
  });
  REQUIRE(early_leaves.load() == 0);
  REQUIRE(overtakers.load() == 0);
  REQUIRE(stale_reads.load() == 0);
  int wrong_leaders = 0;
  int wrong_counts = 0;
  for (int g = 0; g < generations; ++g) {
    wrong_leaders += leaders[static_cast<std::size_t>(g)].load() != 1 ? 1 : 0;
    wrong_counts +=
        (arrived[static_cast<std::size_t>(g)].load() != threads || left[static_cast<std::size_t>(g)].load() != threads)
            ? 1
            : 0;
  }
  REQUIRE(wrong_leaders == 0);
  REQUIRE(wrong_counts == 0);
}

TEST_CASE("Barrier: more threads than n pass in groups of n", "[sync][barrier]") {
  // Six threads each wait once per round on a barrier of three, which makes
  // two generations of three a round; a barrier of six then closes the
  // round. (Waiting more than once per round could leave one thread with a
  // wait to do and no partner left.)
  Watchdog dog("barrier groups");
  constexpr int threads = 6;
  constexpr int rounds = 50;
  sy::Barrier groups(3);
  sy::Barrier everyone(threads);
  std::atomic<int> group_leaders{0};
  std::atomic<int> group_followers{0};
  std::atomic<int> round_leaders{0};
  std::atomic<int> wrong_round_counts{0};
  std::array<std::atomic<int>, rounds> passed{};
  th::scope([&](th::Scope& s) {
    for (int t = 0; t < threads; ++t) {
      (void)s.spawn([&] {
        for (int r = 0; r < rounds; ++r) {
          if (groups.wait().is_leader()) {
            group_leaders.fetch_add(1);
          } else {
            group_followers.fetch_add(1);
          }
          passed[static_cast<std::size_t>(r)].fetch_add(1);
          if (everyone.wait().is_leader()) {
            round_leaders.fetch_add(1);
            // Everyone passed this round's groups before the round closed.
            if (passed[static_cast<std::size_t>(r)].load() != threads) {
              wrong_round_counts.fetch_add(1);
            }
          }
        }
      });
    }
  });
  REQUIRE(group_leaders.load() == rounds * 2);
  REQUIRE(group_followers.load() == rounds * 4);
  REQUIRE(round_leaders.load() == rounds);
  REQUIRE(wrong_round_counts.load() == 0);
}
