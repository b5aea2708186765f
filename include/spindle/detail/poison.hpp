// SPDX-License-Identifier: MIT
#pragma once

// Poisoning, as Rust's std does it: a lock whose exclusive guard is destroyed
// while an exception unwinds the thread that holds it is marked poisoned.

#include <exception>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

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

/// How many exceptions this thread has thrown and not yet caught: what
/// std::uncaught_exceptions() returns.
///
/// With libstdc++ the count is read straight from the thread's exception
/// globals, whose layout the Itanium C++ ABI fixes (2.2.2: the caught
/// exceptions' stack, then the count as an unsigned int). The function that
/// finds them is declared `const`, so the compiler looks them up once per
/// function, where std::uncaught_exceptions() is an opaque call at every use:
/// a lock and its guard's destruction pay a few loads instead of two calls.
[[nodiscard]] inline int uncaught_exceptions() noexcept {
#if defined(__GLIBCXX__)
  struct Globals {
    void* caught;
    unsigned int uncaught;
  };
  return static_cast<int>(reinterpret_cast<const Globals*>(abi::__cxa_get_globals())->uncaught);
#else
  return std::uncaught_exceptions();
#endif
}

/// Notes how many exceptions were in flight when a guard was made; if more
/// are when it is destroyed, an exception is unwinding through the holder.
class UnwindWatch {
 public:
  UnwindWatch() noexcept : at_lock_(uncaught_exceptions()) {}
  [[nodiscard]] bool unwinding() const noexcept { return uncaught_exceptions() > at_lock_; }

 private:
  int at_lock_;
};

}  // namespace spindle::detail
