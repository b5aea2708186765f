// SPDX-License-Identifier: MIT
#pragma once

// Stalls at random instructions, for the stress tests that hunt lost
// wake-ups. A lost wake-up needs one thread to pause at the wrong moment,
// between reading a condition and going to sleep on it; that window is a
// few instructions wide and almost never hit on its own. A StallTimer gives
// the thread that makes it its own POSIX timer, whose signal goes to that
// thread alone (SIGEV_THREAD_ID), at random short intervals; the handler
// busy-waits a few microseconds and re-arms the timer. So the thread stops
// for a while at whatever instruction it was running, as if the scheduler
// had taken its CPU away, tens of thousands of times a second.
//
// Those stalls use a signal installed with SA_RESTART: a futex wait it hits
// resumes inside the kernel, so they never wake a sleeper. A second signal,
// installed without SA_RESTART, interrupts: a futex wait it hits returns
// early, the spurious wake-up every sleep must survive. It comes once per
// request, from a one-shot timer (interrupt_within) or from another thread
// (interrupt), never as a stream: a stream of spurious wake-ups would also
// rescue a thread whose wake-up was lost, and hide the bug.
//
// The handler uses only async-signal-safe calls (clock_gettime,
// timer_settime) and lock-free atomics, and keeps errno. Linux only: other
// platforms have no thread-directed timers (the tests that use this are
// built on Linux alone).
//
// Under ThreadSanitizer a signal's handler runs at the thread's next
// intercepted call, not at once: the stalls land later and less often, but
// they still land, and a sleep the signal cuts short still returns early.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace spindle::test::stall {

using namespace std::chrono_literals;

/// How often, and how long, a thread is stalled.
struct Settings {
  std::chrono::nanoseconds min_interval = 5us;  // between stalls, on CLOCK_MONOTONIC
  std::chrono::nanoseconds max_interval = 50us;
  std::chrono::nanoseconds min_stall = 2us;  // each stall's busy wait
  std::chrono::nanoseconds max_stall = 10us;
};

/// The seconds a time-bounded stress test runs: `fallback`, or the value of
/// the environment variable SPINDLE_STRESS_SECONDS for a longer hunt.
inline std::chrono::duration<double> stress_seconds(double fallback) {
  const char* text = std::getenv("SPINDLE_STRESS_SECONDS");  // before the test's threads start
  if (text != nullptr) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end != text && seconds > 0) {
      return std::chrono::duration<double>(seconds);
    }
  }
  return std::chrono::duration<double>(fallback);
}

/// A seed for this run.
inline std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

/// splitmix64's finaliser: a well-spread number for every input, so the
/// threads of a test can each compute the same plan for a round.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

namespace detail {

/// One timer and the state its handler keeps. Only the handler changes it,
/// on the thread the timer signals, so plain fields suffice; `stalls` is
/// read by that thread.
struct TimerState {
  timer_t timer{};
  bool armed = false;
  bool repeat = false;  // the handler re-arms it
  std::uint64_t rng = 0;
  std::int64_t min_interval_ns = 0;
  std::int64_t interval_span_ns = 0;
  std::int64_t min_stall_ns = 0;
  std::int64_t stall_span_ns = 0;
  std::atomic<std::uint32_t> stalls{0};
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the handler needs a lock-free counter");

// The realtime signals of the two timers (glibc keeps the first two).
inline int stall_signal() noexcept { return SIGRTMIN + 4; }      // SA_RESTART
inline int interrupt_signal() noexcept { return SIGRTMIN + 5; }  // no SA_RESTART

inline std::uint64_t next_random(std::uint64_t& state) noexcept {
  // xorshift64*: no locks, no allocation; fine in a signal handler.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

inline std::int64_t pick(std::uint64_t& rng, std::int64_t min, std::int64_t span) noexcept {
  return span > 0 ? min + static_cast<std::int64_t>(next_random(rng) % static_cast<std::uint64_t>(span + 1)) : min;
}

inline std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline void arm(TimerState& s, std::int64_t ns) noexcept {
  itimerspec when{};
  when.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  when.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  timer_settime(s.timer, 0, &when, nullptr);  // one-shot; 0 disarms
}

inline void on_signal(int /*signo*/, siginfo_t* info, void* /*context*/) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == SI_TIMER && info->si_value.sival_ptr != nullptr) {
    auto& s = *static_cast<TimerState*>(info->si_value.sival_ptr);
    const std::int64_t until = now_ns() + pick(s.rng, s.min_stall_ns, s.stall_span_ns);
    while (now_ns() < until) {
    }
    // relaxed: a statistic, read by this thread.
    s.stalls.fetch_add(1, std::memory_order::relaxed);
    if (s.repeat) {
      arm(s, pick(s.rng, s.min_interval_ns, s.interval_span_ns));
    }
  }
  errno = saved_errno;
}

// Installs both handlers once, for the whole process; they stay installed,
// harmless when no timer is armed.
inline void install_handlers() {
  static const bool installed = [] {
    for (const bool restart : {true, false}) {
      struct sigaction action {};
      action.sa_sigaction = on_signal;
      action.sa_flags = SA_SIGINFO | (restart ? SA_RESTART : 0);
      sigemptyset(&action.sa_mask);
      sigaction(restart ? stall_signal() : interrupt_signal(), &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}

inline void set_target_thread(sigevent& event, pid_t tid) noexcept {
#if defined(sigev_notify_thread_id)
  event.sigev_notify_thread_id = tid;
#else
  event._sigev_un._tid = tid;  // glibc before 2.35 names the field only this way
#endif
}

inline pid_t current_tid() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// Creates s's timer, aimed at the calling thread; false on failure (errno).
inline bool create(TimerState& s, int signo) noexcept {
  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = signo;
  event.sigev_value.sival_ptr = &s;
  set_target_thread(event, current_tid());
  s.armed = timer_create(CLOCK_MONOTONIC, &event, &s.timer) == 0;
  return s.armed;
}

}  // namespace detail

/// The kernel's id of the calling thread, for interrupt().
inline pid_t thread_id() noexcept { return detail::current_tid(); }

/// Sends thread `tid` of this process the signal without SA_RESTART, at
/// once: if it sleeps in a futex wait, the wait returns early. A thread
/// calls it just before it acts on what the sleeper waits for, so that the
/// sleeper re-checks its condition while it changes: the moment a wake-up
/// can be lost. The handler stalls nobody for it (only a timer's signal
/// stalls); to any thread it is at worst a spurious wake-up.
inline void interrupt(pid_t tid) noexcept {
  detail::install_handlers();  // never the default action, which ends the process
  ::syscall(SYS_tgkill, ::getpid(), tid, detail::interrupt_signal());
}

/// Stalls the thread that makes it, at random moments, until destroyed;
/// and on request interrupts it once. Make and destroy it on that thread.
class StallTimer {
 public:
  StallTimer(const Settings& settings, std::uint64_t seed) {
    detail::install_handlers();
    rng_ = seed | 1;  // xorshift's state must not be 0
    stall_.repeat = true;
    stall_.rng = detail::next_random(rng_) | 1;
    stall_.min_interval_ns = settings.min_interval.count();
    stall_.interval_span_ns = (settings.max_interval - settings.min_interval).count();
    for (detail::TimerState* s : {&stall_, &interrupt_}) {
      s->min_stall_ns = settings.min_stall.count();
      s->stall_span_ns = (settings.max_stall - settings.min_stall).count();
    }
    interrupt_.rng = detail::next_random(rng_) | 1;
    if (!detail::create(stall_, detail::stall_signal()) || !detail::create(interrupt_, detail::interrupt_signal())) {
      error_ = errno;
      return;
    }
    detail::arm(stall_, detail::pick(stall_.rng, stall_.min_interval_ns, stall_.interval_span_ns));
  }
  StallTimer(const StallTimer&) = delete;
  StallTimer& operator=(const StallTimer&) = delete;
  ~StallTimer() {
    // Block the signals, delete the timers, take any signal still pending,
    // then unblock: no handler runs after this object is gone.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, detail::stall_signal());
    sigaddset(&set, detail::interrupt_signal());
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (detail::TimerState* s : {&stall_, &interrupt_}) {
      if (s->armed) {
        timer_delete(s->timer);
      }
    }
    const timespec zero{};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  /// 0 when both timers run, else timer_create's errno.
  [[nodiscard]] int error() const noexcept { return error_; }

  /// Sends the thread one signal without SA_RESTART, at a random moment
  /// within `within` (replacing one not yet sent).
  void interrupt_within(std::chrono::nanoseconds within) noexcept {
    if (interrupt_.armed) {
      detail::arm(interrupt_, 1 + detail::pick(rng_, 0, within.count()));
    }
  }

  /// Half the times it is called, interrupt_within(within): a round that
  /// calls it first either may see a sleep cut short, or sees none.
  void maybe_interrupt_within(std::chrono::nanoseconds within) noexcept {
    if (detail::next_random(rng_) % 2 == 0) {
      interrupt_within(within);
    }
  }

  /// How many times the thread was stalled or interrupted so far.
  [[nodiscard]] std::uint32_t stalls() const noexcept { return stall_.stalls.load(std::memory_order::relaxed); }
  [[nodiscard]] std::uint32_t interrupts() const noexcept { return interrupt_.stalls.load(std::memory_order::relaxed); }

 private:
  std::uint64_t rng_ = 0;  // the thread's own, for interrupt_within
  detail::TimerState stall_;
  detail::TimerState interrupt_;
  int error_ = 0;
};

// --- the rounds -------------------------------------------------------------------

/// Where the threads of a round-based stress test meet between rounds. The
/// last to arrive asks `go_on(rounds met so far)` whether another round
/// runs. Every wait is bounded: a thread that waits longer than its limit
/// gets timed_out (and the test fails, naming who is missing); abort()
/// releases every waiter, now and later, with aborted. The waiters yield
/// rather than sleep: a round is short, and a wake-up through the scheduler
/// would cost more than the round on a busy machine.
class RoundBarrier {
 public:
  enum class Outcome : std::uint8_t { next_round, finished, aborted, timed_out };

  RoundBarrier(int parties, std::function<bool(long)> go_on) : parties_(parties), go_on_(std::move(go_on)) {}

  Outcome arrive_and_wait(std::chrono::milliseconds limit) {
    // acquire: pairs with the release below, so a round's results precede the next.
    const long met = met_.load(std::memory_order::acquire);
    // acq_rel: the last to arrive sees what the others did in their round.
    if (arrived_.fetch_add(1, std::memory_order::acq_rel) + 1 == parties_) {
      // relaxed: nobody arrives again before the store of met_ below.
      arrived_.store(0, std::memory_order::relaxed);
      finished_.store(!go_on_(met + 1), std::memory_order::relaxed);
      // release: publishes the reset, finished_ and the round's work.
      met_.store(met + 1, std::memory_order::release);
      return finished_.load(std::memory_order::relaxed) ? Outcome::finished : Outcome::next_round;
    }
    const auto give_up = std::chrono::steady_clock::now() + limit;
    for (unsigned i = 0;; ++i) {
      if (met_.load(std::memory_order::acquire) != met) {  // pairs with the release above
        return finished_.load(std::memory_order::relaxed) ? Outcome::finished : Outcome::next_round;
      }
      if (aborted_.load(std::memory_order::relaxed)) {  // relaxed: the waiter only leaves
        return Outcome::aborted;
      }
      if (i % 64 == 63 && std::chrono::steady_clock::now() >= give_up) {
        return Outcome::timed_out;
      }
      std::this_thread::yield();
    }
  }

  void abort() noexcept { aborted_.store(true, std::memory_order::relaxed); }

  /// How many times all the threads met.
  [[nodiscard]] long met() const noexcept { return met_.load(std::memory_order::relaxed); }

 private:
  const int parties_;
  std::function<bool(long)> go_on_;
  std::atomic<int> arrived_{0};
  std::atomic<long> met_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> aborted_{false};
};

/// What one thread of a stress test is doing, kept up to date by that
/// thread and read by whoever must say what hangs.
struct ThreadStatus {
  std::atomic<const char*> doing{"starting"};  // a string literal
  std::atomic<long> round{-1};
  std::atomic<long> step{0};     // the 0-based message of the round it is at
  std::atomic<long> steps{0};    // of how many this round
  std::atomic<long> seq{-1};     // the message's sequence number, if it has one
  std::atomic<long> updates{0};  // how many times set() was called: progress
  std::atomic<pid_t> tid{0};     // the thread's kernel id, for interrupt()

  // relaxed throughout: read only to describe a hang.
  void set(const char* what, long in_round, long at_step = 0, long of_steps = 0, long at_seq = -1) noexcept {
    round.store(in_round, std::memory_order::relaxed);
    step.store(at_step, std::memory_order::relaxed);
    steps.store(of_steps, std::memory_order::relaxed);
    seq.store(at_seq, std::memory_order::relaxed);
    doing.store(what, std::memory_order::relaxed);
    updates.fetch_add(1, std::memory_order::relaxed);
  }

  [[nodiscard]] std::string describe() const {
    std::string text = doing.load(std::memory_order::relaxed);
    text += ", round " + std::to_string(round.load(std::memory_order::relaxed));
    const long of = steps.load(std::memory_order::relaxed);
    if (of > 0) {
      text += ", message " + std::to_string(step.load(std::memory_order::relaxed) + 1) + " of " + std::to_string(of);
    }
    if (const long n = seq.load(std::memory_order::relaxed); n >= 0) {
      text += " (seq " + std::to_string(n) + ")";
    }
    return text;
  }
};

/// The first failure any thread of a test reports, kept for the test's
/// main thread to fail with. Later reports are dropped: they are mostly
/// consequences of the first.
class FirstFailure {
 public:
  void report(std::string what) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (message_.empty()) {
        message_ = std::move(what);
      }
    }
    failed_.store(true, std::memory_order::release);  // pairs with failed()
  }
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order::acquire); }
  [[nodiscard]] std::string message() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return message_;
  }

 private:
  mutable std::mutex mutex_;
  std::string message_;
  std::atomic<bool> failed_{false};
};

/// What the threads of a round-based stress test share: the barrier they
/// meet at, what each is doing, and the first failure. A failure names the
/// test (`label`), the round, the time into the run, and what every thread
/// was doing.
class Crew {
 public:
  /// `names` of the threads, in the order of their indices; the rounds go on
  /// while nothing failed and `budget` has not passed; every wait at the
  /// barrier is bounded by `limit`.
  Crew(std::string label, std::vector<std::string> names, std::chrono::duration<double> budget,
       std::chrono::milliseconds limit)
      : label_(std::move(label)),
        names_(std::move(names)),
        status_(std::make_unique<ThreadStatus[]>(names_.size())),
        limit_(limit),
        start_(std::chrono::steady_clock::now()),
        barrier_(static_cast<int>(names_.size()),
                 [this, budget](long /*met*/) { return !failure_.failed() && elapsed() < budget; }) {}

  [[nodiscard]] ThreadStatus& status(std::size_t who) noexcept { return status_[who]; }

  /// Every thread's status, a line each.
  [[nodiscard]] std::string describe() const {
    std::string text;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      text += "  " + names_[i] + ": " + status_[i].describe() + "\n";
    }
    return text;
  }

  /// Records a failure in `round` and releases the threads at the barrier.
  void fail(long round, const std::string& what) {
    failure_.report(label_ + ", round " + std::to_string(round) + " (" + std::to_string(elapsed().count()) +
                    " s in): " + what + "\n" + describe());
    barrier_.abort();
  }

  /// Thread `who` waits at the barrier before `round`; a wait that times
  /// out is a failure.
  RoundBarrier::Outcome meet(std::size_t who, long round) {
    status_[who].set("at the barrier", round);
    const RoundBarrier::Outcome outcome = barrier_.arrive_and_wait(limit_);
    if (outcome == RoundBarrier::Outcome::timed_out) {
      fail(round, names_[who] + " waited at the barrier for " + std::to_string(limit_.count()) + " ms");
    }
    return outcome;
  }

  [[nodiscard]] bool failed() const noexcept { return failure_.failed(); }
  /// The first failure's description; empty when none.
  [[nodiscard]] std::string failure() const { return failure_.message(); }
  /// Grows with every step any thread takes: for a watchdog.
  [[nodiscard]] long progress() const noexcept {
    long sum = 0;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      sum += status_[i].updates.load(std::memory_order::relaxed);
    }
    return sum;
  }
  /// How many times the threads met.
  [[nodiscard]] long met() const noexcept { return barrier_.met(); }

 private:
  [[nodiscard]] std::chrono::duration<double> elapsed() const { return std::chrono::steady_clock::now() - start_; }

  std::string label_;
  std::vector<std::string> names_;
  std::unique_ptr<ThreadStatus[]> status_;
  std::chrono::milliseconds limit_;
  std::chrono::steady_clock::time_point start_;
  FirstFailure failure_;
  RoundBarrier barrier_;
};

}  // namespace spindle::test::stall
