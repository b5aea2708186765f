// SPDX-License-Identifier: MIT
// Iterating a receiver: range-for, iter(), try_iter() and std::ranges. The
// iterators are lazy: a message is received when an iterator is compared
// with the end or dereferenced, never when it is advanced, so a loop or an
// algorithm receives exactly the messages it uses and loses none (Rust's
// `rx.iter().take(4)` neither loses the fifth message nor waits for it).
// `*it` is an rvalue, so `for (T v : rx)` works for move-only T.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

// Clang 14 (Debian 12's) cannot compile libstdc++ 12's views at all
// (std::views::take fails inside view_interface); views are used where the
// compiler has C++20's concepts in full (GCC; Clang from 16). The by-hand
// loops below make the same calls in the same order and run everywhere.
#if __cpp_concepts >= 202002L || defined(_LIBCPP_VERSION)
#include <ranges>
#define SPINDLE_TEST_HAS_VIEWS 1
#else
#define SPINDLE_TEST_HAS_VIEWS 0
#endif

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using spindle::test::buffered;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::SetOnExit;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

namespace {

// A bounded channel with room for every message these tests send at once,
// so that what is ready when an iterator looks does not depend on timing.
struct Bounded8 {
  static constexpr std::size_t capacity = 8;
  template <class T>
  static auto make() {
    return mpsc::sync_channel<T>(capacity);
  }
};

// The iterator concepts, for a move-only and a copyable message type.
using MoveOnlyRx = mpsc::Receiver<std::unique_ptr<int>>;
static_assert(std::input_iterator<MoveOnlyRx::Iterator>);
static_assert(std::input_iterator<mpsc::Receiver<std::string>::Iterator>);
static_assert(std::is_same_v<std::iter_reference_t<MoveOnlyRx::Iterator>, std::unique_ptr<int>&&>);
static_assert(std::is_same_v<std::iter_value_t<MoveOnlyRx::Iterator>, std::unique_ptr<int>>);
static_assert(std::sentinel_for<std::default_sentinel_t, MoveOnlyRx::Iterator>);
static_assert(std::ranges::input_range<MoveOnlyRx>);
static_assert(std::ranges::input_range<MoveOnlyRx::Iter>);
static_assert(std::ranges::input_range<MoveOnlyRx::TryIter>);
static_assert(std::ranges::view<MoveOnlyRx::Iter>);
static_assert(std::ranges::view<MoveOnlyRx::TryIter>);
static_assert(!std::ranges::view<MoveOnlyRx>);  // `rx | adaptor` refers to the receiver

// A message type that can be moved into place but not assigned: all a
// channel asks of T, and enough for an iterator.
struct Unassignable {
  explicit Unassignable(int v) : value(v) {}
  Unassignable(Unassignable&&) = default;
  Unassignable& operator=(Unassignable&&) = delete;
  int value;
};
static_assert(std::input_iterator<mpsc::Receiver<Unassignable>::Iterator>);
static_assert(std::ranges::input_range<mpsc::Receiver<Unassignable>>);

std::vector<int> iota(int from, int to) {
  std::vector<int> v(static_cast<std::size_t>(to - from));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// At most n messages of `range`, with the calls std::views::take makes on a
// range that does not know its size: the count is tested before the end, so
// the n-th message is the last one looked at.
template <class Range>
std::vector<int> take_by_hand(Range&& range, std::size_t n) {
  std::vector<int> got;
  auto it = range.begin();
  for (std::size_t left = n; left != 0 && it != range.end(); ++it, --left) {
    got.push_back(*it);
  }
  return got;
}

// A thread that sends `values` in order, counting them in `sent`, then keeps
// its sender (and so the channel) alive until `release` is set. Returns true
// when every send succeeded and the release came in time; false tells the
// test that it kept the channel open too long (a consumer stuck waiting for
// more), after which it let the channel go, so that the stuck consumer ends.
template <class Tx>
th::JoinHandle<bool> send_then_hold(Tx tx, std::vector<int> values, std::atomic<bool>& release,
                                    std::atomic<std::size_t>& sent) {
  return th::spawn([tx = std::move(tx), values = std::move(values), &release, &sent]() mutable {
    for (int v : values) {
      if (tx.send(v).is_err()) {
        return false;
      }
      sent.fetch_add(1);
    }
    return eventually([&] { return release.load(); });
  });
}

// For the buffered flavours, waits until all `n` messages are sent (into the
// buffer), so that an iterator finds them ready; a rendezvous send
// completes only when received, so there it returns at once.
template <class F>
bool wait_until_buffered(const std::atomic<std::size_t>& sent, std::size_t n) {
  if constexpr (buffered<F>) {
    return eventually([&] { return sent.load() >= n; });
  } else {
    return true;
  }
}

}  // namespace

// --- the two reported scenarios ---------------------------------------------------

TEMPLATE_TEST_CASE("take(4) on a receiver takes four and leaves the fifth in the channel", "[mpsc][iter]", Unbounded,
                   Bounded8, Rendezvous) {
  Watchdog dog("take(4) then more", 3 * wait_limit);
  auto [tx, rx] = TestType::template make<int>();
  std::atomic<bool> release{false};
  std::atomic<std::size_t> sent{0};
  auto producer = send_then_hold(std::move(tx), iota(0, 6), release, sent);
  const SetOnExit released(release);
  REQUIRE(wait_until_buffered<TestType>(sent, 6));
  std::vector<int> first;
#if SPINDLE_TEST_HAS_VIEWS
  SECTION("rx | std::views::take(4)") {
    for (int v : rx | std::views::take(4)) {
      first.push_back(v);
    }
  }
  SECTION("rx.iter() | std::views::take(4)") {
    for (int v : rx.iter() | std::views::take(4)) {
      first.push_back(v);
    }
  }
#endif
  SECTION("by hand") { first = take_by_hand(rx, 4); }
  REQUIRE(first == iota(0, 4));
  auto fifth = rx.recv_timeout(wait_limit);
  REQUIRE(fifth.is_ok());
  REQUIRE(*fifth == 4);
  auto sixth = rx.recv_timeout(wait_limit);
  REQUIRE(sixth.is_ok());
  REQUIRE(*sixth == 5);
  release.store(true);
  REQUIRE(producer.join().unwrap());
}

TEMPLATE_TEST_CASE("try_iter() | take(4) then try_iter() again loses nothing", "[mpsc][iter]", Unbounded, Bounded8,
                   Rendezvous) {
  Watchdog dog("try_iter take(4) then more", 3 * wait_limit);
  auto [tx, rx] = TestType::template make<int>();
  std::atomic<bool> release{false};
  std::atomic<std::size_t> sent{0};
  auto producer = send_then_hold(std::move(tx), iota(0, 6), release, sent);
  const SetOnExit released(release);
  REQUIRE(wait_until_buffered<TestType>(sent, 6));
  // On a rendezvous channel a message is ready only while its send waits:
  // look again until four came.
  std::vector<int> got;
  auto take_ready = [&rx = rx, &got](std::size_t n) {
#if SPINDLE_TEST_HAS_VIEWS
    for (int v : rx.try_iter() | std::views::take(n)) {
      got.push_back(v);
    }
#else
    for (int v : take_by_hand(rx.try_iter(), n)) {
      got.push_back(v);
    }
#endif
  };
  REQUIRE(eventually([&] {
    take_ready(4 - got.size());
    return got.size() == 4;
  }));
  REQUIRE(got == iota(0, 4));
  auto collect_until = [&rx = rx, &got](std::size_t n) {
    return eventually([&] {
      for (int v : rx.try_iter()) {
        got.push_back(v);
      }
      return got.size() >= n;
    });
  };
  REQUIRE(collect_until(5));
  REQUIRE(got[4] == 4);  // the fifth comes next: it was not lost
  REQUIRE(collect_until(6));
  REQUIRE(got == iota(0, 6));
  release.store(true);
  REQUIRE(producer.join().unwrap());
}

TEMPLATE_TEST_CASE("take(4) with exactly four sent and the sender alive ends without waiting for a fifth",
                   "[mpsc][iter]", Unbounded, Bounded8, Rendezvous) {
  Watchdog dog("take(4) of exactly four", 3 * wait_limit);
  auto [tx, rx] = TestType::template make<int>();
  std::atomic<bool> release{false};
  std::atomic<std::size_t> sent{0};
  auto producer = send_then_hold(std::move(tx), iota(0, 4), release, sent);
  std::vector<int> got;
  {
    // Released as soon as the loop ends. A loop that waits for a fifth
    // message ends only when the producer gives up on it and drops the
    // sender, and the producer then reports that it had to.
    const SetOnExit released(release);
#if SPINDLE_TEST_HAS_VIEWS
    SECTION("rx | std::views::take(4)") {
      for (int v : rx | std::views::take(4)) {
        got.push_back(v);
      }
    }
    SECTION("rx.iter() | std::views::take(4) | std::views::filter") {
      for (int v : rx.iter() | std::views::take(4) | std::views::filter([](int v) { return v % 2 == 0; })) {
        got.push_back(v);
        got.push_back(v + 1);
      }
    }
    SECTION("std::ranges::for_each over std::views::take(4)") {
      std::ranges::for_each(rx | std::views::take(4), [&](int v) { got.push_back(v); });
    }
#endif
    SECTION("by hand") { got = take_by_hand(rx, 4); }
  }
  REQUIRE(producer.join().unwrap());  // released in time: the loop did not wait for more
  REQUIRE(got == iota(0, 4));
}

// --- laziness ---------------------------------------------------------------------

TEMPLATE_TEST_CASE("begin() and ++ receive nothing, comparing with the end or * does", "[mpsc][iter]", Unbounded,
                   Bounded8) {
  Watchdog dog("lazy iterator");
  auto [tx, rx] = TestType::template make<int>();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(tx.send(i).is_ok());
  }
  auto it = rx.begin();
  REQUIRE(rx.try_recv().unwrap() == 0);  // begin() took nothing
  REQUIRE(it != rx.end());               // receives 1 and holds it
  REQUIRE(*it == 1);
  REQUIRE(*it == 1);  // the same message, still held
  auto moved = std::move(it);
  REQUIRE(*moved == 1);     // the message moved with the iterator
  REQUIRE(it == rx.end());  // NOLINT(bugprone-use-after-move): a moved-from iterator is at the end
  it = std::move(moved);
  REQUIRE(*it == 1);
  ++it;  // destroys it, receives nothing
  REQUIRE(rx.try_recv().unwrap() == 2);
  ++it;  // past the next message without looking: the next receive skips it
  REQUIRE(*it == 4);
  ++it;
  REQUIRE(rx.try_recv().unwrap() == 5);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);

  {
    [[maybe_unused]] auto waiting = rx.begin();  // nothing sent, the sender alive: does not wait
    [[maybe_unused]] auto ready = rx.try_iter().begin();
  }
  REQUIRE(tx.send(7).is_ok());
  {
    [[maybe_unused]] auto unused = rx.begin();  // an iterator never looked at takes nothing
  }
  REQUIRE(rx.try_recv().unwrap() == 7);
}

TEMPLATE_TEST_CASE("an iterator at the end stays there, and misuse there throws", "[mpsc][iter]", Unbounded, Bounded8,
                   Rendezvous) {
  Watchdog dog("iterator at the end");
  auto [tx, rx] = TestType::template make<int>();
  auto ready = rx.try_iter();
  auto it = ready.begin();
  REQUIRE(it == ready.end());  // nothing ready
  REQUIRE_THROWS_AS(*it, std::logic_error);
  REQUIRE_THROWS_AS(++it, std::logic_error);
  if constexpr (buffered<TestType>) {
    REQUIRE(tx.send(1).is_ok());
    REQUIRE(it == ready.end());  // still at the end: a new iterator sees the message
    auto again = ready.begin();
    REQUIRE(again != ready.end());
    REQUIRE(*again == 1);
  }
  drop(std::move(tx));
  auto done = rx.begin();
  REQUIRE(done == rx.end());  // disconnected and drained
  REQUIRE_THROWS_AS(*done, std::logic_error);
  mpsc::Receiver<int>::Iterator none;  // default-constructed: at the end
  REQUIRE(none == std::default_sentinel);
  REQUIRE(mpsc::Receiver<int>::Iter().begin() == std::default_sentinel);
  REQUIRE(mpsc::Receiver<int>::TryIter().begin() == std::default_sentinel);
}

// --- message types ------------------------------------------------------------------

TEMPLATE_TEST_CASE("range-for works for move-only and copyable messages, by value and by reference", "[mpsc][iter]",
                   Unbounded, Bounded8, Rendezvous) {
  Watchdog dog("range-for binding forms");
  LifetimeCheck check;
  {
    auto [tx, rx] = TestType::template make<std::unique_ptr<Counted>>();
    auto [stx, srx] = TestType::template make<std::string>();
    // One producer per channel: each loop below takes from one channel only.
    auto producer = th::spawn([tx = std::move(tx)]() mutable {
      for (int i = 0; i < 4; ++i) {
        if (tx.send(std::make_unique<Counted>(i)).is_err()) {
          return false;
        }
      }
      return true;
    });
    auto words_producer = th::spawn([stx = std::move(stx)]() mutable {
      for (int i = 0; i < 4; ++i) {
        if (stx.send(std::to_string(i)).is_err()) {
          return false;
        }
      }
      return true;
    });
    // Four loops of one message each, so each binding form gets a message.
    std::vector<int> got;
    std::vector<std::string> words;
    for (std::unique_ptr<Counted> p : rx) {  // moved out of the channel
      got.push_back(p->value());
      break;
    }
    for (auto p : rx) {
      static_assert(std::is_same_v<decltype(p), std::unique_ptr<Counted>>);
      got.push_back(p->value());
      break;
    }
    for (auto&& p : rx) {  // refers to the message the iterator holds
      static_assert(std::is_same_v<decltype(p), std::unique_ptr<Counted>&&>);
      std::unique_ptr<Counted> mine = std::move(p);
      got.push_back(mine->value());
      break;
    }
    for (const std::unique_ptr<Counted>& p : rx.iter()) {
      got.push_back(p->value());
    }
    for (std::string s : srx) {
      words.push_back(s);
      break;
    }
    for (auto s : srx) {
      words.push_back(s);
      break;
    }
    for (auto&& s : srx) {
      words.push_back(s);
      break;
    }
    for (const std::string& s : srx.iter()) {
      words.push_back(s);
    }
    REQUIRE(producer.join().unwrap());
    REQUIRE(words_producer.join().unwrap());
    REQUIRE(got == iota(0, 4));
    REQUIRE(words == std::vector<std::string>{"0", "1", "2", "3"});
  }
  REQUIRE(check.balanced());  // every message destroyed exactly once
}

TEST_CASE("std::ranges algorithms and views accept the receiver's ranges", "[mpsc][iter]") {
  Watchdog dog("ranges");
  auto [tx, rx] = mpsc::channel<std::unique_ptr<int>>();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(tx.send(std::make_unique<int>(i)).is_ok());
  }
  std::vector<int> seen;
  std::ranges::for_each(rx.try_iter(), [&](const std::unique_ptr<int>& p) { seen.push_back(*p); });
  REQUIRE(seen == iota(0, 6));

  auto [itx, irx] = mpsc::channel<int>();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(itx.send(i).is_ok());
  }
  auto ready = irx.try_iter();
  auto it = std::ranges::find(ready, 3);  // receives up to 3 and holds it
  REQUIRE(it != std::default_sentinel);
  REQUIRE(*it == 3);
#if SPINDLE_TEST_HAS_VIEWS
  std::vector<int> even;
  for (int v : irx.try_iter() | std::views::filter([](int v) { return v % 2 == 0; })) {
    even.push_back(v);
  }
  REQUIRE(even == std::vector<int>{4});

  for (int i = 0; i < 6; ++i) {
    REQUIRE(tx.send(std::make_unique<int>(i)).is_ok());
  }
  std::vector<int> odd;
  auto is_odd = [](const std::unique_ptr<int>& p) { return *p % 2 == 1; };
  for (std::unique_ptr<int> p : rx.try_iter() | std::views::filter(is_odd)) {
    odd.push_back(*p);
  }
  REQUIRE(odd == std::vector<int>{1, 3, 5});

  std::vector<int> owned;
  REQUIRE(itx.send(9).is_ok());
  drop(std::move(itx));
  for (int v : std::move(irx) | std::views::take(5)) {  // a receiver moved into the view
    owned.push_back(v);
  }
  REQUIRE(owned == std::vector<int>{9});
#endif
}

// --- try_iter() and iter() ---------------------------------------------------------

TEMPLATE_TEST_CASE("try_iter() stops when nothing is ready and resumes with what came since", "[mpsc][iter]", Unbounded,
                   Bounded8, Rendezvous) {
  Watchdog dog("try_iter resumes");
  auto [tx, rx] = TestType::template make<int>();
  auto ready = rx.try_iter();
  int none = 0;
  for (int v : ready) {  // nothing sent, the sender alive: ends at once
    none += 1 + v;
  }
  REQUIRE(none == 0);
  std::vector<int> got;
  auto collect = [&] {
    for (int v : ready) {  // the same range, iterated again
      got.push_back(v);
    }
  };
  if constexpr (buffered<TestType>) {
    REQUIRE(tx.send(0).is_ok());
    REQUIRE(tx.send(1).is_ok());
    collect();
    REQUIRE(got == iota(0, 2));
    collect();
    REQUIRE(got == iota(0, 2));
    REQUIRE(tx.send(2).is_ok());
    REQUIRE(tx.send(3).is_ok());
    collect();
    REQUIRE(got == iota(0, 4));
  } else {
    // A rendezvous message is ready only while its send waits.
    auto producer = th::spawn([tx = tx]() mutable {
      for (int i = 0; i < 4; ++i) {
        if (tx.send(i).is_err()) {
          return false;
        }
      }
      return true;
    });
    REQUIRE(eventually([&] {
      collect();
      return got.size() >= 4;
    }));
    REQUIRE(producer.join().unwrap());
    REQUIRE(got == iota(0, 4));
  }
  drop(std::move(tx));
  collect();
  REQUIRE(got == iota(0, 4));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEMPLATE_TEST_CASE("iter() yields everything sent, then ends when the senders are gone", "[mpsc][iter]", Unbounded,
                   Bounded8, Rendezvous) {
  Watchdog dog("iter to disconnection");
  auto [tx, rx] = TestType::template make<int>();
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (int i = 0; i < 20; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
    }
    return true;  // the sender goes here: disconnected
  });
  std::vector<int> got;
  SECTION("for (int v : rx)") {
    for (int v : rx) {
      got.push_back(v);
    }
  }
  SECTION("for (int v : rx.iter())") {
    for (int v : rx.iter()) {
      got.push_back(v);
    }
  }
  SECTION("by hand, taking more than there is") { got = take_by_hand(rx, 100); }
  REQUIRE(producer.join().unwrap());
  REQUIRE(got == iota(0, 20));
  REQUIRE(rx.begin() == rx.end());  // disconnected and drained: ends at once
  REQUIRE(rx.try_iter().begin() == std::default_sentinel);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}
