// SPDX-License-Identifier: MIT
// connect(server, client): the server runs on a new thread with one end, the
// client on this one with the other, then the server is joined; the
// protocol is deduced from a non-generic server, or given as connect<P>.
// Exceptions from either side come out of connect, the client's first.

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "session/common.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/session.hpp>

namespace ss = spindle::session;
using spindle::test::Watchdog;
using spindle::test::session_support::contains;
using spindle::test::session_support::RecordViolations;
using spindle::test::session_support::spin_until;
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

TEST_CASE("connect: a server that fails mid-protocol disconnects the client, the client's exception wins",
          "[session][connect]") {
  Watchdog dog("connect server fails mid-protocol");
  RecordViolations violations;
  bool client_disconnected = false;
  // The server throws before it answers: its endpoint dies live (reported to
  // the handler), the client's recv throws Disconnected, and connect rethrows
  // the client's exception, which comes first.
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
                    ss::Disconnected);
  REQUIRE(client_disconnected);
  REQUIRE(violations.count() == 1);
  REQUIRE(contains(violations.last(), "Send<"));  // the server's next step
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
            throw ClientFailed();
          });
    });
    REQUIRE(what == "the client failed");
    REQUIRE(server_done.load());  // connect joined the server before rethrowing
    REQUIRE(server_saw_disconnect.load());
    REQUIRE(violations.count() == 1);
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
  // itself must let the endpoint go (a violation, which disconnects the
  // server) before it joins the server. (An earlier connect() joined first,
  // and the server waited forever for a message that never came.)
  //
  // The server waits, bounded, for that report before it receives, so that
  // a connect() that joins too early fails this test instead of hanging it:
  // with no report, the server gives up and drops its endpoint, which lets
  // the join return.
  Watchdog dog("connect with a client taking Chan&&");
  RecordViolations violations;
  std::atomic<bool> reported_before_join{false};
  std::atomic<bool> server_saw_disconnect{false};
  auto server = [&](Chan<Greet> end) {
    if (!spin_until([&] { return violations.count() >= 1; }, std::chrono::seconds(3))) {
      return;  // `end` dies live: reported, and the client's end is then gone too
    }
    reported_before_join = true;
    try {
      auto got = std::move(end).recv();
      std::move(got.first).send(got.second).close();
    } catch (const ss::Disconnected&) {
      server_saw_disconnect = true;
    }
  };

  SECTION("the client throws") {
    const std::string what =
        what_of<ClientFailed>([&] { ss::connect(server, [](Chan<Dual<Greet>>&& /*end*/) { throw ClientFailed(); }); });
    REQUIRE(what == "the client failed");
  }
  SECTION("the client returns without using its endpoint") {
    ss::connect(server, [](Chan<Dual<Greet>>&& /*end*/) {});
  }
  SECTION("a generic client (auto&&) throws") {
    const std::string what = what_of<ClientFailed>([&] {
      ss::connect<Greet>([&](auto end) { server(std::move(end)); }, [](auto&& /*end*/) { throw ClientFailed(); });
    });
    REQUIRE(what == "the client failed");
  }
  CHECK(reported_before_join.load());
  CHECK(server_saw_disconnect.load());
  CHECK(violations.count() == 1);
}
