// SPDX-License-Identifier: MIT
// Round-based stress with stalled threads, for every flavour: hunts lost
// wake-ups.
//
// A stream of messages hides a lost wake-up: a sender left asleep on a slot
// that was freed is rescued by the next sender that finds the channel full,
// since the receiver's next free wakes every sleeper. So these tests run in
// rounds. Each round four senders send a few messages each (how many, every
// thread computes from the round's number) onto a small channel, more than
// it holds, while the receiver takes exactly that many; then all five meet
// at a barrier. A round therefore ends with the channel drained and every
// thread done, and a sender stranded in send() stays stranded: the receiver
// waits for its message in vain and the test fails, naming the flavour, the
// round, and what each thread was doing.
//
// Every thread is stalled at random instructions by its own timer, and in
// half the rounds interrupted once by a signal that cuts a sleep short
// (see support/stall.hpp). The test runs for a couple of seconds;
// SPINDLE_STRESS_SECONDS sets a longer run. It is built a second time with
// the spin and yield steps at 0, where every wait that does not succeed at
// once goes to sleep: that build finds a lost wake-up soonest.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/stall.hpp"

#include <spindle/mpmc.hpp>
#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
namespace stall = spindle::test::stall;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::Bounded1;
using spindle::test::drop;
using spindle::test::ProgressWatchdog;
using spindle::test::Rendezvous;
using spindle::test::Unbounded;
using stall::Crew;
using stall::RoundBarrier;
using stall::ThreadStatus;
using Clock = std::chrono::steady_clock;

namespace {

/// The longest any one wait for a message may take before the test fails:
/// far beyond any scheduling delay, so only a hang reaches it.
constexpr std::chrono::milliseconds limit = 10s;
/// The barrier waits longer: when a message does not come, the receiver,
/// which can say more about it, reports first.
constexpr std::chrono::milliseconds barrier_limit = 15s;
constexpr double default_seconds = 2.0;
// Four senders, not two: the more of them sleep on a full slot, the more
// often a sender takes the stale look at it that a lost wake-up starts from.
constexpr std::size_t senders = 4;
constexpr std::size_t receiver = senders;  // its index among the crew

struct Msg {
  std::size_t sender;
  long round;
  long seq;  // the sender's count over the whole test
};

/// The most messages one sender sends in a round: enough for the senders to find
/// a bounded channel full.
template <class F>
constexpr std::uint64_t most_per_round() {
  return F::capacity == 1 || F::capacity == 0 ? 3 : 6;
}

/// How many messages each sender sends in `round`: every thread computes
/// the same plan, so none needs to be told. At least one message a round.
template <class F>
std::array<long, senders> plan(std::uint64_t seed, long round) {
  std::array<long, senders> counts{};
  long total = 0;
  for (std::size_t id = 0; id < senders; ++id) {
    const std::uint64_t h = stall::mix(seed ^ stall::mix(static_cast<std::uint64_t>(round) * senders + id));
    counts[id] = static_cast<long>(h % (most_per_round<F>() + 1));
    total += counts[id];
  }
  if (total == 0) {
    counts[static_cast<std::size_t>(round) % senders] = 1;
  }
  return counts;
}

/// When a round's thread may be interrupted (half the rounds): early in it.
constexpr std::chrono::microseconds interrupt_window = 200us;

struct Outcome {
  long messages = 0;
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;  // timer_create's errno, if it failed
};

// What a sender's status says around its send step (static strings: the
// status is read from a signal handler's side).
struct StepNames {
  const char* what;
  const char* inside;
  const char* after;
  const char* failed;
};
constexpr StepNames send_step{"send()", "inside send()", "after send()", "done (send failed)"};
constexpr StepNames force_send_step{"force_send()", "inside force_send()", "after force_send()",
                                    "done (force_send failed)"};

// A sender's rounds. `send(tx, msg)` sends one message, false when the
// receiver is gone.
template <class F, class Tx, class Send>
Outcome run_sender(Crew& crew, Tx tx, std::size_t id, std::uint64_t plan_seed, std::uint64_t stall_seed,
                   const StepNames& names, Send send) {
  ThreadStatus& me = crew.status(id);
  stall::StallTimer timer(stall::Settings{}, stall_seed);
  Outcome out;
  out.timer_error = timer.error();
  long seq = 0;
  long round = 0;
  for (; crew.meet(id, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.maybe_interrupt_within(interrupt_window);
    const long count = plan<F>(plan_seed, round)[id];
    for (long i = 0; i < count; ++i, ++seq) {
      me.set(names.inside, round, i, count, seq);
      if (!send(tx, Msg{id, round, seq})) {
        if (!crew.failed()) {
          crew.fail(round, "sender " + std::to_string(id) + ": " + names.what + " failed, the receiver is gone");
        }
        me.set(names.failed, round);
        out.stalls = timer.stalls();
        out.interrupts = timer.interrupts();
        return out;
      }
      me.set(names.after, round, i, count, seq);
    }
    out.messages += count;
  }
  me.set("done", round);
  out.stalls = timer.stalls();
  out.interrupts = timer.interrupts();
  return out;
}

// The rounds' plain send step.
constexpr auto plain_send = [](auto& tx, Msg m) { return tx.send(m).is_ok(); };

enum class Got : std::uint8_t { message, nothing, disconnected };

/// Takes the next message by one of three means, the choice random: one
/// long recv_timeout; short recv_timeouts, again and again; or try_recv in
/// a loop. Gives up after `limit` in all.
template <class Rx>
Got take(Rx& rx, std::minstd_rand& rng, Msg& out, const char*& how) {
  const auto give_up = Clock::now() + limit;
  const auto choice = rng() % 8;
  if (choice == 0) {
    how = "try_recv() in a loop";
    for (unsigned i = 0; Clock::now() < give_up; ++i) {
      auto r = rx.try_recv();
      if (r.is_ok()) {
        out = *r;
        return Got::message;
      }
      if (r.error() == mpsc::TryRecvError::Disconnected) {
        return Got::disconnected;
      }
      if (i % 8 == 7) {
        std::this_thread::yield();
      }
    }
    return Got::nothing;
  }
  if (choice <= 2) {
    how = "short recv_timeout()s in a loop";
    while (Clock::now() < give_up) {
      auto r = rx.recv_timeout(std::chrono::microseconds(rng() % 50));
      if (r.is_ok()) {
        out = *r;
        return Got::message;
      }
      if (r.error() == mpsc::RecvTimeoutError::Disconnected) {
        return Got::disconnected;
      }
    }
    return Got::nothing;
  }
  how = "one recv_timeout()";
  auto r = rx.recv_timeout(limit);
  if (r.is_ok()) {
    out = *r;
    return Got::message;
  }
  return r.error() == mpsc::RecvTimeoutError::Disconnected ? Got::disconnected : Got::nothing;
}

/// What try_recv() returns now, in words; a message it returns goes to `got`.
template <class Rx>
std::string try_recv_says(Rx& rx, Msg& got) {
  auto r = rx.try_recv();
  if (r.is_ok()) {
    got = *r;
    return "sender " + std::to_string(got.sender) + "'s seq " + std::to_string(got.seq);
  }
  return r.error() == mpsc::TryRecvError::Empty ? "Empty" : "Disconnected";
}

template <class F, class Rx>
Outcome run_receiver(Crew& crew, Rx rx, std::uint64_t plan_seed, std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(receiver);
  stall::StallTimer timer(stall::Settings{}, stall_seed);
  Outcome out;
  out.timer_error = timer.error();
  std::minstd_rand rng(static_cast<std::uint32_t>(stall_seed));
  std::array<long, senders> next{};  // each sender's next seq
  long round = 0;
  for (; crew.meet(receiver, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.maybe_interrupt_within(interrupt_window);
    const auto counts = plan<F>(plan_seed, round);
    long total = 0;
    for (const long count : counts) {
      total += count;
    }
    // Half the rounds, let the senders fill the channel first.
    if (rng() % 2 == 0) {
      const auto until = Clock::now() + std::chrono::microseconds(rng() % 30);
      while (Clock::now() < until) {
      }
    }
    for (long i = 0; i < total; ++i) {
      me.set("receiving", round, i, total);
      Msg m{};
      const char* how = "";
      const Got got = take(rx, rng, m, how);
      if (got != Got::message) {
        Msg extra{};
        crew.fail(round, "the receiver waited " + std::to_string(limit.count()) + " ms for message " +
                             std::to_string(i + 1) + " of " + std::to_string(total) + " by " + how + "; " +
                             (got == Got::disconnected ? "Disconnected"
                                                       : "try_recv() then returned " + try_recv_says(rx, extra)));
        return out;  // dropping rx releases a sender stuck in send()
      }
      if (m.sender >= senders || m.seq != next[m.sender] || m.round != round) {
        crew.fail(round, "the receiver got sender " + std::to_string(m.sender) + "'s seq " + std::to_string(m.seq) +
                             " of round " + std::to_string(m.round) + "; expected seq " +
                             (m.sender < senders ? std::to_string(next[m.sender]) : "?") +
                             ": a message lost, duplicated or out of order");
        return out;
      }
      ++next[m.sender];
      ++out.messages;
    }
  }
  if (!crew.failed()) {
    // Every sender has finished: a message now would be one too many.
    Msg extra{};
    const std::string now = try_recv_says(rx, extra);
    if (now != "Empty" && now != "Disconnected") {
      crew.fail(round, "after the last round, try_recv() returned " + now);
    }
  }
  me.set("done", round);
  out.stalls = timer.stalls();
  out.interrupts = timer.interrupts();
  return out;
}

template <class F>
void stalled_rounds() {
  const std::uint64_t plan_seed = stall::random_seed();
  std::vector<std::string> names;
  for (std::size_t id = 0; id < senders; ++id) {
    names.push_back("sender " + std::to_string(id));
  }
  names.emplace_back("receiver");
  Crew crew(F::name, std::move(names), stall::stress_seconds(default_seconds), barrier_limit);
  auto [tx, rx] = F::template make<Msg>();
  std::vector<th::JoinHandle<Outcome>> sending;
  for (std::size_t id = 0; id < senders; ++id) {
    sending.push_back(th::spawn([&crew, tx = tx, id, plan_seed, seed = stall::random_seed()]() mutable {
      return run_sender<F>(crew, std::move(tx), id, plan_seed, seed, send_step, plain_send);
    }));
  }
  drop(std::move(tx));
  auto receiving = th::spawn([&crew, rx = std::move(rx), plan_seed, seed = stall::random_seed()]() mutable {
    return run_receiver<F>(crew, std::move(rx), plan_seed, seed);
  });
  Outcome received;
  long sent = 0;
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;  // any thread's
  {
    // A thread the test cannot release (one stuck even after the receiver
    // went) ends the process, with every thread's status.
    const ProgressWatchdog dog(
        std::string(F::name) + ": stalled rounds", [&crew] { return crew.progress(); },
        [&crew] { return crew.describe(); });
    for (auto& s : sending) {
      const Outcome o = s.join().unwrap();
      sent += o.messages;
      stalls += o.stalls;
      interrupts += o.interrupts;
      timer_error = std::max(timer_error, o.timer_error);
    }
    received = receiving.join().unwrap();
    stalls += received.stalls;
    interrupts += received.interrupts;
    timer_error = std::max(timer_error, received.timer_error);
  }
  INFO("plan seed " << plan_seed << "; " << crew.met() << " rounds, " << received.messages << " messages, " << stalls
                    << " stalls, " << interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(failure);
  }
  REQUIRE(timer_error == 0);  // every thread had its timers
  REQUIRE(stalls > 0);
  REQUIRE(interrupts > 0);
  REQUIRE(crew.met() > 1);
  REQUIRE(received.messages == sent);
}

// --- force_send rounds --------------------------------------------------------
//
// The rounds again on a bounded channel, senders 0 and 1 using force_send:
// each message they evict goes, in their thread, onto an unbounded side
// channel to the receiver. Senders 2 and 3 send() and sleep on the full
// ring, which evictions move under them. The receiver accounts for the
// round's messages by either road; each sender's messages must come, each
// exactly once, and those on the channel in the order sent.

template <class F>
Outcome force_receiver(Crew& crew, mpsc::Receiver<Msg> rx, mpsc::Receiver<Msg> side, std::uint64_t plan_seed,
                       std::uint64_t stall_seed) {
  ThreadStatus& me = crew.status(receiver);
  stall::StallTimer timer(stall::Settings{}, stall_seed);
  Outcome out;
  out.timer_error = timer.error();
  std::array<long, senders> first{};  // each sender's first seq of the round
  long round = 0;
  for (; crew.meet(receiver, round) == RoundBarrier::Outcome::next_round; ++round) {
    timer.maybe_interrupt_within(interrupt_window);
    const auto counts = plan<F>(plan_seed, round);
    long total = 0;
    std::array<std::vector<bool>, senders> seen;
    std::array<long, senders> last_direct{};
    for (std::size_t id = 0; id < senders; ++id) {
      total += counts[id];
      seen[id].assign(static_cast<std::size_t>(counts[id]), false);
      last_direct[id] = first[id] - 1;
    }
    const auto account = [&](const Msg& m, bool direct) {
      const long index = m.sender < senders ? m.seq - first[m.sender] : -1;
      if (m.sender >= senders || m.round != round || index < 0 || index >= counts[m.sender] ||
          seen[m.sender][static_cast<std::size_t>(index)] || (direct && m.seq <= last_direct[m.sender])) {
        crew.fail(round, std::string("the receiver got, ") + (direct ? "on the channel" : "evicted") + ", sender " +
                             std::to_string(m.sender) + "'s seq " + std::to_string(m.seq) + " of round " +
                             std::to_string(m.round) + ": a message lost, duplicated or out of order");
        return false;
      }
      seen[m.sender][static_cast<std::size_t>(index)] = true;
      if (direct) {
        last_direct[m.sender] = m.seq;
      }
      return true;
    };
    const auto give_up = Clock::now() + limit;
    for (long accounted = 0; accounted < total;) {
      me.set("receiving", round, accounted, total);
      if (Clock::now() > give_up) {
        crew.fail(round, "the receiver waited " + std::to_string(limit.count()) + " ms and accounted for " +
                             std::to_string(accounted) + " of " + std::to_string(total) + " messages");
        return out;
      }
      for (auto evicted = side.try_recv(); evicted.is_ok(); evicted = side.try_recv()) {
        if (!account(*evicted, false)) {
          return out;
        }
        ++accounted;
      }
      if (accounted == total) {
        break;
      }
      auto got = rx.recv_timeout(std::chrono::microseconds(200));
      if (got.is_ok()) {
        if (!account(*got, true)) {
          return out;
        }
        ++accounted;
        ++out.messages;
      }
    }
    for (std::size_t id = 0; id < senders; ++id) {
      first[id] += counts[id];
    }
  }
  me.set("done", round);
  out.stalls = timer.stalls();
  out.interrupts = timer.interrupts();
  return out;
}

template <class F>
void force_send_rounds() {
  const std::uint64_t plan_seed = stall::random_seed();
  std::vector<std::string> names;
  for (std::size_t id = 0; id < senders; ++id) {
    names.push_back((id < 2 ? "force-sender " : "sender ") + std::to_string(id));
  }
  names.emplace_back("receiver");
  Crew crew(std::string(F::name) + " with force_send", std::move(names), stall::stress_seconds(default_seconds),
            barrier_limit);
  auto [tx, rx] = F::template make<Msg>();
  auto [side_tx, side_rx] = mpsc::channel<Msg>();
  std::vector<th::JoinHandle<Outcome>> sending;
  for (std::size_t id = 0; id < senders; ++id) {
    const std::uint64_t seed = stall::random_seed();
    if (id < 2) {
      // What it evicts goes to the receiver by the side channel, whose
      // receiver lives to the end.
      sending.push_back(th::spawn([&crew, tx = tx, side = side_tx, id, plan_seed, seed]() mutable {
        return run_sender<F>(crew, std::move(tx), id, plan_seed, seed, force_send_step,
                             [&side](mpsc::SyncSender<Msg>& t, Msg m) {
                               auto sent = t.force_send(m);
                               if (sent.is_err()) {
                                 return false;
                               }
                               if (auto evicted = std::move(sent).unwrap(); evicted) {
                                 (void)side.send(*evicted);
                               }
                               return true;
                             });
      }));
    } else {
      sending.push_back(th::spawn([&crew, tx = tx, id, plan_seed, seed]() mutable {
        return run_sender<F>(crew, std::move(tx), id, plan_seed, seed, send_step, plain_send);
      }));
    }
  }
  drop(std::move(tx));
  drop(std::move(side_tx));
  auto receiving = th::spawn(
      [&crew, rx = std::move(rx), side = std::move(side_rx), plan_seed, seed = stall::random_seed()]() mutable {
        return force_receiver<F>(crew, std::move(rx), std::move(side), plan_seed, seed);
      });
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;
  long received = 0;
  {
    const ProgressWatchdog dog(
        std::string(F::name) + ": force_send rounds", [&crew] { return crew.progress(); },
        [&crew] { return crew.describe(); });
    for (auto& s : sending) {
      const Outcome o = s.join().unwrap();
      stalls += o.stalls;
      interrupts += o.interrupts;
      timer_error = std::max(timer_error, o.timer_error);
    }
    const Outcome r = receiving.join().unwrap();
    received = r.messages;
    stalls += r.stalls;
    interrupts += r.interrupts;
    timer_error = std::max(timer_error, r.timer_error);
  }
  INFO("plan seed " << plan_seed << "; " << crew.met() << " rounds, " << received << " received on the channel, "
                    << stalls << " stalls, " << interrupts << " interrupts");
  const std::string failure = crew.failure();
  if (!failure.empty()) {
    FAIL(failure);
  }
  REQUIRE(timer_error == 0);
  REQUIRE(stalls > 0);
  REQUIRE(interrupts > 0);
  REQUIRE(crew.met() > 1);
  REQUIRE(received > 0);
}

/// The same rounds on spindle::mpmc's channels (one receiver: the rounds
/// check each sender's order, which only one receiver sees whole).
template <std::size_t Capacity>
struct Mpmc {
  static constexpr std::size_t capacity = Capacity;
  static constexpr const char* name = Capacity == Unbounded::capacity ? "mpmc::channel()"
                                      : Capacity == 0                 ? "mpmc::sync_channel(0)"
                                      : Capacity == 1                 ? "mpmc::sync_channel(1)"
                                                                      : "mpmc::sync_channel(4)";
  template <class T>
  static auto make() {
    return Capacity == Unbounded::capacity ? spindle::mpmc::channel<T>() : spindle::mpmc::sync_channel<T>(Capacity);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("stall: rounds on a full channel, every thread stalled", "[mpsc][stall]", Unbounded, Bounded,
                   Bounded1, Rendezvous) {
  stalled_rounds<TestType>();
}

TEMPLATE_TEST_CASE("stall: rounds on a full mpmc channel, every thread stalled", "[mpmc][stall]",
                   Mpmc<Unbounded::capacity>, Mpmc<4>, Mpmc<1>, Mpmc<0>) {
  stalled_rounds<TestType>();
}

TEMPLATE_TEST_CASE("stall: force_send rounds on a full bounded channel, every thread stalled", "[mpsc][stall]", Bounded,
                   Bounded1) {
  force_send_rounds<TestType>();
}
