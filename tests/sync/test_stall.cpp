// SPDX-License-Identifier: MIT
// Round-based stress with stalled threads, for spindle::sync's locks: hunts
// lost wake-ups in RwLock (its writers' mutex, readers' gate, writers'
// phases and readers' turns), in Mutex and in Condvar.
//
// As in mpsc/test_stall.cpp, the threads work in rounds and meet at a
// barrier between them: a thread whose wake-up is lost cannot be rescued by
// the traffic of later rounds, since the round it is in never ends.
//
// RwLock rounds: three writers each write a few times back to back (how
// many, every thread computes from the round's number), one of them now and
// then by try_write() in a retry loop, while two readers read, now and then
// by try_read(), until they see the round's last write. Every write
// increments four fields one by one: a reader must never see them differ,
// go backwards, or pass the round's total, and the rounds' writes must all
// be counted. Writes back to back with readers waiting start writers'
// phases, whose ends give the readers their turns; readers that now and
// then hold their lock up to a millisecond make writers sleep until they
// leave.
//
// Mutex and Condvar rounds: two producers push a few items each onto a
// deque of at most three under a Mutex, and two consumers take their share
// each, all waiting on two Condvars; every item must be taken exactly once.
//
// Every thread is stalled at random instructions by its own timer, in three
// rounds of four (see LockRoundTimer for the fourth), and in half of those
// interrupted once by a signal that cuts a sleep short; in half the rounds,
// too, threads interrupt one another just before they unlock or notify (see
// support/stall.hpp). A lock call has no timeout, so
// a monitor watches the threads: when none moves for 10 s, the test fails,
// naming what each was doing, and from then on the monitor interrupts every
// thread again and again. A thread that slept through its wake-up then
// wakes, finds what it waited for and leaves, and the test fails with the
// round's story; a thread that stays stuck even so ends the process (a
// watchdog). The test runs for a couple of seconds; SPINDLE_STRESS_SECONDS
// sets a longer run.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/stall.hpp"

#include <spindle/sync.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace sy = spindle::sync;  // not "sync": that is POSIX sync(2)
namespace stall = spindle::test::stall;
using namespace std::chrono_literals;
using spindle::test::ProgressWatchdog;
using stall::Crew;
using stall::RoundBarrier;
using stall::ThreadStatus;
using Clock = std::chrono::steady_clock;

namespace {

/// How long no thread may move before the test fails: far beyond any stall,
/// phase or scheduling delay, so only a hang reaches it.
constexpr std::chrono::milliseconds lock_stuck_limit = 10s;
/// The barrier waits longer: the monitor, which can say more, reports first.
constexpr std::chrono::milliseconds lock_barrier_limit = 15s;
constexpr double rwlock_stall_seconds = 1.5;
constexpr double condvar_stall_seconds = 1.0;
/// When a round's thread may be interrupted (half the rounds): early in it.
constexpr std::chrono::microseconds lock_interrupt_window = 200us;

void lock_busy_wait(std::chrono::nanoseconds length) {
  const auto until = Clock::now() + length;
  while (Clock::now() < until) {
  }
}

/// Interrupts thread `who` of the crew if it runs: asleep, it wakes and
/// looks again at what it waits for, while the caller changes it.
void poke_lock_peer(Crew& crew, std::size_t who) {
  // relaxed: a thread id, read to send a signal; a stale one is harmless.
  if (const pid_t tid = crew.status(who).tid.load(std::memory_order::relaxed); tid != 0) {
    stall::interrupt(tid);
  }
}

/// Watches a crew's progress from a thread of its own. When no thread has
/// moved for `limit`, it fails the round. Once anything has failed, it
/// interrupts every thread still running, every millisecond: a thread
/// asleep on a wake-up that was lost then wakes as if spuriously, finds
/// what it waited for and leaves, and the test can report instead of hang.
class LockStallMonitor {
 public:
  LockStallMonitor(Crew& crew, std::size_t threads, std::chrono::milliseconds limit)
      : crew_(crew), threads_(threads), limit_(limit), thread_([this] { run(); }) {}
  LockStallMonitor(const LockStallMonitor&) = delete;
  LockStallMonitor& operator=(const LockStallMonitor&) = delete;
  ~LockStallMonitor() {
    stop_.store(true, std::memory_order::relaxed);
    thread_.join();
  }

  /// Whether it found the crew stuck.
  [[nodiscard]] bool fired() const noexcept { return fired_.load(std::memory_order::relaxed); }

 private:
  void run() {
    long last = crew_.progress();
    auto since = Clock::now();
    while (!stop_.load(std::memory_order::relaxed)) {
      std::this_thread::sleep_for(1ms);
      if (crew_.failed()) {
        for (std::size_t who = 0; who < threads_; ++who) {
          poke_lock_peer(crew_, who);
        }
        continue;
      }
      const long now = crew_.progress();
      if (now != last) {
        last = now;
        since = Clock::now();
      } else if (Clock::now() - since >= limit_) {
        fired_.store(true, std::memory_order::relaxed);
        crew_.fail(stuck_round(), "no thread moved for " + std::to_string(limit_.count()) + " ms");
      }
    }
  }

  // The round that does not end: the earliest any thread is in (one that
  // waits at the barrier for the next has finished it).
  [[nodiscard]] long stuck_round() {
    long round = crew_.status(0).round.load(std::memory_order::relaxed);
    for (std::size_t who = 1; who < threads_; ++who) {
      round = std::min(round, crew_.status(who).round.load(std::memory_order::relaxed));
    }
    return round;
  }

  Crew& crew_;
  const std::size_t threads_;
  const std::chrono::milliseconds limit_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: it starts with the fields above set
};

/// What a thread of these tests did.
struct LockStallOutcome {
  long ops = 0;      // writes, new values read, items pushed or taken
  long retries = 0;  // try_write() and try_read() calls that failed
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;  // timer_create's errno, if it failed
};

/// The totals of a crew's outcomes.
struct LockStallTotals {
  long ops = 0;
  long retries = 0;
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;  // any thread's

  void add(const LockStallOutcome& o) {
    ops += o.ops;
    retries += o.retries;
    stalls += o.stalls;
    interrupts += o.interrupts;
    timer_error = std::max(timer_error, o.timer_error);
  }
};

/// What join_stalled_crew() gathers: the totals of the crew's first
/// `split` threads and of the others, and whether the monitor fired.
struct LockStallJoin {
  LockStallTotals first;
  LockStallTotals second;
  bool fired = false;
};

/// Joins the crew's threads under a ProgressWatchdog and a LockStallMonitor:
/// a thread that interrupts cannot release (a deadlock, not a lost
/// wake-up) ends the process, with what every thread was doing.
LockStallJoin join_stalled_crew(Crew& crew, const std::string& what, std::uint64_t plan_seed,
                                std::vector<th::JoinHandle<LockStallOutcome>>& threads, std::size_t split) {
  LockStallJoin joined;
  const ProgressWatchdog dog(
      what, [&crew] { return crew.progress(); },
      [&crew, plan_seed] {
        return "plan seed " + std::to_string(plan_seed) + "\n" + crew.failure() + "\n" + crew.describe();
      });
  const LockStallMonitor monitor(crew, threads.size(), lock_stuck_limit);
  for (std::size_t id = 0; id < threads.size(); ++id) {
    (id < split ? joined.first : joined.second).add(threads[id].join().unwrap());
  }
  joined.fired = monitor.fired();
  return joined;
}

/// A thread's stall timer, on in three rounds of four, and then in half
/// of them set to interrupt the thread once, early in the round.
///
/// Why not in every round: a stall that lands on a futex wait restarts the
/// wait, which looks at its word again, so a sleeper whose word has changed
/// wakes at its next stall (within 50 us) even when its wake-up was lost.
/// The locks' wake-ups change the word before they wake (the mutex's state,
/// the condition variable's count, the RwLock's gate_, queue_ and drain_),
/// so a wake-up lost after that change would go unseen. A thread that
/// sleeps in a round of its own without stalls, while the others stall,
/// has nothing but its wake-up to end its sleep.
class LockRoundTimer {
 public:
  explicit LockRoundTimer(std::uint64_t seed) : seed_(seed) {}
  LockRoundTimer(const LockRoundTimer&) = delete;
  LockRoundTimer& operator=(const LockRoundTimer&) = delete;
  ~LockRoundTimer() = default;

  void start_round(long round) {
    const std::uint64_t h = stall::mix(seed_ ^ stall::mix(static_cast<std::uint64_t>(round)));
    if (h % 4 == 0) {
      stop();
      return;
    }
    if (!timer_) {
      timer_.emplace(stall::Settings{}, h);
      error_ = std::max(error_, timer_->error());
    }
    timer_->maybe_interrupt_within(lock_interrupt_window);
  }

  /// Stops the timer, and puts what it did into `out`.
  void finish(LockStallOutcome& out) {
    stop();
    out.stalls = stalls_;
    out.interrupts = interrupts_;
    out.timer_error = error_;
  }

 private:
  void stop() {
    if (timer_) {
      stalls_ += timer_->stalls();
      interrupts_ += timer_->interrupts();
      timer_.reset();
    }
  }

  std::uint64_t seed_;
  std::optional<stall::StallTimer> timer_;
  std::uint32_t stalls_ = 0;
  std::uint32_t interrupts_ = 0;
  int error_ = 0;  // timer_create's errno, if it ever failed
};

/// A thread's last steps: it says it is done, its id is withdrawn from
/// the monitor, and its timer's counts go into its outcome.
void lock_thread_done(ThreadStatus& me, long round, LockRoundTimer& timer, LockStallOutcome& out) {
  me.set("done", round);
  me.tid.store(0, std::memory_order::relaxed);
  timer.finish(out);
}

/// What the test says after a failure the monitor found: whether every
/// thread went on once interrupted (else the watchdog has ended the
/// process by now).
std::string lock_failure_story(const std::string& failure, bool monitor_fired) {
  if (!monitor_fired) {
    return failure;
  }
  return failure +
         "Once interrupted, every thread went on: a thread slept through the change it waited for (a lost wake-up).";
}

// --- RwLock rounds -----------------------------------------------------------------

constexpr std::size_t rw_stall_writers = 3;
constexpr std::size_t rw_stall_readers = 2;
constexpr std::size_t rw_stall_threads = rw_stall_writers + rw_stall_readers;
constexpr std::size_t rw_stall_try_writer = 2;  // the writer that sometimes uses try_write()
constexpr unsigned rw_stall_tries = 16;         // its try_write()s before it calls write()

/// Four fields that every write increments, one by one: a reader that
/// overlaps a writer would see them differ.
struct RwStallTally {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::uint64_t c = 0;
  std::uint64_t d = 0;
};

bool rw_tally_even(const RwStallTally& t) { return t.b == t.a && t.c == t.a && t.d == t.a; }

void rw_tally_bump(RwStallTally& t) {
  ++t.a;
  ++t.b;
  ++t.c;
  ++t.d;
}

std::string rw_tally_text(const RwStallTally& t) {
  return "{" + std::to_string(t.a) + " " + std::to_string(t.b) + " " + std::to_string(t.c) + " " + std::to_string(t.d) +
         "}";
}

/// A round: how many writes each writer makes (enough, back to back, for a
/// writers' phase to start), and whether the threads interrupt one another.
struct RwStallPlan {
  std::array<long, rw_stall_writers> writes{};
  std::uint64_t total = 0;
  bool pokes = false;
};

RwStallPlan rw_stall_plan(std::uint64_t seed, long round) {
  RwStallPlan plan;
  for (std::size_t w = 0; w < rw_stall_writers; ++w) {
    const std::uint64_t h = stall::mix(seed ^ stall::mix(static_cast<std::uint64_t>(round) * 4 + w));
    plan.writes[w] = 6 + static_cast<long>(h % 27);
    plan.total += static_cast<std::uint64_t>(plan.writes[w]);
  }
  plan.pokes = stall::mix(seed ^ stall::mix(static_cast<std::uint64_t>(round) * 4 + 3)) % 2 == 0;
  return plan;
}

LockStallOutcome rw_stall_writer(Crew& crew, sy::RwLock<RwStallTally>& lock, std::size_t id, std::uint64_t plan_seed,
                                 std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(id);
  me.tid.store(stall::thread_id(), std::memory_order::relaxed);
  LockRoundTimer timer(stall_seed);
  std::minstd_rand rng(static_cast<std::uint32_t>(stall_seed >> 32));
  LockStallOutcome out;
  std::uint64_t base = 0;  // the count when the round starts
  long round = 0;
  for (; crew.meet(id, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.start_round(round);
    const RwStallPlan plan = rw_stall_plan(plan_seed, round);
    const std::uint64_t end = base + plan.total;
    const long count = plan.writes[id];
    for (long i = 0; i < count && !crew.failed(); ++i) {
      // By write(), or now and then by try_write() in a retry loop: readers
      // inside make it fail, and after a few failures it calls write().
      const auto acquire = [&]() -> sy::RwLockWriteGuard<RwStallTally> {
        if (id == rw_stall_try_writer && rng() % 3 == 0) {
          me.set("try_write() in a loop", round, i, count);
          for (unsigned attempt = 0; attempt < rw_stall_tries; ++attempt) {
            auto tried = lock.try_write();
            if (tried.is_ok()) {
              return std::move(tried).unwrap();
            }
            ++out.retries;
            if (attempt % 4 == 3) {
              std::this_thread::yield();
            }
          }
          me.set("inside write() after try_write()", round, i, count);
        } else {
          me.set("inside write()", round, i, count);
        }
        return lock.write().unwrap();
      };
      std::string wrong;  // what the writer found, if it was wrong
      {
        auto guard = acquire();
        RwStallTally& tally = *guard;
        if (!rw_tally_even(tally) || tally.a < base || tally.a >= end) {
          wrong = rw_tally_text(tally);
        } else {
          rw_tally_bump(tally);
          if (plan.pokes && rng() % 8 == 0) {
            // Any other thread: a writer asleep for the write side or a
            // reader asleep at the gate wakes as we unlock.
            poke_lock_peer(crew, (id + 1 + rng() % (rw_stall_threads - 1)) % rw_stall_threads);
          }
        }
      }
      if (!wrong.empty()) {
        crew.fail(round, "writer " + std::to_string(id) + " found " + wrong + "; this round's writes go from " +
                             std::to_string(base) + " to " + std::to_string(end));
        break;
      }
      ++out.ops;
    }
    me.set("wrote its share", round);
    base = end;
  }
  lock_thread_done(me, round, timer, out);
  return out;
}

LockStallOutcome rw_stall_reader(Crew& crew, const sy::RwLock<RwStallTally>& lock, std::size_t id,
                                 std::uint64_t plan_seed, std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(id);
  me.tid.store(stall::thread_id(), std::memory_order::relaxed);
  LockRoundTimer timer(stall_seed);
  std::minstd_rand rng(static_cast<std::uint32_t>(stall_seed >> 32));
  LockStallOutcome out;
  std::uint64_t base = 0;
  long round = 0;
  for (; crew.meet(id, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.start_round(round);
    const RwStallPlan plan = rw_stall_plan(plan_seed, round);
    const std::uint64_t end = base + plan.total;
    std::uint64_t last = base;
    // Only a new value counts as progress: a reader that reads the same
    // value again and again, while a writer hangs, does not hide the hang.
    me.set("reading", round, 0, 0, static_cast<long>(last));
    while (last != end && !crew.failed()) {
      RwStallTally seen;
      const auto choice = rng() % 8;
      if (choice == 0) {
        // relaxed: the status is read only to describe a hang.
        me.doing.store("inside try_read()", std::memory_order::relaxed);
        auto tried = lock.try_read();
        if (tried.is_err()) {
          ++out.retries;
          me.doing.store("reading", std::memory_order::relaxed);
          std::this_thread::yield();
          continue;
        }
        seen = *std::move(tried).unwrap();
      } else {
        me.doing.store("inside read()", std::memory_order::relaxed);
        auto guard = lock.read().unwrap();
        seen = *guard;
        if (choice == 1) {
          // Hold the lock a little, now and then a millisecond: a writer
          // that comes now waits for us to leave, and may go to sleep until
          // we do.
          lock_busy_wait(rng() % 64 == 0 ? 500us + std::chrono::nanoseconds(rng() % 1'000'000)
                                         : std::chrono::nanoseconds(rng() % 5000));
        }
        if (plan.pokes && choice == 2) {
          poke_lock_peer(crew, rng() % rw_stall_writers);  // a writer asleep until we leave
        }
      }
      me.doing.store("reading", std::memory_order::relaxed);
      if (!rw_tally_even(seen) || seen.a < last || seen.a > end) {
        crew.fail(round, "reader " + std::to_string(id - rw_stall_writers) + " saw " + rw_tally_text(seen) + " after " +
                             std::to_string(last) + "; this round's writes go from " + std::to_string(base) + " to " +
                             std::to_string(end) + ": a torn read, or one that went backwards or too far");
        break;
      }
      if (seen.a != last) {
        last = seen.a;
        ++out.ops;
        me.set("reading", round, 0, 0, static_cast<long>(last));
      } else {
        // Nothing new: a moment's pause (on the CPU, so that the reader is
        // still about when the writers write), in which a writer may find
        // no reader inside.
        lock_busy_wait(std::chrono::nanoseconds(rng() % 2000));
      }
    }
    base = end;
  }
  lock_thread_done(me, round, timer, out);
  return out;
}

// --- Mutex and Condvar rounds ------------------------------------------------------

constexpr std::size_t pc_stall_producers = 2;
constexpr std::size_t pc_stall_consumers = 2;
constexpr std::size_t pc_stall_threads = pc_stall_producers + pc_stall_consumers;
constexpr std::size_t pc_stall_capacity = 3;  // of the deque
constexpr long pc_stall_most = 12;            // items a producer pushes in a round, at most

/// A round: how many items each producer pushes and each consumer takes
/// (as many in all), and whether the threads interrupt one another.
struct PcStallPlan {
  std::array<long, pc_stall_producers> push{};
  std::array<long, pc_stall_consumers> take{};
  bool pokes = false;
};

PcStallPlan pc_stall_plan(std::uint64_t seed, long round) {
  PcStallPlan plan;
  long total = 0;
  for (std::size_t p = 0; p < pc_stall_producers; ++p) {
    const std::uint64_t h = stall::mix(seed ^ stall::mix(static_cast<std::uint64_t>(round) * 4 + p));
    plan.push[p] = 1 + static_cast<long>(h % pc_stall_most);
    total += plan.push[p];
  }
  const std::uint64_t h = stall::mix(seed ^ stall::mix(static_cast<std::uint64_t>(round) * 4 + 3));
  plan.take[0] = static_cast<long>(h % static_cast<std::uint64_t>(total + 1));
  plan.take[1] = total - plan.take[0];
  plan.pokes = (h >> 32) % 2 == 0;
  return plan;
}

/// An item: its producer and that producer's count over the whole test.
int pc_stall_item(std::size_t producer, long seq) {
  return static_cast<int>(seq * static_cast<long>(pc_stall_producers) + static_cast<long>(producer));
}

/// What the consumers share: which of the round's items were taken, each
/// slot marked with the round (plus one) that took it.
struct PcStallMarks {
  std::array<std::array<std::atomic<long>, pc_stall_most>, pc_stall_producers> taken{};
};

using PcStallQueue = sy::Mutex<std::deque<int>>;

/// Waits on `cv` while `blocked(deque)` holds and nothing has failed: by
/// wait_while(), by wait() in a loop, or by short wait_timeout()s in a loop.
template <class Blocked>
sy::MutexGuard<std::deque<int>> pc_stall_wait(Crew& crew, sy::Condvar& cv, sy::MutexGuard<std::deque<int>> guard,
                                              std::minstd_rand& rng, Blocked blocked) {
  const auto waits = [&crew, &blocked](std::deque<int>& q) { return blocked(q) && !crew.failed(); };
  const auto choice = rng() % 8;
  if (choice < 5) {
    return cv.wait_while(std::move(guard), waits).unwrap();
  }
  if (choice < 7) {
    while (waits(*guard)) {
      guard = cv.wait(std::move(guard)).unwrap();
    }
    return guard;
  }
  while (waits(*guard)) {
    guard = std::move(cv.wait_timeout(std::move(guard), std::chrono::microseconds(1 + rng() % 50)).unwrap().first);
  }
  return guard;
}

LockStallOutcome pc_stall_producer(Crew& crew, PcStallQueue& queue, sy::Condvar& not_empty, sy::Condvar& not_full,
                                   std::size_t id, std::uint64_t plan_seed, std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(id);
  me.tid.store(stall::thread_id(), std::memory_order::relaxed);
  LockRoundTimer timer(stall_seed);
  std::minstd_rand rng(static_cast<std::uint32_t>(stall_seed >> 32));
  LockStallOutcome out;
  long seq = 0;
  long round = 0;
  for (; crew.meet(id, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.start_round(round);
    const PcStallPlan plan = pc_stall_plan(plan_seed, round);
    const long count = plan.push[id];
    for (long i = 0; i < count && !crew.failed(); ++i) {
      me.set("pushing", round, i, count, seq);
      auto guard = pc_stall_wait(crew, not_full, queue.lock().unwrap(), rng,
                                 [](const std::deque<int>& q) { return q.size() >= pc_stall_capacity; });
      if (crew.failed()) {
        break;
      }
      if (plan.pokes && rng() % 4 == 0) {
        // A consumer asleep on not_empty wakes and queues for the mutex.
        poke_lock_peer(crew, pc_stall_producers + rng() % pc_stall_consumers);
      }
      guard->push_back(pc_stall_item(id, seq));
      if (rng() % 2 == 0) {
        not_empty.notify_one();
        { auto unlock = std::move(guard); }
      } else {
        { auto unlock = std::move(guard); }
        me.set("notifying", round, i, count, seq);
        not_empty.notify_one();
      }
      ++seq;
      ++out.ops;
    }
    me.set("pushed its share", round);
  }
  lock_thread_done(me, round, timer, out);
  return out;
}

LockStallOutcome pc_stall_consumer(Crew& crew, PcStallQueue& queue, sy::Condvar& not_empty, sy::Condvar& not_full,
                                   PcStallMarks& marks, std::size_t id, std::uint64_t plan_seed,
                                   std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(id);
  me.tid.store(stall::thread_id(), std::memory_order::relaxed);
  LockRoundTimer timer(stall_seed);
  std::minstd_rand rng(static_cast<std::uint32_t>(stall_seed >> 32));
  LockStallOutcome out;
  const std::size_t which = id - pc_stall_producers;  // among the consumers
  std::array<long, pc_stall_producers> first{};       // each producer's first seq of the round
  std::array<long, pc_stall_producers> last{};        // the last seq taken from each producer
  last.fill(-1);
  long round = 0;
  for (; crew.meet(id, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.start_round(round);
    const PcStallPlan plan = pc_stall_plan(plan_seed, round);
    const long count = plan.take[which];
    for (long i = 0; i < count && !crew.failed(); ++i) {
      me.set("taking", round, i, count);
      auto guard = pc_stall_wait(crew, not_empty, queue.lock().unwrap(), rng,
                                 [](const std::deque<int>& q) { return q.empty(); });
      if (crew.failed()) {
        break;
      }
      const std::size_t size = guard->size();
      const int item = guard->front();
      guard->pop_front();
      if (plan.pokes && rng() % 4 == 0) {
        // A producer asleep on not_full wakes and queues for the mutex.
        poke_lock_peer(crew, rng() % pc_stall_producers);
      }
      if (rng() % 2 == 0) {
        not_full.notify_one();
        { auto unlock = std::move(guard); }
      } else {
        { auto unlock = std::move(guard); }
        me.set("notifying", round, i, count);
        not_full.notify_one();
      }
      const auto producer = static_cast<std::size_t>(item) % pc_stall_producers;
      const long seq = item / static_cast<long>(pc_stall_producers);
      const long index = seq - first[producer];
      // Each producer's items leave the deque in order: each consumer sees
      // them rising. One of this round, not taken before: with as many
      // taken as pushed, every item is taken exactly once.
      if (size > pc_stall_capacity || item < 0 || index < 0 || index >= plan.push[producer] || seq <= last[producer] ||
          marks.taken[producer][static_cast<std::size_t>(index)].exchange(round + 1) == round + 1) {
        crew.fail(round, "consumer " + std::to_string(which) + " took producer " + std::to_string(producer) +
                             "'s seq " + std::to_string(seq) + " from a deque of " + std::to_string(size) +
                             "; this round's seqs from it go from " + std::to_string(first[producer]) + " to " +
                             std::to_string(first[producer] + plan.push[producer] - 1) + ", the last taken was " +
                             std::to_string(last[producer]) + ": an item lost, taken twice or out of order");
        break;
      }
      last[producer] = seq;
      ++out.ops;
    }
    me.set("took its share", round);
    for (std::size_t p = 0; p < pc_stall_producers; ++p) {
      first[p] += plan.push[p];
    }
  }
  lock_thread_done(me, round, timer, out);
  return out;
}

}  // namespace

TEST_CASE("stall: rounds of writes back to back and reads on an RwLock with stalled threads", "[sync][rwlock][stall]") {
  const std::uint64_t plan_seed = stall::random_seed();
  Crew crew("RwLock", {"writer 0", "writer 1", "writer 2 (also try_write)", "reader 0", "reader 1"},
            stall::stress_seconds(rwlock_stall_seconds), lock_barrier_limit);
  sy::RwLock<RwStallTally> lock;
  std::vector<th::JoinHandle<LockStallOutcome>> threads;
  for (std::size_t id = 0; id < rw_stall_threads; ++id) {
    threads.push_back(th::spawn([&crew, &lock, id, plan_seed, seed = stall::random_seed()] {
      return id < rw_stall_writers ? rw_stall_writer(crew, lock, id, plan_seed, seed)
                                   : rw_stall_reader(crew, lock, id, plan_seed, seed);
    }));
  }
  const LockStallJoin joined = join_stalled_crew(crew, "RwLock: stalled rounds", plan_seed, threads, rw_stall_writers);
  const LockStallTotals& writers = joined.first;
  const LockStallTotals& readers = joined.second;
  const bool fired = joined.fired;
  std::uint64_t planned = 0;
  for (long round = 0; round + 1 < crew.met(); ++round) {
    planned += rw_stall_plan(plan_seed, round).total;
  }
  INFO("plan seed " << plan_seed << "; " << crew.met() << " rounds, " << writers.ops << " writes, " << writers.retries
                    << " failed try_write()s, " << readers.ops << " new values read, " << readers.retries
                    << " failed try_read()s, " << writers.stalls + readers.stalls << " stalls, "
                    << writers.interrupts + readers.interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(lock_failure_story(failure, fired));
  }
  REQUIRE(writers.timer_error == 0);  // every thread had its timers
  REQUIRE(readers.timer_error == 0);
  REQUIRE(writers.stalls + readers.stalls > 0);
  REQUIRE(writers.interrupts + readers.interrupts > 0);
  REQUIRE(crew.met() > 1);
  REQUIRE(static_cast<std::uint64_t>(writers.ops) == planned);  // every write of every round done
  REQUIRE(readers.ops > 0);
  auto guard = lock.read().unwrap();
  INFO("the lock holds " << rw_tally_text(*guard));
  REQUIRE(rw_tally_even(*guard));
  REQUIRE(guard->a == planned);  // every write counted once
}

TEST_CASE("stall: rounds of a bounded producer and consumer queue on a Mutex and two Condvars with stalled threads",
          "[sync][condvar][stall]") {
  const std::uint64_t plan_seed = stall::random_seed();
  Crew crew("Mutex and Condvar", {"producer 0", "producer 1", "consumer 0", "consumer 1"},
            stall::stress_seconds(condvar_stall_seconds), lock_barrier_limit);
  PcStallQueue queue;
  sy::Condvar not_empty;
  sy::Condvar not_full;
  PcStallMarks marks;
  std::vector<th::JoinHandle<LockStallOutcome>> threads;
  for (std::size_t id = 0; id < pc_stall_threads; ++id) {
    threads.push_back(th::spawn([&crew, &queue, &not_empty, &not_full, &marks, id, plan_seed,
                                 seed = stall::random_seed()] {
      return id < pc_stall_producers ? pc_stall_producer(crew, queue, not_empty, not_full, id, plan_seed, seed)
                                     : pc_stall_consumer(crew, queue, not_empty, not_full, marks, id, plan_seed, seed);
    }));
  }
  const LockStallJoin joined =
      join_stalled_crew(crew, "Mutex and Condvar: stalled rounds", plan_seed, threads, pc_stall_producers);
  const LockStallTotals& producers = joined.first;
  const LockStallTotals& consumers = joined.second;
  const bool fired = joined.fired;
  long planned = 0;
  for (long round = 0; round + 1 < crew.met(); ++round) {
    const PcStallPlan plan = pc_stall_plan(plan_seed, round);
    planned += plan.push[0] + plan.push[1];
  }
  INFO("plan seed " << plan_seed << "; " << crew.met() << " rounds, " << producers.ops << " items pushed, "
                    << consumers.ops << " taken, " << producers.stalls + consumers.stalls << " stalls, "
                    << producers.interrupts + consumers.interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(lock_failure_story(failure, fired));
  }
  REQUIRE(producers.timer_error == 0);
  REQUIRE(consumers.timer_error == 0);
  REQUIRE(producers.stalls + consumers.stalls > 0);
  REQUIRE(producers.interrupts + consumers.interrupts > 0);
  REQUIRE(crew.met() > 1);
  REQUIRE(producers.ops == planned);
  REQUIRE(consumers.ops == planned);  // each taken once: see pc_stall_consumer
  REQUIRE(queue.lock().unwrap()->empty());
}
