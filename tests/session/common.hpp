// SPDX-License-Identifier: MIT
#pragma once

// Shared pieces of the spindle::session tests: a violation handler that
// records instead of aborting (installed for a scope), message types that
// make demands on the transport, and small helpers for bounded waits.
//
// Worker threads never use Catch2 assertions (v2 is not thread-safe): they
// return what they saw through join(), and the test checks it.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "support/bounded.hpp"

#include <spindle/session.hpp>

// ThreadSanitizer makes everything several times slower: the stress tests
// scale their counts down with it.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SESSION_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SESSION_TEST_TSAN)
#define SESSION_TEST_TSAN 1
#endif

namespace spindle::test::session_support {

/// `n` in a plain build, a fifth of it under ThreadSanitizer.
constexpr int scaled(int n) noexcept {
#if defined(SESSION_TEST_TSAN)
  return n / 5;
#else
  return n;
#endif
}

namespace ss = spindle::session;

/// The limit of one bounded wait in these tests: half a Watchdog's default
/// limit, so that a wait that fails is reported as a failed assertion before
/// the test's Watchdog aborts the process.
inline constexpr std::chrono::milliseconds step_limit{10'000};

template <class Pred>
[[nodiscard]] bool eventually(Pred&& done, std::chrono::milliseconds limit = step_limit) {
  return spindle::test::eventually(std::forward<Pred>(done), limit);
}

/// For worker threads: yields until `done` or `limit`; returns whether
/// `done` became true.
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

// --- a violation handler that records ------------------------------------------

/// What the recording handler saw, process-wide.
struct Violations {
  std::atomic<int> count{0};
  std::mutex mutex;
  std::string last;  // the last description, guarded by `mutex`
};

inline Violations& violations() noexcept {
  static Violations v;
  return v;
}

/// A ViolationHandler that counts the call, keeps the description and
/// returns (so the session carries on: the peer sees Disconnected).
inline void record_violation(std::string_view description) {
  Violations& v = violations();
  {
    const std::lock_guard<std::mutex> lock(v.mutex);
    v.last.assign(description.data(), description.size());
  }
  // release: a thread that sees the count also sees the description.
  v.count.fetch_add(1, std::memory_order_release);
}

/// Installs record_violation for its scope and puts back whatever handler
/// was there before. count() is the number of violations since it was
/// installed.
class RecordViolations {
 public:
  RecordViolations() : start_(violations().count.load(std::memory_order_acquire)) {
    previous_ = ss::set_violation_handler(&record_violation);
  }
  RecordViolations(const RecordViolations&) = delete;
  RecordViolations& operator=(const RecordViolations&) = delete;
  ~RecordViolations() { ss::set_violation_handler(previous_); }

  [[nodiscard]] int count() const noexcept { return violations().count.load(std::memory_order_acquire) - start_; }

  /// The description passed to the handler last.
  [[nodiscard]] std::string last() const {
    const std::lock_guard<std::mutex> lock(violations().mutex);
    return violations().last;
  }

 private:
  int start_;
  ss::ViolationHandler previous_ = nullptr;
};

// --- message types ---------------------------------------------------------------

/// A value with no default constructor.
class NoDefault {
 public:
  explicit NoDefault(int value) noexcept : value_(value) {}
  [[nodiscard]] int value() const noexcept { return value_; }

 private:
  int value_;
};

/// A move-only value with no default constructor that owns heap memory.
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

 private:
  std::unique_ptr<int> value_;
};

// --- helpers ---------------------------------------------------------------------

/// Runs `f` and returns the what() of the `Ex` it throws, or a marker when
/// it throws nothing. (Another exception type propagates and fails the test.)
template <class Ex, class F>
std::string what_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const Ex& e) {
    return e.what();
  }
  return "<nothing was thrown>";
}

/// Whether `text` contains `part`.
inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace spindle::test::session_support
