// SPDX-License-Identifier: MIT
#pragma once

// Clang's thread-safety analysis (-Wthread-safety) through SPINDLE_* macros
// that vanish on other compilers. spindle's raw locks are capabilities; the
// data an owning lock protects is SPINDLE_GUARDED_BY its raw lock, and a
// guard, which holds the lock wherever it moves, asserts it
// (SPINDLE_ASSERT_CAPABILITY, as absl::Mutex::AssertHeld) before it reaches
// the data or releases the lock.

#if defined(__clang__)
#define SPINDLE_TSA(x) __attribute__((x))
#else
#define SPINDLE_TSA(x)
#endif

#define SPINDLE_CAPABILITY(name) SPINDLE_TSA(capability(name))
#define SPINDLE_SCOPED_CAPABILITY SPINDLE_TSA(scoped_lockable)
#define SPINDLE_GUARDED_BY(x) SPINDLE_TSA(guarded_by(x))
#define SPINDLE_REQUIRES(...) SPINDLE_TSA(requires_capability(__VA_ARGS__))
#define SPINDLE_ACQUIRE(...) SPINDLE_TSA(acquire_capability(__VA_ARGS__))
#define SPINDLE_ACQUIRE_SHARED(...) SPINDLE_TSA(acquire_shared_capability(__VA_ARGS__))
#define SPINDLE_RELEASE(...) SPINDLE_TSA(release_capability(__VA_ARGS__))
#define SPINDLE_RELEASE_SHARED(...) SPINDLE_TSA(release_shared_capability(__VA_ARGS__))
#define SPINDLE_TRY_ACQUIRE(...) SPINDLE_TSA(try_acquire_capability(__VA_ARGS__))
#define SPINDLE_TRY_ACQUIRE_SHARED(...) SPINDLE_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define SPINDLE_ASSERT_CAPABILITY(...) SPINDLE_TSA(assert_capability(__VA_ARGS__))
#define SPINDLE_ASSERT_SHARED_CAPABILITY(...) SPINDLE_TSA(assert_shared_capability(__VA_ARGS__))
#define SPINDLE_NO_THREAD_SAFETY_ANALYSIS SPINDLE_TSA(no_thread_safety_analysis)
