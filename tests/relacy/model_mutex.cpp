// SPDX-License-Identifier: MIT
// Models of spindle's RawMutex (the Mutex<T> behind spindle::sync), run by
// relacy over the shipped code.
#include "model.hpp"

#include <spindle/detail/sync/raw_mutex.hpp>

namespace {

using spindle::detail::sync::RawMutex;

// N threads each increment a plain counter under the lock, twice. relacy
// reports a data race on the counter if the lock ever lets two threads in,
// or does not order one holder's writes before the next holder.
template <unsigned N>
struct Increments : rl::test_suite<Increments<N>, N> {
  RawMutex mutex;
  rl::var<int> counter;

  void before() { counter($) = 0; }
  void thread(unsigned /*index*/) {
    for (int i = 0; i < 2; ++i) {
      mutex.lock();
      counter($) = counter($) + 1;
      mutex.unlock();
    }
  }
  void after() { RL_ASSERT(counter($) == static_cast<int>(2 * N)); }
};

// try_lock never lets a second thread in, and a failed try_lock changes nothing.
struct TryLock : rl::test_suite<TryLock, 2> {
  RawMutex mutex;
  rl::var<int> inside;
  rl::atomic<int> wins;

  void before() {
    inside($) = 0;
    wins($).store(0);
  }
  void thread(unsigned /*index*/) {
    if (mutex.try_lock()) {
      inside($) = inside($) + 1;
      wins($).fetch_add(1);
      mutex.unlock();
    }
  }
  void after() { RL_ASSERT(inside($) == wins($).load()); }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<Increments<2>>("mutex: 2 threads increment", rl::sched_random, 20000);
  ok &= run<Increments<2>>("mutex: 2 threads increment", rl::sched_bound, 20000);
  ok &= run<Increments<3>>("mutex: 3 threads (parking)", rl::sched_random, 20000);
  ok &= run<TryLock>("mutex: try_lock", rl::sched_random, 10000);
  return ok ? 0 : 1;
}
