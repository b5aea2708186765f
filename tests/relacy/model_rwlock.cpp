// SPDX-License-Identifier: MIT
// Models of spindle::sync's RwLock and Mutex (with poisoning), run by
// relacy over the shipped code.
#include "model.hpp"

#include <spindle/sync.hpp>

namespace {

using spindle::detail::sync::RawRwLock;

// Two readers and a writer over a plain two-field value: the writer must
// wait for readers inside, readers must never see half a write, and
// relacy reports any access the lock fails to order.
struct ReadersAndWriter : rl::test_suite<ReadersAndWriter, 3> {
  RawRwLock lock;
  rl::var<int> a;
  rl::var<int> b;

  void before() {
    a($) = 0;
    b($) = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      for (int i = 0; i < 2; ++i) {
        lock.lock();
        a($) = a($) + 1;
        b($) = b($) + 1;
        lock.unlock();
      }
    } else {
      for (int i = 0; i < 2; ++i) {
        lock.lock_shared();
        RL_ASSERT(a($) == b($));
        lock.unlock_shared();
      }
    }
  }
  void after() { RL_ASSERT(a($) == 2 && b($) == 2); }
};

// Two writers and a reader using try_ operations alongside blocking ones.
struct TryAndBlock : rl::test_suite<TryAndBlock, 3> {
  RawRwLock lock;
  rl::var<int> value;
  rl::atomic<int> writes;

  void before() {
    value($) = 0;
    writes($).store(0);
  }
  void thread(unsigned index) {
    if (index == 0) {
      lock.lock();
      value($) = value($) + 1;
      writes($).fetch_add(1);
      lock.unlock();
    } else if (index == 1) {
      if (lock.try_lock()) {
        value($) = value($) + 1;
        writes($).fetch_add(1);
        lock.unlock();
      }
    } else {
      if (lock.try_lock_shared()) {
        (void)value($);
        lock.unlock_shared();
      }
      lock.lock_shared();
      (void)value($);
      lock.unlock_shared();
    }
  }
  void after() { RL_ASSERT(value($) == writes($).load()); }
};

// Writers' phases. Under the model the phase thresholds are 2 (see
// raw_rwlock.hpp) and the lock's clock moves on or stands still at each
// look, as the checker chooses, so these shapes open phases, extend them,
// end them at a writer's unlock (the readers' turn follows, and the next
// writer waits it out) and at a waiting reader's look. Each write updates
// two plain fields together; each read checks them, so relacy reports a
// reader let in beside a writer (a torn pair, or a data race), and a
// reader or writer left asleep (a deadlock).
template <int Writers, int Writes, int Readers, int Reads>
struct Phases : rl::test_suite<Phases<Writers, Writes, Readers, Reads>, Writers + Readers> {
  RawRwLock lock;
  rl::var<int> a;
  rl::var<int> b;
  rl::atomic<int> reads;

  void before() {
    a($) = 0;
    b($) = 0;
    reads($).store(0, rl::mo_relaxed);
  }
  void thread(unsigned index) {
    if (index < Writers) {
      for (int i = 0; i < Writes; ++i) {
        lock.lock();
        write();
        lock.unlock();
      }
    } else {
      for (int i = 0; i < Reads; ++i) {
        lock.lock_shared();
        RL_ASSERT(a($) == b($));
        lock.unlock_shared();
        reads($).fetch_add(1, rl::mo_relaxed);
      }
    }
  }
  void write() {
    a($) = a($) + 1;
    b($) = b($) + 1;
  }
  void after() {
    RL_ASSERT(a($) == Writers * Writes && b($) == Writers * Writes);
    RL_ASSERT(reads($).load(rl::mo_relaxed) == Readers * Reads);
  }
};

// A writer that tries while another locks: try_lock must fail during the
// readers' turn that ends a phase (until the turn is over), and must never
// get in beside a reader. The trying writer retries until it has written
// twice.
struct PhasesWithTryLock : rl::test_suite<PhasesWithTryLock, 3> {
  RawRwLock lock;
  rl::var<int> a;
  rl::var<int> b;

  void before() {
    a($) = 0;
    b($) = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      for (int i = 0; i < 3; ++i) {
        lock.lock();
        write();
        lock.unlock();
      }
    } else if (index == 1) {
      for (int i = 0; i < 2;) {
        if (lock.try_lock()) {
          write();
          lock.unlock();
          ++i;
        } else {
          rl::yield(1, $);
        }
      }
    } else {
      for (int i = 0; i < 2; ++i) {
        lock.lock_shared();
        RL_ASSERT(a($) == b($));
        lock.unlock_shared();
      }
    }
  }
  void write() {
    a($) = a($) + 1;
    b($) = b($) + 1;
  }
  void after() { RL_ASSERT(a($) == 5 && b($) == 5); }
};

// A writer that fails (throws) inside its guard poisons the lock; the
// other thread sees either the clean value before, or the poison after,
// and still gets the data.
struct Poisoning : rl::test_suite<Poisoning, 2> {
  spindle::sync::RwLock<int> lock{0};

  void thread(unsigned index) {
    if (index == 0) {
      try {
        auto guard = lock.write().unwrap();
        *guard = 1;
        throw 42;
      } catch (int) {
      }
    } else {
      auto result = lock.read();
      if (result.is_ok()) {
        RL_ASSERT(*result.unwrap() == 0 || lock.is_poisoned());
      } else {
        RL_ASSERT(*std::move(result).unwrap_err().into_inner() == 1);
      }
    }
  }
  void after() { RL_ASSERT(lock.is_poisoned()); }
};

// Mutex<T> and Condvar: a flag set under the mutex and notified; the waiter
// must wake and see it (no lost notify).
struct CondvarHandOff : rl::test_suite<CondvarHandOff, 2> {
  spindle::sync::Mutex<bool> ready{false};
  spindle::sync::Condvar cond;

  void thread(unsigned index) {
    if (index == 0) {
      *ready.lock().unwrap() = true;
      cond.notify_one();
    } else {
      auto guard = ready.lock().unwrap();
      guard = cond.wait_while(std::move(guard), [](bool& r) { return !r; }).unwrap();
      RL_ASSERT(*guard);
    }
  }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<ReadersAndWriter>("rwlock: writer behind two readers", rl::sched_random, 20000);
  ok &= run<TryAndBlock>("rwlock: try_ and blocking mixed", rl::sched_random, 20000);
  ok &= run<Phases<2, 3, 1, 2>>("rwlock: phases, two writers, a reader", rl::sched_random, 10000);
  ok &= run<Phases<1, 4, 2, 2>>("rwlock: phases, a writer, two readers", rl::sched_random, 10000);
  // Three writers: two may sleep for the write side at once, and the one
  // woken must pass the wake-up on.
  ok &= run<Phases<3, 2, 1, 1>>("rwlock: three writers queue, a reader", rl::sched_random, 10000);
  ok &= run<PhasesWithTryLock>("rwlock: phases with try_lock", rl::sched_random, 10000);
  ok &= run<Poisoning>("rwlock: a failed writer poisons", rl::sched_random, 10000);
  ok &= run<Poisoning>("rwlock: a failed writer poisons", rl::sched_bound, 10000);
  ok &= run<CondvarHandOff>("mutex+condvar: notify is not lost", rl::sched_random, 20000);
  ok &= run<CondvarHandOff>("mutex+condvar: notify is not lost", rl::sched_bound, 20000);
  return ok ? 0 : 1;
}
