// SPDX-License-Identifier: MIT
#pragma once

// Shared pieces of the spindle::sync tests: value types that make demands on
// the locks (no default constructor, move-only), the exception tests throw to
// unwind a thread that holds a guard, and a bounded spin for worker threads.
// Workers never assert (Catch2 v2 is not thread-safe): they record into
// atomics or return what they saw through join().

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

#include "support/bounded.hpp"

#include <spindle/sync.hpp>

namespace spindle::test::sync_support {

/// What the tests throw while a guard is held.
struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

/// The limit of one bounded wait in these tests: half a Watchdog's default
/// limit, so that a wait that fails is reported as a failed assertion before
/// the test's Watchdog aborts the process.
inline constexpr std::chrono::milliseconds step_limit{10'000};

/// spindle::test::eventually with `step_limit` as its default limit.
template <class Pred>
[[nodiscard]] bool eventually(Pred&& done, std::chrono::milliseconds limit = step_limit) {
  return spindle::test::eventually(std::forward<Pred>(done), limit);
}

/// A value with no default constructor.
class NoDefault {
 public:
  explicit NoDefault(int value) noexcept : value_(value) {}
  [[nodiscard]] int value() const noexcept { return value_; }
  void set(int value) noexcept { value_ = value; }

 private:
  int value_;
};

/// A move-only value with no default constructor.
class MoveOnly {
 public:
  explicit MoveOnly(int value) : value_(std::make_unique<int>(value)) {}
  MoveOnly(MoveOnly&&) noexcept = default;
  MoveOnly& operator=(MoveOnly&&) noexcept = default;
  MoveOnly(const MoveOnly&) = delete;
  MoveOnly& operator=(const MoveOnly&) = delete;
  ~MoveOnly() = default;
  /// -1 once moved from.
  [[nodiscard]] int value() const noexcept { return value_ ? *value_ : -1; }
  void set(int value) { value_ = std::make_unique<int>(value); }

 private:
  std::unique_ptr<int> value_;
};

/// The guard inside a LockResult that must be an error (a poisoned lock).
/// Throws BadResultAccess (failing the calling test) when it is not.
template <class Guard>
Guard guard_of_poisoned(sync::LockResult<Guard> result) {
  return std::move(result).unwrap_err().into_inner();
}

/// Runs `f` when the scope ends, however it ends: releases waiters a failed
/// assertion would otherwise leave blocked (for blocking waits a flag
/// cannot end, such as Condvar waits on a condition).
class RunOnExit {
 public:
  explicit RunOnExit(std::function<void()> f) : f_(std::move(f)) {}
  RunOnExit(const RunOnExit&) = delete;
  RunOnExit& operator=(const RunOnExit&) = delete;
  ~RunOnExit() { f_(); }

 private:
  std::function<void()> f_;
};

/// For worker threads: spins (yielding) until `done` or `limit`; returns
/// whether `done` became true. Tighter than eventually()'s 100 us sleeps
/// where a test needs a worker to react quickly.
template <class Pred>
[[nodiscard]] bool spin_until(Pred&& done, std::chrono::milliseconds limit = step_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (unsigned i = 0; !done(); ++i) {
    if ((i & 63U) == 63U && std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
    std::this_thread::yield();
  }
  return true;
}

}  // namespace spindle::test::sync_support
