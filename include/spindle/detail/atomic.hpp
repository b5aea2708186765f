// SPDX-License-Identifier: MIT
#pragma once

// The one seam through which spindle's lock-free cores reach their atomics,
// so that a checking build can substitute a model checker's atomics for
// std::atomic (the way crossbeam swaps in loom). Lock-free code names
// spindle::detail::Atomic<T> and spindle::detail::cpu_relax(), never
// std::atomic or a pause instruction directly.

#include <atomic>

#include "spindle/detail/config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace spindle::detail {

template <class T>
using Atomic = std::atomic<T>;

/// Tells the CPU this thread is spinning: on x86 the pause instruction, which
/// lets a sibling hyper-thread run and avoids a memory-order mis-speculation
/// when the awaited store lands.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order::seq_cst);
#endif
}

}  // namespace spindle::detail
