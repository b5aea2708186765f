// SPDX-License-Identifier: MIT
// The transport allocates nothing per message: a session's two buffers are
// allocated when it is made, and then thousands of round trips (each with a
// choice) allocate nothing, on one thread and on two.
//
// Its own test binary, linked with support/counting_heap.cpp, which
// replaces the global operator new and delete to count every allocation in
// the process.

#include <atomic>
#include <cstdint>
#include <utility>
#include <variant>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/counting_heap.hpp"

#include <spindle/session.hpp>
#include <spindle/thread.hpp>

// --- the tests ----------------------------------------------------------------------

namespace ss = spindle::session;
namespace th = spindle::thread;
using spindle::test::heap_now;
using spindle::test::HeapCount;
using spindle::test::Watchdog;
using spindle::test::session_support::spin_until;
using ss::Chan;
using ss::Choose;
using ss::Dual;
using ss::Eps;
using ss::Rec;
using ss::Recv;
using ss::Send;
using ss::Var;
using ss::Z;

namespace {

// Each round: a choice, a number out, a number back.
using Ping = Rec<Choose<Send<std::uint64_t, Recv<std::uint64_t, Var<Z>>>, Eps>>;
using Pong = Dual<Ping>;

constexpr int warm_up_rounds = 100;
constexpr int counted_rounds = 10'000;

}  // namespace

TEST_CASE("heap: the counting operator new sees allocations", "[session][heap]") {
  // A check of the check: without it, a broken counter would pass every
  // test below. The allocation functions are called directly: an optimizer
  // may drop the allocation of a new-expression whose object nothing uses
  // (and g++ -O2 does, with the counting operators in another unit).
  const HeapCount before = heap_now();
  void* p = ::operator new(sizeof(int));
  const HeapCount during = heap_now();
  ::operator delete(p);
  const HeapCount after = heap_now();
  REQUIRE(during.allocations == before.allocations + 1);
  REQUIRE(during.live == before.live + 1);
  REQUIRE(after.live == before.live);
}

TEST_CASE("heap: a session allocates when made, frees everything when both ends are done", "[session][heap]") {
  const HeapCount before = heap_now();
  {
    auto ends = ss::session_channel<Send<std::uint64_t, Eps>>();
    const HeapCount made = heap_now();
    REQUIRE(made.allocations > before.allocations);
    std::move(ends.first).send(std::uint64_t{1}).close();
    auto got = std::move(ends.second).recv();
    std::move(got.first).close();
  }
  const HeapCount after = heap_now();
  REQUIRE(after.live == before.live);
}

TEST_CASE("heap: round trips with a choice allocate nothing (one thread)", "[session][heap]") {
  // Both ends on this thread: each round fits in the buffers.
  auto ends = ss::session_channel<Ping>();
  auto ping = std::move(ends.first).enter();
  auto pong = std::move(ends.second).enter();
  long wrong = 0;
  auto round = [&](std::uint64_t i) {
    auto sent = std::move(ping).sel1().send(i);
    auto offered = std::move(pong).offer();
    auto got = std::get<0>(std::move(offered)).recv();
    pong = std::move(got.first).send(got.second * 2).zero();
    auto back = std::move(sent).recv();
    wrong += back.second == i * 2 ? 0 : 1;
    ping = std::move(back.first).zero();
  };
  for (int i = 0; i < warm_up_rounds; ++i) {
    round(static_cast<std::uint64_t>(i));
  }

  const HeapCount start = heap_now();
  for (int i = 0; i < counted_rounds; ++i) {
    round(static_cast<std::uint64_t>(i));
  }
  const HeapCount end = heap_now();

  std::move(ping).sel2().close();
  auto last = std::move(pong).offer();
  REQUIRE(last.index() == 1);
  std::get<1>(std::move(last)).close();
  REQUIRE(wrong == 0);
  REQUIRE(end.allocations - start.allocations == 0);
}

TEST_CASE("heap: round trips with a choice allocate nothing (two threads)", "[session][heap]") {
  Watchdog dog("heap ping-pong");  // its thread and its string exist before the count starts

  // The barriers: the main thread waits for the peer to arrive at `ready`
  // after its warm-up, opens the window, and the peer ends its counted part
  // before `done`. Plain atomics and a yield loop: nothing allocates.
  std::atomic<bool> ready{false};
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};

  // The session and the peer thread are made first: all their allocations
  // (the buffers, the thread, its handle) happen before the window.
  auto ends = ss::session_channel<Ping>();
  auto peer = th::spawn(
      [&](Chan<Pong> end) {
        std::uint64_t answered = 0;
        auto c = std::move(end).enter();
        for (;;) {
          if (answered == warm_up_rounds) {
            ready = true;
            if (!spin_until([&go] { return go.load(); })) {
              break;  // the main thread gave up: it closes nothing, so neither do we
            }
          }
          auto offered = std::move(c).offer();
          if (offered.index() == 1) {
            std::get<1>(std::move(offered)).close();
            break;
          }
          auto got = std::get<0>(std::move(offered)).recv();
          c = std::move(got.first).send(got.second + 1).zero();
          ++answered;
          if (answered == warm_up_rounds + counted_rounds) {
            done = true;
          }
        }
        return answered;
      },
      std::move(ends.second));

  long wrong = 0;
  auto c = std::move(ends.first).enter();
  auto round = [&](std::uint64_t i) {
    auto back = std::move(c).sel1().send(i).recv();
    wrong += back.second == i + 1 ? 0 : 1;
    c = std::move(back.first).zero();
  };
  for (int i = 0; i < warm_up_rounds; ++i) {
    round(static_cast<std::uint64_t>(i));
  }
  // Barrier 1: the peer has answered the warm-up and waits; neither thread
  // allocates from here on.
  const bool peer_ready = spin_until([&ready] { return ready.load(); });
  const HeapCount start = heap_now();
  go = true;
  for (int i = 0; i < counted_rounds; ++i) {
    round(static_cast<std::uint64_t>(i));
  }
  // Barrier 2: the peer has sent its last counted answer (we received it),
  // and says so.
  const bool peer_done = spin_until([&done] { return done.load(); });
  const HeapCount end = heap_now();

  std::move(c).sel2().close();
  const std::uint64_t answered = peer.join().unwrap();
  REQUIRE(peer_ready);
  REQUIRE(peer_done);
  REQUIRE(wrong == 0);
  REQUIRE(answered == static_cast<std::uint64_t>(warm_up_rounds + counted_rounds));
  REQUIRE(end.allocations - start.allocations == 0);
}
