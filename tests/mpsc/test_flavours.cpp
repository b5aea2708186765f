// SPDX-License-Identifier: MIT
// What every flavour of spindle::mpsc channel shares: delivery across
// threads, order and uniqueness, disconnection from either side, timeouts
// and deadlines, the iterators, message types, lifetimes, moved-from handles
// and how errors print. Each test runs on the unbounded, a bounded (4) and a
// rendezvous channel.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::buffered;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::has_try_send;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::sendable_alone;
using spindle::test::since;
using spindle::test::TxOf;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

namespace {

template <class E>
std::string printed(const E& e) {
  std::ostringstream os;
  os << e;
  return os.str();
}

// A message type without a default constructor.
struct NoDefault {
  NoDefault() = delete;
  explicit NoDefault(int v) : value(v) {}
  int value;
};

using Page = std::array<char, 4096>;

// A message type with no data.
struct Empty {};

// Plain memory a sender writes before it sends (see the memory-ordering test).
struct Record {
  std::array<int, 32> data;
  std::string text;
};

Page page(int seed) {
  Page p{};
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<char>((static_cast<std::size_t>(seed) * 31 + i) % 127);
  }
  return p;
}

}  // namespace

// --- delivery ------------------------------------------------------------------

TEMPLATE_TEST_CASE("a message sent on one thread is received on another", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  Watchdog dog("round trip");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < 100; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  long sum = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = rx.recv();
    REQUIRE(r.is_ok());
    sum += *r;
  }
  REQUIRE(sum == 4950);
  REQUIRE(producer.join().unwrap());

  // The other way round: the receiver moves to the thread.
  auto tx2_rx2 = TestType::template make<std::string>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  auto consumer = th::spawn([rx = std::move(rx2)]() mutable {
    std::string all;
    for (auto&& word : rx) {
      all += word;
    }
    return all;
  });
  for (const char* word : {"one ", "two ", "three"}) {
    REQUIRE(tx2.send(word).is_ok());
  }
  drop(std::move(tx2));
  REQUIRE(consumer.join().unwrap() == "one two three");
}

TEMPLATE_TEST_CASE("messages from one sender arrive in the order sent", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  Watchdog dog("fifo");
  constexpr int n = 2000;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    int sent = 0;
    for (int i = 0; i < n && tx.send(i).is_ok(); ++i) {
      ++sent;
    }
    return sent;
  });
  int out_of_order = 0;
  int expected = 0;
  for (int v : rx) {
    out_of_order += v != expected ? 1 : 0;
    expected = v + 1;
  }
  REQUIRE(out_of_order == 0);
  REQUIRE(expected == n);
  REQUIRE(producer.join().unwrap() == n);
}

TEMPLATE_TEST_CASE("with several senders each message arrives exactly once, in its sender's order", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("exactly once");
  constexpr int producers = 4;
  constexpr int per_producer = 300;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<int>> handles;
  for (int p = 0; p < producers; ++p) {
    handles.push_back(th::spawn([tx = tx, p]() mutable {
      int sent = 0;
      for (int i = 0; i < per_producer && tx.send(p * 10000 + i).is_ok(); ++i) {
        ++sent;
      }
      return sent;
    }));
  }
  drop(std::move(tx));

  std::vector<int> seen(producers * per_producer, 0);
  std::vector<int> next(producers, 0);
  int out_of_order = 0;
  int total = 0;
  for (int v : rx) {
    const int p = v / 10000;
    const int i = v % 10000;
    if (p < 0 || p >= producers || i >= per_producer) {
      FAIL("received a value nobody sent: " << v);
    }
    ++seen[static_cast<std::size_t>(p * per_producer + i)];
    out_of_order += i != next[static_cast<std::size_t>(p)] ? 1 : 0;
    next[static_cast<std::size_t>(p)] = i + 1;
    ++total;
  }
  for (auto& h : handles) {
    REQUIRE(h.join().unwrap() == per_producer);
  }
  REQUIRE(total == producers * per_producer);
  REQUIRE(out_of_order == 0);
  REQUIRE(std::count(seen.begin(), seen.end(), 1) == producers * per_producer);
}

TEMPLATE_TEST_CASE("one sender may be used by several threads at once", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  Watchdog dog("shared sender");
  constexpr int threads = 3;
  constexpr int per_thread = 200;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<int> got;
  const int ok_sends = th::scope([&](th::Scope& s) {
    std::vector<th::ScopedJoinHandle<int>> hs;
    for (int t = 0; t < threads; ++t) {
      hs.push_back(s.spawn([&tx, t] {  // the same Sender object, by reference
        int sent = 0;
        for (int i = 0; i < per_thread && tx.send(t * 1000 + i).is_ok(); ++i) {
          ++sent;
        }
        return sent;
      }));
    }
    for (int i = 0; i < threads * per_thread; ++i) {
      auto r = rx.recv_timeout(wait_limit);
      if (r.is_err()) {
        break;
      }
      got.push_back(*r);
    }
    int sum = 0;
    for (auto& h : hs) {
      sum += h.join().unwrap_or(-1);
    }
    return sum;
  });
  REQUIRE(ok_sends == threads * per_thread);
  REQUIRE(got.size() == static_cast<std::size_t>(threads * per_thread));
  std::vector<int> next(threads, 0);
  for (int v : got) {
    const auto t = static_cast<std::size_t>(v / 1000);
    REQUIRE(v % 1000 == next[t]);
    ++next[t];
  }
  REQUIRE(rx.try_recv().is_err());
}

TEMPLATE_TEST_CASE("recv blocks until a message is sent", "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("recv blocks");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<bool> received{false};
  th::scope([&](th::Scope& s) {
    auto consumer = s.spawn([&received, rx = std::move(rx)]() mutable {
      auto r = rx.recv();
      received = true;
      return r.is_ok() ? *r : -1;
    });
    th::sleep(20ms);
    // Nothing was sent, so nothing can have been received.
    REQUIRE_FALSE(received.load());
    REQUIRE(tx.send(5).is_ok());
    REQUIRE(consumer.join().unwrap() == 5);
    REQUIRE(received.load());
  });
}

// --- disconnection ---------------------------------------------------------------

TEMPLATE_TEST_CASE("once every sender is gone the receiver drains what was sent, then is disconnected",
                   "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("drain then disconnect");
  SECTION("the senders go on another thread") {
    auto tx_rx = TestType::template make<int>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto producer = th::spawn([tx = std::move(tx)]() mutable {
      bool ok = true;
      for (int i = 0; i < 3; ++i) {
        ok = tx.send(i).is_ok() && ok;
      }
      return ok;  // tx goes with the thread
    });
    for (int i = 0; i < 3; ++i) {
      auto r = rx.recv();
      REQUIRE(r.is_ok());
      REQUIRE(*r == i);
    }
    REQUIRE(rx.recv().is_err());
    REQUIRE(rx.recv().is_err());  // and stays so
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
    REQUIRE(rx.recv_timeout(1h).error() == mpsc::RecvTimeoutError::Disconnected);
    REQUIRE(rx.recv_deadline(Clock::now() + 1h).error() == mpsc::RecvTimeoutError::Disconnected);
    REQUIRE(producer.join().unwrap());
  }
  SECTION("messages sent before the last sender went are still received") {
    if constexpr (buffered<TestType>) {
      auto tx_rx = TestType::template make<int>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      auto tx2 = tx;
      const int n = static_cast<int>(sendable_alone<TestType>(4));
      for (int i = 0; i < n; ++i) {
        REQUIRE((i % 2 == 0 ? tx : tx2).send(i).is_ok());
      }
      drop(std::move(tx));
      drop(std::move(tx2));
      for (int i = 0; i < n; ++i) {
        if (i % 2 == 0) {
          auto r = rx.try_recv();
          REQUIRE(r.is_ok());
          REQUIRE(*r == i);
        } else {
          auto r = rx.recv();
          REQUIRE(r.is_ok());
          REQUIRE(*r == i);
        }
      }
      REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
      REQUIRE(rx.recv().is_err());
    } else {
      // Nothing is held without a receiver: with the senders gone there is
      // nothing to drain.
      auto tx_rx = TestType::template make<int>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      drop(std::move(tx));
      REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
      REQUIRE(rx.recv().is_err());
    }
  }
}

TEMPLATE_TEST_CASE("a receiver blocked waiting wakes up disconnected when the last sender goes", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("blocked receiver disconnected");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto tx2 = tx;
  SECTION("recv") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable { return rx.recv().is_err(); });
    th::sleep(10ms);
    drop(std::move(tx));
    th::sleep(5ms);
    drop(std::move(tx2));
    REQUIRE(consumer.join().unwrap());
  }
  SECTION("recv_timeout") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      auto r = rx.recv_timeout(std::chrono::hours(24));
      return r.is_err() && r.error() == mpsc::RecvTimeoutError::Disconnected;
    });
    th::sleep(10ms);
    drop(std::move(tx2));
    drop(std::move(tx));
    REQUIRE(consumer.join().unwrap());
  }
  SECTION("range-for") {
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      int n = 0;
      for (int v : rx) {
        n += v;
      }
      return n;
    });
    REQUIRE(tx.send(40).is_ok());
    REQUIRE(tx2.send(2).is_ok());
    th::sleep(10ms);
    drop(std::move(tx2));
    drop(std::move(tx));
    REQUIRE(consumer.join().unwrap() == 42);
  }
}

TEMPLATE_TEST_CASE("send fails with the value handed back once the receiver is gone", "[mpsc][flavours]", Unbounded,
                   Bounded, Rendezvous) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto tx2 = tx;
  drop(std::move(rx));

  auto r = tx.send(42);
  REQUIRE(r.is_err());
  REQUIRE(r.error().value == 42);
  REQUIRE(std::move(r).unwrap_err().into_inner() == 42);
  // Again, and from a copy: a send on a disconnected channel keeps failing.
  REQUIRE(tx.send(43).error().value == 43);
  REQUIRE(tx2.send(44).error().value == 44);
  if constexpr (has_try_send<TestType>) {
    auto t = tx.try_send(45);
    REQUIRE(t.is_err());
    REQUIRE(t.error().kind() == mpsc::TrySendError<int>::Disconnected);
    REQUIRE(t.error().is_disconnected());
    REQUIRE_FALSE(t.error().is_full());
    REQUIRE(std::move(t).unwrap_err().into_inner() == 45);
  }
}

// --- timeouts and deadlines ---------------------------------------------------------

TEMPLATE_TEST_CASE("recv_timeout times out while senders remain, receives what comes in time, and sees disconnection",
                   "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("recv_timeout");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;

  const auto start = Clock::now();
  auto r = rx.recv_timeout(20ms);
  REQUIRE(r.is_err());
  REQUIRE(r.error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(since(start) >= 20ms);

  auto producer = th::spawn([tx = tx]() mutable {
    th::sleep(10ms);
    return tx.send(7).is_ok();
  });
  auto got = rx.recv_timeout(wait_limit);
  REQUIRE(got.is_ok());
  REQUIRE(*got == 7);
  REQUIRE(producer.join().unwrap());

  // A timeout of zero still looks: it times out on an empty channel.
  REQUIRE(rx.recv_timeout(0ms).error() == mpsc::RecvTimeoutError::Timeout);

  drop(std::move(tx));
  REQUIRE(rx.recv_timeout(wait_limit).error() == mpsc::RecvTimeoutError::Disconnected);
}

TEMPLATE_TEST_CASE("recv_deadline times out at its deadline and receives what comes before it", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("recv_deadline");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;

  REQUIRE(rx.recv_deadline(Clock::now() - 1s).error() == mpsc::RecvTimeoutError::Timeout);

  const auto deadline = Clock::now() + 20ms;
  REQUIRE(rx.recv_deadline(deadline).error() == mpsc::RecvTimeoutError::Timeout);
  REQUIRE(Clock::now() >= deadline);

  auto producer = th::spawn([tx = tx]() mutable {
    th::sleep(10ms);
    return tx.send(8).is_ok();
  });
  auto got = rx.recv_deadline(Clock::now() + wait_limit);
  REQUIRE(got.is_ok());
  REQUIRE(*got == 8);
  REQUIRE(producer.join().unwrap());

  if constexpr (buffered<TestType>) {
    // A message already there is taken even when the deadline has passed.
    REQUIRE(tx.send(9).is_ok());
    auto late = rx.recv_deadline(Clock::now() - 1h);
    REQUIRE(late.is_ok());
    REQUIRE(*late == 9);
  }

  drop(std::move(tx));
  REQUIRE(rx.recv_deadline(Clock::now() + wait_limit).error() == mpsc::RecvTimeoutError::Disconnected);
}

TEMPLATE_TEST_CASE("timeouts and deadlines of any length wait without overflowing", "[mpsc][flavours]", Unbounded,
                   Bounded, Rendezvous) {
  Watchdog dog("extreme timeouts");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;

  // Each wait is far longer than the test: the message sent after a moment
  // must end it. A deadline that overflowed into the past would time out.
  auto receive_while_sent_later = [&](auto&& wait, int value) {
    auto producer = th::spawn([tx = tx, value]() mutable {
      th::sleep(10ms);
      return tx.send(value).is_ok();
    });
    auto r = wait();
    const bool sent = producer.join().unwrap_or(false);
    return sent && r.is_ok() && *r == value;
  };
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(std::chrono::nanoseconds::max()); }, 1));
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(std::chrono::seconds::max()); }, 2));
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(std::chrono::hours::max()); }, 3));
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(std::chrono::duration<double>::max()); }, 4));
  CHECK(receive_while_sent_later(
      [&] { return rx.recv_timeout(std::chrono::duration<unsigned long long, std::milli>::max()); }, 5));
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(std::chrono::duration<long double, std::ratio<86400>>::max()); }, 6));
  CHECK(receive_while_sent_later([&] { return rx.recv_deadline(Clock::time_point::max()); }, 7));
  CHECK(receive_while_sent_later([&] { return rx.recv_timeout(Clock::duration::max() - 1ns); }, 8));

  // The most negative timeouts and the earliest deadline have passed.
  CHECK(rx.recv_timeout(std::chrono::nanoseconds::min()).error() == mpsc::RecvTimeoutError::Timeout);
  CHECK(rx.recv_timeout(std::chrono::hours::min()).error() == mpsc::RecvTimeoutError::Timeout);
  CHECK(rx.recv_timeout(std::chrono::duration<double>(-1.0)).error() == mpsc::RecvTimeoutError::Timeout);
  CHECK(rx.recv_timeout(-1s).error() == mpsc::RecvTimeoutError::Timeout);
  CHECK(rx.recv_deadline(Clock::time_point::min()).error() == mpsc::RecvTimeoutError::Timeout);

  // An endless wait still ends when the senders go.
  auto consumer = th::spawn([rx = std::move(rx)]() mutable {
    auto r = rx.recv_timeout(std::chrono::seconds::max());
    return r.is_err() && r.error() == mpsc::RecvTimeoutError::Disconnected;
  });
  th::sleep(10ms);
  drop(std::move(tx));
  REQUIRE(consumer.join().unwrap());
}

// --- non-blocking receives and the iterators -----------------------------------------

TEMPLATE_TEST_CASE("try_recv is Empty while senders remain and Disconnected once they are gone", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("try_recv");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  // A message sent (on another thread: a rendezvous send waits for its
  // receive) is eventually there for try_recv.
  auto producer = th::spawn([tx = tx]() mutable { return tx.send(11).is_ok(); });
  std::optional<int> got;
  REQUIRE(eventually([&] {
    auto r = rx.try_recv();
    if (r.is_ok()) {
      got = *r;
    }
    return got.has_value();
  }));
  REQUIRE(*got == 11);
  REQUIRE(producer.join().unwrap());
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  if constexpr (buffered<TestType>) {
    REQUIRE(tx.send(12).is_ok());
    auto r = rx.try_recv();
    REQUIRE(r.is_ok());
    REQUIRE(*r == 12);
    REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  }

  drop(std::move(tx));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("range-for and iter() block for each message and end on disconnection", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("iteration");
  std::vector<int> expected(50);
  std::iota(expected.begin(), expected.end(), 0);
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < 50; ++i) {
      if (i % 10 == 0) {
        th::sleep(1ms);  // make the receiver wait now and then
      }
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::vector<int> got;
  SECTION("range-for") {
    for (int v : rx) {
      got.push_back(v);
    }
  }
  SECTION("iter()") {
    for (int v : rx.iter()) {
      got.push_back(v);
    }
  }
  SECTION("iterators by hand") {
    auto range = rx.iter();
    for (auto it = range.begin(); it != range.end(); ++it) {
      got.push_back(*it);
    }
  }
  REQUIRE(got == expected);
  REQUIRE(producer.join().unwrap());
  // Iterating a disconnected, drained channel ends at once.
  int more = 0;
  for (int v : rx) {
    more += 1 + v;
  }
  REQUIRE(more == 0);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("breaking out of a range-for leaves the rest in the channel", "[mpsc][flavours]", Unbounded,
                   Bounded, Rendezvous) {
  Watchdog dog("iteration break");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    int sent = 0;
    for (int i = 0; i < 6 && tx.send(i).is_ok(); ++i) {
      ++sent;
    }
    return sent;
  });
  std::vector<int> first;
  for (int v : rx) {
    first.push_back(v);
    if (v == 2) {
      break;
    }
  }
  std::vector<int> rest;
  for (int v : rx.iter()) {
    rest.push_back(v);
  }
  REQUIRE(first == std::vector<int>{0, 1, 2});
  REQUIRE(rest == std::vector<int>{3, 4, 5});
  REQUIRE(producer.join().unwrap() == 6);
}

TEMPLATE_TEST_CASE("try_iter yields only what is ready and never blocks", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  Watchdog dog("try_iter");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  int none = 0;
  for (int v : rx.try_iter()) {
    none += 1 + v;
  }
  REQUIRE(none == 0);  // nothing ready, the senders alive: ends at once

  auto producer = th::spawn([tx = tx]() mutable {
    for (int i = 0; i < 10; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::vector<int> got;
  REQUIRE(eventually([&] {
    for (int v : rx.try_iter()) {
      got.push_back(v);
    }
    return got.size() >= 10;
  }));
  REQUIRE(producer.join().unwrap());
  std::vector<int> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  REQUIRE(got == expected);

  for (int v : rx.try_iter()) {  // the main thread's sender is alive: nothing, at once
    got.push_back(v);
  }
  REQUIRE(got.size() == 10);

  if constexpr (buffered<TestType>) {
    REQUIRE(tx.send(100).is_ok());
    REQUIRE(tx.send(101).is_ok());
    std::vector<int> ready;
    for (int v : rx.try_iter()) {
      ready.push_back(v);
    }
    REQUIRE(ready == std::vector<int>{100, 101});
  }
  drop(std::move(tx));
  for (int v : rx.try_iter()) {
    got.push_back(v);
  }
  REQUIRE(got.size() == 10);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

// --- senders --------------------------------------------------------------------

TEMPLATE_TEST_CASE("copied senders keep the channel open until the last one goes", "[mpsc][flavours]", Unbounded,
                   Bounded, Rendezvous) {
  Watchdog dog("copied senders");
  using Tx = TxOf<TestType, int>;
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  Tx copy = tx;      // copy construction
  Tx assigned = tx;  // and copy assignment over a live sender of the same channel
  assigned = copy;
  drop(std::move(tx));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  auto first = th::spawn([copy = std::move(copy)]() mutable { return copy.send(1).is_ok(); });
  auto r1 = rx.recv_timeout(wait_limit);
  REQUIRE(r1.is_ok());
  REQUIRE(*r1 == 1);
  REQUIRE(first.join().unwrap());
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);  // `assigned` remains

  // Move assignment hands the sender on without a new count.
  auto other_tx_other_rx = TestType::template make<int>();
  auto& other_tx = other_tx_other_rx.first;
  auto& other_rx = other_tx_other_rx.second;
  Tx moved_to = std::move(other_tx);
  moved_to = std::move(assigned);  // drops the other channel's only sender
  REQUIRE(other_rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  auto second = th::spawn([tx = std::move(moved_to)]() mutable { return tx.send(2).is_ok(); });
  auto r2 = rx.recv_timeout(wait_limit);
  REQUIRE(r2.is_ok());
  REQUIRE(*r2 == 2);
  REQUIRE(second.join().unwrap());
  REQUIRE(rx.recv_timeout(wait_limit).error() == mpsc::RecvTimeoutError::Disconnected);
}

// --- message types ----------------------------------------------------------------

TEMPLATE_TEST_CASE("move-only messages are moved through", "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("move-only");
  auto tx_rx = TestType::template make<std::unique_ptr<int>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = tx]() mutable {
    for (int i = 0; i < 20; ++i) {
      if (tx.send(std::make_unique<int>(i)).is_err()) {
        return false;
      }
    }
    return true;
  });
  for (int i = 0; i < 10; ++i) {
    auto r = rx.recv();
    REQUIRE(r.is_ok());
    std::unique_ptr<int> p = std::move(r).unwrap();
    REQUIRE(p != nullptr);
    REQUIRE(*p == i);
  }
  int next = 10;
  for (auto&& p : rx.iter()) {
    REQUIRE(p != nullptr);
    REQUIRE(*p == next);
    std::unique_ptr<int> mine = std::move(p);
    if (++next == 20) {
      break;
    }
  }
  REQUIRE(producer.join().unwrap());

  drop(std::move(rx));
  auto p = std::make_unique<int>(99);
  int* const raw = p.get();
  auto r = tx.send(std::move(p));
  REQUIRE(r.is_err());
  std::unique_ptr<int> back = std::move(r).unwrap_err().into_inner();
  REQUIRE(back.get() == raw);  // the very object comes back
  REQUIRE(*back == 99);
}

TEMPLATE_TEST_CASE("messages without a default constructor work", "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  static_assert(!std::is_default_constructible_v<NoDefault>);
  Watchdog dog("no default constructor");
  auto tx_rx = TestType::template make<NoDefault>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 1; i <= 5; ++i) {
      if (tx.send(NoDefault(i * 11)).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::vector<int> got;
  for (NoDefault m : rx) {
    got.push_back(m.value);
  }
  REQUIRE(got == std::vector<int>{11, 22, 33, 44, 55});
  REQUIRE(producer.join().unwrap());
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("large messages arrive intact", "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("large messages");
  constexpr int n = 64;
  auto tx_rx = TestType::template make<Page>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < n; ++i) {
      if (tx.send(page(i)).is_err()) {
        return false;
      }
    }
    return true;
  });
  int intact = 0;
  int i = 0;
  for (const Page& p : rx) {
    intact += p == page(i) ? 1 : 0;
    ++i;
  }
  REQUIRE(i == n);
  REQUIRE(intact == n);
  REQUIRE(producer.join().unwrap());
}

TEMPLATE_TEST_CASE("empty message types work", "[mpsc][flavours]", Unbounded, Bounded, Rendezvous) {
  Watchdog dog("empty messages");
  auto tx_rx = TestType::template make<Empty>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    int sent = 0;
    for (int i = 0; i < 100 && tx.send(Empty{}).is_ok(); ++i) {
      ++sent;
    }
    return sent;
  });
  int n = 0;
  for ([[maybe_unused]] Empty e : rx) {
    ++n;
  }
  REQUIRE(n == 100);
  REQUIRE(producer.join().unwrap() == 100);
}

TEMPLATE_TEST_CASE("what a sender wrote before a send is visible to the thread that receives it", "[mpsc][flavours]",
                   Unbounded, Bounded, Rendezvous) {
  // Plain, non-atomic memory written before each send and read after the
  // receive: a missing happens-before shows up as a wrong value here, or as
  // a data race under ThreadSanitizer.
  Watchdog dog("memory ordering");
  constexpr int n = 300;
  std::vector<Record> records(n);
  auto tx_rx = TestType::template make<std::pair<int, std::unique_ptr<Record>>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx), &records]() mutable {
    for (int i = 0; i < n; ++i) {
      records[static_cast<std::size_t>(i)].data.fill(i);
      records[static_cast<std::size_t>(i)].text = std::to_string(i);
      auto fresh = std::make_unique<Record>();
      fresh->data.fill(-i);
      fresh->text = "fresh " + std::to_string(i);
      if (tx.send({i, std::move(fresh)}).is_err()) {
        return false;
      }
    }
    return true;
  });
  int wrong = 0;
  int i = 0;
  for (auto&& [index, fresh] : rx) {
    const Record& shared = records[static_cast<std::size_t>(index)];
    wrong += index == i ? 0 : 1;
    wrong += shared.data.front() == index && shared.data.back() == index && shared.text == std::to_string(index) ? 0 : 1;
    wrong += fresh && fresh->data[7] == -index && fresh->text == "fresh " + std::to_string(index) ? 0 : 1;
    ++i;
  }
  REQUIRE(producer.join().unwrap());
  REQUIRE(i == n);
  REQUIRE(wrong == 0);
}

namespace {

// A message whose move constructor throws when told to.
struct Fragile {
  Fragile(int v, bool explode_on_move) : payload(v), explode(explode_on_move) {}
  Fragile(Fragile&& other) : payload(std::move(other.payload)), explode(other.explode) {
    if (explode) {
      throw std::runtime_error("Fragile broke while moving");
    }
  }
  Fragile& operator=(Fragile&&) = delete;
  Counted payload;
  bool explode;
};

}  // namespace

TEMPLATE_TEST_CASE("a message whose move throws inside send is not delivered, and the channel stays usable",
                   "[mpsc][flavours][lifetime]", Unbounded, Bounded, Rendezvous) {
  static_assert(!std::is_nothrow_move_constructible_v<Fragile>);
  Watchdog dog("throwing move");
  LifetimeCheck check;
  std::vector<int> got;
  {
    auto tx_rx = TestType::template make<Fragile>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    // A receiver on its own thread, so that a rendezvous send has someone to
    // hand to (the move into the receiver's slot is where it throws).
    auto consumer = th::spawn([rx = std::move(rx)]() mutable {
      std::vector<int> values;
      for (const Fragile& f : rx) {
        values.push_back(f.payload.value());
      }
      return values;
    });
    int threw = 0;
    int failed = 0;
    // Alternate: many throws, so that they fall on every slot position,
    // block and lap boundaries included.
    for (int i = 0; i < 400; ++i) {
      try {
        failed += tx.send(Fragile(-i, true)).is_err() ? 1 : 0;
      } catch (const std::runtime_error&) {
        ++threw;
      }
      failed += tx.send(Fragile(i, false)).is_ok() ? 0 : 1;
    }
    REQUIRE(threw == 400);
    REQUIRE(failed == 0);
    drop(std::move(tx));
    got = consumer.join().unwrap();
  }
  std::vector<int> expected(400);
  std::iota(expected.begin(), expected.end(), 0);
  REQUIRE(got == expected);  // every good message, in order, and none of the broken ones
  REQUIRE(check.balanced());
}

// --- lifetimes ----------------------------------------------------------------

TEMPLATE_TEST_CASE("every message is destroyed exactly once in normal use", "[mpsc][flavours][lifetime]", Unbounded,
                   Bounded, Rendezvous) {
  Watchdog dog("lifetimes");
  LifetimeCheck check;
  {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    auto producer = th::spawn([tx = std::move(tx)]() mutable {
      int sent = 0;
      for (int i = 0; i < 200 && tx.send(Counted(i)).is_ok(); ++i) {
        ++sent;
      }
      return sent;
    });
    int wrong = 0;
    for (int i = 0; i < 100; ++i) {
      auto r = rx.recv();
      REQUIRE(r.is_ok());
      wrong += r->value() != i ? 1 : 0;
    }
    int i = 100;
    for (const Counted& c : rx) {
      wrong += c.value() != i++ ? 1 : 0;
    }
    REQUIRE(wrong == 0);
    REQUIRE(i == 200);
    REQUIRE(producer.join().unwrap() == 200);
    // Received messages leave nothing behind in the channel.
    REQUIRE(check.live() == 0);
  }
  REQUIRE(check.balanced());
  REQUIRE(check.destroyed() >= 200);
}

TEMPLATE_TEST_CASE("messages still in the channel are destroyed when the receiver goes", "[mpsc][flavours][lifetime]",
                   Unbounded, Bounded, Rendezvous) {
  Watchdog dog("buffered messages destroyed");
  LifetimeCheck check;
  SECTION("buffered messages go synchronously with the receiver") {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    // Unbounded: enough to span several blocks; bounded: a full buffer;
    // rendezvous: nothing can be buffered.
    const auto n = static_cast<long>(sendable_alone<TestType>(1000));
    for (long i = 0; i < n; ++i) {
      REQUIRE(tx.send(Counted(static_cast<int>(i))).is_ok());
    }
    REQUIRE(check.live() == n);
    if (n > 0) {
      auto first = rx.try_recv();
      REQUIRE(first.is_ok());
      REQUIRE(first->value() == 0);
    }
    REQUIRE(check.live() == (n > 0 ? n - 1 : 0));
    drop(std::move(rx));
    // At once, on this thread, while a sender still holds the channel.
    REQUIRE(check.live() == 0);
    REQUIRE(check.errors() == 0);

    auto r = tx.send(Counted(77));
    REQUIRE(r.is_err());
    REQUIRE(check.live() == 1);  // only the message handed back
    REQUIRE(r.error().value.value() == 77);
  }
  SECTION("a sender blocked when the receiver goes gets its message back") {
    if constexpr (TestType::capacity != Unbounded::capacity) {
      auto tx_rx = TestType::template make<Counted>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      for (std::size_t i = 0; i < TestType::capacity; ++i) {
        REQUIRE(tx.send(Counted(static_cast<int>(i))).is_ok());
      }
      auto blocked = th::spawn([tx = tx]() mutable {
        auto r = tx.send(Counted(500));
        return r.is_err() ? r.error().value.value() : -2;
      });
      th::sleep(10ms);  // most likely blocked by now; either way it must fail
      drop(std::move(rx));
      REQUIRE(blocked.join().unwrap() == 500);
      REQUIRE(check.live() == 0);
    } else {
      // Unbounded senders never block: a send just fails once the receiver is gone.
      auto tx_rx = TestType::template make<Counted>();
      auto& tx = tx_rx.first;
      auto& rx = tx_rx.second;
      drop(std::move(rx));
      auto r = tx.send(Counted(500));
      REQUIRE(r.is_err());
      REQUIRE(r.error().value.value() == 500);
    }
  }
  SECTION("the receiver goes on another thread while messages are buffered") {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    const auto n = static_cast<int>(sendable_alone<TestType>(300));
    for (int i = 0; i < n; ++i) {
      REQUIRE(tx.send(Counted(i)).is_ok());
    }
    auto dropper = th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); });
    REQUIRE(dropper.join().is_ok());
    REQUIRE(check.live() == 0);
    REQUIRE(tx.send(Counted(1)).is_err());
  }
}

TEMPLATE_TEST_CASE("a failed send destroys nothing and hands back the very message", "[mpsc][flavours][lifetime]",
                   Unbounded, Bounded, Rendezvous) {
  LifetimeCheck check;
  {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    drop(std::move(rx));
    auto r = tx.send(Counted(7));
    REQUIRE(r.is_err());
    REQUIRE(check.live() == 1);
    REQUIRE(check.errors() == 0);
    Counted back = std::move(r).unwrap_err().into_inner();
    REQUIRE(back.value() == 7);
    if constexpr (has_try_send<TestType>) {
      auto t = tx.try_send(Counted(8));
      REQUIRE(t.is_err());
      REQUIRE(t.error().is_disconnected());
      REQUIRE(t.error().value.value() == 8);
    }
  }
  if constexpr (has_try_send<TestType>) {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    // (rx stays alive in the pair)
    for (std::size_t i = 0; i < TestType::capacity; ++i) {
      REQUIRE(tx.try_send(Counted(static_cast<int>(i))).is_ok());
    }
    const long before = check.live();
    auto t = tx.try_send(Counted(9));
    REQUIRE(t.is_err());
    REQUIRE(t.error().is_full());
    REQUIRE(check.live() == before + 1);
    REQUIRE(std::move(t).unwrap_err().into_inner().value() == 9);
  }
  REQUIRE(check.balanced());
}

// --- moved-from handles ---------------------------------------------------------

TEMPLATE_TEST_CASE("operations on moved-from handles throw std::logic_error", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  Watchdog dog("moved-from handles");
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;

  auto tx2 = std::move(tx);
  REQUIRE_THROWS_AS(tx.send(1), std::logic_error);
  if constexpr (has_try_send<TestType>) {
    REQUIRE_THROWS_AS(tx.try_send(1), std::logic_error);
  }
  auto copy_of_nothing = tx;  // copying a moved-from sender gives another one
  REQUIRE_THROWS_AS(copy_of_nothing.send(1), std::logic_error);
  drop(std::move(tx));  // and destroying them disconnects nothing
  drop(std::move(copy_of_nothing));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  auto rx2 = std::move(rx);
  REQUIRE_THROWS_AS(rx.recv(), std::logic_error);
  REQUIRE_THROWS_AS(rx.try_recv(), std::logic_error);
  REQUIRE_THROWS_AS(rx.recv_timeout(1ms), std::logic_error);
  REQUIRE_THROWS_AS(rx.recv_deadline(Clock::now()), std::logic_error);
  REQUIRE_THROWS_AS(rx.begin(), std::logic_error);
  REQUIRE_THROWS_AS(rx.iter().begin(), std::logic_error);
  REQUIRE_THROWS_AS(rx.try_iter().begin(), std::logic_error);
  try {
    (void)rx.recv();
    FAIL("recv on a moved-from receiver returned");
  } catch (const std::logic_error& e) {
    REQUIRE(std::string(e.what()).find("moved-from") != std::string::npos);
  }

  // The handles moved to work.
  auto producer = th::spawn([tx = tx2]() mutable { return tx.send(3).is_ok(); });
  auto r = rx2.recv_timeout(wait_limit);
  REQUIRE(r.is_ok());
  REQUIRE(*r == 3);
  REQUIRE(producer.join().unwrap());

  // A moved-from receiver can be given a live one again.
  rx = std::move(rx2);
  REQUIRE_THROWS_AS(rx2.try_recv(), std::logic_error);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  drop(std::move(tx2));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("assigning over a receiver drops the channel it had", "[mpsc][flavours]", Unbounded, Bounded,
                   Rendezvous) {
  LifetimeCheck check;
  auto tx1_rx1 = TestType::template make<Counted>();
  auto& tx1 = tx1_rx1.first;
  auto& rx1 = tx1_rx1.second;
  auto tx2_rx2 = TestType::template make<Counted>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  const auto n = static_cast<int>(sendable_alone<TestType>(3));
  for (int i = 0; i < n; ++i) {
    REQUIRE(tx1.send(Counted(i)).is_ok());
  }
  REQUIRE(check.live() == n);
  rx1 = std::move(rx2);  // the first channel loses its receiver
  REQUIRE(check.live() == 0);
  REQUIRE(tx1.send(Counted(5)).is_err());
  REQUIRE(rx1.try_recv().error() == mpsc::TryRecvError::Empty);  // now the second channel's
  drop(std::move(tx2));
  REQUIRE(rx1.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

// --- errors ------------------------------------------------------------------

TEMPLATE_TEST_CASE("errors print as Rust's do", "[mpsc][flavours][errors]", Unbounded, Bounded, Rendezvous) {
  auto tx_rx = TestType::template make<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto empty = rx.try_recv();
  REQUIRE(printed(empty.error()) == "receiving on an empty channel");
  auto timeout = rx.recv_timeout(1ms);
  REQUIRE(printed(timeout.error()) == "timed out waiting on channel");

  if constexpr (has_try_send<TestType>) {
    for (std::size_t i = 0; i < TestType::capacity; ++i) {
      REQUIRE(tx.try_send(static_cast<int>(i)).is_ok());
    }
    auto full = tx.try_send(1);
    REQUIRE(full.is_err());
    REQUIRE(std::string(full.error().what()) == "sending on a full channel");
    REQUIRE(printed(full.error()) == "sending on a full channel");
  }

  auto tx_copy = tx;
  drop(std::move(tx));
  drop(std::move(tx_copy));
  if constexpr (has_try_send<TestType>) {
    for (std::size_t i = 0; i < TestType::capacity; ++i) {
      REQUIRE(rx.try_recv().is_ok());  // drain what the full check left
    }
  }
  auto closed = rx.recv();
  REQUIRE(closed.is_err());
  REQUIRE(std::string(closed.error().what()) == "receiving on a closed channel");
  REQUIRE(printed(closed.error()) == "receiving on a closed channel");
  REQUIRE(printed(rx.try_recv().error()) == "receiving on a closed channel");
  REQUIRE(printed(rx.recv_timeout(1ms).error()) == "channel is empty and sending half is closed");

  // unwrap() of a failed receive names the error.
  try {
    (void)rx.recv().unwrap();
    FAIL("unwrap of a failed recv returned");
  } catch (const spindle::BadResultAccess& e) {
    REQUIRE(std::string(e.what()).find("receiving on a closed channel") != std::string::npos);
  }

  auto tx2_rx2 = TestType::template make<int>();
  auto& tx2 = tx2_rx2.first;
  auto& rx2 = tx2_rx2.second;
  drop(std::move(rx2));
  auto send_failed = tx2.send(3);
  REQUIRE(send_failed.is_err());
  REQUIRE(std::string(send_failed.error().what()) == "sending on a closed channel");
  REQUIRE(printed(send_failed.error()) == "sending on a closed channel");
  if constexpr (has_try_send<TestType>) {
    auto try_failed = tx2.try_send(4);
    REQUIRE(std::string(try_failed.error().what()) == "sending on a closed channel");
    REQUIRE(printed(try_failed.error()) == "sending on a closed channel");
  }
  try {
    tx2.send(5).unwrap();
    FAIL("unwrap of a failed send returned");
  } catch (const spindle::BadResultAccess& e) {
    REQUIRE(std::string(e.what()).find("sending on a closed channel") != std::string::npos);
  }
}
