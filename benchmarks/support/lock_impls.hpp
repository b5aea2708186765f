// SPDX-License-Identifier: MIT
#pragma once

// The locks that spindle's lock benchmarks compare, each behind the same
// small adapter, so that a workload is written once for all of them: an
// adapter owns a T; read(f) runs f on a const T& under a shared lock (an
// exclusive one for the mutexes), write(f) on a T& under an exclusive lock,
// and both return what f returns.
//
//   SpindleRw     spindle::sync::RwLock<T>
//   SpindleMutex  spindle::sync::Mutex<T>
//   StdShared     std::shared_mutex beside a T
//   PthreadRw     pthread_rwlock_t (glibc's default: prefers readers)
//   StdMutex      std::mutex beside a T
//
// Data is what the workloads guard: four counters that a writer bumps
// together, so that a reader that finds them unequal has seen a torn write.

#include <pthread.h>

#include <mutex>
#include <shared_mutex>

#include <spindle/sync.hpp>

#include "common.hpp"

namespace spindle_bench {

struct Data {
  u64 a = 0, b = 0, c = 0, d = 0;  // written together: a reader must see them equal
};

// Reads the counters, checking that no write was torn.
inline u64 read_sum(const Data& d) {
  if (d.a != d.b || d.b != d.c || d.c != d.d) {
    die("torn read");
  }
  return d.a;
}

inline u64 bump(Data& d) {
  ++d.a;
  ++d.b;
  ++d.c;
  ++d.d;
  return d.a;
}

template <class T>
class SpindleRw {
 public:
  static constexpr const char* name = "spindle_rwlock";
  template <class F>
  auto read(F&& f) const {
    auto guard = lock_.read().unwrap();
    return f(*guard);
  }
  template <class F>
  auto write(F&& f) {
    auto guard = lock_.write().unwrap();
    return f(*guard);
  }

 private:
  spindle::sync::RwLock<T> lock_;
};

template <class T>
class SpindleMutex {
 public:
  static constexpr const char* name = "spindle_mutex";
  template <class F>
  auto read(F&& f) const {
    auto guard = lock_.lock().unwrap();
    return f(static_cast<const T&>(*guard));
  }
  template <class F>
  auto write(F&& f) {
    auto guard = lock_.lock().unwrap();
    return f(*guard);
  }

 private:
  mutable spindle::sync::Mutex<T> lock_;
};

template <class T>
class StdShared {
 public:
  static constexpr const char* name = "std_shared_mutex";
  template <class F>
  auto read(F&& f) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return f(value_);
  }
  template <class F>
  auto write(F&& f) {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    return f(value_);
  }

 private:
  mutable std::shared_mutex mutex_;
  T value_{};
};

template <class T>
class PthreadRw {
 public:
  static constexpr const char* name = "pthread_rwlock";
  PthreadRw() { pthread_rwlock_init(&lock_, nullptr); }
  ~PthreadRw() { pthread_rwlock_destroy(&lock_); }
  PthreadRw(const PthreadRw&) = delete;
  PthreadRw& operator=(const PthreadRw&) = delete;
  template <class F>
  auto read(F&& f) const {
    pthread_rwlock_rdlock(&lock_);
    auto out = f(value_);
    pthread_rwlock_unlock(&lock_);
    return out;
  }
  template <class F>
  auto write(F&& f) {
    pthread_rwlock_wrlock(&lock_);
    auto out = f(value_);
    pthread_rwlock_unlock(&lock_);
    return out;
  }

 private:
  mutable pthread_rwlock_t lock_{};
  T value_{};
};

template <class T>
class StdMutex {
 public:
  static constexpr const char* name = "std_mutex";
  template <class F>
  auto read(F&& f) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return f(value_);
  }
  template <class F>
  auto write(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    return f(value_);
  }

 private:
  mutable std::mutex mutex_;
  T value_{};
};

}  // namespace spindle_bench
