// SPDX-License-Identifier: MIT
#pragma once

// Build-wide switches and small portability macros. Every spindle header
// includes this one first.

#include <cstddef>

/// The library's version, as in CMake's project().
#define SPINDLE_VERSION_MAJOR 0
#define SPINDLE_VERSION_MINOR 1
#define SPINDLE_VERSION_PATCH 0

// Linux parks threads on a futex. Defining SPINDLE_PORTABLE_PARKING before any
// spindle header (or on the command line) selects the portable fallback built
// on std::mutex and std::condition_variable instead; the test suite builds
// once with it so the fallback stays correct on every platform.
#if defined(__linux__) && !defined(SPINDLE_PORTABLE_PARKING)
#define SPINDLE_HAS_FUTEX 1
#else
#define SPINDLE_HAS_FUTEX 0
#endif

#if defined(__unix__) || defined(__APPLE__)
#define SPINDLE_HAS_PTHREAD 1
#else
#define SPINDLE_HAS_PTHREAD 0
#endif

/// For the few small functions of a hot loop that the compiler must inline
/// (a wait loop's spin step): without it, g++ may call them out of line once
/// the loop's other callees use its inlining budget up.
#if defined(__GNUC__) || defined(__clang__)
#define SPINDLE_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define SPINDLE_ALWAYS_INLINE inline
#endif

/// For a lock's slow path, kept out of line so that the fast path around it
/// inlines into its callers.
#if defined(__GNUC__) || defined(__clang__)
#define SPINDLE_NOINLINE __attribute__((noinline))
#else
#define SPINDLE_NOINLINE
#endif

/// Marks a point that a precondition makes unreachable.
#if defined(__GNUC__) || defined(__clang__)
#define SPINDLE_UNREACHABLE() __builtin_unreachable()
#elif defined(_MSC_VER)
#define SPINDLE_UNREACHABLE() __assume(false)
#else
#define SPINDLE_UNREACHABLE() ((void)0)
#endif

namespace spindle::detail {

/// Size that keeps two independently written fields off one cache line.
/// 64 bytes on every x86-64 and most AArch64 parts; fixed rather than taken
/// from std::hardware_destructive_interference_size, whose value may differ
/// between compilers and so must not shape a header-only ABI.
inline constexpr std::size_t cache_line = 64;

}  // namespace spindle::detail
