// SPDX-License-Identifier: MIT
// spindle::mpmc: several receivers, each message received exactly once, the
// order of each sender kept as any one receiver sees it; the last
// receiver's destruction, close() and force_send destroying every message
// exactly once; the extras on every capacity.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpmc.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpmc = spindle::mpmc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

constexpr std::size_t mpmc_unbounded = static_cast<std::size_t>(-1);

// A channel of the capacity given (mpmc_unbounded: channel<T>()).
template <class T>
std::pair<mpmc::Sender<T>, mpmc::Receiver<T>> mpmc_make(std::size_t capacity) {
  return capacity == mpmc_unbounded ? mpmc::channel<T>() : mpmc::sync_channel<T>(capacity);
}

// What a consumer saw: for each producer, the sequence numbers it received.
struct MpmcSeen {
  std::vector<std::vector<int>> by_producer;
};

}  // namespace

TEST_CASE("mpmc: several producers and receivers, each message exactly once, each sender's order kept",
          "[mpmc]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_unbounded, 0, 1, 16}));
  CAPTURE(capacity);
  Watchdog dog("mpmc exactly once");
  constexpr int producers = 3;
  constexpr int consumers = 3;
  constexpr int per_producer = 3000;
  auto ends = mpmc_make<int>(capacity);
  std::vector<th::JoinHandle<MpmcSeen>> receiving;
  for (int c = 0; c < consumers; ++c) {
    receiving.push_back(th::spawn([rx = ends.second]() mutable {
      MpmcSeen seen;
      seen.by_producer.resize(producers);
      for (int v : rx) {
        seen.by_producer[static_cast<std::size_t>(v / per_producer)].push_back(v % per_producer);
      }
      return seen;
    }));
  }
  std::vector<th::JoinHandle<bool>> sending;
  for (int p = 0; p < producers; ++p) {
    sending.push_back(th::spawn([tx = ends.first, p]() mutable {
      for (int i = 0; i < per_producer; ++i) {
        if (tx.send(p * per_producer + i).is_err()) {
          return false;
        }
      }
      return true;
    }));
  }
  { auto gone = std::move(ends); }  // only the threads hold the channel now
  for (auto& s : sending) {
    REQUIRE(s.join().unwrap());
  }
  std::vector<std::vector<int>> all(producers);
  for (auto& r : receiving) {
    const MpmcSeen seen = r.join().unwrap();
    for (std::size_t p = 0; p < producers; ++p) {
      // As one receiver sees them, a sender's messages come in order.
      REQUIRE(std::is_sorted(seen.by_producer[p].begin(), seen.by_producer[p].end()));
      all[p].insert(all[p].end(), seen.by_producer[p].begin(), seen.by_producer[p].end());
    }
  }
  for (auto& got : all) {
    std::sort(got.begin(), got.end());
    REQUIRE(got.size() == static_cast<std::size_t>(per_producer));
    for (int i = 0; i < per_producer; ++i) {
      REQUIRE(got[static_cast<std::size_t>(i)] == i);  // each once, none lost
    }
  }
}

TEST_CASE("mpmc: the last receiver's destruction disconnects and destroys what is buffered, each once", "[mpmc]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_unbounded, 4}));
  LifetimeCheck lifetimes;
  auto ends = mpmc_make<Counted>(capacity);
  auto& tx = ends.first;
  mpmc::Receiver<Counted> second = ends.second;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(tx.send(Counted(i)).is_ok());
  }
  { auto first = std::move(ends.second); }  // one receiver left: still connected
  auto fifth = tx.try_send(Counted(4));  // full when bounded: the value comes back
  REQUIRE(fifth.is_err() == (capacity == 4));
  if (fifth.is_err()) {
    REQUIRE(fifth.error().kind() == mpmc::TrySendError<Counted>::Full);
  }
  fifth = spindle::Ok();
  REQUIRE(lifetimes.live() == (capacity == 4 ? 4 : 5));
  { auto last = std::move(second); }  // the last receiver: the messages go now
  REQUIRE(lifetimes.live() == 0);
  auto refused = tx.try_send(Counted(9));
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().kind() == mpmc::TrySendError<Counted>::Disconnected);
  REQUIRE(refused.error().value.value() == 9);
}

TEST_CASE("mpmc: close() by one receiver: sends fail, every receiver drains, then Disconnected", "[mpmc][close]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_unbounded, 0, 3}));
  CAPTURE(capacity);
  LifetimeCheck lifetimes;
  auto ends = mpmc_make<Counted>(capacity);
  auto& tx = ends.first;
  auto rx1 = ends.second;
  auto rx2 = ends.second;
  const int buffered = capacity == 0 ? 0 : 3;
  for (int i = 0; i < buffered; ++i) {
    REQUIRE(tx.send(Counted(i)).is_ok());
  }
  rx1.close();
  auto refused = tx.send(Counted(7));
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().value.value() == 7);
  int drained = 0;
  while (rx2.try_recv().is_ok()) {
    ++drained;
  }
  REQUIRE(drained == buffered);
  REQUIRE(rx1.recv().is_err());
  REQUIRE(rx2.recv_timeout(wait_limit).unwrap_err() == mpmc::RecvTimeoutError::Disconnected);
  rx1.close();  // again: nothing
}

TEST_CASE("mpmc: close() wakes a blocked send, which gets its message back", "[mpmc][close]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({0, 1}));
  CAPTURE(capacity);
  Watchdog dog("mpmc close wakes a send");
  LifetimeCheck lifetimes;
  auto ends = mpmc_make<Counted>(capacity);
  if (capacity == 1) {
    REQUIRE(ends.first.send(Counted(0)).is_ok());
  }
  std::atomic<bool> sending{false};
  auto sender = th::spawn([tx = ends.first, &sending]() mutable {
    sending = true;
    auto sent = tx.send(Counted(5));
    return sent.is_err() && sent.error().value.value() == 5;
  });
  REQUIRE(spindle::test::raised(sending));
  th::sleep(1ms);  // most likely blocked by now; either way it must fail
  ends.second.close();
  REQUIRE(sender.join().unwrap());
}

TEST_CASE("mpmc: force_send evicts the oldest, each message destroyed once", "[mpmc][force_send]") {
  LifetimeCheck lifetimes;
  auto ends = mpmc::sync_channel<Counted>(2);
  auto& tx = ends.first;
  auto& rx = ends.second;
  REQUIRE_FALSE(tx.force_send(Counted(1)).unwrap().has_value());
  REQUIRE_FALSE(tx.force_send(Counted(2)).unwrap().has_value());
  auto evicted = tx.force_send(Counted(3)).unwrap();
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->value() == 1);
  REQUIRE(rx.len() == 2);
  REQUIRE(rx.recv().unwrap().value() == 2);
  REQUIRE(rx.recv().unwrap().value() == 3);
  {
    auto gone = std::move(ends.second);
  }
  auto refused = tx.force_send(Counted(4));
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().value.value() == 4);
}

TEST_CASE("mpmc: force_send on an unbounded channel never evicts", "[mpmc][force_send]") {
  auto ends = mpmc::channel<int>();
  for (int i = 0; i < 100; ++i) {
    REQUIRE_FALSE(ends.first.force_send(int{i}).unwrap().has_value());
  }
  REQUIRE(ends.second.len() == 100);
}

TEST_CASE("mpmc: force_send on a rendezvous channel: a waiting receive takes it, else it comes back",
          "[mpmc][force_send]") {
  Watchdog dog("mpmc rendezvous force_send");
  LifetimeCheck lifetimes;
  auto ends = mpmc::sync_channel<Counted>(0);
  auto& tx = ends.first;
  auto back = tx.force_send(Counted(1)).unwrap();  // nobody waits
  REQUIRE(back.has_value());
  REQUIRE(back->value() == 1);
  auto receiver = th::spawn([rx = ends.second]() mutable { return rx.recv_timeout(wait_limit).unwrap().value(); });
  // Once the receive waits, force_send hands the message over.
  const bool handed = spindle::test::eventually([&] {
    auto r = tx.force_send(Counted(2)).unwrap();
    return !r.has_value();
  });
  REQUIRE(handed);
  REQUIRE(receiver.join().unwrap() == 2);
}

TEST_CASE("mpmc: introspection on every capacity", "[mpmc][len]") {
  auto unbounded = mpmc::channel<int>();
  REQUIRE_FALSE(unbounded.first.capacity().has_value());
  REQUIRE(unbounded.second.is_empty());
  REQUIRE(unbounded.first.send(1).is_ok());
  REQUIRE(unbounded.second.len() == 1);
  REQUIRE_FALSE(unbounded.second.is_full());

  auto bounded = mpmc::sync_channel<int>(2);
  REQUIRE(bounded.first.capacity() == std::optional<std::size_t>(2));
  REQUIRE(bounded.first.try_send(1).is_ok());
  REQUIRE(bounded.first.try_send(2).is_ok());
  REQUIRE(bounded.second.is_full());
  auto full = bounded.first.try_send(3);
  REQUIRE(full.is_err());
  REQUIRE(full.error().kind() == mpmc::TrySendError<int>::Full);

  auto zero = mpmc::sync_channel<int>(0);
  REQUIRE(zero.first.capacity() == std::optional<std::size_t>(0));
  REQUIRE(zero.second.len() == 0);
  REQUIRE(zero.second.is_full());
  REQUIRE(zero.first.try_send(1).unwrap_err().kind() == mpmc::TrySendError<int>::Full);
  REQUIRE(zero.second.try_recv().unwrap_err() == mpmc::TryRecvError::Empty);
}

TEST_CASE("mpmc: send_timeout on a full channel times out with the value, and succeeds once there is room",
          "[mpmc][send_timeout]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({0, 1}));
  CAPTURE(capacity);
  Watchdog dog("mpmc send_timeout");
  LifetimeCheck lifetimes;
  auto ends = mpmc_make<Counted>(capacity);
  auto& tx = ends.first;
  if (capacity == 1) {
    REQUIRE(tx.send(Counted(0)).is_ok());
  }
  auto timed = tx.send_timeout(Counted(1), 1ms);
  REQUIRE(timed.is_err());
  REQUIRE(timed.error().kind() == mpmc::SendTimeoutError<Counted>::Timeout);
  REQUIRE(timed.error().value.value() == 1);
  auto receiver = th::spawn([rx = ends.second, capacity]() mutable {
    int sum = 0;
    for (std::size_t i = 0; i < (capacity == 1 ? 2U : 1U); ++i) {
      sum += rx.recv_timeout(wait_limit).unwrap().value();
    }
    return sum;
  });
  REQUIRE(tx.send_timeout(Counted(2), wait_limit).is_ok());
  REQUIRE(receiver.join().unwrap() == 2);
}

TEST_CASE("mpmc: recv_many takes what is ready, up to max, from several receivers", "[mpmc][recv_many]") {
  auto ends = mpmc::channel<int>();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(ends.first.send(int{i}).is_ok());
  }
  auto other = ends.second;
  std::vector<int> a;
  std::vector<int> b;
  REQUIRE(ends.second.recv_many(a, 4) == 4);
  REQUIRE(other.try_recv_many(b, 100) == 6);
  REQUIRE(a == std::vector<int>{0, 1, 2, 3});
  REQUIRE(b == std::vector<int>{4, 5, 6, 7, 8, 9});
  REQUIRE(other.try_recv_many(b, 100) == 0);
  { auto gone = std::move(ends.first); }
  REQUIRE(other.recv_many(b, 100) == 0);  // disconnected and drained
}

TEST_CASE("mpmc: timeouts end, a message that arrives later is received once", "[mpmc][deadline]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_unbounded, 0, 1}));
  CAPTURE(capacity);
  Watchdog dog("mpmc timeouts");
  auto ends = mpmc_make<int>(capacity);
  auto rx2 = ends.second;
  REQUIRE(ends.second.recv_timeout(1ms).unwrap_err() == mpmc::RecvTimeoutError::Timeout);
  REQUIRE(rx2.recv_deadline(std::chrono::steady_clock::now()).unwrap_err() == mpmc::RecvTimeoutError::Timeout);
  auto sender = th::spawn([tx = ends.first]() mutable { return tx.send(42).is_ok(); });
  // Either receiver may take it; after that, neither gets anything more.
  auto got = ends.second.recv_timeout(wait_limit);
  REQUIRE(got.unwrap() == 42);
  REQUIRE(sender.join().unwrap());
  { auto gone = std::move(ends.first); }  // the last sender
  REQUIRE(rx2.recv_timeout(std::chrono::nanoseconds::max()).unwrap_err() == mpmc::RecvTimeoutError::Disconnected);
}

TEST_CASE("mpmc: receivers racing with timeouts lose nothing and take nothing twice", "[mpmc][stress]") {
  const std::size_t capacity = GENERATE(Catch::Generators::values<std::size_t>({mpmc_unbounded, 0, 2}));
  CAPTURE(capacity);
  Watchdog dog("mpmc timed receivers");
  LifetimeCheck lifetimes;
  constexpr int count = 2000;
  auto ends = mpmc_make<Counted>(capacity);
  std::vector<th::JoinHandle<long>> receiving;
  for (int c = 0; c < 3; ++c) {
    receiving.push_back(th::spawn([rx = ends.second]() mutable {
      long sum = 0;
      for (;;) {
        auto got = rx.recv_timeout(std::chrono::microseconds(50));
        if (got.is_ok()) {
          sum += got->value();
        } else if (got.error() == mpmc::RecvTimeoutError::Disconnected) {
          return sum;
        }
      }
    }));
  }
  auto producer = th::spawn([tx = ends.first]() mutable {
    for (int i = 1; i <= count; ++i) {
      auto sent = tx.send_timeout(Counted(i), std::chrono::microseconds(50));
      while (sent.is_err()) {
        if (sent.error().kind() != mpmc::SendTimeoutError<Counted>::Timeout) {
          return false;
        }
        sent = tx.send_timeout(std::move(sent.error()).into_inner(), std::chrono::microseconds(50));
      }
    }
    return true;
  });
  { auto gone = std::move(ends); }
  REQUIRE(producer.join().unwrap());
  long total = 0;
  for (auto& r : receiving) {
    total += r.join().unwrap();
  }
  REQUIRE(total == static_cast<long>(count) * (count + 1) / 2);
}

TEST_CASE("mpmc: a moved-from handle throws", "[mpmc]") {
  auto ends = mpmc::channel<int>();
  auto tx = std::move(ends.first);
  auto rx = std::move(ends.second);
  REQUIRE_THROWS_AS(ends.first.send(1), std::logic_error);
  REQUIRE_THROWS_AS(ends.second.try_recv(), std::logic_error);
  REQUIRE_THROWS_AS(ends.second.len(), std::logic_error);
  REQUIRE_THROWS_AS(mpmc::sync_channel<int>(std::size_t{1} << 50), std::length_error);
}
