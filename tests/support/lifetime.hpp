// SPDX-License-Identifier: MIT
#pragma once

// Counted: a message type that counts its own lifetimes, so a test can check
// that every object constructed was destroyed exactly once (nothing leaked,
// nothing destroyed twice, nothing used after it died). LifetimeCheck is the
// RAII checker a test puts around the code under test.
//
// Counted is move-only and has no default constructor, as a demanding
// message type should. The counters are process-wide atomics (threads create
// and destroy messages concurrently); a check works on the differences from
// the moment it was started, so tests need not reset anything.

#include <atomic>
#include <cstdint>
#include <exception>
#include <ostream>

#include "support/catch.hpp"

namespace spindle::test {

class Counted {
 public:
  /// What a Counted that was moved from holds: a test that receives this
  /// value got a husk instead of the message.
  static constexpr int moved_from = -1;

  explicit Counted(int value) noexcept : value_(value) { born(); }
  Counted(Counted&& other) noexcept : value_(other.take()) { born(); }
  Counted& operator=(Counted&& other) noexcept {
    check();
    if (this != &other) {
      value_ = other.take();
    }
    return *this;
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() {
    if (magic_ != alive) {
      // Destroyed twice, or never constructed: the slot was garbage.
      counters().errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // A volatile store: the compiler may not drop it as a dead store to an
    // object whose lifetime is ending, so a second destruction sees it.
    magic_ = dead;
    counters().destroyed.fetch_add(1, std::memory_order_relaxed);
    counters().live.fetch_sub(1, std::memory_order_relaxed);
  }

  /// The value it was built with (moved_from after a move).
  [[nodiscard]] int value() const noexcept {
    check();
    return value_;
  }

  friend bool operator==(const Counted& a, const Counted& b) noexcept { return a.value() == b.value(); }
  friend std::ostream& operator<<(std::ostream& os, const Counted& c) { return os << "Counted(" << c.value() << ')'; }

  // --- the process-wide counters ---------------------------------------------

  struct Counters {
    std::atomic<long> constructed{0};
    std::atomic<long> destroyed{0};
    std::atomic<long> live{0};
    std::atomic<long> errors{0};  // double destructions, uses of dead objects
  };

  static Counters& counters() noexcept {
    static Counters c;
    return c;
  }

 private:
  static constexpr std::uint32_t alive = 0xC0FFEE11u;
  static constexpr std::uint32_t dead = 0xDEADBEEFu;

  void born() noexcept {
    magic_ = alive;
    counters().constructed.fetch_add(1, std::memory_order_relaxed);
    counters().live.fetch_add(1, std::memory_order_relaxed);
  }

  void check() const noexcept {
    if (magic_ != alive) {
      counters().errors.fetch_add(1, std::memory_order_relaxed);
    }
  }

  int take() noexcept {
    check();
    const int v = value_;
    value_ = moved_from;
    return v;
  }

  int value_;
  volatile std::uint32_t magic_ = 0;
};

/// Watches Counted lifetimes from its construction on. Query it mid-test
/// (live(), ...); when it goes out of scope normally it CHECKs that every
/// Counted made since is gone and none was destroyed twice. Use it on the
/// test's main thread only, after every thread that made Counteds joined.
class LifetimeCheck {
 public:
  LifetimeCheck() noexcept
      : constructed0_(load(Counted::counters().constructed)),
        destroyed0_(load(Counted::counters().destroyed)),
        live0_(load(Counted::counters().live)),
        errors0_(load(Counted::counters().errors)),
        exceptions0_(std::uncaught_exceptions()) {}
  LifetimeCheck(const LifetimeCheck&) = delete;
  LifetimeCheck& operator=(const LifetimeCheck&) = delete;
  ~LifetimeCheck() {
    if (std::uncaught_exceptions() == exceptions0_) {  // not while a failed REQUIRE unwinds
      CHECK(live() == 0);
      CHECK(errors() == 0);
      CHECK(constructed() == destroyed());
    }
  }

  /// Counteds alive now that were not alive at the start.
  [[nodiscard]] long live() const noexcept { return load(Counted::counters().live) - live0_; }
  [[nodiscard]] long constructed() const noexcept { return load(Counted::counters().constructed) - constructed0_; }
  [[nodiscard]] long destroyed() const noexcept { return load(Counted::counters().destroyed) - destroyed0_; }
  /// Double destructions and uses of dead objects seen since the start.
  [[nodiscard]] long errors() const noexcept { return load(Counted::counters().errors) - errors0_; }
  /// Everything made since the start is gone, each exactly once.
  [[nodiscard]] bool balanced() const noexcept { return live() == 0 && errors() == 0 && constructed() == destroyed(); }

 private:
  static long load(const std::atomic<long>& a) noexcept { return a.load(std::memory_order_acquire); }

  long constructed0_;
  long destroyed0_;
  long live0_;
  long errors0_;
  int exceptions0_;
};

}  // namespace spindle::test
