// SPDX-License-Identifier: MIT
// SyncSender::force_send: a send that never waits for room. On a full ring
// the oldest message is evicted and returned; with room it is an ordinary
// send; on a rendezvous channel a receive waiting now takes the value, and
// otherwise the value itself comes back; it fails, with its value, only once
// the receiver closed the channel or is gone. Each message is received,
// evicted, destroyed with the receiver or handed back: exactly once. Here
// alone and racing receives, selects, blocked senders, the receiver's
// destruction and moves that throw.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/fragile_move.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/select.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpsc = spindle::mpsc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::FragileMove;
using spindle::test::LifetimeCheck;
using spindle::test::MoveFailed;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

// A message's value: its producer and its place in that producer's stream.
constexpr int fs_stride = 1'000'000;
int fs_tag(int producer, int seq) { return producer * fs_stride + seq; }
int fs_producer_of(int tag) { return tag / fs_stride; }
int fs_seq_of(int tag) { return tag % fs_stride; }

// What a force-sending thread saw: the values force_send evicted (and
// returned to it), in the order it got them, and whether every call
// succeeded.
struct FsForceLog {
  std::vector<int> evicted;
  long sent = 0;  // force_send calls that returned Ok
  bool all_ok = true;
};

// Force-sends producer `id`'s messages 0, 1, ... (Counted, tagged): `count`
// of them (below fs_stride), or fewer if `stop()` says so first (asked
// before each).
template <class Stop>
FsForceLog fs_force_stream(mpsc::SyncSender<Counted>& tx, int id, int count, Stop stop) {
  FsForceLog log;
  for (int seq = 0; seq < count && !stop(); ++seq) {
    auto sent = tx.force_send(Counted(fs_tag(id, seq)));
    if (sent.is_err()) {
      log.all_ok = false;
      break;
    }
    ++log.sent;
    if (const auto& evicted = *sent; evicted.has_value()) {
      log.evicted.push_back(evicted->value());
    }
  }
  return log;
}

// Whether each producer's sequence numbers in `tags` increase strictly.
bool fs_in_order(const std::vector<int>& tags, int producers) {
  std::vector<int> last(static_cast<std::size_t>(producers), -1);
  for (const int tag : tags) {
    const auto p = static_cast<std::size_t>(fs_producer_of(tag));
    if (p >= last.size() || fs_seq_of(tag) <= last[p]) {
      return false;
    }
    last[p] = fs_seq_of(tag);
  }
  return true;
}

// How often each message of each producer occurs in `lists` together,
// producer p having sent 0..counts[p]-1: "" when each occurs exactly once,
// else the first that does not.
std::string fs_exactly_once(const std::vector<const std::vector<int>*>& lists, const std::vector<long>& counts) {
  std::vector<std::vector<int>> seen;
  seen.reserve(counts.size());
  for (const long count : counts) {
    seen.emplace_back(static_cast<std::size_t>(count), 0);
  }
  for (const auto* list : lists) {
    for (const int tag : *list) {
      const auto p = static_cast<std::size_t>(fs_producer_of(tag));
      const auto seq = static_cast<std::size_t>(fs_seq_of(tag));
      if (tag < 0 || p >= seen.size() || seq >= seen[p].size()) {
        return "a stranger: " + std::to_string(tag);
      }
      ++seen[p][seq];
    }
  }
  for (std::size_t p = 0; p < seen.size(); ++p) {
    for (std::size_t seq = 0; seq < seen[p].size(); ++seq) {
      if (seen[p][seq] != 1) {
        return "producer " + std::to_string(p) + "'s message " + std::to_string(seq) + " seen " +
               std::to_string(seen[p][seq]) + " times";
      }
    }
  }
  return "";
}

// The budget of moves a FragileMove needs to enter a ring through `enter`
// (a call that sends FragileMove(0, budget) and says whether it was sent):
// the smallest budget that gets it in. A message that entered with exactly
// that budget has none left, so its next move (out of the ring) throws; with
// one less, the move into the slot throws. -1 if none up to 8 does.
template <class Enter>
int fs_budget_to_enter(Enter&& enter) {
  for (int budget = 0; budget <= 8; ++budget) {
    auto ends = mpsc::sync_channel<FragileMove>(1);
    try {
      if (enter(ends.first, budget)) {
        return budget;
      }
    } catch (const MoveFailed&) {
      // too few: try one more
    }
  }
  return -1;
}

int fs_send_budget() {
  return fs_budget_to_enter(
      [](mpsc::SyncSender<FragileMove>& tx, int budget) { return tx.send(FragileMove(0, budget)).is_ok(); });
}

int fs_force_budget() {
  return fs_budget_to_enter(
      [](mpsc::SyncSender<FragileMove>& tx, int budget) { return tx.force_send(FragileMove(0, budget)).is_ok(); });
}

}  // namespace

// --- one thread ------------------------------------------------------------------

TEST_CASE("mpsc force_send: a full ring evicts its oldest message each time and stays full", "[mpsc][force_send]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({1, 2, 5}));
  CAPTURE(capacity);
  const int cap = static_cast<int>(capacity);
  constexpr int extra = 12;
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = mpsc::sync_channel<Counted>(capacity);
    for (int i = 0; i < cap; ++i) {
      REQUIRE_FALSE(tx.force_send(Counted(i)).unwrap().has_value());
      REQUIRE(rx.len() == static_cast<std::size_t>(i + 1));
    }
    REQUIRE(rx.is_full());
    REQUIRE(lifetimes.live() == cap);
    for (int i = cap; i < cap + extra; ++i) {
      auto evicted = tx.force_send(Counted(i)).unwrap();
      REQUIRE(evicted.has_value());
      REQUIRE(evicted->value() == i - cap);  // the oldest
      REQUIRE(rx.len() == capacity);
      REQUIRE(tx.len() == capacity);
      REQUIRE(rx.is_full());
      REQUIRE(lifetimes.live() == cap + 1);  // the ring's and the one evicted: nothing copied or lost
    }
    REQUIRE(lifetimes.live() == cap);
    // The newest `cap`, oldest first.
    for (int i = extra; i < cap + extra; ++i) {
      REQUIRE(rx.recv().unwrap().value() == i);
    }
    REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
    REQUIRE(rx.is_empty());
    REQUIRE(lifetimes.live() == 0);
    // Full again, and evicting, when the receiver goes: the rest is
    // destroyed with it.
    for (int i = 100; i < 100 + cap; ++i) {
      REQUIRE(tx.try_send(Counted(i)).is_ok());
    }
    auto evicted = tx.force_send(Counted(200)).unwrap();
    REQUIRE(evicted.has_value());
    REQUIRE(evicted->value() == 100);
    REQUIRE(lifetimes.live() == cap + 1);
  }
}

TEST_CASE("mpsc force_send: with room it is an ordinary send and keeps the order with send and recv",
          "[mpsc][force_send]") {
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = mpsc::sync_channel<Counted>(3);
    REQUIRE_FALSE(tx.force_send(Counted(0)).unwrap().has_value());
    REQUIRE(rx.len() == 1);
    REQUIRE(rx.recv().unwrap().value() == 0);
    REQUIRE_FALSE(tx.force_send(Counted(1)).unwrap().has_value());
    REQUIRE(tx.send(Counted(2)).is_ok());
    REQUIRE_FALSE(tx.force_send(Counted(3)).unwrap().has_value());  // the last free slot
    REQUIRE(rx.is_full());
    auto full = tx.try_send(Counted(-1));
    REQUIRE(full.is_err());
    REQUIRE(full.error().kind() == mpsc::TrySendError<Counted>::Full);
    REQUIRE(rx.recv().unwrap().value() == 1);
    REQUIRE_FALSE(tx.force_send(Counted(4)).unwrap().has_value());  // room again
    auto evicted = tx.force_send(Counted(5)).unwrap();
    REQUIRE(evicted.has_value());
    REQUIRE(evicted->value() == 2);  // sent with send(), evicted all the same
    for (int i = 3; i <= 5; ++i) {
      REQUIRE(rx.recv().unwrap().value() == i);
    }
    REQUIRE(rx.is_empty());
    // Lap after lap, one in and one out: never an eviction.
    for (int i = 0; i < 500; ++i) {
      REQUIRE_FALSE(tx.force_send(Counted(i)).unwrap().has_value());
      if (i % 2 == 1) {
        REQUIRE(rx.recv().unwrap().value() == i - 1);
        REQUIRE(rx.recv().unwrap().value() == i);
      }
    }
    REQUIRE(rx.is_empty());
  }
}

TEST_CASE("mpsc force_send after close() fails with its value and what was buffered is still received",
          "[mpsc][force_send][close]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({0, 1, 3}));
  CAPTURE(capacity);
  const int buffered = static_cast<int>(capacity);  // full, so a force_send would evict
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = mpsc::sync_channel<Counted>(capacity);
    for (int i = 0; i < buffered; ++i) {
      REQUIRE_FALSE(tx.force_send(Counted(i)).unwrap().has_value());
    }
    rx.close();
    auto refused = tx.force_send(Counted(99));
    REQUIRE(refused.is_err());
    REQUIRE(refused.error().value.value() == 99);
    REQUIRE(lifetimes.live() == buffered + 1);  // nothing evicted; the value is in `refused`
    REQUIRE(rx.len() == capacity);
    for (int i = 0; i < buffered; ++i) {
      REQUIRE(rx.recv().unwrap().value() == i);
    }
    REQUIRE(rx.recv().is_err());
    auto again = tx.force_send(Counted(98));  // drained: still refused
    REQUIRE(again.is_err());
    REQUIRE(again.error().value.value() == 98);
  }
}

TEST_CASE("mpsc force_send once the receiver is gone fails with its value", "[mpsc][force_send]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({0, 1, 3}));
  CAPTURE(capacity);
  LifetimeCheck lifetimes;
  auto [tx, rx] = mpsc::sync_channel<Counted>(capacity);
  for (int i = 0; i < static_cast<int>(capacity); ++i) {
    REQUIRE(tx.send(Counted(i)).is_ok());
  }
  spindle::drop(std::move(rx));
  REQUIRE(lifetimes.live() == 0);  // the buffered messages went with the receiver
  for (int i = 0; i < 3; ++i) {
    auto refused = tx.force_send(Counted(7 + i));
    REQUIRE(refused.is_err());
    REQUIRE(refused.error().value.value() == 7 + i);
    REQUIRE(lifetimes.live() == 1);
  }
  REQUIRE(lifetimes.live() == 0);
}

TEST_CASE("mpsc force_send on a rendezvous channel: a waiting receive takes the value and else it comes back",
          "[mpsc][force_send]") {
  Watchdog dog("rendezvous force_send");
  LifetimeCheck lifetimes;
  {
    auto ends = mpsc::sync_channel<Counted>(0);
    auto& tx = ends.first;
    auto& rx = ends.second;
    auto back = tx.force_send(Counted(1)).unwrap();  // nobody waits
    REQUIRE(back.has_value());
    REQUIRE(back->value() == 1);
    REQUIRE(rx.len() == 0);
    // Once a receive waits, force_send hands the message over.
    auto receiver = th::spawn([&rx] {
      auto got = rx.recv_timeout(wait_limit);
      return got.is_ok() ? got->value() : -1;
    });
    bool refused = false;
    const bool handed = spindle::test::eventually([&] {
      auto sent = tx.force_send(Counted(2));
      if (sent.is_err()) {
        refused = true;
        return true;
      }
      const auto& returned = *sent;
      return !returned.has_value() || returned->value() != 2;
    });
    REQUIRE(handed);
    REQUIRE_FALSE(refused);
    REQUIRE(receiver.join().unwrap() == 2);
    // A sender blocked in send() is no receive: the value comes back, and
    // the blocked message is still there to be received.
    std::atomic<bool> sending{false};
    auto sender = th::spawn([tx = tx, &sending]() mutable {
      sending = true;
      return tx.send(Counted(5)).is_ok();
    });
    REQUIRE(spindle::test::raised(sending));
    th::sleep(2ms);  // most likely blocked by now; either way 6 must come back
    auto back6 = tx.force_send(Counted(6)).unwrap();
    REQUIRE(back6.has_value());
    REQUIRE(back6->value() == 6);
    REQUIRE(rx.recv_timeout(wait_limit).unwrap().value() == 5);
    REQUIRE(sender.join().unwrap());
  }
}

// --- races ------------------------------------------------------------------------

TEST_CASE("mpsc force_send stress: force-senders and a blocking sender on a tiny ring lose and double nothing",
          "[mpsc][force_send][stress]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({1, 3}));
  const auto policy = GENERATE(spindle::WaitPolicy::adaptive, spindle::WaitPolicy::park);
  CAPTURE(capacity, static_cast<int>(policy));
  Watchdog dog("force_send stress");
  constexpr int per_thread = 20'000;  // each sender's messages, unless the budget runs out first
  constexpr int forcers = 2;
  constexpr int producers = forcers + 1;  // the last one blocks in send()
  const spindle::test::Budget budget(3s);
  LifetimeCheck lifetimes;
  std::vector<FsForceLog> logs;
  std::vector<int> received;
  received.reserve(static_cast<std::size_t>(producers) * per_thread);
  long blocking_sent = -1;  // -1: a send failed
  {
    auto ends = mpsc::sync_channel<Counted>(capacity, policy);
    auto& rx = ends.second;
    std::vector<th::JoinHandle<FsForceLog>> forcing;
    forcing.reserve(forcers);
    for (int id = 0; id < forcers; ++id) {
      forcing.push_back(th::spawn([tx = ends.first, id, &budget]() mutable {
        long done = 0;
        FsForceLog log = fs_force_stream(tx, id, per_thread, [&] { return !budget.more(done++); });
        spindle::drop(std::move(tx));
        return log;
      }));
    }
    auto blocking = th::spawn([tx = ends.first, &budget]() mutable {
      long sent = 0;
      for (int seq = 0; seq < per_thread && budget.more(seq); ++seq) {
        if (tx.send(Counted(fs_tag(forcers, seq))).is_err()) {
          return -1L;
        }
        ++sent;
      }
      spindle::drop(std::move(tx));
      return sent;
    });
    spindle::drop(std::move(ends.first));
    for (;;) {  // until every sender is gone and the ring drained
      auto got = rx.recv();
      if (got.is_err()) {
        break;
      }
      received.push_back(got->value());
    }
    for (auto& f : forcing) {
      logs.push_back(f.join().unwrap());
    }
    blocking_sent = blocking.join().unwrap();
  }
  REQUIRE(blocking_sent >= 1);  // the receiver stayed: every blocking send completed
  std::vector<const std::vector<int>*> all{&received};
  std::vector<long> counts;
  long evictions = 0;
  for (const auto& log : logs) {
    REQUIRE(log.all_ok);
    REQUIRE(log.sent >= 1);
    counts.push_back(log.sent);
    // One thread's evictions come in the channel's order too.
    REQUIRE(fs_in_order(log.evicted, producers));
    all.push_back(&log.evicted);
    evictions += static_cast<long>(log.evicted.size());
  }
  counts.push_back(blocking_sent);
  INFO(evictions << " evictions, " << received.size() << " received, of " << counts[0] << " + " << counts[1]
                 << " forced and " << counts[2] << " sent");
  REQUIRE(fs_in_order(received, producers));
  // Received or evicted (the blocking sender's too, by a force-sender):
  // each message exactly once.
  REQUIRE(fs_exactly_once(all, counts).empty());
  REQUIRE(static_cast<long>(received.size()) + evictions == counts[0] + counts[1] + counts[2]);
  REQUIRE(lifetimes.balanced());
}

TEST_CASE("mpsc force_send racing the receiver's destruction: every message destroyed once and later ones refused",
          "[mpsc][force_send]") {
  Watchdog dog("force_send racing the receiver's destruction");
  constexpr int rounds = 40;
  constexpr int forcers = 2;
  constexpr int after_refusal = 5;      // force_sends a thread tries after its first refusal
  constexpr long give_up = 50'000'000;  // force_sends before a thread stops waiting to be refused
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    LifetimeCheck lifetimes;
    std::atomic<long> forced{0};
    struct Log {
      long sent = 0;
      long evicted = 0;
      bool refused_well = false;  // refused with its value, and every later call too
    };
    std::vector<Log> logs;
    long received = 0;
    {
      auto ends = mpsc::sync_channel<Counted>(2);
      std::optional<mpsc::Receiver<Counted>> rx(std::move(ends.second));
      std::vector<th::JoinHandle<Log>> forcing;
      forcing.reserve(forcers);
      for (int id = 0; id < forcers; ++id) {
        forcing.push_back(th::spawn([tx = ends.first, id, &forced]() mutable {
          Log log;
          for (long seq = 0; seq < give_up; ++seq) {
            const int tag = fs_tag(id, static_cast<int>(seq % fs_stride));
            auto sent = tx.force_send(Counted(tag));
            if (sent.is_ok()) {
              ++log.sent;
              log.evicted += sent->has_value() ? 1 : 0;
              forced.fetch_add(1, std::memory_order_relaxed);
              continue;
            }
            log.refused_well = sent.error().value.value() == tag;
            for (int k = 0; k < after_refusal && log.refused_well; ++k) {
              auto again = tx.force_send(Counted(-1 - k));
              log.refused_well = again.is_err() && again.error().value.value() == -1 - k;
            }
            break;
          }
          return log;
        }));
      }
      // A few receives, then the receiver goes while both force-send. (Tries:
      // against two threads that keep evicting the head, a blocking receive
      // may wait long for a message it can claim.)
      for (int k = 0; k < round % 4; ++k) {
        received += rx->try_recv().is_ok() ? 1 : 0;
      }
      const bool forcing_well = spindle::test::eventually([&] { return forced.load() >= 50L * (round % 5 + 1); });
      rx.reset();
      for (auto& f : forcing) {
        logs.push_back(f.join().unwrap());
      }
      REQUIRE(forcing_well);
      // The buffered messages went with the receiver, the evicted and
      // refused ones with the threads: none is left.
      REQUIRE(lifetimes.live() == 0);
      auto refused = ends.first.force_send(Counted(12345));
      REQUIRE(refused.is_err());
      REQUIRE(refused.error().value.value() == 12345);
    }
    long sent = 0;
    long evicted = 0;
    for (const auto& log : logs) {
      REQUIRE(log.refused_well);
      sent += log.sent;
      evicted += log.evicted;
    }
    // What stayed in the ring when the receiver went: at most its capacity.
    const long left = sent - evicted - received;
    CAPTURE(sent, evicted, received);
    REQUIRE(left >= 0);
    REQUIRE(left <= 2);
    REQUIRE(lifetimes.balanced());
  }
}

TEST_CASE("mpsc force_send racing a select receive: the select always completes with the next message",
          "[mpsc][force_send][select]") {
  // A select's receive that found a message ready claims it only when it
  // completes: an eviction may take that message first, and the receive
  // must then get the next one (never fail, never repeat one).
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({1, 3}));
  CAPTURE(capacity);
  Watchdog dog("force_send racing a select");
  constexpr int most = fs_stride - 1;  // force_sends, at most
  constexpr long enough = 2'000;       // receives that make the race well run
  LifetimeCheck lifetimes;
  std::vector<int> received;
  FsForceLog log;
  bool failed_early = false;  // a receive failed while the sender was still sending
  long failures = 0;
  {
    auto ends = mpsc::sync_channel<Counted>(capacity);
    auto& rx = ends.second;
    std::atomic<bool> finished{false};
    std::atomic<long> receives{0};
    auto sender = th::spawn([tx = std::move(ends.first), &finished, &receives]() mutable {
      // Until the select received enough, or for a few seconds at most (a
      // receive competes with every eviction for the oldest message).
      const auto until = std::chrono::steady_clock::now() + 3s;
      long turns = 0;
      FsForceLog sent = fs_force_stream(tx, 0, most, [&] {
        return receives.load(std::memory_order_relaxed) >= enough ||
               (++turns % 256 == 0 && std::chrono::steady_clock::now() >= until);
      });
      finished = true;
      spindle::drop(std::move(tx));  // the receives fail from now on
      return sent;
    });
    bool disconnected = false;
    const auto take = [&](spindle::Result<Counted, mpsc::RecvError> got) {
      if (got.is_ok()) {
        received.push_back(got->value());
        receives.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      // Only a channel disconnected and drained fails a receive; the
      // sender raises `finished` before its handle goes.
      const bool done = finished.load();
      failed_early = failed_early || !done;
      ++failures;
      disconnected = true;
    };
    mpsc::Select sel;
    REQUIRE(sel.recv(rx) == 0);
    for (long k = 0; !disconnected; ++k) {
      switch (k % 3) {
        case 0: {
          auto op = sel.select();
          take(op.recv(rx));
          break;
        }
        case 1: {
          auto tried = sel.try_select();
          if (tried.is_ok()) {
            auto op = std::move(tried).unwrap();
            take(op.recv(rx));
          }
          break;
        }
        default:
          mpsc::select(mpsc::on_recv(rx, [&](spindle::Result<Counted, mpsc::RecvError> got) {
            take(std::move(got));
            return 0;
          }));
          break;
      }
    }
    log = sender.join().unwrap();
    REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Disconnected);
  }
  INFO(log.sent << " sent, " << log.evicted.size() << " evicted, " << received.size() << " received");
  REQUIRE_FALSE(failed_early);
  REQUIRE(failures == 1);
  REQUIRE(log.all_ok);
  REQUIRE(fs_in_order(received, 1));
  REQUIRE(fs_in_order(log.evicted, 1));
  REQUIRE(fs_exactly_once({&received, &log.evicted}, {log.sent}).empty());
  REQUIRE(lifetimes.balanced());
}

TEST_CASE("mpsc force_send moves a blocked sender on and its send completes once the receiver drains",
          "[mpsc][force_send]") {
  // A sender blocked in send() sleeps on the slot at tail; each eviction
  // moves tail on (and fills the ring again), so it must wake and block
  // again at the new tail, and get in once the receiver makes room, while
  // the evictions go on. Its message is then received or evicted.
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({1, 2}));
  const auto policy = GENERATE(spindle::WaitPolicy::adaptive, spindle::WaitPolicy::park);
  CAPTURE(capacity, static_cast<int>(policy));
  Watchdog dog("a blocked sender among evictions", 3 * wait_limit);
  constexpr int rounds = 10;
  constexpr int before_drain = 200;  // evictions while nothing is received
  constexpr int after_done = 100;    // force_sends after the blocked send completed
  constexpr int most = 5'000'000;    // force_sends, at most
  constexpr int blocked_value = -5;  // apart from the force-sent 0, 1, ...
  const int filled = static_cast<int>(capacity);
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    LifetimeCheck lifetimes;
    std::vector<int> received;
    FsForceLog log;
    bool blocked_ok = false;
    bool done_before_drain = true;
    bool drained = false;
    bool completed = false;
    {
      auto ends = mpsc::sync_channel<Counted>(capacity, policy);
      std::optional<mpsc::Receiver<Counted>> rx(std::move(ends.second));
      for (int i = 0; i < filled; ++i) {
        REQUIRE(ends.first.send(Counted(i)).is_ok());  // full
      }
      std::atomic<bool> sending{false};
      std::atomic<bool> done{false};
      auto blocked = th::spawn([tx = ends.first, &sending, &done]() mutable {
        sending = true;
        const bool ok = tx.send(Counted(blocked_value)).is_ok();
        done = true;
        return ok;
      });
      REQUIRE(spindle::test::raised(sending));
      th::sleep(2ms);  // most likely asleep by now
      std::atomic<bool> evicted_some{false};
      auto forcer = th::spawn([tx = std::move(ends.first), &evicted_some, &done, filled]() mutable {
        FsForceLog evicting;
        int left = after_done;
        for (int i = filled; i < filled + most && left > 0; ++i) {
          auto sent = tx.force_send(Counted(i));
          if (sent.is_err()) {
            evicting.all_ok = false;
            break;
          }
          ++evicting.sent;
          if (const auto& evicted = *sent; evicted.has_value()) {
            evicting.evicted.push_back(evicted->value());
          }
          if (evicting.sent == before_drain) {
            evicted_some = true;
          }
          if (done.load()) {
            --left;
          }
        }
        evicted_some = true;
        return evicting;
      });
      REQUIRE(spindle::test::raised(evicted_some));
      // Nothing was received yet, and an eviction frees no room.
      done_before_drain = done.load();
      // Drain, while the evictions go on: the blocked send must complete.
      for (;;) {
        auto got = rx->recv_timeout(wait_limit);
        if (got.is_err()) {
          drained = got.error() == mpsc::RecvTimeoutError::Disconnected;
          break;
        }
        received.push_back(got->value());
      }
      completed = spindle::test::eventually([&done] { return done.load(); }, 1s);
      rx.reset();  // releases the blocked sender if it is still stuck, so that the joins return
      blocked_ok = blocked.join().unwrap();
      log = forcer.join().unwrap();
    }
    CAPTURE(log.sent, log.evicted.size(), received.size());
    REQUIRE_FALSE(done_before_drain);
    REQUIRE(drained);  // every sender finished, and the ring emptied
    REQUIRE(completed);
    REQUIRE(blocked_ok);
    REQUIRE(log.all_ok);
    REQUIRE(log.sent >= before_drain);
    // Every message, the blocked one included, received or evicted, once.
    std::vector<int> everything(received);
    everything.insert(everything.end(), log.evicted.begin(), log.evicted.end());
    const auto last = static_cast<std::size_t>(filled + log.sent);  // 0..last-1, and the blocked one at last
    std::vector<int> seen(last + 1, 0);
    bool strangers = false;
    for (const int v : everything) {
      if (v == blocked_value) {
        ++seen[last];
      } else if (v >= 0 && static_cast<std::size_t>(v) < last) {
        ++seen[static_cast<std::size_t>(v)];
      } else {
        strangers = true;
      }
    }
    REQUIRE_FALSE(strangers);
    std::size_t wrong = 0;
    while (wrong < seen.size() && seen[wrong] == 1) {
      ++wrong;
    }
    CAPTURE(wrong);  // the first value not seen exactly once (last: the blocked one)
    REQUIRE(wrong == seen.size());
    REQUIRE(lifetimes.balanced());
  }
}

// --- a message type whose move may throw -------------------------------------------

TEST_CASE("mpsc force_send of a type whose move may throw works when no move throws", "[mpsc][force_send]") {
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = mpsc::sync_channel<FragileMove>(2);
    REQUIRE_FALSE(tx.force_send(FragileMove(1, FragileMove::plenty)).unwrap().has_value());
    REQUIRE_FALSE(tx.force_send(FragileMove(2, FragileMove::plenty)).unwrap().has_value());
    auto evicted = tx.force_send(FragileMove(3, FragileMove::plenty)).unwrap();
    REQUIRE(evicted.has_value());
    REQUIRE(evicted->value() == 1);
    REQUIRE(rx.recv().unwrap().value() == 2);
    REQUIRE(rx.recv().unwrap().value() == 3);
    rx.close();
    auto refused = tx.force_send(FragileMove(4, FragileMove::plenty));
    REQUIRE(refused.is_err());
    REQUIRE(refused.error().value.value() == 4);

    auto [ztx, zrx] = mpsc::sync_channel<FragileMove>(0);
    auto back = ztx.force_send(FragileMove(5, FragileMove::plenty)).unwrap();
    REQUIRE(back.has_value());
    REQUIRE(back->value() == 5);
  }
}

TEST_CASE("mpsc force_send whose move throws: the exception propagates and the channel stays usable",
          "[mpsc][force_send][exception]") {
  // "out": moving the oldest message out of the ring throws; "in": moving
  // the new one in, after the oldest was evicted. Either way, as
  // documented, the evicted message is lost (destroyed once), the new one
  // stays with the caller (destroyed with force_send's parameter) and its
  // position holds no message.
  const bool out = GENERATE(true, false);
  CAPTURE(out);
  const int send_budget = fs_send_budget();
  const int force_budget = fs_force_budget();
  REQUIRE(send_budget >= 1);
  REQUIRE(force_budget >= 1);
  LifetimeCheck lifetimes;
  {
    auto [tx, rx] = mpsc::sync_channel<FragileMove>(2);
    REQUIRE(tx.send(FragileMove(1, out ? send_budget : FragileMove::plenty)).is_ok());
    REQUIRE(tx.send(FragileMove(2, FragileMove::plenty)).is_ok());
    REQUIRE_THROWS_AS(tx.force_send(FragileMove(3, out ? FragileMove::plenty : force_budget - 1)), MoveFailed);
    REQUIRE(lifetimes.live() == 1);  // 2 alone: 1 and 3 gone, neither leaked
    REQUIRE(rx.recv_timeout(wait_limit).unwrap().value() == 2);
    REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);  // the empty position is stepped over
    REQUIRE(lifetimes.live() == 0);
    // Usable as before: sends, evictions, receives.
    REQUIRE_FALSE(tx.force_send(FragileMove(4, FragileMove::plenty)).unwrap().has_value());
    REQUIRE(tx.send(FragileMove(5, FragileMove::plenty)).is_ok());
    auto evicted = tx.force_send(FragileMove(6, FragileMove::plenty)).unwrap();
    REQUIRE(evicted.has_value());
    REQUIRE(evicted->value() == 4);
    REQUIRE(rx.recv().unwrap().value() == 5);
    REQUIRE(rx.recv().unwrap().value() == 6);
    REQUIRE(rx.is_empty());
    REQUIRE(tx.send(FragileMove(7, FragileMove::plenty)).is_ok());
  }
}

TEST_CASE("mpsc force_send whose move throws still lets a blocked sender through", "[mpsc][force_send][exception]") {
  // A sender sleeps on the full ring's slot at tail when force_send's
  // eviction throws: once the receiver steps over the empty position, the
  // sender must get in, as it would after an eviction that did not throw.
  const bool out = GENERATE(true, false);
  CAPTURE(out);
  Watchdog dog("a blocked sender after a throwing force_send", 3 * wait_limit);
  const int send_budget = fs_send_budget();
  const int force_budget = fs_force_budget();
  REQUIRE(send_budget >= 1);
  REQUIRE(force_budget >= 1);
  LifetimeCheck lifetimes;
  bool received_blocked = false;
  bool blocked_ok = false;
  {
    auto ends = mpsc::sync_channel<FragileMove>(1, spindle::WaitPolicy::park);  // a blocked send sleeps at once
    std::optional<mpsc::Receiver<FragileMove>> rx(std::move(ends.second));
    auto& tx = ends.first;
    REQUIRE(tx.send(FragileMove(1, out ? send_budget : FragileMove::plenty)).is_ok());  // full
    std::atomic<bool> sending{false};
    auto blocked = th::spawn([tx = tx, &sending]() mutable {
      sending = true;
      return tx.send(FragileMove(7, FragileMove::plenty)).is_ok();
    });
    REQUIRE(spindle::test::raised(sending));
    th::sleep(5ms);  // most likely asleep by now
    REQUIRE_THROWS_AS(tx.force_send(FragileMove(3, out ? FragileMove::plenty : force_budget - 1)), MoveFailed);
    {
      auto got = rx->recv_timeout(wait_limit);
      received_blocked = got.is_ok() && got->value() == 7;
    }
    rx.reset();  // releases the sender if it is still stuck, so that the join returns
    blocked_ok = blocked.join().unwrap();
  }
  REQUIRE(received_blocked);
  REQUIRE(blocked_ok);
  REQUIRE(lifetimes.balanced());
}

TEST_CASE("try_send on a ring whose last room a select has claimed says Full and does not wait",
          "[mpsc][bounded][select]") {
  Watchdog dog("try_send beside a select's pending send");
  for (const std::size_t capacity : {std::size_t{1}, std::size_t{3}}) {
    auto [tx, rx] = mpsc::sync_channel<int>(capacity);
    for (std::size_t i = 1; i < capacity; ++i) {
      REQUIRE(tx.try_send(static_cast<int>(i)).is_ok());
    }
    mpsc::Select sel;
    sel.send(tx);
    auto op = sel.select();  // claims the last room; the message comes with op.send()
    auto full = tx.try_send(99);
    REQUIRE(full.is_err());
    REQUIRE(full.error().kind() == mpsc::TrySendError<int>::Full);
    REQUIRE(full.error().value == 99);
    REQUIRE(op.send(tx, 0).is_ok());
    for (std::size_t i = 1; i < capacity; ++i) {
      REQUIRE(rx.recv().unwrap() == static_cast<int>(i));
    }
    REQUIRE(rx.recv().unwrap() == 0);
  }
}
