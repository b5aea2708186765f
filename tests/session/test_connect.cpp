// SPDX-License-Identifier: MIT
// connect(server, client): the server runs on a new thread with one end, the
// client on this one with the other, then the server is joined; the
// protocol is deduced from a non-generic server, or given as connect<P>.
// connect returns what the two sides return: the client's result, the
// server's if only it returns one, std::pair{server's, client's} if both do,
// nothing if neither. Exceptions from either side come out of connect:
// when one side threw Disconnected because the other failed, the other's
// (the cause); when both failed on their own, the client's.

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/session.hpp>

namespace ss = spindle::session;
using spindle::test::Watchdog;
using spindle::test::session_support::contains;
using spindle::test::session_support::MoveOnly;
using spindle::test::session_support::RecordViolations;
using spindle::test::session_support::spin_until;
using spindle::test::session_support::step_limit;
using spindle::test::session_support::what_of;
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

// The server's side: a name in, a greeting out.
using Greet = Recv<std::string, Send<std::string, Eps>>;

std::atomic<int> greeted{0};

void greet_server(Chan<Greet> end) {
  auto got = std::move(end).recv();
  std::move(got.first).send("hello, " + got.second).close();
  greeted.fetch_add(1);
}

struct ServerFailed : std::runtime_error {
  ServerFailed() : std::runtime_error("the server failed") {}
};
struct ClientFailed : std::runtime_error {
  ClientFailed() : std::runtime_error("the client failed") {}
};

}  // namespace

TEST_CASE("connect: deduces the protocol from a non-generic server lambda", "[session][connect]") {
  Watchdog dog("connect");
  RecordViolations violations;
  std::string reply;
  ss::connect(
      [](Chan<Greet> end) {
        auto got = std::move(end).recv();
        std::move(got.first).send("hello, " + got.second).close();
      },
      [&reply](Chan<Dual<Greet>> end) {
        auto got = std::move(end).send("world").recv();
        std::move(got.first).close();
        reply = got.second;
      });
  REQUIRE(reply == "hello, world");
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: servers that are mutable or noexcept lambdas, functions or function pointers",
          "[session][connect]") {
  Watchdog dog("connect");
  RecordViolations violations;
  auto client = [](Chan<Dual<Greet>> end) {
    auto got = std::move(end).send("you").recv();
    std::move(got.first).close();
    return got.second;
  };
  std::string reply;
  auto client_storing = [&](Chan<Dual<Greet>> end) { reply = client(std::move(end)); };

  SECTION("a mutable lambda with state") {
    int calls = 0;
    ss::connect(
        [calls](Chan<Greet> end) mutable {
          ++calls;
          auto got = std::move(end).recv();
          std::move(got.first).send("hello, " + got.second + " #" + std::to_string(calls)).close();
        },
        client_storing);
    REQUIRE(reply == "hello, you #1");
  }
  SECTION("a noexcept lambda") {
    ss::connect(
        [](Chan<Greet> end) noexcept {
          auto got = std::move(end).recv();
          std::move(got.first).send("hi, " + got.second).close();
        },
        client_storing);
    REQUIRE(reply == "hi, you");
  }
  SECTION("a function") {
    const int before = greeted.load();
    ss::connect(greet_server, client_storing);
    REQUIRE(reply == "hello, you");
    REQUIRE(greeted.load() == before + 1);
  }
  SECTION("a function pointer") {
    const int before = greeted.load();
    void (*server)(Chan<Greet>) = &greet_server;
    ss::connect(server, client_storing);
    REQUIRE(reply == "hello, you");
    REQUIRE(greeted.load() == before + 1);
  }
  SECTION("a server taking its endpoint by rvalue reference") {
    ss::connect(
        [](Chan<Greet>&& end) {
          auto got = std::move(end).recv();
          std::move(got.first).send("ref, " + got.second).close();
        },
        client_storing);
    REQUIRE(reply == "ref, you");
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect<P>: generic lambdas on both sides, with a loop and a choice", "[session][connect]") {
  Watchdog dog("connect<P>");
  RecordViolations violations;
  // The server echoes each number doubled until the client says stop.
  using Echo = Rec<Offer<Recv<int, Send<int, Var<Z>>>, Eps>>;
  int served = 0;
  long sum = 0;
  ss::connect<Echo>(
      [&served](auto end) {
        auto c = std::move(end).enter();
        for (;;) {
          auto offered = std::move(c).offer();
          if (offered.index() == 1) {
            std::get<1>(std::move(offered)).close();
            return;
          }
          auto got = std::get<0>(std::move(offered)).recv();
          ++served;
          c = std::move(got.first).send(2 * got.second).zero();
        }
      },
      [&sum](auto end) {
        static_assert(std::is_same_v<decltype(end), Chan<Dual<Echo>>>);
        auto c = std::move(end).enter();
        for (int i = 1; i <= 100; ++i) {
          auto got = std::move(c).sel1().send(i).recv();
          sum += got.second;
          c = std::move(got.first).zero();
        }
        std::move(c).sel2().close();
      });
  REQUIRE(served == 100);  // the server was joined: its writes are visible
  REQUIRE(sum == 2 * (100 * 101 / 2));
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: an exception from the server comes out of connect", "[session][connect]") {
  Watchdog dog("connect server throws");
  RecordViolations violations;
  // The server finishes its protocol, then fails: no violation, just the exception.
  const std::string what = what_of<ServerFailed>([] {
    ss::connect(
        [](Chan<Greet> end) {
          auto got = std::move(end).recv();
          std::move(got.first).send(got.second).close();
          throw ServerFailed();
        },
        [](Chan<Dual<Greet>> end) {
          auto got = std::move(end).send("x").recv();
          std::move(got.first).close();
        });
  });
  REQUIRE(what == "the server failed");
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: a server that fails mid-protocol disconnects the client and its exception is rethrown",
          "[session][connect]") {
  Watchdog dog("connect server fails mid-protocol");
  RecordViolations violations;
  bool client_disconnected = false;
  // The server throws before it answers: its endpoint is destroyed by the
  // unwinding (no violation), the client's recv throws Disconnected, and
  // connect rethrows the server's exception, the cause, not the client's
  // Disconnected, its consequence.
  REQUIRE_THROWS_AS(ss::connect(
                        [](Chan<Greet> end) {
                          auto got = std::move(end).recv();
                          auto unanswered = std::move(got.first);
                          throw ServerFailed();
                        },
                        [&client_disconnected](Chan<Dual<Greet>> end) {
                          try {
                            auto got = std::move(end).send("x").recv();
                            std::move(got.first).close();
                          } catch (const ss::Disconnected&) {
                            client_disconnected = true;
                            throw;
                          }
                        }),
                    ServerFailed);
  REQUIRE(client_disconnected);
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: an exception from the client comes out of connect after the server is joined",
          "[session][connect]") {
  Watchdog dog("connect client throws");
  RecordViolations violations;
  std::atomic<bool> server_saw_disconnect{false};
  std::atomic<bool> server_done{false};

  SECTION("the client fails mid-protocol: the server is disconnected, not left hanging") {
    const std::string what = what_of<ClientFailed>([&] {
      ss::connect(
          [&](Chan<Greet> end) {
            try {
              auto got = std::move(end).recv();
              std::move(got.first).send(got.second).close();
            } catch (const ss::Disconnected&) {
              server_saw_disconnect = true;
            }
            server_done = true;
          },
          [](Chan<Dual<Greet>> end) {
            auto unfinished = std::move(end);
            throw ClientFailed();  // `unfinished` is destroyed by the unwinding: no violation
          });
    });
    REQUIRE(what == "the client failed");
    REQUIRE(server_done.load());  // connect joined the server before rethrowing
    REQUIRE(server_saw_disconnect.load());
    REQUIRE(violations.count() == 0);
  }
  SECTION("the client fails mid-protocol and the server lets its Disconnected escape") {
    const std::string what = what_of<std::runtime_error>([&] {
      ss::connect(
          [&](Chan<Greet> end) {
            server_done = true;
            auto got = std::move(end).recv();  // throws Disconnected, out of the server
            std::move(got.first).send(got.second).close();
          },
          [](Chan<Dual<Greet>> end) {
            auto unfinished = std::move(end);
            throw ClientFailed();
          });
    });
    REQUIRE(what == "the client failed");  // the cause, not the server's Disconnected
    REQUIRE(server_done.load());
    REQUIRE(violations.count() == 0);
  }
  SECTION("the client fails after finishing its protocol") {
    const std::string what = what_of<ClientFailed>([&] {
      ss::connect(
          [&](Chan<Greet> end) {
            auto got = std::move(end).recv();
            std::move(got.first).send(got.second).close();
            server_done = true;
          },
          [](Chan<Dual<Greet>> end) {
            auto got = std::move(end).send("x").recv();
            std::move(got.first).close();
            throw ClientFailed();
          });
    });
    REQUIRE(what == "the client failed");
    REQUIRE(server_done.load());
    REQUIRE(violations.count() == 0);
  }
  SECTION("both fail: the client's exception is the one rethrown") {
    const std::string what = what_of<std::runtime_error>([&] {
      ss::connect(
          [&](Chan<Greet> end) {
            auto got = std::move(end).recv();
            std::move(got.first).send(got.second).close();
            server_done = true;
            throw ServerFailed();
          },
          [](Chan<Dual<Greet>> end) {
            auto got = std::move(end).send("x").recv();
            std::move(got.first).close();
            throw ClientFailed();
          });
    });
    REQUIRE(what == "the client failed");
    REQUIRE(server_done.load());
    REQUIRE(violations.count() == 0);
  }
}

TEST_CASE("connect: a client that takes its endpoint by reference and leaves it unfinished disconnects the server",
          "[session][connect]") {
  // A client taking Chan&& (or a generic auto&&) does not own its endpoint:
  // if it throws, or returns, without finishing the protocol, connect()
  // itself must let the endpoint go before it joins the server, so that the
  // server's recv throws Disconnected. (An earlier connect() joined first,
  // and the server waited forever for a message that never came.) A client
  // that returned normally abandoned its endpoint: a violation. One that
  // threw left it as the exception unwound: no violation, as for an
  // endpoint the client owned.
  //
  // The server's recv is bounded (recv_timeout), so that a connect() that
  // joins too early fails this test instead of hanging it: the server then
  // times out and drops its endpoint (a violation), which lets the join
  // return.
  Watchdog dog("connect with a client taking Chan&&");
  RecordViolations violations;
  std::atomic<bool> server_timed_out{false};
  std::atomic<bool> server_saw_disconnect{false};
  auto server = [&](Chan<Greet> end) {
    try {
      auto got = std::move(end).recv_timeout(step_limit);
      if (got.is_err()) {
        server_timed_out = true;
        return;  // the endpoint in the Err dies live: reported
      }
      auto [rest, name] = std::move(got).unwrap();
      std::move(rest).send(name).close();
    } catch (const ss::Disconnected&) {
      server_saw_disconnect = true;
    }
  };
  int violations_expected = 0;

  SECTION("the client throws") {
    const std::string what =
        what_of<ClientFailed>([&] { ss::connect(server, [](Chan<Dual<Greet>>&& /*end*/) { throw ClientFailed(); }); });
    REQUIRE(what == "the client failed");
  }
  SECTION("the client returns without using its endpoint") {
    ss::connect(server, [](Chan<Dual<Greet>>&& /*end*/) {});
    violations_expected = 1;
  }
  SECTION("a generic client (auto&&) throws") {
    const std::string what = what_of<ClientFailed>([&] {
      ss::connect<Greet>([&](auto end) { server(std::move(end)); }, [](auto&& /*end*/) { throw ClientFailed(); });
    });
    REQUIRE(what == "the client failed");
  }
  SECTION("a generic client (auto&&) returns without using its endpoint") {
    ss::connect<Greet>([&](auto end) { server(std::move(end)); }, [](auto&& /*end*/) {});
    violations_expected = 1;
  }
  CHECK_FALSE(server_timed_out.load());
  CHECK(server_saw_disconnect.load());
  CHECK(violations.count() == violations_expected);
}

// --- what connect returns ----------------------------------------------------------

namespace {

// A server that answers and returns nothing, and a client that does the same.
void greet_quietly(Chan<Greet> end) {
  auto got = std::move(end).recv();
  std::move(got.first).send("hello, " + got.second).close();
}
void ask_quietly(Chan<Dual<Greet>> end) {
  auto got = std::move(end).send("quiet").recv();
  std::move(got.first).close();
}

}  // namespace

TEST_CASE("connect: returns the client's result when the server returns void", "[session][connect][result]") {
  Watchdog dog("connect returns the client's result");
  RecordViolations violations;
  auto reply = ss::connect(greet_quietly, [](Chan<Dual<Greet>> end) {
    auto got = std::move(end).send("world").recv();
    std::move(got.first).close();
    return got.second;
  });
  static_assert(std::is_same_v<decltype(reply), std::string>);
  REQUIRE(reply == "hello, world");
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: returns the server's result when the client returns void", "[session][connect][result]") {
  Watchdog dog("connect returns the server's result");
  RecordViolations violations;
  auto heard = ss::connect(
      [](Chan<Greet> end) {
        auto got = std::move(end).recv();
        std::move(got.first).send("hi").close();
        return got.second.size();
      },
      ask_quietly);
  static_assert(std::is_same_v<decltype(heard), std::size_t>);
  REQUIRE(heard == std::string("quiet").size());
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: returns the pair of the server's and the client's results when both return one",
          "[session][connect][result]") {
  Watchdog dog("connect returns both results");
  RecordViolations violations;
  auto both = ss::connect(
      [](Chan<Greet> end) {
        auto got = std::move(end).recv();
        std::move(got.first).send("hello, " + got.second).close();
        return static_cast<int>(got.second.size());  // the server's: an int
      },
      [](Chan<Dual<Greet>> end) {
        auto got = std::move(end).send("pair").recv();
        std::move(got.first).close();
        return got.second;  // the client's: a string
      });
  static_assert(std::is_same_v<decltype(both), std::pair<int, std::string>>);
  REQUIRE(both.first == 4);
  REQUIRE(both.second == "hello, pair");
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: returns void when neither side returns a value", "[session][connect][result]") {
  Watchdog dog("connect returns void");
  RecordViolations violations;
  static_assert(std::is_void_v<decltype(ss::connect(greet_quietly, ask_quietly))>);
  const int before = greeted.load();
  ss::connect(greet_server, ask_quietly);
  REQUIRE(greeted.load() == before + 1);
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: move-only results", "[session][connect][result]") {
  Watchdog dog("connect with move-only results");
  RecordViolations violations;
  using Ask = Recv<int, Send<int, Eps>>;
  auto server_boxing = [](Chan<Ask> end) {
    auto got = std::move(end).recv();
    std::move(got.first).send(got.second + 1).close();
    return std::make_unique<int>(got.second);
  };
  auto server_void = [](Chan<Ask> end) {
    auto got = std::move(end).recv();
    std::move(got.first).send(got.second + 1).close();
  };
  auto client_boxing = [](Chan<Dual<Ask>> end) {
    auto got = std::move(end).send(41).recv();
    std::move(got.first).close();
    return MoveOnly(got.second);
  };
  auto client_void = [](Chan<Dual<Ask>> end) {
    auto got = std::move(end).send(41).recv();
    std::move(got.first).close();
  };

  SECTION("the server's") {
    std::unique_ptr<int> box = ss::connect(server_boxing, client_void);
    REQUIRE(box != nullptr);
    REQUIRE(*box == 41);
  }
  SECTION("the client's") {
    MoveOnly value = ss::connect(server_void, client_boxing);
    REQUIRE(value.value() == 42);
  }
  SECTION("both") {
    auto both = ss::connect(server_boxing, client_boxing);
    static_assert(std::is_same_v<decltype(both), std::pair<std::unique_ptr<int>, MoveOnly>>);
    REQUIRE(both.first != nullptr);
    REQUIRE(*both.first == 41);
    REQUIRE(both.second.value() == 42);
  }
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect<P>: generic lambdas return values too", "[session][connect][result]") {
  Watchdog dog("connect<P> with results");
  RecordViolations violations;
  using Echo = Rec<Offer<Recv<int, Send<int, Var<Z>>>, Eps>>;
  auto both = ss::connect<Echo>(
      [](auto end) {
        int served = 0;
        auto c = std::move(end).enter();
        for (;;) {
          auto offered = std::move(c).offer();
          if (offered.index() == 1) {
            std::get<1>(std::move(offered)).close();
            return served;
          }
          auto got = std::get<0>(std::move(offered)).recv();
          ++served;
          c = std::move(got.first).send(2 * got.second).zero();
        }
      },
      [](auto end) {
        long sum = 0;
        auto c = std::move(end).enter();
        for (int i = 1; i <= 10; ++i) {
          auto got = std::move(c).sel1().send(i).recv();
          sum += got.second;
          c = std::move(got.first).zero();
        }
        std::move(c).sel2().close();
        return sum;
      });
  static_assert(std::is_same_v<decltype(both), std::pair<int, long>>);
  REQUIRE(both.first == 10);
  REQUIRE(both.second == 2 * 55);

  // Only one side with a result, generic too.
  auto only_client = ss::connect<Greet>([](auto end) { greet_quietly(std::move(end)); },
                                        [](auto end) {
                                          auto got = std::move(end).send("generic").recv();
                                          std::move(got.first).close();
                                          return got.second;
                                        });
  static_assert(std::is_same_v<decltype(only_client), std::string>);
  REQUIRE(only_client == "hello, generic");
  REQUIRE(violations.count() == 0);
}

// --- which exception comes out ----------------------------------------------------------

TEST_CASE(
    "connect: a server that throws mid-protocol: the client sees Disconnected and connect throws the server's error",
    "[session][connect][exception]") {
  Watchdog dog("connect: the server's error is the cause");
  RecordViolations violations;
  std::atomic<bool> client_disconnected{false};
  auto run = [&] {
    return ss::connect(
        [](Chan<Greet> end) -> int {
          auto got = std::move(end).recv();
          (void)got;  // `got.first` still has to answer; the exception unwinds it
          throw std::runtime_error("boom");
        },
        [&client_disconnected](Chan<Dual<Greet>> end) {
          try {
            auto got = std::move(end).send("x").recv();
            std::move(got.first).close();
            return got.second;
          } catch (const ss::Disconnected&) {
            client_disconnected = true;
            throw;
          }
        });
  };
  static_assert(std::is_same_v<decltype(run()), std::pair<int, std::string>>);
  bool was_disconnected = false;
  std::string what;
  try {
    (void)run();
  } catch (const ss::Disconnected&) {
    was_disconnected = true;  // the consequence: the wrong one
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  REQUIRE_FALSE(was_disconnected);
  REQUIRE(what == "boom");
  REQUIRE(client_disconnected.load());
  REQUIRE(violations.count() == 0);  // the server's endpoint was destroyed by the unwinding
}

TEST_CASE(
    "connect: a client that throws mid-protocol: connect throws the client's error and not the server's Disconnected",
    "[session][connect][exception]") {
  // The server waits for a second message the client never sends, so it
  // sees Disconnected whatever the timing (a reply it could send into the
  // buffer before the client's end went would not).
  using TwoIn = Recv<std::string, Recv<std::string, Eps>>;
  Watchdog dog("connect: the client's error is the cause");
  RecordViolations violations;
  std::atomic<bool> server_disconnected{false};
  std::string what;
  bool was_disconnected = false;
  try {
    (void)ss::connect(
        [&server_disconnected](Chan<TwoIn> end) {
          try {
            auto first = std::move(end).recv();
            auto second = std::move(first.first).recv();
            std::move(second.first).close();
            return 1;
          } catch (const ss::Disconnected&) {
            server_disconnected = true;
            throw;
          }
        },
        [](Chan<Dual<TwoIn>> end) -> int {
          auto rest = std::move(end).send("x");  // then fails before its second send
          (void)rest;
          throw std::runtime_error("client boom");
        });
  } catch (const ss::Disconnected&) {
    was_disconnected = true;
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  REQUIRE_FALSE(was_disconnected);
  REQUIRE(what == "client boom");
  REQUIRE(server_disconnected.load());
  REQUIRE(violations.count() == 0);
}

TEST_CASE("connect: when both sides fail on their own the client's exception is rethrown",
          "[session][connect][exception]") {
  Watchdog dog("connect: both fail");
  RecordViolations violations;
  // Neither takes a step: both endpoints go with their exceptions.
  const std::string what = what_of<std::runtime_error>([] {
    ss::connect(
        [](Chan<Greet> end) {
          auto held = std::move(end);
          throw ServerFailed();
        },
        [](Chan<Dual<Greet>> end) {
          auto held = std::move(end);
          throw ClientFailed();
        });
  });
  REQUIRE(what == "the client failed");
  REQUIRE(violations.count() == 0);
}

TEST_CASE(
    "connect: a side that returns without finishing: the violation is reported and the other's Disconnected comes out",
    "[session][connect][exception]") {
  Watchdog dog("connect: a side abandons its endpoint");
  RecordViolations violations;
  SECTION("the server abandons") {
    REQUIRE_THROWS_AS(ss::connect(
                          [](Chan<Greet> end) {
                            auto got = std::move(end).recv();
                            (void)got;  // returns without answering: `got.first` dies live
                            return 7;
                          },
                          [](Chan<Dual<Greet>> end) {
                            auto got = std::move(end).send("x").recv();  // throws Disconnected
                            std::move(got.first).close();
                            return got.second;
                          }),
                      ss::Disconnected);
    REQUIRE(violations.count() == 1);
    REQUIRE(contains(violations.last(), "Send<"));  // the server's next step
  }
  SECTION("the client abandons") {
    REQUIRE_THROWS_AS(ss::connect(
                          [](Chan<Greet> end) {
                            auto got = std::move(end).recv();  // throws Disconnected
                            std::move(got.first).send(got.second).close();
                          },
                          [](Chan<Dual<Greet>> end) {
                            auto rest = std::move(end);
                            (void)rest;  // returns without a step: dies live
                            return 3;
                          }),
                      ss::Disconnected);
    REQUIRE(violations.count() == 1);
  }
}

TEST_CASE("connect: an exception from one side comes out even when the other returned a value",
          "[session][connect][exception]") {
  Watchdog dog("connect: an exception beside a value");
  RecordViolations violations;
  SECTION("the server throws after finishing, the client returns a value") {
    REQUIRE_THROWS_AS(ss::connect(
                          [](Chan<Greet> end) -> int {
                            auto got = std::move(end).recv();
                            std::move(got.first).send(got.second).close();
                            throw ServerFailed();
                          },
                          [](Chan<Dual<Greet>> end) {
                            auto got = std::move(end).send("x").recv();
                            std::move(got.first).close();
                            return got.second;
                          }),
                      ServerFailed);
  }
  SECTION("the client throws after finishing, the server returns a move-only value") {
    REQUIRE_THROWS_AS(ss::connect(
                          [](Chan<Greet> end) {
                            auto got = std::move(end).recv();
                            std::move(got.first).send(got.second).close();
                            return std::make_unique<int>(1);
                          },
                          [](Chan<Dual<Greet>> end) {
                            auto got = std::move(end).send("x").recv();
                            std::move(got.first).close();
                            throw ClientFailed();
                          }),
                      ClientFailed);
  }
  REQUIRE(violations.count() == 0);
}
