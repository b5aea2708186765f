// SPDX-License-Identifier: MIT
// Moves that throw, raced: several senders on every flavour, some of whose
// messages throw when the channel moves them in, against a receiver that
// polls with try_recv and waits with recv_timeout. The fuzzers drive the
// same exception paths from one thread; here other senders and the
// receiver are in the middle of their own operations when a move throws.
//
// Checked: a send that returned Ok delivered its message exactly once and
// in its sender's order; a send that threw delivered nothing; every message
// made is destroyed exactly once; and nothing hangs (a watchdog ends a
// test whose receiver stops making progress, saying where it stood).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/fragile_move.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::Bounded1;
using spindle::test::drop;
using spindle::test::FragileMove;
using spindle::test::has_try_send;
using spindle::test::LifetimeCheck;
using spindle::test::MoveFailed;
using spindle::test::ProgressWatchdog;
using spindle::test::Rendezvous;
using spindle::test::Unbounded;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds limit = 10s;  // no wait may take longer

/// A message from sender `id`, its `seq`-th: a FragileMove whose first move
/// (the channel's, into its slot) throws when `throws`, and no later one.
FragileMove message(std::size_t id, long seq, bool throws) {
  return FragileMove(static_cast<int>(id) * 1'000'000 + static_cast<int>(seq), throws ? 0 : FragileMove::plenty);
}
std::size_t sender_of(const FragileMove& m) { return static_cast<std::size_t>(m.value() / 1'000'000); }
long seq_of(const FragileMove& m) { return m.value() % 1'000'000; }

/// How one send ended.
enum class Sent : std::uint8_t { ok, threw, refused };

/// A sender's record: what became of each of its messages, and any
/// surprise (a message built to throw that did not, or the reverse).
struct SenderLog {
  std::vector<Sent> sent;
  std::string surprise;
};

template <class F>
constexpr long per_sender() {
  return F::capacity == 0 ? 600 : 2000;
}

/// Sends message `seq` of sender `id`, by send() or (where there is one)
/// try_send() until it fits; reports how it ended.
template <class F, class Tx>
Sent send_one(Tx& tx, std::size_t id, long seq, bool throws, bool by_try) {
  try {
    if constexpr (has_try_send<F>) {
      if (by_try) {
        const auto give_up = Clock::now() + limit;
        for (unsigned i = 0; Clock::now() < give_up; ++i) {
          auto r = tx.try_send(message(id, seq, throws));
          if (r.is_ok()) {
            return Sent::ok;
          }
          if (r.error().is_disconnected()) {
            return Sent::refused;
          }
          if (i % 16 == 15) {
            std::this_thread::yield();
          }
        }
        return Sent::refused;
      }
    }
    (void)by_try;
    return tx.send(message(id, seq, throws)).is_ok() ? Sent::ok : Sent::refused;
  } catch (const MoveFailed&) {
    return Sent::threw;
  }
}

template <class F, class Tx>
SenderLog run_sender(Tx tx, std::size_t id, std::uint32_t seed) {
  std::minstd_rand rng(seed);
  SenderLog log;
  for (long seq = 0; seq < per_sender<F>(); ++seq) {
    const bool throws = rng() % 4 == 0;
    const Sent how = send_one<F>(tx, id, seq, throws, rng() % 4 == 0);
    log.sent.push_back(how);
    if (log.surprise.empty() && how != Sent::refused && (how == Sent::threw) != throws) {
      log.surprise = "sender " + std::to_string(id) + "'s seq " + std::to_string(seq) +
                     (throws ? " was built to throw, yet was sent" : " threw, yet was not built to");
    }
    if (how == Sent::refused) {
      log.surprise = "sender " + std::to_string(id) + "'s seq " + std::to_string(seq) + " was refused";
      break;
    }
  }
  return log;
}

}  // namespace

TEMPLATE_TEST_CASE("exception race: senders whose moves throw, a receiver with timeouts", "[mpsc][exception]",
                   Unbounded, Bounded, Bounded1, Rendezvous) {
  constexpr std::size_t senders = 3;
  LifetimeCheck lifetimes;                           // every message made is destroyed, once
  std::vector<std::vector<long>> received(senders);  // each sender's seqs, as received
  std::atomic<long> progress{0};
  std::atomic<const char*> doing{"starting"};
  std::string wrong;
  std::vector<SenderLog> logs;
  {
    auto [tx, rx] = TestType::template make<FragileMove>();
    std::vector<th::JoinHandle<SenderLog>> handles;
    for (std::size_t id = 0; id < senders; ++id) {
      handles.push_back(th::spawn([tx = tx, id]() mutable {
        return run_sender<TestType>(std::move(tx), id, static_cast<std::uint32_t>(77 + id));
      }));
    }
    drop(std::move(tx));
    const ProgressWatchdog dog(
        std::string(TestType::name) + ": exception race", [&progress] { return progress.load(); },
        [&doing, &progress] {
          return std::string("  the receiver: ") + doing.load() + ", after " + std::to_string(progress.load()) +
                 " calls\n";
        },
        limit);
    std::minstd_rand rng(5);
    bool disconnected = false;
    const auto give_up = Clock::now() + 6 * limit;
    while (!disconnected && Clock::now() < give_up) {
      std::optional<FragileMove> got;
      if (rng() % 3 == 0) {
        doing.store("in try_recv()");
        auto r = rx.try_recv();
        if (r.is_ok()) {
          got.emplace(std::move(r).unwrap());
        } else {
          disconnected = r.error() == mpsc::TryRecvError::Disconnected;
        }
      } else {
        doing.store("in recv_timeout()");
        auto r = rx.recv_timeout(std::chrono::microseconds(rng() % 500));
        if (r.is_ok()) {
          got.emplace(std::move(r).unwrap());
        } else {
          disconnected = r.error() == mpsc::RecvTimeoutError::Disconnected;
        }
      }
      doing.store("between calls");
      progress.fetch_add(1);
      if (got) {
        if (sender_of(*got) < senders) {
          received[sender_of(*got)].push_back(seq_of(*got));
        } else if (wrong.empty()) {
          wrong = "a message from sender " + std::to_string(sender_of(*got));
        }
      }
    }
    for (auto& h : handles) {
      logs.push_back(h.join().unwrap());
    }
    REQUIRE(disconnected);
  }
  REQUIRE(wrong.empty());
  long threw = 0;
  for (std::size_t id = 0; id < senders; ++id) {
    INFO("sender " << id);
    REQUIRE(logs[id].surprise.empty());
    REQUIRE(logs[id].sent.size() == static_cast<std::size_t>(per_sender<TestType>()));
    // What was received from it: exactly its Ok sends, in order.
    std::vector<long> ok;
    for (std::size_t seq = 0; seq < logs[id].sent.size(); ++seq) {
      if (logs[id].sent[seq] == Sent::ok) {
        ok.push_back(static_cast<long>(seq));
      } else {
        ++threw;
      }
    }
    REQUIRE(received[id] == ok);
  }
  REQUIRE(threw > 0);  // the throwing path ran
  REQUIRE(lifetimes.balanced());
}

TEST_CASE("exception race: a rendezvous sender whose move throws strands nobody", "[mpsc][exception]") {
  // Three senders block in send() on a rendezvous channel, the first to
  // block with a message whose move throws. A receive wakes a sleeping
  // sender to hand over its message; when that sender's move throws, the
  // other two must still be served, and every try_recv() and
  // recv_timeout() must return (the watchdog fails a call that takes 10 s).
  constexpr int rounds = 12;
  LifetimeCheck lifetimes;
  std::atomic<long> progress{0};
  std::atomic<int> round_now{0};
  std::atomic<const char*> doing{"starting"};
  const ProgressWatchdog dog(
      "rendezvous: a throwing sender among sleepers", [&progress] { return progress.load(); },
      [&] {
        return "  round " + std::to_string(round_now.load()) + ", the receiver " + doing.load() + ", after " +
               std::to_string(progress.load()) + " calls\n";
      },
      limit);
  for (int round = 0; round < rounds; ++round) {
    round_now.store(round);
    auto [tx, rx] = Rendezvous::make<FragileMove>();
    std::vector<th::JoinHandle<Sent>> senders;
    std::array<std::atomic<bool>, 3> sending{};
    for (std::size_t id = 0; id < 3; ++id) {
      senders.push_back(th::spawn([tx = tx, id, &started = sending[id]]() mutable {
        started.store(true);
        try {
          return tx.send(message(id, 0, id == 0)).is_ok() ? Sent::ok : Sent::refused;
        } catch (const MoveFailed&) {
          return Sent::threw;
        }
      }));
      REQUIRE(spindle::test::eventually([&started = sending[id]] { return started.load(); }));
      // Give it time to go to sleep in send(), so that the senders sleep
      // in this order. A sender still awake only makes the round easier.
      std::this_thread::sleep_for(5ms);
    }
    drop(std::move(tx));
    // Receive until every sender is gone: even rounds by recv_timeout, odd
    // ones by try_recv.
    std::vector<std::size_t> from;
    bool disconnected = false;
    const auto give_up = Clock::now() + limit;
    while (!disconnected && Clock::now() < give_up) {
      std::optional<FragileMove> got;
      if (round % 2 == 0) {
        doing.store("is in recv_timeout(200 ms)");
        auto r = rx.recv_timeout(200ms);
        if (r.is_ok()) {
          got.emplace(std::move(r).unwrap());
        } else {
          disconnected = r.error() == mpsc::RecvTimeoutError::Disconnected;
        }
      } else {
        doing.store("is in try_recv()");
        auto r = rx.try_recv();
        if (r.is_ok()) {
          got.emplace(std::move(r).unwrap());
        } else {
          disconnected = r.error() == mpsc::TryRecvError::Disconnected;
          std::this_thread::yield();
        }
      }
      doing.store("is between calls");
      progress.fetch_add(1);
      if (got) {
        from.push_back(sender_of(*got));
      }
    }
    doing.store("joins the senders");
    INFO("round " << round);
    REQUIRE(disconnected);
    REQUIRE(from.size() == 2);
    CHECK(from[0] != 0);
    CHECK(from[1] != 0);
    CHECK(from[0] != from[1]);
    REQUIRE(senders[0].join().unwrap() == Sent::threw);
    REQUIRE(senders[1].join().unwrap() == Sent::ok);
    REQUIRE(senders[2].join().unwrap() == Sent::ok);
  }
  REQUIRE(lifetimes.balanced());
}
