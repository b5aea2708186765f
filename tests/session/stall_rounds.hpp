// SPDX-License-Identifier: MIT
#pragma once

// Round-based stress with stalled threads, for one session: the client's
// and the server's sides, shared by session/test_stall.cpp (in-process) and
// session/test_remote_stall.cpp (over ZeroMQ).
//
// Each round the client streams a few values to the server, then hands the
// turn over, and the server streams a few back and hands it back; how many
// each way, both compute from the round's number. Both then meet at a
// barrier, so a round ends with both directions drained. A sender whose
// wake-up is lost has nobody to rescue it: the pair deadlocks, and the
// test's watchdog ends it with what each side was doing. Both threads are
// stalled at random instructions, interrupted once in half the rounds, and
// interrupted by the other side just before it takes half the values
// (support/stall.hpp): a sender asleep on a full transport then wakes early
// and looks again just as room is made.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <variant>

#include "support/stall.hpp"

#include <spindle/session.hpp>

namespace spindle::test::stall_rounds {

namespace ss = spindle::session;
using ss::Chan;
using ss::Choose;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::S;
using ss::Send;
using ss::Var;
using ss::Z;
using stall::Crew;
using stall::RoundBarrier;
using stall::ThreadStatus;
using Clock = std::chrono::steady_clock;

inline constexpr std::chrono::microseconds interrupt_window{200};
inline constexpr std::chrono::milliseconds step_limit{10000};  // no step may take longer
inline constexpr std::chrono::milliseconds barrier_limit{15000};
inline constexpr double default_seconds = 2.0;

struct Value {
  long round;
  long seq;  // counted per direction over the whole test
};

// The client's side: send values, or hand the turn over and receive values
// until the server hands it back, or end.
using Turns = Rec<Choose<Send<Value, Var<Z>>, Rec<Offer<Recv<Value, Var<Z>>, Var<S<Z>>>>, Eps>>;

/// Where a pair sits in its Crew, and how many values a direction may
/// carry in a round: enough that a sender finds the transport full
/// whenever the receiver lags.
struct Seats {
  std::size_t client;
  std::size_t server;
  std::uint64_t most;
};

/// How many values go each way in `round`: 0 to seats.most.
struct Plan {
  long up;
  long down;
};
inline Plan plan(const Seats& seats, std::uint64_t seed, long round) {
  const std::uint64_t most = seats.most;
  const std::uint64_t h = stall::mix(seed ^ static_cast<std::uint64_t>(round));
  return Plan{static_cast<long>(h % (most + 1)), static_cast<long>((h >> 32) % (most + 1))};
}

/// Sometimes lets the sender fill the buffer before the receiver starts.
inline void maybe_lag(std::uint64_t seed, long round) {
  const std::uint64_t h = stall::mix(~seed ^ static_cast<std::uint64_t>(round));
  if (h % 2 == 0) {
    const auto until = Clock::now() + std::chrono::microseconds(h % 30);
    while (Clock::now() < until) {
    }
  }
}

/// Interrupts the peer just before taking a value: if the peer sleeps in
/// a send, waiting for room in a full buffer, it wakes and re-checks while
/// this side frees the room. Half the values.
inline void maybe_poke(Crew& crew, std::size_t peer, std::uint64_t& rng) {
  rng = stall::mix(rng);
  if (rng % 2 == 0) {
    if (const pid_t tid = crew.status(peer).tid.load(); tid != 0) {
      stall::interrupt(tid);
    }
    const auto until = Clock::now() + std::chrono::microseconds((rng >> 8) % 20);
    while (Clock::now() < until) {
    }
  }
}

struct Outcome {
  long values = 0;  // received
  std::uint32_t stalls = 0;
  std::uint32_t interrupts = 0;
  int timer_error = 0;  // timer_create's errno, if it failed
};

inline std::string mismatch(const char* who, const Value& got, long round, long seq) {
  return std::string(who) + " got seq " + std::to_string(got.seq) + " of round " + std::to_string(got.round) +
         "; expected seq " + std::to_string(seq) + " of round " + std::to_string(round);
}

/// One side's thread: its status in the crew, its stall timer, and what
/// it saw.
class Side {
 public:
  Side(Crew& crew, std::size_t seat, std::uint64_t stall_seed)
      : me(claimed(crew.status(seat))), rng(stall_seed), timer(stall::Settings{}, stall_seed) {
    out.timer_error = timer.error();
  }

  /// The side is done, after `round`: its outcome.
  Outcome done(long round) {
    me.set("done", round);
    out.stalls = timer.stalls();
    out.interrupts = timer.interrupts();
    return out;
  }

  ThreadStatus& me;
  std::uint64_t rng;
  stall::StallTimer timer;
  Outcome out;

 private:
  static ThreadStatus& claimed(ThreadStatus& status) {
    status.tid.store(stall::thread_id());
    return status;
  }
};

inline Outcome run_client(Crew& crew, const Seats& seats, Chan<Turns> end, std::uint64_t seed,
                          std::uint64_t stall_seed) {
  Side side(crew, seats.client, stall_seed);
  ThreadStatus& me = side.me;
  long sent = 0;
  long expected = 0;
  long round = 0;
  try {
    auto c = std::move(end).enter();
    for (;; ++round) {
      const RoundBarrier::Outcome met = crew.meet(seats.client, round);
      if (met != RoundBarrier::Outcome::next_round) {
        if (met == RoundBarrier::Outcome::finished) {
          me.set("closing", round);
          std::move(c).select<2>().close();
        }
        break;  // else failed elsewhere: dropping `c` tells the server
      }
      side.timer.maybe_interrupt_within(interrupt_window);
      const Plan p = plan(seats, seed, round);
      for (long i = 0; i < p.up; ++i, ++sent) {
        me.set("sending", round, i, p.up, sent);
        c = std::move(c).sel1().send(Value{round, sent}).zero();
      }
      me.set("handing the turn over", round);
      auto in = std::move(c).select<1>().enter();
      maybe_lag(seed, round);
      for (long i = 0;; ++i) {
        me.set("receiving", round, i, p.down, expected);
        maybe_poke(crew, seats.server, side.rng);
        auto offered = std::move(in).offer();
        if (offered.index() == 1) {
          c = std::get<1>(std::move(offered)).succ().zero();
          if (i != p.down) {
            crew.fail(round, "the client got the turn back after " + std::to_string(i) + " of " +
                                 std::to_string(p.down) + " values");
            return side.out;
          }
          break;
        }
        auto got = std::get<0>(std::move(offered)).recv();
        if (got.second.round != round || got.second.seq != expected) {
          crew.fail(round, mismatch("the client", got.second, round, expected));
          return side.out;
        }
        ++expected;
        ++side.out.values;
        in = std::move(got.first).zero();
      }
    }
  } catch (const std::exception& e) {
    crew.fail(round, std::string("the client: ") + e.what());
  }
  return side.done(round);
}

inline Outcome run_server(Crew& crew, const Seats& seats, Chan<ss::Dual<Turns>> end, std::uint64_t seed,
                          std::uint64_t stall_seed) {
  Side side(crew, seats.server, stall_seed);
  ThreadStatus& me = side.me;
  long sent = 0;
  long expected = 0;
  long round = 0;
  try {
    auto c = std::move(end).enter();
    for (;; ++round) {
      const RoundBarrier::Outcome met = crew.meet(seats.server, round);
      if (met != RoundBarrier::Outcome::next_round) {
        if (met == RoundBarrier::Outcome::finished) {
          me.set("waiting for the end", round);
          auto offered = std::move(c).offer();
          if (offered.index() != 2) {
            crew.fail(round, "the server expected the end, got branch " + std::to_string(offered.index()));
            return side.out;
          }
          std::get<2>(std::move(offered)).close();
        }
        break;
      }
      side.timer.maybe_interrupt_within(interrupt_window);
      const Plan p = plan(seats, seed, round);
      maybe_lag(seed, round);
      for (long i = 0;; ++i) {
        me.set("receiving", round, i, p.up, expected);
        maybe_poke(crew, seats.client, side.rng);
        auto offered = std::move(c).offer();
        if (offered.index() == 0) {
          auto got = std::get<0>(std::move(offered)).recv();
          if (got.second.round != round || got.second.seq != expected) {
            crew.fail(round, mismatch("the server", got.second, round, expected));
            return side.out;
          }
          ++expected;
          ++side.out.values;
          c = std::move(got.first).zero();
          continue;
        }
        if (offered.index() == 2 || i != p.up) {
          crew.fail(round, "the server got the turn (or the end) after " + std::to_string(i) + " of " +
                               std::to_string(p.up) + " values");
          return side.out;
        }
        auto turn = std::get<1>(std::move(offered)).enter();
        for (long j = 0; j < p.down; ++j, ++sent) {
          me.set("sending", round, j, p.down, sent);
          turn = std::move(turn).sel1().send(Value{round, sent}).zero();
        }
        me.set("handing the turn back", round);
        c = std::move(turn).sel2().succ().zero();
        break;
      }
    }
  } catch (const std::exception& e) {
    crew.fail(round, std::string("the server: ") + e.what());
  }
  return side.done(round);
}

}  // namespace spindle::test::stall_rounds
