// SPDX-License-Identifier: MIT
#pragma once

// Runs spindle's real lock-free code under the relacy model checker.
//
// spindle reaches its atomics and its parking only through the seams in
// detail/atomic.hpp and detail/park.hpp. With SPINDLE_MODEL_CHECK defined
// they resolve to the adapters below: std::atomic's interface over
// rl::atomic, spinning as a scheduling point, and parking on relacy's
// futex; and the RwLock's phase clock to a clock the checker moves. So a
// model exercises the very code that ships.
//
// Include this header first in a model, before any spindle header: relacy
// must come after the standard headers (it defines macros such as `new`
// and `delete`), and spindle's headers need the adapters declared.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <relacy/relacy.hpp>

// relacy's `$` (the call site of each checked operation) is an identifier
// extension that clang's -Wpedantic reports; it is relacy's own spelling.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wdollar-in-identifier-extension"
#endif

// relacy tracks allocations by redefining these; spindle's `= delete`
// declarations and placement-new must keep their meaning.
#undef new
#undef delete

#ifndef SPINDLE_MODEL_CHECK
#define SPINDLE_MODEL_CHECK 1
#endif

namespace spindle::detail::model {

constexpr rl::memory_order order(std::memory_order mo) noexcept {
  switch (mo) {
    case std::memory_order::relaxed:
      return rl::mo_relaxed;
    case std::memory_order::consume:
    case std::memory_order::acquire:
      return rl::mo_acquire;
    case std::memory_order::release:
      return rl::mo_release;
    case std::memory_order::acq_rel:
      return rl::mo_acq_rel;
    case std::memory_order::seq_cst:
      return rl::mo_seq_cst;
  }
  return rl::mo_seq_cst;
}

// The failure order of a CAS given only its success order, as std::atomic
// derives it.
constexpr std::memory_order failure_of(std::memory_order mo) noexcept {
  return mo == std::memory_order::acq_rel   ? std::memory_order::acquire
         : mo == std::memory_order::release ? std::memory_order::relaxed
                                            : mo;
}

// std::atomic<T>'s interface over rl::atomic<R> (R = int for the 32-bit
// words threads park on: relacy's futex works on rl::atomic<int>).
template <class T, class R = T>
class BasicAtomic {
 public:
  static constexpr bool is_always_lock_free = true;

  BasicAtomic() noexcept : value_(R{}) {}
  BasicAtomic(T value) noexcept : value_(static_cast<R>(value)) {}  // NOLINT: as std::atomic
  BasicAtomic(const BasicAtomic&) = delete;
  BasicAtomic& operator=(const BasicAtomic&) = delete;

  T load(std::memory_order mo = std::memory_order::seq_cst) const noexcept {
    return static_cast<T>(value_($).load(order(mo)));
  }
  void store(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept {
    value_($).store(static_cast<R>(v), order(mo));
  }
  T exchange(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept {
    return static_cast<T>(value_($).exchange(static_cast<R>(v), order(mo)));
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order success, std::memory_order failure) noexcept {
    R cmp = static_cast<R>(expected);
    const bool ok = value_($).compare_exchange_strong(cmp, static_cast<R>(desired), order(success), order(failure));
    expected = static_cast<T>(cmp);
    return ok;
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order mo = std::memory_order::seq_cst) noexcept {
    return compare_exchange_strong(expected, desired, mo, failure_of(mo));
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order success, std::memory_order failure) noexcept {
    R cmp = static_cast<R>(expected);
    const bool ok = value_($).compare_exchange_weak(cmp, static_cast<R>(desired), order(success), order(failure));
    expected = static_cast<T>(cmp);
    return ok;
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order mo = std::memory_order::seq_cst) noexcept {
    return compare_exchange_weak(expected, desired, mo, failure_of(mo));
  }
  T fetch_add(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept requires std::is_integral_v<T> {
    return static_cast<T>(value_($).fetch_add(static_cast<R>(v), order(mo)));
  }
  T fetch_sub(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept requires std::is_integral_v<T> {
    return static_cast<T>(value_($).fetch_sub(static_cast<R>(v), order(mo)));
  }
  T fetch_or(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept requires std::is_integral_v<T> {
    return static_cast<T>(value_($).fetch_or(static_cast<R>(v), order(mo)));
  }
  T fetch_and(T v, std::memory_order mo = std::memory_order::seq_cst) noexcept requires std::is_integral_v<T> {
    return static_cast<T>(value_($).fetch_and(static_cast<R>(v), order(mo)));
  }

  rl::atomic<R>& raw() noexcept { return value_; }

 private:
  mutable rl::atomic<R> value_;
};

template <class T>
struct Pick {
  using type = BasicAtomic<T>;
};
template <>
struct Pick<std::uint32_t> {
  using type = BasicAtomic<std::uint32_t, int>;
};

template <class T>
using Atomic = typename Pick<T>::type;

// The checker's threads are fibers of one OS thread: thread_local cannot
// tell them apart, their index can.
inline unsigned thread_slot() noexcept { return static_cast<unsigned>(rl::ctx().current_thread()); }

// Spinning is a point where the checker may switch threads.
inline void cpu_relax() noexcept { rl::yield(1, $); }

/// The long runs, by hand: SPINDLE_MODEL_LONG=1 in the environment. The
/// random scheduler then runs ten times the iterations, the exhaustive one
/// also explores spurious returns, and the models whose exhaustive search
/// takes minutes run it (see the models' main()).
inline bool long_runs() noexcept {
  static const bool asked = [] {
    const char* value = std::getenv("SPINDLE_MODEL_LONG");
    return value != nullptr && *value != '\0' && *value != '0';
  }();
  return asked;
}

/// How many times each thread's waits may return at once, without
/// sleeping, in one execution of the random scheduler (see park_wait); 0
/// turns these returns off. The exhaustive scheduler takes none (one in the
/// long runs): a choice at every wait makes its search three to ten times
/// longer with one, twenty to thirty times with two.
#ifndef SPINDLE_MODEL_SPURIOUS_RETURNS
#define SPINDLE_MODEL_SPURIOUS_RETURNS 2
#endif

// The spurious returns this thread took in this execution: relacy's
// thread-local variable, one value per model thread, zeroed when each
// execution begins.
inline rl::thread_local_var<int> spurious_returns_taken;

// Whether this wait returns at once, for no reason, as a futex wait does on
// a signal (EINTR) or when it wakes for a change that is already undone: a
// choice the checker makes at every wait until the thread has used its
// allowance. The allowance bounds the explored executions (a thread could
// otherwise return spuriously for ever) and keeps the later waits sleeping
// for real.
inline bool spurious_return() noexcept {
  const bool random = rl::ctx().is_random_sched();
  const int allowance = random ? SPINDLE_MODEL_SPURIOUS_RETURNS : long_runs() ? 1 : 0;
  const int taken = spurious_returns_taken.get($);
  if (taken >= allowance) {
    return false;
  }
  // One chance in four for the random scheduler; the exhaustive one tries
  // both branches, once each.
  if (rl::rand(random ? 4 : 2) != 0) {
    return false;
  }
  spurious_returns_taken.set(taken + 1, $);
  if (rl::ctx().collecting_history()) {  // the failing execution, replayed
    RL_LOG("park: spurious return");
  }
  return true;
}

// Parking on relacy's futex. A wait may return spuriously at once (see
// spurious_return), or after it slept: relacy's scheduler may wake a
// sleeper for no reason while another thread runs. A timed wait may also
// time out at any point, which spindle's callers take as one more spurious
// return (they check the clock).
inline void park_wait(BasicAtomic<std::uint32_t, int>& word, std::uint32_t expected, bool timed) noexcept {
  if (spurious_return()) {
    cpu_relax();  // the futex call's scheduling point, which a real wait has too
    return;
  }
  timespec zero{};
  (void)rl::rl_futex(&word.raw(), rl::RL_FUTEX_WAIT, static_cast<int>(expected), timed ? &zero : nullptr, nullptr, 0,
                     $);
}
inline void park_wake(BasicAtomic<std::uint32_t, int>& word, bool all) noexcept {
  (void)rl::rl_futex(&word.raw(), rl::RL_FUTEX_WAKE, all ? 1 << 30 : 1, nullptr, nullptr, 0, $);
}

// The RwLock's phase clock in a model (see now_ns in
// detail/sync/raw_rwlock.hpp), in nanoseconds. Each reading returns the
// last one, or one a long time later (more than any phase or turn lasts),
// as the checker chooses: so a model explores, at every look at the clock,
// both "no time has passed" and "every pending end has passed". A sleep
// until a time moves the clock there and lets the other threads run. The
// clock is the model's environment, not the program under test: a plain
// integer, which the fibers of one OS thread share without a race.
class PhaseClock {
 public:
  std::int64_t now_ns() noexcept {
    if (rl::rand(2) != 0) {
      now_ += long_time_ns;
    }
    return now_;
  }
  void sleep_until_ns(std::int64_t ns) noexcept {
    now_ = std::max(now_, ns);
    rl::yield(1, $);
  }

 private:
  static constexpr std::int64_t long_time_ns = 1'000'000'000;
  std::int64_t now_ = 0;
};

}  // namespace spindle::detail::model

namespace spindle::model_test {

using spindle::detail::model::long_runs;

/// Whether the channels of this build sleep as soon as a wait is not
/// satisfied, with no spinning or yielding first (the sleepy variants in
/// CMakeLists.txt): the sleep and wake-up paths are then the common path.
inline constexpr bool sleepy_build =
#if defined(SPINDLE_CHANNEL_SPIN_STEPS) && defined(SPINDLE_CHANNEL_YIELD_STEPS)
    SPINDLE_CHANNEL_SPIN_STEPS == 0 && SPINDLE_CHANNEL_YIELD_STEPS == 0;
#else
    false;
#endif

/// Runs the model Test with `scheduler` and prints one line: its name, the
/// scheduler, ok or FAILED (relacy prints the why). The random scheduler
/// runs `iterations` executions (ten times as many in the long runs); the
/// context-bound one ignores the count and runs until its search is done.
template <class Test>
bool run(const char* name, rl::scheduler_type_e scheduler, int iterations) {
  rl::test_params params;
  params.search_type = scheduler;
  params.iteration_count = long_runs() ? 10 * iterations : iterations;
  params.output_history = false;
  const bool ok = rl::simulate<Test>(params);
  std::printf("%-40s %-14s %s\n", name, scheduler == rl::sched_random ? "random" : "context-bound",
              ok ? "ok" : "FAILED");
  return ok;
}

}  // namespace spindle::model_test
