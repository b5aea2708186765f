// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::sync: Rust's locks that own their data. Mutex<T> and RwLock<T>
/// hold a T that is reachable only through a guard; Condvar waits on a
/// MutexGuard; Barrier lines threads up. Poisoning works as in Rust: an
/// exclusive guard destroyed while an exception unwinds its thread marks the
/// lock poisoned, and later lock calls return the guard inside a
/// PoisonError.
///
/// Memory ordering: everything a thread did while holding a lock (or before
/// notify_*/Barrier::wait) is visible to the next thread that acquires the
/// lock (or returns from the matching wait).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "spindle/detail/config.hpp"
#include "spindle/detail/invoke.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/poison.hpp"
#include "spindle/detail/sync/raw_mutex.hpp"
#include "spindle/detail/sync/raw_rwlock.hpp"
#include "spindle/detail/thread_safety.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/result.hpp"

namespace spindle::sync {

// --- errors ----------------------------------------------------------------------

/// The lock was poisoned: a thread ended by an exception while holding it.
/// The lock is held all the same: into_inner() hands over the guard.
template <class Guard>
class PoisonError {
 public:
  explicit PoisonError(Guard guard) : guard_(std::move(guard)) {}

  /// The guard, for using the data despite the poison.
  [[nodiscard]] Guard into_inner() && { return std::move(guard_); }
  [[nodiscard]] const Guard& get_ref() const noexcept { return guard_; }
  [[nodiscard]] Guard& get_mut() noexcept { return guard_; }

  [[nodiscard]] static constexpr const char* what() noexcept { return "poisoned lock: another task failed inside"; }
  friend std::ostream& operator<<(std::ostream& os, const PoisonError&) { return os << what(); }

 private:
  Guard guard_;
};

/// The error of get_mut() on a poisoned lock: the value is reachable all
/// the same (Rust's `PoisonError<&mut T>`), through into_inner() or get_mut().
template <class T>
class PoisonError<T&> {
 public:
  explicit PoisonError(T& value) noexcept : value_(spindle::detail::addressof(value)) {}

  /// The value, for using it despite the poison.
  [[nodiscard]] T& into_inner() const noexcept { return *value_; }
  [[nodiscard]] const T& get_ref() const noexcept { return *value_; }
  [[nodiscard]] T& get_mut() noexcept { return *value_; }

  [[nodiscard]] static constexpr const char* what() noexcept { return PoisonError<int>::what(); }  // the same text
  friend std::ostream& operator<<(std::ostream& os, const PoisonError&) { return os << what(); }

 private:
  T* value_;
};

/// A try_* lock call failed: the lock is held elsewhere (WouldBlock), or it
/// was taken but is poisoned (Poisoned, with the guard inside).
template <class Guard>
class TryLockError {
 public:
  enum Kind {
    /// The lock is held in a way that excludes us; nothing was taken.
    WouldBlock,
    /// The lock was taken but is poisoned; into_inner() gives the guard.
    Poisoned,
  };

  /// A WouldBlock error.
  TryLockError() noexcept = default;
  /// A Poisoned error holding the guard.
  explicit TryLockError(PoisonError<Guard> poisoned) : guard_(std::move(poisoned).into_inner()) {}

  [[nodiscard]] Kind kind() const noexcept { return guard_ ? Poisoned : WouldBlock; }
  [[nodiscard]] bool is_would_block() const noexcept { return !guard_; }
  [[nodiscard]] bool is_poisoned() const noexcept { return guard_.has_value(); }

  /// The guard of a poisoned lock. On WouldBlock there is none: throws
  /// std::logic_error.
  [[nodiscard]] Guard into_inner() && {
    if (!guard_) {
      throw std::logic_error("spindle::sync::TryLockError::into_inner: the lock was not taken (WouldBlock)");
    }
    return std::move(*guard_);
  }

  [[nodiscard]] const char* what() const noexcept {
    return guard_ ? PoisonError<Guard>::what() : "try_lock failed because the operation would block";
  }
  friend std::ostream& operator<<(std::ostream& os, const TryLockError& e) { return os << e.what(); }

 private:
  std::optional<Guard> guard_;
};

/// What lock(), read() and write() return: the guard, or the guard inside a
/// PoisonError when the lock is poisoned.
template <class Guard>
using LockResult = Result<Guard, PoisonError<Guard>>;

/// What try_lock(), try_read() and try_write() return.
template <class Guard>
using TryLockResult = Result<Guard, TryLockError<Guard>>;

class Condvar;

namespace detail {
[[noreturn]] inline void empty_guard() {
  throw std::logic_error("spindle::sync: use of a moved-from guard");
}

// The guard (or the value itself, for into_inner) as a LockResult: an
// error when the lock is poisoned.
template <class Guard>
LockResult<Guard> checked(Guard guard, bool poisoned) {
  if (poisoned) {
    return LockResult<Guard>(in_place_err, std::move(guard));
  }
  return LockResult<Guard>(in_place_ok, std::move(guard));
}

// A reference to the value, for get_mut: an error when the lock is poisoned.
template <class T>
LockResult<T&> checked_ref(T& value, bool poisoned) noexcept {
  if (poisoned) {
    return LockResult<T&>(in_place_err, value);
  }
  return LockResult<T&>(in_place_ok, value);
}

template <class Guard>
TryLockResult<Guard> try_checked(Guard guard, bool poisoned) {
  if (poisoned) {
    return TryLockResult<Guard>(in_place_err, PoisonError<Guard>(std::move(guard)));
  }
  return TryLockResult<Guard>(in_place_ok, std::move(guard));
}

// How a guard holds its lock: alone (a Mutex's guard, an RwLock's writer),
// or shared with others (an RwLock's readers).
enum class Access { exclusive, shared };

template <class Raw, class T>
class OwningLock;

// A shared guard watches nothing: it never poisons.
struct NoUnwindWatch {};

/// The one guard family: access to an owning lock's value while the guard
/// lives. Move-only; destroying it releases the lock. An exclusive guard
/// destroyed while an exception unwinds its thread poisons the lock first.
/// MutexGuard, RwLockReadGuard and RwLockWriteGuard are its names.
template <class Raw, class T, Access A>
class Guard {
  static constexpr bool exclusive = A == Access::exclusive;
  using Lock = std::conditional_t<exclusive, OwningLock<Raw, T>, const OwningLock<Raw, T>>;
  using Value = std::conditional_t<exclusive, T, const T>;

 public:
  Guard(Guard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)), watch_(other.watch_) {}
  Guard& operator=(Guard&& other) noexcept {
    Guard old(std::move(*this));
    lock_ = std::exchange(other.lock_, nullptr);
    watch_ = other.watch_;
    return *this;
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    if (lock_ != nullptr) {
      release();
    }
  }

  Value& operator*() const { return held(); }
  Value* operator->() const { return spindle::detail::addressof(held()); }

 private:
  friend class OwningLock<Raw, T>;
  friend class spindle::sync::Condvar;

  // Made by the owning lock, which has just taken `lock` as A says.
  explicit Guard(Lock& lock) noexcept : lock_(&lock) {}

  // The lock held; throws on an empty (moved-from) guard.
  Lock& owner() const {
    if (lock_ == nullptr) {
      empty_guard();
    }
    return *lock_;
  }

  // A guard that is not empty holds its lock. The assert_*held() calls say
  // so to clang's thread-safety analysis, which cannot follow a lock into a
  // guard that moves.
  Value& held() const {
    Lock& lock = owner();
    if constexpr (exclusive) {
      lock.raw_.assert_held();
    } else {
      lock.raw_.assert_shared_held();
    }
    return lock.value_;
  }

  void release() noexcept {
    if constexpr (exclusive) {
      if (watch_.unwinding()) {
        lock_->poison_.set();
      }
      lock_->raw_.assert_held();
      lock_->raw_.unlock();
    } else {
      lock_->raw_.assert_shared_held();
      lock_->raw_.unlock_shared();
    }
  }

  Lock* lock_;
  [[no_unique_address]] std::conditional_t<exclusive, spindle::detail::UnwindWatch, NoUnwindWatch> watch_;
};

/// The one owning lock: a raw lock from detail/sync/ (one that knows only
/// how to lock), the poison flag and the value it guards, which only its
/// guards reach. Mutex and RwLock are thin names over it that choose the
/// raw lock and which ways of locking they offer.
template <class Raw, class T>
class OwningLock {
 public:
  // Public, so that Mutex and RwLock inherit them as public constructors;
  // the protected destructor keeps an OwningLock from standing alone.
  OwningLock()
    requires std::is_default_constructible_v<T>
      : value_() {}
  explicit OwningLock(T value) : value_(std::move(value)) {}
  template <class... Args>
  explicit OwningLock(std::in_place_t /*tag*/, Args&&... args) : value_(std::forward<Args>(args)...) {}
  OwningLock(const OwningLock&) = delete;
  OwningLock& operator=(const OwningLock&) = delete;

  /// True if a thread ended by an exception while holding the lock alone.
  [[nodiscard]] bool is_poisoned() const noexcept { return poison_.get(); }
  /// Forgets the poison.
  void clear_poison() noexcept { poison_.clear(); }

  /// The value, without locking: a non-const lock cannot be shared with
  /// another thread at the same time. Err when poisoned; the PoisonError
  /// still gives the value (into_inner()).
  LockResult<T&> get_mut() noexcept SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    return checked_ref(value_, poison_.get());
  }

  /// Takes the value out of the lock, which nobody else can hold (it is an
  /// rvalue). Err when poisoned (the value inside).
  Result<T, PoisonError<T>> into_inner() && SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    return checked(std::move(value_), poison_.get());
  }

 protected:
  ~OwningLock() = default;

  using ExclusiveGuard = Guard<Raw, T, Access::exclusive>;
  using SharedGuard = Guard<Raw, T, Access::shared>;

  // The lock calls return holding the lock, which the guard they return
  // releases: outside what the thread-safety analysis can follow.
  LockResult<ExclusiveGuard> lock_exclusive() SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    raw_.lock();
    return checked(ExclusiveGuard(*this), poison_.get());
  }
  TryLockResult<ExclusiveGuard> try_lock_exclusive() SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    if (!raw_.try_lock()) {
      return TryLockResult<ExclusiveGuard>(in_place_err);
    }
    return try_checked(ExclusiveGuard(*this), poison_.get());
  }
  LockResult<SharedGuard> lock_shared() const SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    raw_.lock_shared();
    return checked(SharedGuard(*this), poison_.get());
  }
  TryLockResult<SharedGuard> try_lock_shared() const SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    if (!raw_.try_lock_shared()) {
      return TryLockResult<SharedGuard>(in_place_err);
    }
    return try_checked(SharedGuard(*this), poison_.get());
  }

 private:
  friend ExclusiveGuard;
  friend SharedGuard;
  friend class spindle::sync::Condvar;

  mutable Raw raw_;
  spindle::detail::PoisonFlag poison_;
  T value_ SPINDLE_GUARDED_BY(raw_);
};
}  // namespace detail

// --- Mutex -------------------------------------------------------------------------

/// Exclusive access to a Mutex's value while it lives. Move-only; destroying
/// it unlocks, and poisons the mutex if an exception is unwinding the thread.
template <class T>
using MutexGuard = detail::Guard<spindle::detail::sync::RawMutex, T, detail::Access::exclusive>;

/// A mutual-exclusion lock that owns a T: the T is reachable only through
/// the MutexGuard that lock() returns. Not recursive: locking it again from
/// the thread that holds it deadlocks. is_poisoned(), clear_poison(),
/// get_mut() and into_inner() are the owning lock's (detail::OwningLock).
template <class T>
class Mutex : public detail::OwningLock<spindle::detail::sync::RawMutex, T> {
  using Base = detail::OwningLock<spindle::detail::sync::RawMutex, T>;

 public:
  Mutex()
    requires std::is_default_constructible_v<T>
  = default;
  using Base::Base;

  /// Blocks until the mutex is free, then holds it. Err(PoisonError) with
  /// the guard inside when the mutex is poisoned.
  LockResult<MutexGuard<T>> lock() { return this->lock_exclusive(); }

  /// Holds the mutex if it is free now; WouldBlock otherwise.
  TryLockResult<MutexGuard<T>> try_lock() { return this->try_lock_exclusive(); }
};

template <class T>
Mutex(T) -> Mutex<T>;

// --- RwLock ------------------------------------------------------------------------

/// Shared, read-only access to an RwLock's value while it lives. Move-only.
/// A read guard never poisons the lock.
template <class T>
using RwLockReadGuard = detail::Guard<spindle::detail::sync::RawRwLock, T, detail::Access::shared>;

/// Exclusive access to an RwLock's value while it lives. Move-only;
/// destroying it while an exception unwinds the thread poisons the lock.
template <class T>
using RwLockWriteGuard = detail::Guard<spindle::detail::sync::RawRwLock, T, detail::Access::exclusive>;

/// A reader-writer lock that owns a T: any number of readers, or one
/// writer. Readers never block each other; a waiting writer is not starved
/// by a stream of readers, nor are waiting readers by a stream of writers
/// (see detail/sync/raw_rwlock.hpp for the policy). Do not take a read lock
/// while holding one in the same thread: a writer that queued in between
/// makes that deadlock, as with Rust's RwLock. is_poisoned(),
/// clear_poison(), get_mut() and into_inner() are the owning lock's.
template <class T>
class RwLock : public detail::OwningLock<spindle::detail::sync::RawRwLock, T> {
  using Base = detail::OwningLock<spindle::detail::sync::RawRwLock, T>;

 public:
  RwLock()
    requires std::is_default_constructible_v<T>
  = default;
  using Base::Base;

  /// Blocks until no writer holds or waits for the lock, then shares it.
  /// Err(PoisonError) with the guard inside when the lock is poisoned.
  LockResult<RwLockReadGuard<T>> read() const { return this->lock_shared(); }

  /// Shares the lock if that needs no waiting; WouldBlock otherwise.
  TryLockResult<RwLockReadGuard<T>> try_read() const { return this->try_lock_shared(); }

  /// Blocks until the lock is free, then holds it alone. Err(PoisonError)
  /// with the guard inside when the lock is poisoned.
  LockResult<RwLockWriteGuard<T>> write() { return this->lock_exclusive(); }

  /// Holds the lock alone if it is free now; WouldBlock otherwise.
  TryLockResult<RwLockWriteGuard<T>> try_write() { return this->try_lock_exclusive(); }
};

template <class T>
RwLock(T) -> RwLock<T>;

// --- Condvar -----------------------------------------------------------------------

/// Whether a timed wait ended because its time ran out.
class WaitTimeoutResult {
 public:
  explicit WaitTimeoutResult(bool timed_out) noexcept : timed_out_(timed_out) {}
  [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }

 private:
  bool timed_out_;
};

/// Blocks a thread until another notifies it, releasing a MutexGuard
/// meanwhile. Waits may end spuriously (without a notify), as in Rust;
/// wait_while re-checks its condition so they do not leak out of it.
class Condvar {
 public:
  Condvar() = default;
  Condvar(const Condvar&) = delete;
  Condvar& operator=(const Condvar&) = delete;

  /// Unlocks, waits for a notify (or a spurious wake-up), relocks.
  template <class T>
  LockResult<MutexGuard<T>> wait(MutexGuard<T> guard) {
    wait_until(guard, spindle::detail::forever);
    return relocked(std::move(guard));
  }

  /// Waits as long as `condition(value)` is true; returns with it false.
  template <class T, class Pred>
  LockResult<MutexGuard<T>> wait_while(MutexGuard<T> guard, Pred condition) {
    while (spindle::detail::invoke(condition, *guard)) {
      wait_until(guard, spindle::detail::forever);
    }
    return relocked(std::move(guard));
  }

  /// As wait(), but gives up after `timeout`; the WaitTimeoutResult says
  /// whether the time ran out.
  template <class T, class Rep, class Period>
  LockResult<std::pair<MutexGuard<T>, WaitTimeoutResult>> wait_timeout(MutexGuard<T> guard,
                                                                       std::chrono::duration<Rep, Period> timeout) {
    const spindle::detail::Deadline deadline = spindle::detail::deadline_after(timeout);
    wait_until(guard, deadline);
    return with_timeout(std::move(guard), spindle::detail::expired(deadline));
  }

  /// As wait_while(), but gives up after `timeout`.
  template <class T, class Rep, class Period, class Pred>
  LockResult<std::pair<MutexGuard<T>, WaitTimeoutResult>> wait_timeout_while(
      MutexGuard<T> guard, std::chrono::duration<Rep, Period> timeout, Pred condition) {
    const spindle::detail::Deadline deadline = spindle::detail::deadline_after(timeout);
    bool timed_out = false;
    while (spindle::detail::invoke(condition, *guard)) {
      if (spindle::detail::expired(deadline)) {
        timed_out = true;
        break;
      }
      wait_until(guard, deadline);
    }
    return with_timeout(std::move(guard), timed_out);
  }

  /// Wakes one waiting thread, if any.
  void notify_one() noexcept {
    // relaxed: the waiter read the old value while holding the mutex we
    // (or whoever changed the condition) took after it, so the change is
    // ordered by the mutex; the futex compares the word.
    seq_.fetch_add(1, std::memory_order::relaxed);
    spindle::detail::park::wake_one(seq_);
  }

  /// Wakes every waiting thread.
  void notify_all() noexcept {
    seq_.fetch_add(1, std::memory_order::relaxed);  // as in notify_one()
    spindle::detail::park::wake_all(seq_);
  }

 private:
  template <class T>
  void wait_until(MutexGuard<T>& guard, spindle::detail::Deadline deadline) SPINDLE_NO_THREAD_SAFETY_ANALYSIS {
    auto& mutex = guard.owner();
    // Read while holding the mutex: a notify that follows our unlock
    // changes the word, so the futex returns at once. relaxed: see notify_one.
    const std::uint32_t seen = seq_.load(std::memory_order::relaxed);
    mutex.raw_.unlock();
    spindle::detail::park::wait(seq_, seen, deadline);
    mutex.raw_.lock();
  }

  template <class T>
  static LockResult<MutexGuard<T>> relocked(MutexGuard<T> guard) {
    const bool poisoned = guard.owner().poison_.get();
    return detail::checked(std::move(guard), poisoned);
  }

  template <class T>
  static LockResult<std::pair<MutexGuard<T>, WaitTimeoutResult>> with_timeout(MutexGuard<T> guard, bool timed_out) {
    using Pair = std::pair<MutexGuard<T>, WaitTimeoutResult>;
    const bool poisoned = guard.owner().poison_.get();
    return detail::checked(Pair(std::move(guard), WaitTimeoutResult(timed_out)), poisoned);
  }

  spindle::detail::park::Word seq_{0};
};

// --- Barrier -----------------------------------------------------------------------

/// What Barrier::wait returns: is_leader() is true for exactly one thread of
/// each generation (the last to arrive).
class BarrierWaitResult {
 public:
  explicit BarrierWaitResult(bool leader) noexcept : leader_(leader) {}
  [[nodiscard]] bool is_leader() const noexcept { return leader_; }

 private:
  bool leader_;
};

/// Makes `n` threads wait for each other: wait() blocks until n threads have
/// called it, then all continue. Reusable: the next n calls form the next
/// generation. With n of 0 or 1 wait() returns at once, as leader.
class Barrier {
 public:
  explicit Barrier(std::size_t n) noexcept : n_(n) {}
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  BarrierWaitResult wait() {
    lock_.lock();
    if (++count_ < n_) {
      // relaxed: read under the lock, which orders it after the last bump.
      const std::uint32_t generation = generation_.load(std::memory_order::relaxed);
      lock_.unlock();
      // acquire: pairs with the leader's release, so everything the
      // generation did before its wait() is visible after ours.
      while (generation_.load(std::memory_order::acquire) == generation) {
        spindle::detail::park::wait(generation_, generation, spindle::detail::forever);
      }
      return BarrierWaitResult(false);
    }
    count_ = 0;
    // release: publishes this generation's work to the threads it releases.
    generation_.fetch_add(1, std::memory_order::release);
    lock_.unlock();
    spindle::detail::park::wake_all(generation_);
    return BarrierWaitResult(true);
  }

 private:
  spindle::detail::sync::RawMutex lock_;
  const std::size_t n_;
  std::size_t count_ SPINDLE_GUARDED_BY(lock_) = 0;
  spindle::detail::park::Word generation_{0};
};

}  // namespace spindle::sync
