// SPDX-License-Identifier: MIT
#pragma once

// A test program linked with support/counting_heap.cpp counts every block
// the global operator new hands out and operator delete takes back, in the
// whole process. Only programs of their own may link it: it replaces the
// global allocation functions.

namespace spindle::test {

struct HeapCount {
  long allocations;  // blocks handed out since the program started
  long live;         // of those, the ones not yet freed
};

/// The counts now (relaxed reads: exact once the other threads are joined).
[[nodiscard]] HeapCount heap_now() noexcept;

}  // namespace spindle::test
