// SPDX-License-Identifier: MIT
#pragma once

// Owning pointers for spindle's internals, without <memory> (which adds a
// tenth to what <thread> costs to compile, docs/compile-time.md): Box<T>
// owns one object, as std::unique_ptr; Arc<T> shares one that counts its
// owners itself, as Rust's Arc (a std::shared_ptr without a control block).

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

/// Owns one heap object, or none; destroys it when it goes.
template <class T>
class Box {
 public:
  Box() noexcept = default;
  /// Takes ownership of `object` (made with new, or null).
  explicit Box(T* object) noexcept : object_(object) {}
  Box(Box&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  Box& operator=(Box&&) = delete;  // not needed: reset() and release() do
  Box(const Box&) = delete;
  Box& operator=(const Box&) = delete;
  ~Box() { delete object_; }

  [[nodiscard]] T* get() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }
  T* operator->() const noexcept { return object_; }
  explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Gives the object up without destroying it.
  [[nodiscard]] T* release() noexcept { return std::exchange(object_, nullptr); }
  /// Destroys the object now.
  void reset() noexcept { Box().swap(*this); }
  void swap(Box& other) noexcept { std::swap(object_, other.object_); }

 private:
  T* object_ = nullptr;
};

template <class T>
class Arc;

/// The base of an object shared through Arc: it holds the count of owners.
class Shared {
 public:
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

 protected:
  Shared() noexcept = default;
  ~Shared() = default;

 private:
  template <class T>
  friend class Arc;
  // Starts at 1: the Arc that made the object.
  std::atomic<std::size_t> owners_{1};
};

/// Shares one heap object derived from Shared among copies of itself; the
/// last copy to go destroys it. Copies may be made, and dropped, by any
/// thread at once.
template <class T>
class Arc {
 public:
  Arc() noexcept = default;

  /// A new object, made from `args`, and its first owner.
  template <class... Args>
  [[nodiscard]] static Arc make(Args&&... args) {
    static_assert(std::is_base_of_v<Shared, T>, "spindle::detail::Arc<T>: T must derive from Shared");
    return Arc(new T(std::forward<Args>(args)...));
  }

  Arc(const Arc& other) noexcept : object_(other.object_) { add_owner(); }
  Arc(Arc&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  /// Shares a derived object as its base, which must have a virtual destructor.
  template <class U>
  requires(!std::is_same_v<U, T> && std::is_convertible_v<U*, T*>)
      // cppcheck-suppress noExplicitConstructor ; implicit on purpose, as for a pointer to a base
      Arc(Arc<U> other)
  noexcept : object_(std::exchange(other.object_, nullptr)) {
    static_assert(std::has_virtual_destructor_v<T>, "spindle::detail::Arc<Base>: Base needs a virtual destructor");
  }
  Arc& operator=(const Arc& other) noexcept {
    if (this != &other) {
      Arc copy(other);
      swap(copy);
    }
    return *this;
  }
  Arc& operator=(Arc&& other) noexcept {
    if (this != &other) {
      drop_owner();
      object_ = std::exchange(other.object_, nullptr);
    }
    return *this;
  }
  ~Arc() { drop_owner(); }

  [[nodiscard]] T* get() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }
  T* operator->() const noexcept { return object_; }
  explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Lets go of the object (destroying it if this was its last owner).
  void reset() noexcept { Arc().swap(*this); }
  void swap(Arc& other) noexcept { std::swap(object_, other.object_); }

 private:
  template <class U>
  friend class Arc;
  explicit Arc(T* object) noexcept : object_(object) {}

  void add_owner() const noexcept {
    if (object_ != nullptr) {
      // relaxed: a new owner is made from an existing one, which keeps the
      // count above zero meanwhile; nothing is published.
      object_->owners_.fetch_add(1, std::memory_order::relaxed);
    }
  }
  void drop_owner() noexcept {
    // acq_rel: the release half (A1) makes this owner's uses of the object
    // happen before its destruction; the acquire half (A2), which only the
    // last owner needs, pairs with (A1) of every other owner. One RMW rather
    // than release + an acquire fence: ThreadSanitizer does not model fences.
    if (object_ != nullptr && object_->owners_.fetch_sub(1, std::memory_order::acq_rel) == 1) {
      delete object_;
    }
  }

  T* object_ = nullptr;
};

}  // namespace spindle::detail
