// SPDX-License-Identifier: MIT
#pragma once

// Helpers that keep concurrency tests bounded: every wait has a limit, and a
// limit that passes fails the test instead of hanging it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace spindle::test {

using namespace std::chrono_literals;

/// The longest any single wait in a test may take before the test fails.
inline constexpr std::chrono::seconds wait_limit{20};

/// Polls `done` until it returns true or `limit` passes; returns its last
/// answer. The caller REQUIREs the result, so a hang becomes a failure.
template <class Pred>
[[nodiscard]] bool eventually(Pred&& done, std::chrono::milliseconds limit = wait_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(100us);
  }
  return true;
}

/// Waits until `flag` is raised, as eventually() polls; false if it is not
/// within `limit`.
[[nodiscard]] inline bool raised(const std::atomic<bool>& flag, std::chrono::milliseconds limit = wait_limit) {
  return eventually([&flag] { return flag.load(); }, limit);
}

/// A time budget for a stress loop: the loop runs its full count on a
/// quiet machine and stops early, after at least one round, on a loaded one,
/// so its test's time limits catch hangs, not slowness.
class Budget {
 public:
  explicit Budget(std::chrono::milliseconds budget = 4s) : end_(std::chrono::steady_clock::now() + budget) {}

  /// Whether another round fits; `done` is the number of rounds done.
  [[nodiscard]] bool more(long long done) const { return done == 0 || std::chrono::steady_clock::now() < end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

/// Sets `flag` when the scope ends, however it ends: a thread a test
/// releases through a flag is released even when an assertion fails first.
class SetOnExit {
 public:
  explicit SetOnExit(std::atomic<bool>& flag) noexcept : flag_(flag) {}
  SetOnExit(const SetOnExit&) = delete;
  SetOnExit& operator=(const SetOnExit&) = delete;
  ~SetOnExit() { flag_.store(true); }

 private:
  std::atomic<bool>& flag_;
};

/// Aborts the whole test process, naming `what`, unless disarmed (destroyed)
/// within `limit`. For waits a test cannot bound itself, such as a blocking
/// join or park under test: a bug then fails the test with a message instead
/// of hanging until CTest's timeout.
class Watchdog {
 public:
  explicit Watchdog(std::string what, std::chrono::milliseconds limit = wait_limit)
      : what_(std::move(what)), thread_([this, limit] { run(limit); }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      disarmed_ = true;
    }
    cond_.notify_one();
    thread_.join();
  }

 private:
  void run(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cond_.wait_for(lock, limit, [this] { return disarmed_; })) {
      std::fprintf(stderr, "watchdog: '%s' did not finish within %lld ms; aborting the test\n", what_.c_str(),
                   static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable cond_;
  bool disarmed_ = false;
  std::thread thread_;
};

/// A Watchdog for a long test that must keep moving: aborts the process
/// unless `progress()` changes at least once every `limit`, printing `what`
/// and `describe()` (which says what each thread was doing). Both functions
/// run on the watchdog's thread.
class ProgressWatchdog {
 public:
  ProgressWatchdog(std::string what, std::function<long()> progress, std::function<std::string()> describe,
                   std::chrono::milliseconds limit = wait_limit)
      : what_(std::move(what)),
        progress_(std::move(progress)),
        describe_(std::move(describe)),
        thread_([this, limit] { run(limit); }) {}
  ProgressWatchdog(const ProgressWatchdog&) = delete;
  ProgressWatchdog& operator=(const ProgressWatchdog&) = delete;
  ~ProgressWatchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      disarmed_ = true;
    }
    cond_.notify_one();
    thread_.join();
  }

 private:
  void run(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    long last = progress_();
    auto since = std::chrono::steady_clock::now();
    while (!cond_.wait_for(lock, 50ms, [this] { return disarmed_; })) {
      const long now = progress_();
      if (now != last) {
        last = now;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since >= limit) {
        const std::string state = describe_();
        std::fprintf(stderr, "watchdog: '%s' made no progress for %lld ms; aborting the test\n%s\n", what_.c_str(),
                     static_cast<long long>(limit.count()), state.c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  }

  std::string what_;
  std::function<long()> progress_;
  std::function<std::string()> describe_;
  std::mutex mutex_;
  std::condition_variable cond_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace spindle::test
