// SPDX-License-Identifier: MIT
// Stress: readers and writers hammering one RwLock whose four fields are
// always written together (a reader must never see them torn), and a
// producer/consumer queue built from a Mutex and two Condvars. Counts are
// sized to finish in a few seconds under ThreadSanitizer on two cores; a
// Watchdog fails any test that hangs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <random>
#include <thread>
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
using spindle::test::sync_support::RunOnExit;
using spindle::test::sync_support::spin_until;

namespace {

// Four fields that every writer sets together: a, a + 1, a + 2, a * 2.
struct Quad {
  std::uint64_t a = 0;
  std::uint64_t b = 1;
  std::uint64_t c = 2;
  std::uint64_t d = 0;
  std::uint64_t writes = 0;
};

bool consistent(const Quad& q) { return q.b == q.a + 1 && q.c == q.a + 2 && q.d == q.a * 2; }

void bump(Quad& q) {
  // Field by field, so that a reader overlapping a writer would see a mix.
  const std::uint64_t next = q.a + 1;
  q.a = next;
  q.b = next + 1;
  q.c = next + 2;
  q.d = next * 2;
  q.writes += 1;
}

constexpr std::size_t capacity = 8;  // of the producer/consumer queue

struct Queue {
  std::deque<int> items;
  int producers_left = 0;
  std::size_t max_seen = 0;
};

}  // namespace

TEST_CASE("stress: readers never see a torn struct, and every write is counted", "[sync][rwlock][stress]") {
  Watchdog dog("rwlock torn reads");
  constexpr int writers = 3;
  constexpr int writes_each = 4'000;
  constexpr int readers = 3;
  constexpr std::uint64_t total_writes = static_cast<std::uint64_t>(writers) * writes_each;
  sy::RwLock<Quad> lock;
  std::atomic<bool> stop{false};
  std::atomic<long> torn{0};
  std::atomic<long> went_back{0};
  std::atomic<long> reads{0};
  std::atomic<long> reads_among_writers{0};
  std::atomic<int> readers_started{0};
  std::atomic<int> pauses_timed_out{0};
  th::scope([&](th::Scope& s) {
    const SetOnExit stop_on_exit(stop);
    for (int r = 0; r < readers; ++r) {
      (void)s.spawn([&, r] {
        std::minstd_rand rng(static_cast<std::uint32_t>(91 + r));
        std::uint64_t last = 0;
        readers_started.fetch_add(1);
        do {
          const auto op = rng() % 4;
          Quad seen;
          if (op == 0) {
            auto t = lock.try_read();
            if (t.is_err()) {
              std::this_thread::yield();
              continue;
            }
            seen = *t.unwrap();
          } else {
            auto g = lock.read().unwrap();
            // Check in place too, while the guard is held.
            if (!consistent(*g)) {
              torn.fetch_add(1);
            }
            seen = *g;
          }
          if (!consistent(seen)) {
            torn.fetch_add(1);
          }
          if (seen.a < last) {
            went_back.fetch_add(1);
          }
          last = seen.a;
          reads.fetch_add(1);
          if (seen.a > 0 && seen.a < total_writes) {
            reads_among_writers.fetch_add(1);  // got in between two writes
          }
        } while (!stop.load());
      });
    }
    std::vector<th::ScopedJoinHandle<int>> writer_handles;
    for (int w = 0; w < writers; ++w) {
      writer_handles.push_back(s.spawn([&, w] {
        std::minstd_rand rng(static_cast<std::uint32_t>(17 + w));
        int done = 0;
        // Start once the readers run, so that they meet the writers.
        (void)spin_until([&] { return readers_started.load() == readers || stop.load(); });
        while (done < writes_each && !stop.load()) {
          if (done == writes_each / 2) {
            // Half-way, wait until some reader has read between two writes,
            // so that the readers' checks meet the writers whatever the
            // scheduler does (the fairness tests cover the timing).
            if (!eventually([&] { return reads_among_writers.load() > 0 || stop.load(); })) {
              pauses_timed_out.fetch_add(1);
            }
          }
          const auto op = rng() % 4;
          if (op == 0) {
            auto r = lock.try_write();
            if (r.is_err()) {
              std::this_thread::yield();
              continue;
            }
            auto g = std::move(r).unwrap();
            if (!consistent(*g)) {
              torn.fetch_add(1);
            }
            bump(*g);
          } else {
            auto g = lock.write().unwrap();
            if (!consistent(*g)) {
              torn.fetch_add(1);
            }
            bump(*g);
          }
          ++done;
        }
        return done;
      }));
    }
    int total = 0;
    for (auto& h : writer_handles) {
      total += h.join().unwrap();
    }
    stop = true;
    REQUIRE(static_cast<std::uint64_t>(total) == total_writes);
  });
  REQUIRE(torn.load() == 0);
  REQUIRE(went_back.load() == 0);
  REQUIRE(reads.load() > 0);
  REQUIRE(pauses_timed_out.load() == 0);
  REQUIRE(reads_among_writers.load() > 0);  // readers got in between the writers
  auto g = lock.read().unwrap();
  REQUIRE(consistent(*g));
  REQUIRE(g->a == total_writes);
  REQUIRE(g->writes == total_writes);
}

TEST_CASE("stress: a bounded producer/consumer queue on a Mutex and two Condvars", "[sync][condvar][stress]") {
  Watchdog dog("producer/consumer");
  constexpr int producers = 3;
  constexpr int consumers = 3;
  constexpr int per_producer = 10'000;
  constexpr long total = static_cast<long>(producers) * per_producer;
  sy::Mutex<Queue> queue;
  queue.get_mut().unwrap().producers_left = producers;
  sy::Condvar not_empty;
  sy::Condvar not_full;
  std::atomic<long long> consumed_sum{0};
  std::atomic<long> consumed_count{0};
  std::atomic<int> order_errors{0};
  th::scope([&](th::Scope& s) {
    // If the test fails early: end every producer's stream, wake everyone.
    const RunOnExit release([&] {
      if (std::uncaught_exceptions() > 0) {
        queue.lock().unwrap()->producers_left = 0;
        for (int i = 0; i < producers + consumers; ++i) {  // notify_one too, in case notify_all is what failed
          not_empty.notify_all();
          not_full.notify_all();
          not_empty.notify_one();
          not_full.notify_one();
        }
      }
    });
    for (int p = 0; p < producers; ++p) {
      (void)s.spawn([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          auto g = queue.lock().unwrap();
          if (i % 3 == 0) {
            // Sometimes a timed wait, in a loop of its own.
            while (g->items.size() >= capacity && g->producers_left > 0) {
              g = std::move(not_full.wait_timeout(std::move(g), 1ms).unwrap().first);
            }
          } else {
            g = not_full
                    .wait_while(std::move(g),
                                [](Queue& q) { return q.items.size() >= capacity && q.producers_left > 0; })
                    .unwrap();
          }
          if (g->producers_left == 0 && g->items.size() >= capacity) {
            return;  // released by a failing test
          }
          g->items.push_back(p * per_producer + i);
          if (g->items.size() > g->max_seen) {
            g->max_seen = g->items.size();
          }
          not_empty.notify_one();
        }
        auto g = queue.lock().unwrap();
        if (--g->producers_left == 0) {
          not_empty.notify_all();  // consumers waiting for more: there is none
        }
      });
    }
    for (int c = 0; c < consumers; ++c) {
      (void)s.spawn([&] {
        std::vector<int> last(producers, -1);
        for (;;) {
          auto g =
              not_empty
                  .wait_while(queue.lock().unwrap(), [](Queue& q) { return q.items.empty() && q.producers_left > 0; })
                  .unwrap();
          if (g->items.empty()) {
            return;  // every producer is done
          }
          const int item = g->items.front();
          g->items.pop_front();
          not_full.notify_one();
          { auto release_lock = std::move(g); }
          // Items from one producer leave the FIFO in order; each consumer
          // therefore sees each producer's items rising.
          const int producer = item / per_producer;
          if (item <= last[static_cast<std::size_t>(producer)]) {
            order_errors.fetch_add(1);
          }
          last[static_cast<std::size_t>(producer)] = item;
          consumed_sum.fetch_add(item);
          consumed_count.fetch_add(1);
        }
      });
    }
    REQUIRE(eventually([&] { return consumed_count.load() == total; }));
  });
  REQUIRE(consumed_count.load() == total);
  REQUIRE(consumed_sum.load() == static_cast<long long>(total) * (total - 1) / 2);
  REQUIRE(order_errors.load() == 0);
  auto g = queue.lock().unwrap();
  REQUIRE(g->items.empty());
  REQUIRE(g->max_seen <= capacity);
  REQUIRE(g->max_seen >= 1U);
}
