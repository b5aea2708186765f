// SPDX-License-Identifier: MIT
#pragma once

// What the fuzz targets share: a reader over the fuzzer's bytes, a check
// that prints and aborts, and Tracked, a message type that counts its own
// lifetimes (and can be told to throw from its next move).
//
// Everything here is single-threaded: the targets drive both ends of a
// channel from one thread, so a run is a pure function of its input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace spindle_fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* condition, const char* message) noexcept {
  std::fprintf(stderr, "%s:%d: divergence from the model: %s\n  check: %s\n", file, line, message, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace spindle_fuzz

/// Aborts with `message` unless `condition` holds: what libFuzzer reports
/// as a crash, and the replay runner as a failed test.
#define FUZZ_CHECK(condition, message)                               \
  do {                                                               \
    if (!(condition)) {                                              \
      ::spindle_fuzz::fail(__FILE__, __LINE__, #condition, message); \
    }                                                                \
  } while (false)

/// Marks an array of std::uint8_t as extra coverage counters for libFuzzer:
/// it treats each byte as one more edge, so a target that bumps a counter
/// per (abstract model state, operation) pair makes the fuzzer, and the
/// corpus merge, keep inputs that reach new states as well as new code.
/// Code coverage alone would keep one short input per line of the library
/// and none that strings operations together. Elsewhere: a plain array.
#if defined(__clang__) && !defined(SPINDLE_FUZZ_REPLAY)
#define SPINDLE_FUZZ_EXTRA_COUNTERS __attribute__((used, section("__libfuzzer_extra_counters")))
#else
#define SPINDLE_FUZZ_EXTRA_COUNTERS
#endif

namespace spindle_fuzz {

/// Bumps an extra coverage counter (saturating).
inline void cover(std::uint8_t& counter) noexcept {
  if (counter != 0xff) {
    ++counter;
  }
}

/// The fuzzer's bytes, read front to back; past the end every read gives 0.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  [[nodiscard]] bool empty() const noexcept { return pos_ >= size_; }

  std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// Thrown by a Tracked move armed with Tracked::arm_throw().
struct MoveFailed : std::runtime_error {
  MoveFailed() : std::runtime_error("spindle fuzz: Tracked's move threw (armed by the input)") {}
};

/// A message that counts constructions and destructions and carries a value.
/// Its destructor detects a second destruction (or the destruction of
/// memory that never held a Tracked); a read of a moved-from or dead one is
/// detected too. Its move constructor may throw: arm_throw() makes the next
/// move throw MoveFailed (and only that one).
class Tracked {
 public:
  static constexpr std::uint32_t moved_from = 0xffffffffU;

  explicit Tracked(std::uint32_t value) noexcept : value_(value) { born(); }

  // Not noexcept: the channels' paths for a throwing move are fuzzed too.
  Tracked(Tracked&& other) : value_(other.take()) {  // NOLINT(performance-noexcept-move-constructor)
    if (armed_) {
      armed_ = false;
      fired_ = true;
      // Nothing was constructed: put the value back.
      other.value_ = value_;
      throw MoveFailed();
    }
    born();
  }
  Tracked& operator=(Tracked&& other) noexcept {
    check("assigned to");
    if (this != &other) {
      value_ = other.take();
    }
    return *this;
  }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;

  ~Tracked() {
    FUZZ_CHECK(magic_ == alive, "a Tracked destroyed twice, or one that was never constructed");
    magic_ = dead;
    ++counts().destroyed;
    --counts().live;
  }

  /// The value it was made with; moved_from after a move.
  [[nodiscard]] std::uint32_t value() const noexcept {
    check("read");
    return value_;
  }

  struct Counts {
    std::uint64_t constructed = 0;
    std::uint64_t destroyed = 0;
    std::int64_t live = 0;
  };
  static Counts& counts() noexcept {
    static Counts c;
    return c;
  }

  /// The next move of any Tracked throws MoveFailed.
  static void arm_throw() noexcept {
    armed_ = true;
    fired_ = false;
  }
  /// Disarms; returns whether the armed move happened (and threw).
  static bool disarm() noexcept {
    const bool fired = fired_;
    armed_ = false;
    fired_ = false;
    return fired;
  }

 private:
  static constexpr std::uint32_t alive = 0x7a11c0deU;
  static constexpr std::uint32_t dead = 0xdeadbeefU;

  void born() noexcept {
    ++counts().constructed;
    ++counts().live;
  }
  void check(const char* what) const noexcept {
    if (magic_ != alive) {
      std::fprintf(stderr, "spindle fuzz: a dead Tracked was %s\n", what);
      FUZZ_CHECK(magic_ == alive, "use of a Tracked after its destruction");
    }
  }
  std::uint32_t take() noexcept {
    check("moved from");
    const std::uint32_t v = value_;
    value_ = moved_from;
    return v;
  }

  static inline bool armed_ = false;
  static inline bool fired_ = false;

  std::uint32_t value_;
  // volatile: the store in the destructor is not a dead store the compiler
  // may drop, so a second destruction sees it.
  volatile std::uint32_t magic_ = alive;
};

}  // namespace spindle_fuzz
