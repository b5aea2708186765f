// SPDX-License-Identifier: MIT
// Stress: two threads running many sessions one after another (handed over
// by delegation), a long loop with a three-way choice, many connect() calls,
// and sessions abandoned at arbitrary points. Counts are sized for a few
// seconds on two cores (a fifth of them under ThreadSanitizer); a Watchdog
// fails any test that hangs. Nothing here is timed.

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <variant>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/session.hpp>
#include <spindle/thread.hpp>

namespace ss = spindle::session;
namespace th = spindle::thread;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::Watchdog;
using spindle::test::session_support::RecordViolations;
using spindle::test::session_support::scaled;
using ss::Chan;
using ss::Choose;
using ss::Dual;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::Send;
using ss::Var;
using ss::Z;

namespace {

// One session of work: the client streams numbers, then asks for the sum.
using StreamSumServer = Rec<Offer<Recv<std::uint64_t, Var<Z>>, Send<std::uint64_t, Eps>>>;
// The server thread receives one StreamSumServer endpoint per session.
using Accept = Rec<Offer<Recv<Chan<StreamSumServer>, Var<Z>>, Eps>>;

void serve_stream_sum(Chan<StreamSumServer> end) {
  auto c = std::move(end).enter();
  std::uint64_t sum = 0;
  for (;;) {
    auto offered = std::move(c).offer();
    if (offered.index() == 1) {
      std::get<1>(std::move(offered)).send(sum).close();
      return;
    }
    auto got = std::get<0>(std::move(offered)).recv();
    sum += got.second;
    c = std::move(got.first).zero();
  }
}

// Serves every session handed to it; returns how many.
int serve_all(Chan<Accept> accept) {
  int served = 0;
  auto c = std::move(accept).enter();
  for (;;) {
    auto offered = std::move(c).offer();
    if (offered.index() == 1) {
      std::get<1>(std::move(offered)).close();
      return served;
    }
    auto got = std::get<0>(std::move(offered)).recv();
    serve_stream_sum(std::move(got.second));
    ++served;
    c = std::move(got.first).zero();
  }
}

}  // namespace

TEST_CASE("stress: thousands of sessions in sequence between two threads", "[session][stress]") {
  Watchdog dog("sessions in sequence");
  RecordViolations violations;
  const int sessions = scaled(3'000);
  auto accept = ss::session_channel<Accept>();
  auto server = th::spawn(serve_all, std::move(accept.first));

  auto acceptor = std::move(accept.second).enter();
  int wrong = 0;
  int done = 0;
  const spindle::test::Budget budget;
  for (int s = 0; s < sessions && budget.more(s); ++s, ++done) {
    auto session = ss::session_channel<StreamSumServer>();
    acceptor = std::move(acceptor).sel1().send(std::move(session.first)).zero();
    auto c = std::move(session.second).enter();
    const int n = s % 37;  // including sessions with no numbers at all
    std::uint64_t expected = 0;
    for (int i = 0; i < n; ++i) {
      const auto x = static_cast<std::uint64_t>(s) * 1000 + static_cast<std::uint64_t>(i);
      c = std::move(c).sel1().send(x).zero();
      expected += x;
    }
    auto total = std::move(c).sel2().recv();
    std::move(total.first).close();
    wrong += total.second == expected ? 0 : 1;
  }
  std::move(acceptor).sel2().close();
  REQUIRE(server.join().unwrap() == done);
  REQUIRE(wrong == 0);
  REQUIRE(violations.count() == 0);
}

namespace {

// Three branches each round: a number and its echo, a string from the
// peer, or the end.
using Long = Rec<Choose<Send<std::uint64_t, Recv<std::uint64_t, Var<Z>>>, Recv<std::string, Var<Z>>, Eps>>;

struct PeerCount {
  int numbers = 0;
  int strings = 0;
};

PeerCount long_peer(Chan<Dual<Long>> end) {
  PeerCount seen;
  auto c = std::move(end).enter();
  for (;;) {
    auto offered = std::move(c).offer();
    switch (offered.index()) {
      case 0: {
        auto got = std::get<0>(std::move(offered)).recv();
        ++seen.numbers;
        c = std::move(got.first).send(got.second + 1).zero();
        break;
      }
      case 1:
        ++seen.strings;
        c = std::get<1>(std::move(offered)).send(std::to_string(seen.strings)).zero();
        break;
      default:
        std::get<2>(std::move(offered)).close();
        return seen;
    }
  }
}

}  // namespace

TEST_CASE("stress: a long loop with a three-way choice each round", "[session][stress]") {
  Watchdog dog("long loop");
  RecordViolations violations;
  const int rounds = scaled(100'000);
  auto ends = ss::session_channel<Long>();
  auto peer = th::spawn(long_peer, std::move(ends.second));

  std::mt19937 rng(12345);
  int numbers = 0;
  int strings = 0;
  int wrong = 0;
  auto c = std::move(ends.first).enter();
  const spindle::test::Budget budget;
  for (int r = 0; r < rounds && budget.more(r); ++r) {
    if (rng() % 4 != 0) {
      const std::uint64_t x = rng();
      auto got = std::move(c).sel1().send(x).recv();
      wrong += got.second == x + 1 ? 0 : 1;
      ++numbers;
      c = std::move(got.first).zero();
    } else {
      auto got = std::move(c).sel2().recv();
      ++strings;
      wrong += got.second == std::to_string(strings) ? 0 : 1;
      c = std::move(got.first).zero();
    }
  }
  std::move(c).select<2>().close();
  const PeerCount seen = peer.join().unwrap();
  REQUIRE(wrong == 0);
  REQUIRE(seen.numbers == numbers);
  REQUIRE(seen.strings == strings);
  REQUIRE(violations.count() == 0);
}

TEST_CASE("stress: connect() many times in a row", "[session][stress][connect]") {
  Watchdog dog("connect in a loop");
  RecordViolations violations;
  using Ask = Recv<int, Send<int, Eps>>;
  const int times = scaled(500);
  int wrong = 0;
  const spindle::test::Budget budget;
  for (int i = 0; i < times && budget.more(i); ++i) {
    int answer = 0;
    ss::connect(
        [](Chan<Ask> end) {
          auto got = std::move(end).recv();
          std::move(got.first).send(got.second * 3).close();
        },
        [i, &answer](Chan<Dual<Ask>> end) {
          auto got = std::move(end).send(i).recv();
          std::move(got.first).close();
          answer = got.second;
        });
    wrong += answer == 3 * i ? 0 : 1;
  }
  REQUIRE(wrong == 0);
  REQUIRE(violations.count() == 0);
}

namespace {

// Counted messages both ways, so that abandoned sessions show any message
// leaked or destroyed twice.
using Feed = Rec<Choose<Send<Counted, Recv<Counted, Var<Z>>>, Eps>>;

struct FeedOutcome {
  int finished = 0;      // sessions the client ended properly
  int disconnected = 0;  // sessions where the server saw Disconnected
};

// The server side of `sessions` Feed sessions, received one by one.
using FeedAccept = Rec<Offer<Recv<Chan<Dual<Feed>>, Var<Z>>, Eps>>;

FeedOutcome serve_feeds(Chan<FeedAccept> accept) {
  FeedOutcome outcome;
  auto a = std::move(accept).enter();
  for (;;) {
    auto next = std::move(a).offer();
    if (next.index() == 1) {
      std::get<1>(std::move(next)).close();
      return outcome;
    }
    auto got = std::get<0>(std::move(next)).recv();
    a = std::move(got.first).zero();
    auto c = std::move(got.second).enter();
    try {
      for (;;) {
        auto offered = std::move(c).offer();
        if (offered.index() == 1) {
          std::get<1>(std::move(offered)).close();
          ++outcome.finished;
          break;
        }
        auto value = std::get<0>(std::move(offered)).recv();
        c = std::move(value.first).send(Counted(value.second.value() + 1)).zero();
      }
    } catch (const ss::Disconnected&) {
      ++outcome.disconnected;  // `c` is spent: no violation from this side
    }
  }
}

}  // namespace

TEST_CASE("stress: sessions abandoned at arbitrary points disconnect the peer, never hang or leak",
          "[session][stress][disconnect]") {
  Watchdog dog("abandoned sessions");
  RecordViolations violations;
  LifetimeCheck lifetimes;
  const int sessions = scaled(1'000);
  std::mt19937 rng(777);
  int abandoned = 0;
  int wrong = 0;

  auto accept = ss::session_channel<FeedAccept>();
  auto server = th::spawn(serve_feeds, std::move(accept.first));
  auto acceptor = std::move(accept.second).enter();
  int done = 0;
  const spindle::test::Budget budget;
  for (int s = 0; s < sessions && budget.more(s); ++s, ++done) {
    auto session = ss::session_channel<Feed>();
    acceptor = std::move(acceptor).sel1().send(std::move(session.second)).zero();
    const int rounds = static_cast<int>(rng() % 8);
    const bool abandon = rng() % 2 == 0;
    auto c = std::move(session.first).enter();
    for (int r = 0; r < rounds; ++r) {
      auto got = std::move(c).sel1().send(Counted(r)).recv();
      wrong += got.second.value() == r + 1 ? 0 : 1;
      c = std::move(got.first).zero();
    }
    if (abandon) {
      // Dies live, sometimes with its last message unanswered in flight.
      if (rng() % 2 == 0) {
        auto half = std::move(c).sel1().send(Counted(-1));
      } else {
        auto dropped = std::move(c);
      }
      ++abandoned;
    } else {
      std::move(c).sel2().close();
    }
  }
  std::move(acceptor).sel2().close();
  const FeedOutcome outcome = server.join().unwrap();
  REQUIRE(wrong == 0);
  REQUIRE(outcome.disconnected == abandoned);
  REQUIRE(outcome.finished == done - abandoned);
  REQUIRE(violations.count() == abandoned);
}
