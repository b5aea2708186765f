// SPDX-License-Identifier: MIT
#pragma once

// The one seam through which spindle's lock-free cores reach their atomics,
// so that a checking build can substitute a model checker's atomics for
// std::atomic (the way crossbeam swaps in loom). Lock-free code names
// spindle::detail::Atomic<T> and spindle::detail::cpu_relax(), never
// std::atomic, a pause instruction or std::this_thread::yield directly.

#include <atomic>

#include "spindle/detail/config.hpp"
#include "spindle/detail/this_thread.hpp"

// The pause instruction: g++ and clang have a builtin for it; elsewhere it
// comes from <immintrin.h>, which declares every vector intrinsic there is
// and alone takes longer to compile than <thread>.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__GNUC__)
#include <immintrin.h>
#endif

#if defined(SPINDLE_MODEL_CHECK) && !defined(SPINDLE_MODEL_SPIN_LIMIT)
#define SPINDLE_MODEL_SPIN_LIMIT 2
#endif

namespace spindle::detail {

/// A spin limit of `n` rounds before a waiting thread yields or sleeps. In
/// a model-checking build every round is a scheduling point that only
/// multiplies the interleavings to explore, so it is cut to 2 (or to
/// SPINDLE_MODEL_SPIN_LIMIT: 0 makes the sleeping path the common one).
constexpr unsigned spin_limit(unsigned n) noexcept {
#if defined(SPINDLE_MODEL_CHECK)
  constexpr unsigned limit = SPINDLE_MODEL_SPIN_LIMIT;
  return n > limit ? limit : n;
#else
  return n;
#endif
}

#if defined(SPINDLE_MODEL_CHECK)
// A model-checking build (tests/relacy) defines, before including spindle,
// spindle::detail::model::Atomic<T> (std::atomic's interface over the
// checker's atomics), model::cpu_relax() (a scheduling point), the
// parking functions of park.hpp and the RwLock's model::PhaseClock.
template <class T>
using Atomic = model::Atomic<T>;

inline void cpu_relax() noexcept { model::cpu_relax(); }
inline void yield_thread() noexcept { model::cpu_relax(); }
#else
template <class T>
using Atomic = std::atomic<T>;

/// Tells the CPU this thread is spinning: on x86 the pause instruction, which
/// lets a sibling hyper-thread run and avoids a memory-order mis-speculation
/// when the awaited store lands.
inline void cpu_relax() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_ia32_pause();  // _mm_pause(), in g++ and clang alike
#elif defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order::seq_cst);
#endif
}

/// Lets another thread run: the OS's yield (a scheduling point under a
/// model checker).
inline void yield_thread() noexcept { this_thread::yield(); }
#endif

}  // namespace spindle::detail
