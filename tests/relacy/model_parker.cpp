// SPDX-License-Identifier: MIT
// Models of the park token behind spindle::thread's park/unpark
// (detail/parker.hpp), run by relacy over the shipped code. The Parker is
// modelled on its own, without spindle::thread: a test thread plays the
// owner (the only one that parks) and another the waker.
//
// relacy's futex may wake a waiter spuriously and may time out a timed
// wait at any point, so park()'s re-check loop and park_until's timeout
// path are both explored. A wait that is never woken shows up as a
// deadlock (every thread asleep).
#include "model.hpp"

#include <spindle/detail/parker.hpp>

namespace {

using spindle::detail::Parker;

// The deadline of park_timeout(0): passed by the time it is checked, so
// park_until's first timed wait is also its last, and it then withdraws its
// "parked" announcement (the path that races an unpark).
spindle::detail::Deadline passed() { return spindle::detail::deadline_after(std::chrono::nanoseconds(0)); }

// A deadline that does not come during a model: park_until only returns
// with the token, after as many timeouts and spurious wake-ups of the
// futex as the scheduler makes.
spindle::detail::Deadline distant() { return spindle::detail::deadline_after(std::chrono::hours(1)); }

// The waker writes plain data, then unparks; the owner parks, then reads
// it. park() must return (no lost wake-up, whichever of the two comes
// first), and relacy reports a data race unless the token orders the
// write before the read.
struct UnparkWakesPark : rl::test_suite<UnparkWakesPark, 2> {
  Parker parker;
  rl::var<int> data;

  void before() { data($) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      data($) = 42;
      parker.unpark();
    } else {
      parker.park();
      RL_ASSERT(data($) == 42);
    }
  }
};

// Token semantics with the unparks known to come first: the waker unparks
// twice and then says so; the owner waits for that, parks, and park()
// returns at once (a sleep would be a deadlock: the waker is done). The
// two unparks left one token, not two, so a timed park that follows
// finds none.
struct TokensDoNotAccumulate : rl::test_suite<TokensDoNotAccumulate, 2> {
  Parker parker;
  rl::var<int> data;
  rl::atomic<int> done;

  void before() {
    data($) = 0;
    done($).store(0, rl::mo_relaxed);
  }
  void thread(unsigned index) {
    if (index == 0) {
      data($) = 1;
      parker.unpark();
      parker.unpark();
      done($).store(1, rl::mo_release);
    } else {
      while (done($).load(rl::mo_acquire) == 0) {
        rl::yield(1, $);
      }
      parker.park();
      RL_ASSERT(data($) == 1);
      RL_ASSERT(!parker.park_until(passed()));
    }
  }
};

// Two unparks racing one park: park() returns, and at most one token is
// left over whatever the interleaving (the second unpark may land before
// or after park() consumed the first). The owner counts what is left
// once the waker is done.
struct TwoUnparksOnePark : rl::test_suite<TwoUnparksOnePark, 2> {
  Parker parker;
  rl::var<int> data;
  rl::atomic<int> done;

  void before() {
    data($) = 0;
    done($).store(0, rl::mo_relaxed);
  }
  void thread(unsigned index) {
    if (index == 0) {
      parker.unpark();
      data($) = 2;
      parker.unpark();
      done($).store(1, rl::mo_release);
    } else {
      parker.park();
      while (done($).load(rl::mo_acquire) == 0) {
        rl::yield(1, $);
      }
      RL_ASSERT(data($) == 2);  // ordered by `done`, not by the token
      int left = 0;
      while (left < 3 && parker.park_until(passed())) {
        ++left;
      }
      RL_ASSERT(left <= 1);
    }
  }
};

// park_until with a passed deadline racing an unpark: either it takes the
// token (then the waker's write is visible), or it times out and the
// token stays for the next park(), which then returns (a timeout must not
// swallow the token, nor leave the owner's "parked" mark behind so that
// the unpark's wake is spent on nobody).
struct ParkTimeoutRacesUnpark : rl::test_suite<ParkTimeoutRacesUnpark, 2> {
  Parker parker;
  rl::var<int> data;

  void before() { data($) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      data($) = 7;
      parker.unpark();
    } else {
      if (!parker.park_until(passed())) {
        parker.park();
      }
      RL_ASSERT(data($) == 7);
      RL_ASSERT(!parker.park_until(passed()));
    }
  }
};

// park_until with a deadline that never comes during the model: timeouts
// and spurious returns of the futex are only re-checks, and it returns
// true with the token.
struct ParkUntilDistant : rl::test_suite<ParkUntilDistant, 2> {
  Parker parker;
  rl::var<int> data;

  void before() { data($) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      data($) = 9;
      parker.unpark();
    } else {
      RL_ASSERT(parker.park_until(distant()));
      RL_ASSERT(data($) == 9);
    }
  }
};

// Two wakers, one owner that parks twice: after the first park returns the
// owner tells the second waker to go, so the two unparks cannot merge into
// one token and both parks must return.
struct HandOffTwice : rl::test_suite<HandOffTwice, 3> {
  Parker parker;
  rl::var<int> first;
  rl::var<int> second;
  rl::atomic<int> go;

  void before() {
    first($) = 0;
    second($) = 0;
    go($).store(0, rl::mo_relaxed);
  }
  void thread(unsigned index) {
    if (index == 0) {
      first($) = 1;
      parker.unpark();
    } else if (index == 1) {
      while (go($).load(rl::mo_acquire) == 0) {
        rl::yield(1, $);
      }
      second($) = 2;
      parker.unpark();
    } else {
      parker.park();
      RL_ASSERT(first($) == 1);
      go($).store(1, rl::mo_release);
      parker.park();
      RL_ASSERT(second($) == 2);
    }
  }
};

// As spindle::model_test::run with the context-bound scheduler, but with
// `bound` preemptions instead of relacy's default of one. park_until's
// timeout path needs two to meet an unpark: one to time the owner out
// while the waker runs, one to let the unpark in between the owner's
// last check and its withdrawal.
template <class Test>
bool run_bound(const char* name, unsigned bound) {
  rl::test_params params;
  params.search_type = rl::sched_bound;
  params.context_bound = bound;
  params.output_history = false;
  const bool ok = rl::simulate<Test>(params);
  std::printf("%-40s context-bound%u %s\n", name, bound, ok ? "ok" : "FAILED");
  return ok;
}

}  // namespace

int main() {
  using spindle::model_test::run;
  bool ok = true;
  ok &= run<UnparkWakesPark>("parker: unpark vs park", rl::sched_random, 20000);
  ok &= run<UnparkWakesPark>("parker: unpark vs park", rl::sched_bound, 20000);
  ok &= run<TokensDoNotAccumulate>("parker: two unparks, then park", rl::sched_random, 10000);
  ok &= run<TokensDoNotAccumulate>("parker: two unparks, then park", rl::sched_bound, 20000);
  ok &= run<TwoUnparksOnePark>("parker: two unparks race one park", rl::sched_random, 20000);
  ok &= run<TwoUnparksOnePark>("parker: two unparks race one park", rl::sched_bound, 20000);
  ok &= run<ParkTimeoutRacesUnpark>("parker: park_until races unpark", rl::sched_random, 20000);
  ok &= run_bound<ParkTimeoutRacesUnpark>("parker: park_until races unpark", 2);
  ok &= run<ParkUntilDistant>("parker: park_until, distant deadline", rl::sched_random, 10000);
  ok &= run<ParkUntilDistant>("parker: park_until, distant deadline", rl::sched_bound, 20000);
  ok &= run<HandOffTwice>("parker: two wakers, two parks", rl::sched_random, 20000);
  ok &= run<HandOffTwice>("parker: two wakers, two parks", rl::sched_bound, 20000);
  return ok ? 0 : 1;
}
