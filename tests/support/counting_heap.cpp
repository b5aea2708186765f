// SPDX-License-Identifier: MIT
// The global operator new and delete, every form, replaced by ones that
// count their blocks (see counting_heap.hpp). They allocate with malloc, or
// aligned_alloc for over-aligned types.

#include "support/counting_heap.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

std::atomic<long> allocations{0};
std::atomic<long> deallocations{0};

void* counted_new(std::size_t size, std::size_t align) {
  if (size == 0) {
    size = 1;
  }
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else {
    // aligned_alloc wants a size that is a multiple of the alignment.
    p = std::aligned_alloc(align, (size + align - 1) / align * align);
  }
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void* counted_new_nothrow(std::size_t size, std::size_t align) noexcept {
  try {
    return counted_new(size, align);
  } catch (...) {
    return nullptr;
  }
}

void counted_delete(void* p) noexcept {
  if (p != nullptr) {
    deallocations.fetch_add(1, std::memory_order_relaxed);
    std::free(p);
  }
}

std::size_t to_size(std::align_val_t align) noexcept { return static_cast<std::size_t>(align); }

}  // namespace

spindle::test::HeapCount spindle::test::heap_now() noexcept {
  const long a = allocations.load(std::memory_order_relaxed);
  const long d = deallocations.load(std::memory_order_relaxed);
  return {a, a - d};
}

void* operator new(std::size_t size) { return counted_new(size, 0); }
void* operator new[](std::size_t size) { return counted_new(size, 0); }
void* operator new(std::size_t size, std::align_val_t align) { return counted_new(size, to_size(align)); }
void* operator new[](std::size_t size, std::align_val_t align) { return counted_new(size, to_size(align)); }
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept { return counted_new_nothrow(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept { return counted_new_nothrow(size, 0); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t& /*tag*/) noexcept {
  return counted_new_nothrow(size, to_size(align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t& /*tag*/) noexcept {
  return counted_new_nothrow(size, to_size(align));
}
void operator delete(void* p) noexcept { counted_delete(p); }
void operator delete[](void* p) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t /*size*/) noexcept { counted_delete(p); }
void operator delete(void* p, std::align_val_t /*align*/) noexcept { counted_delete(p); }
void operator delete[](void* p, std::align_val_t /*align*/) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t /*size*/, std::align_val_t /*align*/) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t /*size*/, std::align_val_t /*align*/) noexcept { counted_delete(p); }
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept { counted_delete(p); }
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept { counted_delete(p); }
void operator delete(void* p, std::align_val_t /*align*/, const std::nothrow_t& /*tag*/) noexcept {
  counted_delete(p);
}
void operator delete[](void* p, std::align_val_t /*align*/, const std::nothrow_t& /*tag*/) noexcept {
  counted_delete(p);
}
