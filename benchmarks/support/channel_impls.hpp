// SPDX-License-Identifier: MIT
#pragma once

// The channels that spindle's channel benchmarks compare, each behind the
// same small adapter, so that a workload is written once for all of them:
//
//   static constexpr const char* name;
//   static constexpr bool has_bounded, has_rendezvous;
//   static Channel<Tx, Rx> unbounded();      send never waits
//   static Channel<Tx, Rx> bounded(n);       send waits while n are queued
//   static Channel<Tx, Rx> rendezvous();     send waits until received
//
// tx.send(u64) and rx.recv() -> u64 check their result (a failure is a
// broken benchmark: die()). Copying a Tx adds a producer; where Rx is
// copyable too, a copy is another consumer competing for the messages
// (multi-consumer).
//
//   Spindle      spindle::mpsc (channel / sync_channel)
//   SpindleMpmc  spindle::mpmc, once <spindle/mpmc.hpp> provides it
//                (spindle_bench::have_spindle_mpmc says whether it does)
//   MutexDeque   std::mutex + std::condition_variable + std::deque
//   Moodycamel   moodycamel::BlockingConcurrentQueue, with
//                SPINDLE_BENCH_HAVE_MOODYCAMEL (no blocking bounded send:
//                unbounded only)
//   Tbb          tbb::concurrent_bounded_queue, with SPINDLE_BENCH_HAVE_TBB
//                (set_capacity(0) is no rendezvous)

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include <spindle/mpsc.hpp>

#if __has_include(<spindle/mpmc.hpp>)
#include <spindle/mpmc.hpp>
#endif

#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
#if __has_include(<concurrentqueue/moodycamel/blockingconcurrentqueue.h>)
#include <concurrentqueue/moodycamel/blockingconcurrentqueue.h>
#else
#include <concurrentqueue/blockingconcurrentqueue.h>
#endif
#endif

#ifdef SPINDLE_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif

#include "common.hpp"

// Feature test for spindle::mpmc. Qualified lookup of spindle::mpmc::channel
// finds spindle's own declaration when there is one, and only otherwise the
// placeholders that this using-directive names, so the benchmarks compile
// against headers with or without spindle::mpmc.
namespace spindle_bench::missing {
struct Missing {};
template <class T>
Missing channel();
template <class T>
Missing sync_channel(std::size_t);
}  // namespace spindle_bench::missing
namespace spindle::mpmc {
using namespace spindle_bench::missing;
}  // namespace spindle::mpmc

namespace spindle_bench {

inline constexpr bool have_spindle_mpmc = !std::is_same_v<decltype(spindle::mpmc::channel<u64>()), missing::Missing>;

template <class Tx, class Rx>
struct Channel {
  Tx tx;
  Rx rx;
};

// --- spindle ----------------------------------------------------------------------

template <class S>
struct SpindleTx {
  S sender;
  void send(u64 v) {
    if (!sender.send(v).is_ok()) {
      die("spindle: send failed");
    }
  }
};

template <class R>
struct SpindleRx {
  R receiver;
  u64 recv() {
    auto r = receiver.recv();
    if (!r.is_ok()) {
      die("spindle: recv failed");
    }
    return *r;
  }
};

struct Spindle {
  static constexpr const char* name = "spindle";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = true;

  template <class Pair>
  static auto wrap(Pair pair) {
    using S = typename Pair::first_type;
    using R = typename Pair::second_type;
    return Channel<SpindleTx<S>, SpindleRx<R>>{{std::move(pair.first)}, {std::move(pair.second)}};
  }
  static auto unbounded() { return wrap(spindle::mpsc::channel<u64>()); }
  static auto bounded(std::size_t capacity) { return wrap(spindle::mpsc::sync_channel<u64>(capacity)); }
  static auto rendezvous() { return bounded(0); }
};

// T is always u64: a template only so that nothing here is looked at unless
// have_spindle_mpmc.
template <class T = u64>
struct SpindleMpmc {
  static constexpr const char* name = "spindle";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = true;

  static auto unbounded() { return Spindle::wrap(spindle::mpmc::channel<T>()); }
  static auto bounded(std::size_t capacity) { return Spindle::wrap(spindle::mpmc::sync_channel<T>(capacity)); }
  static auto rendezvous() { return bounded(0); }
};

// --- the mutex + condition variable + deque baseline ----------------------------

// What one writes without a concurrency library. capacity: unbounded_cap for
// an unbounded channel, 0 for a rendezvous (the sender waits until its value
// has been taken), otherwise send waits while `capacity` values are queued.
class MutexDequeChannel {
 public:
  static constexpr std::size_t unbounded_cap = std::numeric_limits<std::size_t>::max();

  explicit MutexDequeChannel(std::size_t capacity) : capacity_(capacity) {}

  void send(u64 v) {
    std::unique_lock lock(mutex_);
    if (capacity_ == 0) {
      const u64 ticket = pushed_++;
      queue_.push_back(v);
      lock.unlock();
      not_empty_.notify_one();
      lock.lock();
      taken_.wait(lock, [&] { return popped_ > ticket; });
      return;
    }
    if (capacity_ != unbounded_cap) {
      not_full_.wait(lock, [&] { return queue_.size() < capacity_; });
    }
    ++pushed_;
    queue_.push_back(v);
    lock.unlock();
    not_empty_.notify_one();
  }

  u64 recv() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    const u64 v = queue_.front();
    queue_.pop_front();
    ++popped_;
    lock.unlock();
    if (capacity_ == 0) {
      taken_.notify_all();  // senders wait on different tickets
    } else if (capacity_ != unbounded_cap) {
      not_full_.notify_one();
    }
    return v;
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable taken_;
  std::deque<u64> queue_;
  u64 pushed_ = 0;
  u64 popped_ = 0;
};

struct MutexDeque {
  static constexpr const char* name = "mutex_deque";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = true;

  struct Tx {
    std::shared_ptr<MutexDequeChannel> chan;
    void send(u64 v) { chan->send(v); }
  };
  struct Rx {
    std::shared_ptr<MutexDequeChannel> chan;
    u64 recv() { return chan->recv(); }
  };

  static Channel<Tx, Rx> make(std::size_t capacity) {
    auto chan = std::make_shared<MutexDequeChannel>(capacity);
    return {{chan}, {chan}};
  }
  static auto unbounded() { return make(MutexDequeChannel::unbounded_cap); }
  static auto bounded(std::size_t capacity) { return make(capacity); }
  static auto rendezvous() { return make(0); }
};

// --- moodycamel::BlockingConcurrentQueue ------------------------------------------

#ifdef SPINDLE_BENCH_HAVE_MOODYCAMEL
// Plain enqueue / wait_dequeue: an implicit producer per sending thread, no
// tokens.
struct Moodycamel {
  static constexpr const char* name = "moodycamel";
  static constexpr bool has_bounded = false;
  static constexpr bool has_rendezvous = false;

  using Queue = moodycamel::BlockingConcurrentQueue<u64>;
  struct Tx {
    std::shared_ptr<Queue> queue;
    void send(u64 v) {
      if (!queue->enqueue(v)) {
        die("moodycamel: enqueue failed");
      }
    }
  };
  struct Rx {
    std::shared_ptr<Queue> queue;
    u64 recv() {
      u64 v = 0;
      queue->wait_dequeue(v);
      return v;
    }
  };

  static Channel<Tx, Rx> unbounded() {
    auto queue = std::make_shared<Queue>();
    return {{queue}, {queue}};
  }
};
#endif

// --- tbb::concurrent_bounded_queue ------------------------------------------------

#ifdef SPINDLE_BENCH_HAVE_TBB
struct Tbb {
  static constexpr const char* name = "tbb";
  static constexpr bool has_bounded = true;
  static constexpr bool has_rendezvous = false;

  using Queue = tbb::concurrent_bounded_queue<u64>;
  struct Tx {
    std::shared_ptr<Queue> queue;
    void send(u64 v) { queue->push(v); }
  };
  struct Rx {
    std::shared_ptr<Queue> queue;
    u64 recv() {
      u64 v = 0;
      queue->pop(v);
      return v;
    }
  };

  static Channel<Tx, Rx> unbounded() {
    auto queue = std::make_shared<Queue>();
    return {{queue}, {queue}};
  }
  static Channel<Tx, Rx> bounded(std::size_t capacity) {
    auto queue = std::make_shared<Queue>();
    queue->set_capacity(static_cast<std::ptrdiff_t>(capacity));
    return {{queue}, {queue}};
  }
};
#endif

// --- the producers of a stream --------------------------------------------------

// Starts `producers` threads, producer p sending 1 + n*p/producers up to the
// next one's first value through its own copy of tx, once `gate` (made for
// `producers` threads) opens. The caller waits for gate.wait_arrived(), opens
// the gate, receives n values, and joins the threads.
template <class Tx>
std::vector<std::thread> start_producers(Tx tx, unsigned producers, u64 n, StartGate& gate) {
  std::vector<Tx> txs;
  txs.reserve(producers);
  txs.push_back(std::move(tx));
  for (unsigned p = 1; p < producers; ++p) {
    txs.push_back(txs.front());  // a copy: one more producer
  }
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (unsigned p = 0; p < producers; ++p) {
    const u64 first = 1 + n * p / producers;
    const u64 last = 1 + n * (p + 1) / producers;
    threads.emplace_back([tx = std::move(txs[p]), &gate, first, last]() mutable {
      gate.arrive_and_wait();
      for (u64 v = first; v < last; ++v) {
        tx.send(v);
      }
    });
  }
  return threads;
}

}  // namespace spindle_bench
