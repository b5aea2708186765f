// SPDX-License-Identifier: MIT
// The conveniences on top of the steps: offer(f0, f1, ...), which calls the
// handler of the branch the peer picked; the timed steps recv_timeout,
// recv_deadline, offer_timeout and offer_deadline, which give the same
// endpoint back, live, when nothing came in time; and ChanAt<Root, Here>,
// which names the endpoint type at a point inside a protocol.
//
// Timing: no test asserts how fast anything happens. A step that times out
// is checked to have waited at least its timeout; everything that must
// arrive is waited for with step_limit, and the Watchdogs catch a hang.
// Worker threads never use Catch2 assertions: they return what they saw.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/result.hpp>
#include <spindle/session.hpp>
#include <spindle/thread.hpp>

namespace ss = spindle::session;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::Watchdog;
using spindle::test::session_support::contains;
using spindle::test::session_support::eventually;
using spindle::test::session_support::MoveOnly;
using spindle::test::session_support::RecordViolations;
using spindle::test::session_support::spin_until;
using spindle::test::session_support::step_limit;
using ss::Chan;
using ss::ChanAt;
using ss::Choose;
using ss::Dual;
using ss::Env;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::S;
using ss::Send;
using ss::Var;
using ss::Z;
using Clock = std::chrono::steady_clock;

namespace {

/// An exception with a payload, to check that what is caught is what was thrown.
struct Boom : std::runtime_error {
  explicit Boom(int c) : std::runtime_error("boom"), code(c) {}
  int code;
};

/// A key-value server's loop: a key in, its value out, again; or the end.
using Menu = Offer<Recv<int, Send<int, Var<Z>>>, Eps>;
using KvServer = Rec<Menu>;
using KvClient = Dual<KvServer>;

/// A timed-out step's lower bound, with a little room for a clock that
/// rounds: the step may not return much before its timeout.
constexpr auto at_least_50ms = 48ms;

}  // namespace

// =====================================================================================
// offer(f0, f1, ...)
// =====================================================================================

TEST_CASE("offer handlers: the picked branch's handler gets its endpoint and offer returns its result",
          "[session][offer]") {
  RecordViolations violations;  // a failed check unwinds into a report, not an abort
  using P = Offer<Recv<int, Send<int, Eps>>, Recv<std::string, Eps>>;
  using Branch0 = Chan<Recv<int, Send<int, Eps>>, Env<P>>;
  using Branch1 = Chan<Recv<std::string, Eps>, Env<P>>;
  auto ends = ss::session_channel<P>();
  int calls0 = 0;
  int calls1 = 0;
  // Rvalue-reference parameters: these compile only if the handler is
  // given an rvalue of exactly its branch's endpoint type.
  auto on_number = [&calls0](Branch0&& c) {
    ++calls0;
    auto got = std::move(c).recv();
    std::move(got.first).send(got.second + 1).close();  // the handler goes on with the protocol
    return got.second;
  };
  auto on_text = [&calls1](Branch1&& c) {
    ++calls1;
    auto got = std::move(c).recv();
    std::move(got.first).close();
    return static_cast<int>(got.second.size());
  };

  SECTION("the first branch") {
    auto client = std::move(ends.second).sel1().send(20);
    const int result = std::move(ends.first).offer(on_number, on_text);
    REQUIRE(result == 20);
    REQUIRE(calls0 == 1);
    REQUIRE(calls1 == 0);
    auto back = std::move(client).recv();
    REQUIRE(back.second == 21);
    std::move(back.first).close();
  }
  SECTION("the second branch") {
    std::move(ends.second).sel2().send(std::string("twelve chars")).close();
    const int result = std::move(ends.first).offer(on_number, on_text);
    REQUIRE(result == 12);
    REQUIRE(calls0 == 0);
    REQUIRE(calls1 == 1);
  }
  SECTION("handlers taking their endpoint by value or as auto") {
    std::move(ends.second).sel2().send(std::string("abc")).close();
    auto result = std::move(ends.first)
                      .offer(
                          [](Branch0 c) {
                            auto got = std::move(c).recv();
                            std::move(got.first).send(0).close();
                            return std::string("number");
                          },
                          [](auto c) {
                            static_assert(std::is_same_v<decltype(c), Branch1>);
                            auto got = std::move(c).recv();
                            std::move(got.first).close();
                            return "text: " + got.second;
                          });
    static_assert(std::is_same_v<decltype(result), std::string>);
    REQUIRE(result == "text: abc");
  }
  SECTION("the endpoint offer was called on is spent") {
    std::move(ends.second).sel2().send(std::string("x")).close();
    auto& c = ends.first;
    (void)std::move(c).offer(on_number, on_text);
    REQUIRE_FALSE(c.is_live());
    REQUIRE_THROWS_AS(std::move(c).offer(on_number, on_text), ss::ProtocolError);
    REQUIRE(calls1 == 1);
  }
  SECTION("the variant form still works") {
    std::move(ends.second).sel2().send(std::string("variant")).close();
    auto offered = std::move(ends.first).offer();
    static_assert(std::is_same_v<decltype(offered), std::variant<Branch0, Branch1>>);
    REQUIRE(offered.index() == 1);
    auto got = std::get<1>(std::move(offered)).recv();
    REQUIRE(got.second == "variant");
    std::move(got.first).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("offer handlers: void handlers and three branches", "[session][offer]") {
  RecordViolations violations;

  SECTION("void handlers: offer returns void") {
    using P = Offer<Eps, Recv<int, Eps>>;
    auto ends = ss::session_channel<P>();
    std::move(ends.second).sel2().send(5).close();
    int picked = -1;
    int value = 0;
    auto on_end = [&picked](Chan<Eps, Env<P>> c) {
      std::move(c).close();
      picked = 0;
    };
    auto on_value = [&picked, &value](Chan<Recv<int, Eps>, Env<P>> c) {
      auto got = std::move(c).recv();
      std::move(got.first).close();
      value = got.second;
      picked = 1;
    };
    static_assert(std::is_void_v<decltype(std::move(ends.first).offer(on_end, on_value))>);
    std::move(ends.first).offer(on_end, on_value);
    REQUIRE(picked == 1);
    REQUIRE(value == 5);
  }
  SECTION("three branches: each pick calls its own handler") {
    using P = Offer<Recv<int, Eps>, Recv<std::string, Eps>, Eps>;
    for (int pick = 0; pick < 3; ++pick) {
      auto ends = ss::session_channel<P>();
      auto& chooser = ends.second;
      if (pick == 0) {
        std::move(chooser).select<0>().send(7).close();
      } else if (pick == 1) {
        std::move(chooser).select<1>().send(std::string("seven")).close();
      } else {
        std::move(chooser).select<2>().close();
      }
      int calls = 0;
      const std::string said = std::move(ends.first)
                                   .offer(
                                       [&calls](auto c) {
                                         ++calls;
                                         auto got = std::move(c).recv();
                                         std::move(got.first).close();
                                         return "int " + std::to_string(got.second);
                                       },
                                       [&calls](auto c) {
                                         ++calls;
                                         auto got = std::move(c).recv();
                                         std::move(got.first).close();
                                         return "string " + got.second;
                                       },
                                       [&calls](auto c) {
                                         ++calls;
                                         std::move(c).close();
                                         return std::string("end");
                                       });
      INFO("pick " << pick);
      REQUIRE(calls == 1);
      REQUIRE(said == (pick == 0 ? "int 7" : pick == 1 ? "string seven" : "end"));
    }
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("offer handlers: move-only results", "[session][offer]") {
  RecordViolations violations;
  using P = Offer<Recv<int, Eps>, Eps>;

  SECTION("std::unique_ptr") {
    auto ends = ss::session_channel<P>();
    std::move(ends.second).sel1().send(31).close();
    std::unique_ptr<int> box = std::move(ends.first)
                                   .offer(
                                       [](auto c) {
                                         auto got = std::move(c).recv();
                                         std::move(got.first).close();
                                         return std::make_unique<int>(got.second);
                                       },
                                       [](auto c) {
                                         std::move(c).close();
                                         return std::unique_ptr<int>();
                                       });
    REQUIRE(box != nullptr);
    REQUIRE(*box == 31);
  }
  SECTION("a move-only type with no default constructor") {
    auto ends = ss::session_channel<P>();
    std::move(ends.second).sel2().close();
    MoveOnly value = std::move(ends.first)
                         .offer(
                             [](auto c) {
                               auto got = std::move(c).recv();
                               std::move(got.first).close();
                               return MoveOnly(got.second);
                             },
                             [](auto c) {
                               std::move(c).close();
                               return MoveOnly(-2);
                             });
    REQUIRE(value.value() == -2);
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("offer handlers: in a Rec loop the handlers hand back the loop's endpoint or say whether to go on",
          "[session][offer][rec]") {
  Watchdog dog("offer handlers in a loop");
  RecordViolations violations;

  SECTION("the handlers return std::optional of the loop's endpoint (three branches)") {
    using Body = Offer<Recv<int, Var<Z>>, Send<int, Var<Z>>, Eps>;
    using Acc = Rec<Body>;  // add a number, ask for the sum, or stop
    using Top = Chan<Body, Env<Acc, Body>>;
    auto ends = ss::session_channel<Acc>();
    auto server = th::spawn(
        [](Chan<Acc> end) {
          int sum = 0;
          int rounds = 0;
          std::optional<Top> top(std::move(end).enter());
          while (top) {
            ++rounds;
            top = std::move(*top).offer(
                [&sum](Chan<Recv<int, Var<Z>>, Env<Acc, Body>> c) -> std::optional<Top> {
                  auto got = std::move(c).recv();
                  sum += got.second;
                  return std::move(got.first).zero();
                },
                [&sum](Chan<Send<int, Var<Z>>, Env<Acc, Body>> c) -> std::optional<Top> {
                  return std::move(c).send(sum).zero();
                },
                [](Chan<Eps, Env<Acc, Body>> c) -> std::optional<Top> {
                  std::move(c).close();
                  return std::nullopt;
                });
          }
          return rounds;
        },
        std::move(ends.first));

    auto client = std::move(ends.second).enter();
    int sums_right = 0;
    for (int i = 1; i <= 10; ++i) {
      client = std::move(client).select<0>().send(i).zero();
      auto asked = std::move(client).select<1>().recv();
      sums_right += asked.second == i * (i + 1) / 2 ? 1 : 0;
      client = std::move(asked.first).zero();
    }
    std::move(client).select<2>().close();
    REQUIRE(server.join().unwrap() == 21);  // 20 requests and the end
    REQUIRE(sums_right == 10);
  }
  SECTION("the handlers step the loop's endpoint in place and return whether to go on") {
    auto ends = ss::session_channel<KvServer>();
    auto server = th::spawn(
        [](Chan<KvServer> end) {
          int served = 0;
          auto loop = std::move(end).enter();
          bool more = true;
          while (more) {
            // The handler assigns the endpoint that offer() was called on:
            // offer must not touch it once the handler has run.
            more = std::move(loop).offer(
                [&loop, &served](auto c) {
                  auto got = std::move(c).recv();
                  ++served;
                  loop = std::move(got.first).send(got.second * got.second).zero();
                  return true;
                },
                [](auto c) {
                  std::move(c).close();
                  return false;
                });
          }
          return served;
        },
        std::move(ends.first));

    auto client = std::move(ends.second).enter();
    int squares_right = 0;
    for (int i = 0; i < 10; ++i) {
      auto got = std::move(client).sel1().send(i).recv();
      squares_right += got.second == i * i ? 1 : 0;
      client = std::move(got.first).zero();
    }
    std::move(client).sel2().close();
    REQUIRE(server.join().unwrap() == 10);
    REQUIRE(squares_right == 10);
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("offer handlers: an exception from a handler propagates out of offer", "[session][offer][unwind]") {
  RecordViolations violations;
  using P = Offer<Recv<int, Eps>, Eps>;
  auto ends = ss::session_channel<P>();
  auto client = std::move(ends.second).sel1();  // Chan<Send<int, Eps>, ...>
  int other_calls = 0;
  int code = 0;

  SECTION("a handler taking its endpoint by value") {
    try {
      (void)std::move(ends.first)
          .offer([](auto c) -> int { throw Boom(c.is_live() ? 1 : -1); },
                 [&other_calls](auto c) -> int {
                   ++other_calls;
                   std::move(c).close();
                   return 0;
                 });
    } catch (const Boom& e) {
      code = e.code;
    }
  }
  SECTION("a handler taking its endpoint by rvalue reference") {
    try {
      std::move(ends.first)
          .offer([](Chan<Recv<int, Eps>, Env<P>>&& c) { throw Boom(c.is_live() ? 1 : -1); },
                 [&other_calls](Chan<Eps, Env<P>>&& c) {
                   ++other_calls;
                   std::move(c).close();
                 });
    } catch (const Boom& e) {
      code = e.code;
    }
  }
  REQUIRE(code == 1);  // it came out unchanged, thrown with a live endpoint in hand
  REQUIRE(other_calls == 0);
  REQUIRE_FALSE(ends.first.is_live());
  // The branch's endpoint went with the exception: no violation, and the
  // peer is disconnected.
  REQUIRE(violations.count() == 0);
  REQUIRE_THROWS_AS(std::move(client).send(1), ss::Disconnected);
}

TEST_CASE("offer handlers: a peer that is gone throws Disconnected and calls no handler",
          "[session][offer][disconnect]") {
  RecordViolations violations;
  auto ends = ss::session_channel<Offer<Eps, Eps>>();
  { auto dropped = std::move(ends.second); }
  REQUIRE(violations.count() == 1);
  int calls = 0;
  auto& c = ends.first;
  REQUIRE_THROWS_AS(std::move(c).offer(
                        [&calls](auto e) {
                          ++calls;
                          std::move(e).close();
                        },
                        [&calls](auto e) {
                          ++calls;
                          std::move(e).close();
                        }),
                    ss::Disconnected);
  REQUIRE(calls == 0);
  REQUIRE_FALSE(c.is_live());
  REQUIRE(violations.count() == 1);
}

// =====================================================================================
// Timed steps
// =====================================================================================

namespace {

// What the timed steps return.
using Asked = Recv<int, Send<int, Eps>>;
static_assert(std::is_same_v<decltype(std::declval<Chan<Asked>>().recv_timeout(1ms)),
                             spindle::Result<std::pair<Chan<Send<int, Eps>, Env<Asked>>, int>, Chan<Asked>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Asked>>().recv_timeout(std::chrono::seconds(1))),
                             spindle::Result<std::pair<Chan<Send<int, Eps>, Env<Asked>>, int>, Chan<Asked>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Asked>>().recv_deadline(Clock::now())),
                             spindle::Result<std::pair<Chan<Send<int, Eps>, Env<Asked>>, int>, Chan<Asked>>>);

using Three = Offer<Recv<int, Eps>, Eps, Send<std::string, Eps>>;
using ThreeBranches =
    std::variant<Chan<Recv<int, Eps>, Env<Three>>, Chan<Eps, Env<Three>>, Chan<Send<std::string, Eps>, Env<Three>>>;
static_assert(std::is_same_v<decltype(std::declval<Chan<Three>>().offer_timeout(1ms)),
                             spindle::Result<ThreeBranches, Chan<Three>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Three>>().offer_deadline(Clock::now())),
                             spindle::Result<ThreeBranches, Chan<Three>>>);

// Inside a loop, the endpoint given back keeps its environment.
using Ticks = Rec<Recv<std::string, Var<Z>>>;
using TickAt = Chan<Recv<std::string, Var<Z>>, Env<Ticks, Recv<std::string, Var<Z>>>>;
static_assert(std::is_same_v<
              decltype(std::declval<TickAt>().recv_timeout(1ms)),
              spindle::Result<std::pair<Chan<Var<Z>, Env<Ticks, Recv<std::string, Var<Z>>>>, std::string>, TickAt>>);
using KvTop = Chan<Menu, Env<KvServer, Menu>>;
static_assert(std::is_same_v<decltype(std::declval<KvTop>().offer_timeout(1ms)),
                             spindle::Result<std::variant<Chan<Recv<int, Send<int, Var<Z>>>, Env<KvServer, Menu>>,
                                                          Chan<Eps, Env<KvServer, Menu>>>,
                                             KvTop>>);

}  // namespace

TEST_CASE("timed steps: recv_timeout that times out gives the same endpoint back live and usable",
          "[session][timeout]") {
  Watchdog dog("recv_timeout");
  RecordViolations violations;
  LifetimeCheck lifetimes;
  using P = Recv<Counted, Send<int, Eps>>;
  auto ends = ss::session_channel<P>();

  const auto start = Clock::now();
  auto first = std::move(ends.first).recv_timeout(50ms);
  const auto waited = Clock::now() - start;
  REQUIRE(first.is_err());
  REQUIRE(waited >= at_least_50ms);
  REQUIRE_FALSE(ends.first.is_live());  // it moved into the Err
  auto again = std::move(first).unwrap_err();
  static_assert(std::is_same_v<decltype(again), Chan<P>>);
  REQUIRE(again.is_live());
  REQUIRE(lifetimes.live() == 0);

  SECTION("then recv") {
    auto peer = std::move(ends.second).send(Counted(5));
    auto got = std::move(again).recv();
    REQUIRE(got.second.value() == 5);
    std::move(got.first).send(6).close();
    auto back = std::move(peer).recv();
    REQUIRE(back.second == 6);
    std::move(back.first).close();
  }
  SECTION("then recv_timeout again, which gets the value") {
    auto peer = std::move(ends.second).send(Counted(7));
    auto second = std::move(again).recv_timeout(step_limit);
    REQUIRE(second.is_ok());
    auto [rest, value] = std::move(second).unwrap();
    REQUIRE(value.value() == 7);
    std::move(rest).send(8).close();
    auto back = std::move(peer).recv();
    REQUIRE(back.second == 8);
    std::move(back.first).close();
  }
  SECTION("several timeouts in a row, then recv_deadline") {
    for (int i = 0; i < 3; ++i) {
      auto r = std::move(again).recv_timeout(1ms);
      REQUIRE(r.is_err());
      again = std::move(r).unwrap_err();
      REQUIRE(again.is_live());
    }
    auto peer = std::move(ends.second).send(Counted(9));
    auto got = std::move(again).recv_deadline(Clock::now() + step_limit);
    REQUIRE(got.is_ok());
    auto [rest, value] = std::move(got).unwrap();
    REQUIRE(value.value() == 9);
    std::move(rest).send(10).close();
    auto back = std::move(peer).recv();
    std::move(back.first).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("timed steps: a zero or negative timeout or a past deadline returns at once", "[session][timeout]") {
  Watchdog dog("timed steps that do not wait");
  RecordViolations violations;

  SECTION("recv: Err when nothing is there") {
    auto ends = ss::session_channel<Asked>();
    auto c = std::move(ends.first);
    auto r0 = std::move(c).recv_timeout(0ms);
    REQUIRE(r0.is_err());
    c = std::move(r0).unwrap_err();
    auto r1 = std::move(c).recv_timeout(-5ms);
    REQUIRE(r1.is_err());
    c = std::move(r1).unwrap_err();
    auto r2 = std::move(c).recv_deadline(Clock::now() - 1s);
    REQUIRE(r2.is_err());
    c = std::move(r2).unwrap_err();
    auto r3 = std::move(c).recv_timeout(std::chrono::duration<double>(0.0));
    REQUIRE(r3.is_err());
    c = std::move(r3).unwrap_err();
    REQUIRE(c.is_live());
    // Then the session runs to its end.
    auto peer = std::move(ends.second).send(1);
    auto got = std::move(c).recv();
    std::move(got.first).send(2).close();
    auto back = std::move(peer).recv();
    REQUIRE(back.second == 2);
    std::move(back.first).close();
  }
  SECTION("recv: Ok when a message is waiting") {
    using P = Recv<int, Recv<int, Recv<int, Eps>>>;
    auto ends = ss::session_channel<P>();
    std::move(ends.second).send(1).send(2).send(3).close();
    auto r1 = std::move(ends.first).recv_timeout(0ms);
    REQUIRE(r1.is_ok());
    auto [c1, v1] = std::move(r1).unwrap();
    auto r2 = std::move(c1).recv_timeout(-1s);
    REQUIRE(r2.is_ok());
    auto [c2, v2] = std::move(r2).unwrap();
    auto r3 = std::move(c2).recv_deadline(Clock::now() - 1h);
    REQUIRE(r3.is_ok());
    auto [c3, v3] = std::move(r3).unwrap();
    REQUIRE(v1 == 1);
    REQUIRE(v2 == 2);
    REQUIRE(v3 == 3);
    std::move(c3).close();
  }
  SECTION("offer: Err when no choice is there, Ok when one is waiting") {
    auto ends = ss::session_channel<Three>();
    auto r0 = std::move(ends.first).offer_timeout(0ms);
    REQUIRE(r0.is_err());
    auto r1 = std::move(r0).unwrap_err().offer_timeout(-1ms);
    REQUIRE(r1.is_err());
    auto r2 = std::move(r1).unwrap_err().offer_deadline(Clock::now() - 1s);
    REQUIRE(r2.is_err());
    auto c = std::move(r2).unwrap_err();
    REQUIRE(c.is_live());

    auto peer = std::move(ends.second).select<2>();  // the choice is waiting now
    auto r3 = std::move(c).offer_timeout(0ms);
    REQUIRE(r3.is_ok());
    auto branches = std::move(r3).unwrap();
    REQUIRE(branches.index() == 2);
    std::get<2>(std::move(branches)).send(std::string("two")).close();
    auto got = std::move(peer).recv();
    REQUIRE(got.second == "two");
    std::move(got.first).close();
  }
  SECTION("offer_deadline in the past with a choice waiting") {
    auto ends = ss::session_channel<Three>();
    std::move(ends.second).select<1>().close();
    auto r = std::move(ends.first).offer_deadline(Clock::now() - 1s);
    REQUIRE(r.is_ok());
    auto branches = std::move(r).unwrap();
    REQUIRE(branches.index() == 1);
    std::get<1>(std::move(branches)).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("timed steps: a timed step that times out waited at least its timeout", "[session][timeout]") {
  Watchdog dog("timed steps wait");
  RecordViolations violations;

  SECTION("recv_deadline") {
    auto ends = ss::session_channel<Asked>();
    const auto deadline = Clock::now() + 50ms;
    auto r = std::move(ends.first).recv_deadline(deadline);
    REQUIRE(Clock::now() >= deadline);
    REQUIRE(r.is_err());
    auto peer = std::move(ends.second).send(1);
    auto got = std::move(r).unwrap_err().recv();
    std::move(got.first).send(2).close();
    auto back = std::move(peer).recv();
    std::move(back.first).close();
  }
  SECTION("offer_timeout") {
    auto ends = ss::session_channel<Three>();
    const auto start = Clock::now();
    auto r = std::move(ends.first).offer_timeout(50ms);
    const auto waited = Clock::now() - start;
    REQUIRE(r.is_err());
    REQUIRE(waited >= at_least_50ms);
    std::move(ends.second).select<1>().close();
    auto branches = std::move(r).unwrap_err().offer();
    REQUIRE(branches.index() == 1);
    std::get<1>(std::move(branches)).close();
  }
  SECTION("offer_deadline") {
    auto ends = ss::session_channel<Three>();
    const auto deadline = Clock::now() + 50ms;
    auto r = std::move(ends.first).offer_deadline(deadline);
    REQUIRE(Clock::now() >= deadline);
    REQUIRE(r.is_err());
    std::move(ends.second).select<1>().close();
    auto branches = std::move(r).unwrap_err().offer();
    REQUIRE(branches.index() == 1);
    std::get<1>(std::move(branches)).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("timed steps: offer_timeout that times out gives the same endpoint back for any form of offer",
          "[session][timeout][offer]") {
  Watchdog dog("offer_timeout");
  RecordViolations violations;
  auto ends = ss::session_channel<Three>();
  auto first = std::move(ends.first).offer_timeout(1ms);
  REQUIRE(first.is_err());
  REQUIRE_FALSE(ends.first.is_live());
  auto again = std::move(first).unwrap_err();
  static_assert(std::is_same_v<decltype(again), Chan<Three>>);
  REQUIRE(again.is_live());

  SECTION("then offer_timeout again") {
    auto peer = std::move(ends.second).select<0>();
    static_assert(std::is_same_v<decltype(peer), Chan<Send<int, Eps>, Env<Dual<Three>>>>);
    auto second = std::move(again).offer_timeout(step_limit);
    REQUIRE(second.is_ok());
    auto branches = std::move(second).unwrap();
    REQUIRE(branches.index() == 0);
    std::move(peer).send(3).close();
    auto got = std::get<0>(std::move(branches)).recv();
    REQUIRE(got.second == 3);
    std::move(got.first).close();
  }
  SECTION("then offer_deadline") {
    std::move(ends.second).select<1>().close();
    auto second = std::move(again).offer_deadline(Clock::now() + step_limit);
    REQUIRE(second.is_ok());
    auto branches = std::move(second).unwrap();
    REQUIRE(branches.index() == 1);
    std::get<1>(std::move(branches)).close();
  }
  SECTION("then offer with handlers") {
    auto peer = std::move(ends.second).select<2>();
    const std::string said = std::move(again).offer(
        [](auto c) {
          auto got = std::move(c).recv();
          std::move(got.first).close();
          return std::string("int");
        },
        [](auto c) {
          std::move(c).close();
          return std::string("end");
        },
        [](auto c) {
          std::move(c).send(std::string("from the handler")).close();
          return std::string("string");
        });
    REQUIRE(said == "string");
    auto got = std::move(peer).recv();
    REQUIRE(got.second == "from the handler");
    std::move(got.first).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("timed steps: a message that comes while a timed step waits or between its tries is received",
          "[session][timeout]") {
  Watchdog dog("timed steps across threads");
  RecordViolations violations;

  SECTION("one long recv_timeout") {
    std::atomic<bool> waiting{false};
    auto ends = ss::session_channel<Asked>();
    auto peer = th::spawn(
        [&waiting](Chan<Dual<Asked>> end) {
          (void)spin_until([&waiting] { return waiting.load(); });
          std::this_thread::sleep_for(20ms);  // most likely inside recv_timeout by now; correct either way
          auto got = std::move(end).send(41).recv();
          std::move(got.first).close();
          return got.second;
        },
        std::move(ends.second));
    waiting = true;
    auto r = std::move(ends.first).recv_timeout(step_limit);
    REQUIRE(r.is_ok());
    auto [rest, value] = std::move(r).unwrap();
    REQUIRE(value == 41);
    std::move(rest).send(42).close();
    REQUIRE(peer.join().unwrap() == 42);
  }
  SECTION("recv_timeout tried again and again until the value comes") {
    std::atomic<bool> timed_out_once{false};
    auto ends = ss::session_channel<Asked>();
    auto peer = th::spawn(
        [&timed_out_once](Chan<Dual<Asked>> end) {
          (void)spin_until([&timed_out_once] { return timed_out_once.load(); });
          auto got = std::move(end).send(7).recv();
          std::move(got.first).close();
          return got.second;
        },
        std::move(ends.second));
    auto c = std::move(ends.first);
    int timeouts = 0;
    std::optional<int> value;
    const auto give_up = Clock::now() + step_limit;
    while (!value && Clock::now() < give_up) {
      auto r = std::move(c).recv_timeout(2ms);
      if (r.is_err()) {
        ++timeouts;
        timed_out_once = true;
        c = std::move(r).unwrap_err();
        continue;
      }
      auto [rest, v] = std::move(r).unwrap();
      value = v;
      std::move(rest).send(v * 2).close();
    }
    timed_out_once = true;  // lets the peer go on even if this loop failed
    if (!value) {
      auto got = std::move(c).recv();  // the peer sends all the same: finish the session
      std::move(got.first).send(0).close();
    }
    REQUIRE(value.has_value());
    REQUIRE(*value == 7);
    REQUIRE(timeouts >= 1);
    REQUIRE(peer.join().unwrap() == 14);
  }
  SECTION("offer_timeout tried again and again until the choice comes") {
    std::atomic<bool> timed_out_once{false};
    auto ends = ss::session_channel<KvServer>();
    auto peer = th::spawn(
        [&timed_out_once](Chan<KvClient> end) {
          auto c = std::move(end).enter();
          (void)spin_until([&timed_out_once] { return timed_out_once.load(); });
          auto got = std::move(c).sel1().send(6).recv();
          std::move(got.first).zero().sel2().close();
          return got.second;
        },
        std::move(ends.second));
    auto top = std::move(ends.first).enter();
    int timeouts = 0;
    int answered = 0;
    bool ended = false;
    const auto give_up = Clock::now() + step_limit;
    while (!ended && Clock::now() < give_up) {
      auto r = std::move(top).offer_timeout(2ms);
      if (r.is_err()) {
        ++timeouts;
        timed_out_once = true;
        top = std::move(r).unwrap_err();
        continue;
      }
      auto branches = std::move(r).unwrap();
      if (branches.index() == 1) {
        std::get<1>(std::move(branches)).close();
        ended = true;
      } else {
        auto got = std::get<0>(std::move(branches)).recv();
        top = std::move(got.first).send(got.second + 1).zero();
        ++answered;
      }
    }
    timed_out_once = true;
    REQUIRE(ended);
    REQUIRE(answered == 1);
    REQUIRE(timeouts >= 1);
    REQUIRE(peer.join().unwrap() == 7);
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("timed steps: a peer that is gone makes them throw Disconnected and not time out",
          "[session][timeout][disconnect]") {
  Watchdog dog("timed steps with the peer gone");
  RecordViolations violations;

  SECTION("recv_timeout, recv_deadline, offer_timeout and offer_deadline, long and zero") {
    for (int which = 0; which < 8; ++which) {
      INFO("case " << which);
      const auto limit = which % 2 == 0 ? std::chrono::milliseconds(step_limit) : 0ms;
      if (which < 4) {
        auto ends = ss::session_channel<Asked>();
        { auto dropped = std::move(ends.second); }
        auto& c = ends.first;
        if (which < 2) {
          REQUIRE_THROWS_AS(std::move(c).recv_timeout(limit), ss::Disconnected);
        } else {
          REQUIRE_THROWS_AS(std::move(c).recv_deadline(Clock::now() + limit), ss::Disconnected);
        }
        REQUIRE_FALSE(c.is_live());
      } else {
        auto ends = ss::session_channel<Three>();
        { auto dropped = std::move(ends.second); }
        auto& c = ends.first;
        if (which < 6) {
          REQUIRE_THROWS_AS(std::move(c).offer_timeout(limit), ss::Disconnected);
        } else {
          REQUIRE_THROWS_AS(std::move(c).offer_deadline(Clock::now() + limit), ss::Disconnected);
        }
        REQUIRE_FALSE(c.is_live());
      }
      REQUIRE(violations.count() == which + 1);  // the dropped peers only, not the spent endpoints
    }
  }
  SECTION("what the peer sent before it went still comes first") {
    using P = Recv<int, Recv<int, Eps>>;
    auto ends = ss::session_channel<P>();
    { auto rest = std::move(ends.second).send(1); }  // gone before its second send
    REQUIRE(violations.count() == 1);
    auto r = std::move(ends.first).recv_timeout(0ms);
    REQUIRE(r.is_ok());
    auto [c, v] = std::move(r).unwrap();
    REQUIRE(v == 1);
    REQUIRE_THROWS_AS(std::move(c).recv_timeout(0ms), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
    REQUIRE(violations.count() == 1);
  }
  SECTION("the peer goes by an exception while recv_timeout waits") {
    std::atomic<bool> waiting{false};
    auto ends = ss::session_channel<Asked>();
    auto failing = th::spawn(
        [&waiting](Chan<Dual<Asked>> end) {
          auto held = std::move(end);
          (void)spin_until([&waiting] { return waiting.load(); });
          std::this_thread::sleep_for(20ms);  // most likely inside recv_timeout by now
          throw Boom(5);
        },
        std::move(ends.second));
    waiting = true;
    auto& c = ends.first;
    REQUIRE_THROWS_AS(std::move(c).recv_timeout(step_limit), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
    auto joined = failing.join();
    REQUIRE(joined.is_err());
    REQUIRE(joined.unwrap_err().is<Boom>());
    REQUIRE(violations.count() == 0);  // unwound, not abandoned
  }
}

TEST_CASE("timed steps: a server that gives up on a silent client drops its endpoint and the client sees Disconnected",
          "[session][timeout][violation]") {
  Watchdog dog("a server gives up");
  RecordViolations violations;

  SECTION("on a named thread") {
    auto ends = ss::session_channel<Asked>();
    auto server = th::Builder()
                      .name("kv-server")
                      .spawn(
                          [](Chan<Asked> end) {
                            auto r = std::move(end).recv_timeout(50ms);
                            if (r.is_ok()) {  // not this time: nobody sends
                              auto [rest, v] = std::move(r).unwrap();
                              std::move(rest).send(v).close();
                              return false;
                            }
                            auto given_back = std::move(r).unwrap_err();
                            return given_back.is_live();  // then dropped, mid-protocol: a violation
                          },
                          std::move(ends.first))
                      .unwrap();
    REQUIRE(server.join().unwrap());  // it timed out, and had its endpoint back live
    REQUIRE(violations.count() == 1);
    const std::string text = violations.last();
    REQUIRE(contains(text, "next step:  Recv<int"));
    REQUIRE(contains(text, "kv-server"));
    auto& client = ends.second;
    REQUIRE_THROWS_AS(std::move(client).send(1), ss::Disconnected);
    REQUIRE_FALSE(client.is_live());
    REQUIRE(violations.count() == 1);
  }
  SECTION("through connect: the client's Disconnected comes out") {
    std::atomic<bool> gave_up{false};
    REQUIRE_THROWS_AS(ss::connect(
                          [&gave_up](Chan<Asked> end) {
                            auto r = std::move(end).recv_timeout(50ms);
                            if (r.is_ok()) {
                              auto [rest, v] = std::move(r).unwrap();
                              std::move(rest).send(v).close();
                              return;
                            }
                            gave_up = true;
                            auto given_back = std::move(r).unwrap_err();  // dropped here: a violation
                          },
                          [&violations](Chan<Dual<Asked>> end) {
                            // Silent until the server has given up (bounded), then too late.
                            (void)spin_until([&violations] { return violations.count() >= 1; });
                            auto got = std::move(end).send(1).recv();
                            std::move(got.first).close();
                            return got.second;
                          }),
                      ss::Disconnected);
    REQUIRE(gave_up.load());
    REQUIRE(violations.count() == 1);
  }
}

// =====================================================================================
// ChanAt<Root, Here>
// =====================================================================================

namespace {

// One loop.
static_assert(std::is_same_v<ChanAt<KvServer, Menu>, Chan<Menu, Env<KvServer, Menu>>>);
static_assert(std::is_same_v<ChanAt<KvServer, Send<int, Var<Z>>>, Chan<Send<int, Var<Z>>, Env<KvServer, Menu>>>);
static_assert(std::is_same_v<ChanAt<KvServer, Recv<int, Send<int, Var<Z>>>>,
                             Chan<Recv<int, Send<int, Var<Z>>>, Env<KvServer, Menu>>>);
static_assert(std::is_same_v<ChanAt<KvServer, Var<Z>>, Chan<Var<Z>, Env<KvServer, Menu>>>);
static_assert(std::is_same_v<ChanAt<KvServer, Eps>, Chan<Eps, Env<KvServer, Menu>>>);
// The root itself.
static_assert(std::is_same_v<ChanAt<KvServer>, Chan<KvServer>>);
static_assert(std::is_same_v<ChanAt<KvServer, KvServer>, Chan<KvServer>>);
static_assert(std::is_same_v<ChanAt<Asked>, Chan<Asked>>);
// No loop: the environment is the root alone.
static_assert(std::is_same_v<ChanAt<Asked, Send<int, Eps>>, Chan<Send<int, Eps>, Env<Asked>>>);
static_assert(std::is_same_v<ChanAt<Asked, Eps>, Chan<Eps, Env<Asked>>>);
static_assert(std::is_same_v<ChanAt<Three, Send<std::string, Eps>>, Chan<Send<std::string, Eps>, Env<Three>>>);
// The other side.
static_assert(std::is_same_v<ChanAt<KvClient, Dual<Menu>>, Chan<Dual<Menu>, Env<KvClient, Dual<Menu>>>>);
static_assert(std::is_same_v<ChanAt<KvClient, Recv<int, Var<Z>>>, Chan<Recv<int, Var<Z>>, Env<KvClient, Dual<Menu>>>>);

// Two loops: the bodies innermost first.
using Inner = Offer<Recv<int, Var<Z>>, Send<int, Var<S<Z>>>>;  // one more number, or the sum and out
using Batch = Rec<Inner>;
using Outer = Offer<Batch, Eps>;  // another batch, or stop
using Summer = Rec<Outer>;
static_assert(std::is_same_v<ChanAt<Summer, Outer>, Chan<Outer, Env<Summer, Outer>>>);
static_assert(std::is_same_v<ChanAt<Summer, Batch>, Chan<Batch, Env<Summer, Outer>>>);
static_assert(std::is_same_v<ChanAt<Summer, Inner>, Chan<Inner, Env<Summer, Inner, Outer>>>);
static_assert(std::is_same_v<ChanAt<Summer, Recv<int, Var<Z>>>, Chan<Recv<int, Var<Z>>, Env<Summer, Inner, Outer>>>);
static_assert(
    std::is_same_v<ChanAt<Summer, Send<int, Var<S<Z>>>>, Chan<Send<int, Var<S<Z>>>, Env<Summer, Inner, Outer>>>);
static_assert(std::is_same_v<ChanAt<Summer, Var<S<Z>>>, Chan<Var<S<Z>>, Env<Summer, Inner, Outer>>>);
static_assert(std::is_same_v<ChanAt<Summer, Eps>, Chan<Eps, Env<Summer, Outer>>>);

// Three loops.
using B3 = Choose<Send<int, Var<Z>>, Var<S<S<Z>>>>;
using B2 = Choose<Rec<B3>, Eps>;
using B1 = Choose<Rec<B2>, Eps>;
using Deep = Rec<B1>;
static_assert(ss::well_formed<Deep>);
static_assert(std::is_same_v<ChanAt<Deep, B1>, Chan<B1, Env<Deep, B1>>>);
static_assert(std::is_same_v<ChanAt<Deep, Rec<B2>>, Chan<Rec<B2>, Env<Deep, B1>>>);
static_assert(std::is_same_v<ChanAt<Deep, B2>, Chan<B2, Env<Deep, B2, B1>>>);
static_assert(std::is_same_v<ChanAt<Deep, B3>, Chan<B3, Env<Deep, B3, B2, B1>>>);
static_assert(std::is_same_v<ChanAt<Deep, Var<S<S<Z>>>>, Chan<Var<S<S<Z>>>, Env<Deep, B3, B2, B1>>>);

// ChanAt names what the steps return.
static_assert(std::is_same_v<decltype(std::declval<ChanAt<KvServer, Recv<int, Send<int, Var<Z>>>>>().recv()),
                             std::pair<ChanAt<KvServer, Send<int, Var<Z>>>, int>>);
static_assert(
    std::is_same_v<decltype(std::declval<ChanAt<KvServer, Send<int, Var<Z>>>>().send(1)), ChanAt<KvServer, Var<Z>>>);
static_assert(std::is_same_v<decltype(std::declval<ChanAt<KvServer, Var<Z>>>().zero()), ChanAt<KvServer, Menu>>);
static_assert(std::is_same_v<decltype(std::declval<ChanAt<Summer, Batch>>().enter()), ChanAt<Summer, Inner>>);
static_assert(std::is_same_v<std::variant_alternative_t<0, decltype(std::declval<ChanAt<Summer, Outer>>().offer())>,
                             ChanAt<Summer, Batch>>);
static_assert(std::is_same_v<decltype(std::declval<ChanAt<Summer, Send<int, Var<S<Z>>>>>().send(1).succ().zero()),
                             ChanAt<Summer, Outer>>);
static_assert(std::is_same_v<decltype(std::declval<ChanAt<Deep, B3>>().sel2().succ().succ().zero()), ChanAt<Deep, B1>>);

// A key-value server written against the names ChanAt gives: a key in, ten
// times the key out.
ChanAt<KvServer, Var<Z>> answer(ChanAt<KvServer, Recv<int, Send<int, Var<Z>>>> request) {
  auto got = std::move(request).recv();
  return std::move(got.first).send(got.second * 10);
}

int serve_kv(ChanAt<KvServer, Menu> menu) {
  int served = 0;
  for (;;) {
    auto offered = std::move(menu).offer();
    if (offered.index() == 1) {
      std::get<1>(std::move(offered)).close();
      return served;
    }
    menu = answer(std::get<0>(std::move(offered))).zero();
    ++served;
  }
}

// The same loop with offer(f0, f1), its handlers' parameters named by ChanAt.
int serve_kv_with_handlers(ChanAt<KvServer, Menu> menu) {
  int served = 0;
  for (bool more = true; more;) {
    more = std::move(menu).offer(
        [&menu, &served](ChanAt<KvServer, Recv<int, Send<int, Var<Z>>>> request) {
          menu = answer(std::move(request)).zero();
          ++served;
          return true;
        },
        [](ChanAt<KvServer, Eps> end) {
          std::move(end).close();
          return false;
        });
  }
  return served;
}

// The client's side: asks for keys 1..n, returns how many answers were right.
int ask_kv(ChanAt<KvClient, Dual<Menu>> menu, int n) {
  int right = 0;
  for (int key = 1; key <= n; ++key) {
    auto got = std::move(menu).sel1().send(key).recv();
    right += got.second == key * 10 ? 1 : 0;
    menu = std::move(got.first).zero();
  }
  std::move(menu).sel2().close();
  return right;
}

}  // namespace

TEST_CASE("ChanAt: names the types that real steps return", "[session][types][chanat]") {
  RecordViolations violations;
  auto ends = ss::session_channel<KvServer>();
  auto& server = ends.first;
  auto& client = ends.second;
  static_assert(std::is_same_v<decltype(server), ChanAt<KvServer>&>);
  static_assert(std::is_same_v<decltype(std::move(server).enter()), ChanAt<KvServer, Menu>>);
  static_assert(std::is_same_v<decltype(std::move(client).enter()), ChanAt<KvClient, Dual<Menu>>>);

  ChanAt<KvServer, Menu> top = std::move(server).enter();
  ChanAt<KvClient, Dual<Menu>> asking = std::move(client).enter();
  using Offered = decltype(std::move(top).offer());
  static_assert(
      std::is_same_v<Offered, std::variant<ChanAt<KvServer, Recv<int, Send<int, Var<Z>>>>, ChanAt<KvServer, Eps>>>);

  ChanAt<KvClient, Recv<int, Var<Z>>> waiting = std::move(asking).sel1().send(4);
  auto offered = std::move(top).offer();
  REQUIRE(offered.index() == 0);
  ChanAt<KvServer, Var<Z>> jump = answer(std::get<0>(std::move(offered)));
  auto got = std::move(waiting).recv();
  REQUIRE(got.second == 40);
  ChanAt<KvClient, Dual<Menu>> again = std::move(got.first).zero();
  top = std::move(jump).zero();
  std::move(again).sel2().close();
  auto last = std::move(top).offer();
  REQUIRE(last.index() == 1);
  std::get<1>(std::move(last)).close();

  SECTION("two loops") {
    auto sums = ss::session_channel<Summer>();
    ChanAt<Summer, Outer> outer = std::move(sums.first).enter();
    ChanAt<Dual<Summer>, Dual<Outer>> feeding = std::move(sums.second).enter();
    ChanAt<Dual<Summer>, Dual<Inner>> batch = std::move(feeding).sel1().enter();
    batch = std::move(batch).sel1().send(2).zero();
    batch = std::move(batch).sel1().send(3).zero();
    auto sum_asked = std::move(batch).sel2();  // waits for the sum

    auto b = std::move(outer).offer();
    REQUIRE(b.index() == 0);
    ChanAt<Summer, Inner> adding = std::get<0>(std::move(b)).enter();
    int sum = 0;
    for (;;) {
      auto step = std::move(adding).offer();
      if (step.index() == 1) {
        outer = std::get<1>(std::move(step)).send(sum).succ().zero();
        break;
      }
      auto n = std::get<0>(std::move(step)).recv();
      sum += n.second;
      adding = std::move(n.first).zero();
    }
    auto total = std::move(sum_asked).recv();
    REQUIRE(total.second == 5);
    std::move(total.first).succ().zero().sel2().close();
    auto end = std::move(outer).offer();
    REQUIRE(end.index() == 1);
    std::get<1>(std::move(end)).close();
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("ChanAt: functions that take the endpoint at the top of a loop serve it", "[session][chanat][rec]") {
  Watchdog dog("ChanAt server");
  RecordViolations violations;
  constexpr int keys = 25;

  SECTION("with the variant offer") {
    auto ends = ss::session_channel<KvServer>();
    auto server = th::spawn([](Chan<KvServer> c) { return serve_kv(std::move(c).enter()); }, std::move(ends.first));
    const int right = ask_kv(std::move(ends.second).enter(), keys);
    REQUIRE(server.join().unwrap() == keys);
    REQUIRE(right == keys);
  }
  SECTION("with offer handlers") {
    auto ends = ss::session_channel<KvServer>();
    auto server =
        th::spawn([](Chan<KvServer> c) { return serve_kv_with_handlers(std::move(c).enter()); }, std::move(ends.first));
    const int right = ask_kv(std::move(ends.second).enter(), keys);
    REQUIRE(server.join().unwrap() == keys);
    REQUIRE(right == keys);
  }
  SECTION("through connect") {
    auto both = ss::connect([](Chan<KvServer> c) { return serve_kv(std::move(c).enter()); },
                            [](Chan<KvClient> c) { return ask_kv(std::move(c).enter(), keys); });
    REQUIRE(both.first == keys);
    REQUIRE(both.second == keys);
  }
  REQUIRE(violations.count() == 0);
}
