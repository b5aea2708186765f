// SPDX-License-Identifier: MIT
#pragma once

// Heap accounting for the mpsc tests' memory checks. The mpsc test binary
// replaces the global operator new and delete (in test_unbounded.cpp) to
// count allocations and the bytes live, where the C library can say how big
// a block is (glibc's malloc_usable_size): SPINDLE_TEST_COUNTS_HEAP is then 1.

#if defined(__GLIBC__)
#define SPINDLE_TEST_COUNTS_HEAP 1
#else
#define SPINDLE_TEST_COUNTS_HEAP 0
#endif

namespace spindle::test::heap {

struct Snapshot {
  long allocations;  // operator new calls so far, process-wide
  long live_bytes;   // bytes allocated by operator new and not yet freed
};

/// The counters now. Compare two snapshots taken on one thread while no
/// other thread allocates.
Snapshot snapshot() noexcept;

}  // namespace spindle::test::heap
