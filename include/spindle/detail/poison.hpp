// SPDX-License-Identifier: MIT
#pragma once

// Poisoning, as Rust's std does it: a lock whose exclusive guard is destroyed
// while an exception unwinds the thread that holds it is marked poisoned.

#include <exception>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"

namespace spindle::detail {

class PoisonFlag {
 public:
  [[nodiscard]] bool get() const noexcept {
    // relaxed: the flag is only read and written under the lock, whose own
    // acquire and release order it.
    return poisoned_.load(std::memory_order::relaxed);
  }
  void set() noexcept { poisoned_.store(true, std::memory_order::relaxed); }
  void clear() noexcept { poisoned_.store(false, std::memory_order::relaxed); }

 private:
  Atomic<bool> poisoned_{false};
};

/// Notes how many exceptions were in flight when a guard was made; if more
/// are when it is destroyed, an exception is unwinding through the holder.
class UnwindWatch {
 public:
  UnwindWatch() noexcept : at_lock_(std::uncaught_exceptions()) {}
  [[nodiscard]] bool unwinding() const noexcept { return std::uncaught_exceptions() > at_lock_; }

 private:
  int at_lock_;
};

}  // namespace spindle::detail
