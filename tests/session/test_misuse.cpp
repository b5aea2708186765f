// SPDX-License-Identifier: MIT
// Misuse at run time: steps on moved-from or closed endpoints throw
// ProtocolError; destroying a live endpoint is a protocol violation that
// runs the violation handler and disconnects the peer (whose pending or next
// step throws Disconnected instead of hanging); an endpoint spent by
// Disconnected is not a violation; messages in flight are destroyed exactly
// once. (That the default handler prints the protocol state and aborts is a
// death test: tests/death.)

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
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
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::LifetimeCheck;
using spindle::test::Watchdog;
using spindle::test::session_support::contains;
using spindle::test::session_support::eventually;
using spindle::test::session_support::RecordViolations;
using spindle::test::session_support::spin_until;
using spindle::test::session_support::what_of;
using ss::Chan;
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

// --- moved-from and closed endpoints ---------------------------------------------

TEST_CASE("misuse: every step on a moved-from endpoint throws ProtocolError", "[session][misuse]") {
  RecordViolations violations;  // the live halves left over are reported, not aborted on

  SECTION("send") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto kept = std::move(ends.first);
    REQUIRE_FALSE(ends.first.is_live());
    REQUIRE(kept.is_live());
    const std::string what = what_of<ss::ProtocolError>([&] { (void)std::move(ends.first).send(1); });
    REQUIRE(contains(what, "send()"));
    REQUIRE(contains(what, "moved from"));
    // The step that threw took nothing from the live endpoint.
    std::move(kept).send(1).close();
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second == 1);
    std::move(got.first).close();
  }
  SECTION("recv") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto kept = std::move(ends.second);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(ends.second).recv(); }), "recv()"));
    std::move(ends.first).send(2).close();
    auto got = std::move(kept).recv();
    REQUIRE(got.second == 2);
    std::move(got.first).close();
  }
  SECTION("sel1, sel2 and select<I>") {
    auto ends = ss::session_channel<Choose<Eps, Eps, Eps>>();
    auto kept = std::move(ends.first);
    REQUIRE_THROWS_AS(std::move(ends.first).sel1(), ss::ProtocolError);
    REQUIRE_THROWS_AS(std::move(ends.first).sel2(), ss::ProtocolError);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(ends.first).select<2>(); }), "select()"));
    std::move(kept).select<2>().close();
    auto offered = std::move(ends.second).offer();
    REQUIRE(offered.index() == 2);
    std::get<2>(std::move(offered)).close();
  }
  SECTION("offer") {
    auto ends = ss::session_channel<Choose<Eps, Eps>>();
    auto kept = std::move(ends.second);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(ends.second).offer(); }), "offer()"));
    std::move(ends.first).sel1().close();
    auto offered = std::move(kept).offer();
    REQUIRE(offered.index() == 0);
    std::get<0>(std::move(offered)).close();
  }
  SECTION("enter, zero and succ") {
    using P = Rec<Choose<Rec<Choose<Var<Z>, Var<S<Z>>>>, Eps>>;
    auto ends = ss::session_channel<P>();
    auto outer = std::move(ends.first);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(ends.first).enter(); }), "enter()"));

    auto inner = std::move(outer).enter().sel1().enter();
    auto stay = std::move(inner).sel1();  // Chan<Var<Z>, ...>
    auto stay_kept = std::move(stay);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(stay).zero(); }), "zero()"));
    auto leave = std::move(stay_kept).zero().sel2();  // Chan<Var<S<Z>>, ...>
    auto leave_kept = std::move(leave);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { (void)std::move(leave).succ(); }), "succ()"));
    std::move(leave_kept).succ().zero().sel2().close();

    // The peer follows the same path.
    auto o1 = std::move(ends.second).enter().offer();
    REQUIRE(o1.index() == 0);
    auto o2 = std::get<0>(std::move(o1)).enter().offer();
    REQUIRE(o2.index() == 0);
    auto o3 = std::get<0>(std::move(o2)).zero().offer();
    REQUIRE(o3.index() == 1);
    auto o4 = std::get<1>(std::move(o3)).succ().zero().offer();
    REQUIRE(o4.index() == 1);
    std::get<1>(std::move(o4)).close();
  }
  SECTION("close") {
    auto ends = ss::session_channel<Eps>();
    auto kept = std::move(ends.first);
    REQUIRE(contains(what_of<ss::ProtocolError>([&] { std::move(ends.first).close(); }), "close()"));
    std::move(kept).close();
    std::move(ends.second).close();
  }
  // Every throw above was on an endpoint that held nothing: no violation.
  REQUIRE(violations.count() == 0);
}

TEST_CASE("misuse: a step on a closed endpoint throws ProtocolError", "[session][misuse]") {
  RecordViolations violations;
  auto ends = ss::session_channel<Eps>();
  std::move(ends.first).close();
  REQUIRE_FALSE(ends.first.is_live());
  REQUIRE_THROWS_AS(std::move(ends.first).close(), ss::ProtocolError);
  std::move(ends.second).close();
  REQUIRE_THROWS_AS(std::move(ends.second).close(), ss::ProtocolError);
  REQUIRE(violations.count() == 0);
}

TEST_CASE("misuse: the endpoint a step consumed is no longer live, the one it returned is", "[session][misuse]") {
  RecordViolations violations;
  auto ends = ss::session_channel<Send<int, Recv<int, Eps>>>();
  auto& a = ends.first;
  REQUIRE(a.is_live());
  auto a2 = std::move(a).send(1);
  REQUIRE_FALSE(a.is_live());
  REQUIRE(a2.is_live());
  REQUIRE_THROWS_AS(std::move(a).send(2), ss::ProtocolError);  // the old one, again

  auto moved = std::move(a2);  // a plain move: the same, for a move constructor
  REQUIRE_FALSE(a2.is_live());
  REQUIRE(moved.is_live());

  auto got = std::move(ends.second).recv();
  std::move(got.first).send(got.second + 1).close();
  auto back = std::move(moved).recv();
  REQUIRE(back.second == 2);
  std::move(back.first).close();
  REQUIRE(violations.count() == 0);
}

// --- the violation handler ---------------------------------------------------------

namespace {

void handler_one(std::string_view /*description*/) {}
void handler_two(std::string_view /*description*/) {}

}  // namespace

TEST_CASE("violations: set_violation_handler returns the handler it replaces, nullptr means the default",
          "[session][violation]") {
  const ss::ViolationHandler original = ss::set_violation_handler(&handler_one);
  REQUIRE(original == &ss::detail::default_violation);  // no other test leaves one behind
  REQUIRE(ss::set_violation_handler(&handler_two) == &handler_one);
  REQUIRE(ss::set_violation_handler(nullptr) == &handler_two);
  REQUIRE(ss::set_violation_handler(original) == &ss::detail::default_violation);
}

TEST_CASE("violations: destroying a live endpoint calls the handler with the protocol state", "[session][violation]") {
  RecordViolations violations;
  using P = Send<int, Recv<char, Eps>>;
  {
    auto ends = ss::session_channel<P>();
    auto half = std::move(ends.first).send(1);  // Chan<Recv<char, Eps>, Env<P>>
    auto got = std::move(ends.second).recv();
    std::move(got.first).send('x').close();
    // `half` still has to receive: destroying it here is the violation.
  }
  REQUIRE(violations.count() == 1);
  const std::string text = violations.last();
  REQUIRE(contains(text, "protocol violation"));
  // The step it stopped at and the whole protocol, without the namespace.
  // (g++ spells the protocol's closing brackets "> >", clang ">>".)
  REQUIRE(contains(text, "next step:  Recv<char, Eps>"));
  REQUIRE(contains(text, "protocol:   Send<int, Recv<char, Eps>"));
  REQUIRE_FALSE(contains(text, "spindle::session::"));
}

TEST_CASE("violations: each live endpoint destroyed is reported once, closed and moved-from ones are not",
          "[session][violation]") {
  RecordViolations violations;
  {
    auto ends = ss::session_channel<Send<int, Eps>>();
    // Both live: both reported.
  }
  REQUIRE(violations.count() == 2);
  {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto moved = std::move(ends.first);
    auto moved_again = std::move(moved);
    // One live endpoint in three objects, and the untouched peer: two reports.
  }
  REQUIRE(violations.count() == 4);
  {
    auto ends = ss::session_channel<Eps>();
    std::move(ends.first).close();
    std::move(ends.second).close();
  }
  REQUIRE(violations.count() == 4);
}

TEST_CASE("violations: move-assigning over a live endpoint is a violation for the one overwritten",
          "[session][violation]") {
  RecordViolations violations;
  auto first = ss::session_channel<Send<int, Eps>>();
  auto second = ss::session_channel<Send<int, Eps>>();
  first.first = std::move(second.first);  // the first session's sender is gone
  REQUIRE(violations.count() == 1);
  REQUIRE(first.first.is_live());
  REQUIRE_FALSE(second.first.is_live());
  REQUIRE_THROWS_AS(std::move(first.second).recv(), ss::Disconnected);

  // The endpoint that moved in talks to its own session.
  std::move(first.first).send(9).close();
  auto got = std::move(second.second).recv();
  REQUIRE(got.second == 9);
  std::move(got.first).close();

  // Self-assignment of a moved-in endpoint changes nothing. (Through a
  // reference: a direct self-move is what compilers warn about.)
  auto third = ss::session_channel<Eps>();
  auto& alias = third.first;
  third.first = std::move(alias);
  REQUIRE(third.first.is_live());
  std::move(third.first).close();
  std::move(third.second).close();
  REQUIRE(violations.count() == 1);
}

// --- the peer is disconnected, not left hanging --------------------------------------

TEST_CASE("disconnect: a recv blocked in another thread throws Disconnected when the peer dies",
          "[session][disconnect]") {
  Watchdog dog("blocked recv");
  RecordViolations violations;
  struct Seen {
    bool disconnected = false;
    bool live_after = true;
  };
  std::atomic<bool> about_to_block{false};
  auto ends = ss::session_channel<Send<int, Eps>>();
  auto receiver = th::spawn(
      [&about_to_block](Chan<Recv<int, Eps>> end) {
        Seen seen;
        about_to_block = true;
        try {
          auto got = std::move(end).recv();  // nothing will come
          std::move(got.first).close();
        } catch (const ss::Disconnected&) {
          seen.disconnected = true;
        }
        seen.live_after = end.is_live();
        return seen;  // `end` is destroyed here: spent, so not a violation
      },
      std::move(ends.second));

  REQUIRE(eventually([&] { return about_to_block.load(); }));
  std::this_thread::sleep_for(20ms);  // most likely asleep in recv() by now; correct either way
  { auto dropped = std::move(ends.first); }
  const Seen seen = receiver.join().unwrap();
  REQUIRE(seen.disconnected);
  REQUIRE_FALSE(seen.live_after);
  REQUIRE(violations.count() == 1);  // the dropped sender only
}

TEST_CASE("disconnect: a send blocked on a full buffer throws Disconnected when the peer dies",
          "[session][disconnect]") {
  Watchdog dog("blocked send");
  RecordViolations violations;
  LifetimeCheck lifetimes;
  using Stream = Rec<Send<Counted, Var<Z>>>;  // never ends: only a disconnect stops it
  std::atomic<int> sent{0};
  auto ends = ss::session_channel<Stream>();
  auto sender = th::spawn(
      [&sent](Chan<Stream> end) {
        auto c = std::move(end).enter();
        try {
          for (int i = 0;; ++i) {
            c = std::move(c).send(Counted(i)).zero();
            sent.fetch_add(1);
          }
        } catch (const ss::Disconnected&) {
          return !c.is_live();
        }
      },
      std::move(ends.first));

  REQUIRE(eventually([&] { return sent.load() >= SPINDLE_SESSION_BUFFER; }));
  std::this_thread::sleep_for(20ms);          // most likely blocked in send() by now
  { auto dropped = std::move(ends.second); }  // with the buffered Counteds still unread
  REQUIRE(sender.join().unwrap());            // the spent endpoint is not live
  REQUIRE(sent.load() == SPINDLE_SESSION_BUFFER);
  REQUIRE(violations.count() == 1);
  // LifetimeCheck: the buffered messages and the one whose send failed are
  // all destroyed, each once.
}

TEST_CASE("disconnect: the peer's next recv, send, select or offer throws Disconnected", "[session][disconnect]") {
  RecordViolations violations;
  SECTION("recv") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    { auto dropped = std::move(ends.first); }
    auto& c = ends.second;
    REQUIRE_THROWS_AS(std::move(c).recv(), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
  }
  SECTION("send") {
    LifetimeCheck lifetimes;
    auto ends = ss::session_channel<Send<Counted, Eps>>();
    { auto dropped = std::move(ends.second); }
    auto& c = ends.first;
    REQUIRE_THROWS_AS(std::move(c).send(Counted(1)), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
    REQUIRE(lifetimes.live() == 0);  // the value that could not be sent is gone
  }
  SECTION("select") {
    auto ends = ss::session_channel<Choose<Eps, Eps>>();
    { auto dropped = std::move(ends.second); }
    auto& c = ends.first;
    REQUIRE_THROWS_AS(std::move(c).sel2(), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
  }
  SECTION("offer") {
    auto ends = ss::session_channel<Choose<Eps, Eps>>();
    { auto dropped = std::move(ends.first); }
    auto& c = ends.second;
    REQUIRE_THROWS_AS(std::move(c).offer(), ss::Disconnected);
    REQUIRE_FALSE(c.is_live());
  }
  SECTION("a step after Disconnected throws ProtocolError, not Disconnected again") {
    auto ends = ss::session_channel<Send<int, Send<int, Eps>>>();
    { auto dropped = std::move(ends.first); }
    auto& c = ends.second;
    REQUIRE_THROWS_AS(std::move(c).recv(), ss::Disconnected);
    REQUIRE_THROWS_AS(std::move(c).recv(), ss::ProtocolError);
  }
  // Only the endpoints dropped on purpose were reported: destroying one
  // that Disconnected spent is not a violation.
  REQUIRE(violations.count() == 1);
}

TEST_CASE("disconnect: what the peer sent before it died is still delivered, then Disconnected",
          "[session][disconnect]") {
  RecordViolations violations;
  auto ends = ss::session_channel<Send<int, Send<int, Send<int, Eps>>>>();
  {
    auto rest = std::move(ends.first).send(1).send(2);  // dies before its third send
  }
  REQUIRE(violations.count() == 1);
  auto r1 = std::move(ends.second).recv();
  REQUIRE(r1.second == 1);
  auto r2 = std::move(r1.first).recv();
  REQUIRE(r2.second == 2);
  auto& last = r2.first;
  REQUIRE_THROWS_AS(std::move(last).recv(), ss::Disconnected);
  REQUIRE_FALSE(last.is_live());
  REQUIRE(violations.count() == 1);
}

TEST_CASE("disconnect: a peer that closed normally is not a disconnect for what it sent last",
          "[session][disconnect]") {
  // The sender's last message, then its close, may both happen before the
  // receiver looks: the message must still arrive.
  RecordViolations violations;
  auto ends = ss::session_channel<Choose<Send<std::string, Eps>, Eps>>();
  std::move(ends.first).sel1().send("last words").close();
  auto offered = std::move(ends.second).offer();
  REQUIRE(offered.index() == 0);
  auto got = std::get<0>(std::move(offered)).recv();
  REQUIRE(got.second == "last words");
  std::move(got.first).close();
  REQUIRE(violations.count() == 0);
}

// --- messages in flight ----------------------------------------------------------------

TEST_CASE("in flight: messages a torn-down session never delivered are destroyed exactly once", "[session][lifetime]") {
  RecordViolations violations;
  LifetimeCheck lifetimes;
  using P = Send<Counted, Send<Counted, Send<Counted, Eps>>>;

  SECTION("the receiver dies with three messages unread") {
    auto ends = ss::session_channel<P>();
    std::move(ends.first).send(Counted(1)).send(Counted(2)).send(Counted(3)).close();
    REQUIRE(lifetimes.live() == 3);  // in the buffer
    { auto dropped = std::move(ends.second); }
    REQUIRE(lifetimes.live() == 0);
    REQUIRE(violations.count() == 1);
  }
  SECTION("the sender dies mid-protocol, the receiver reads one and dies") {
    auto ends = ss::session_channel<P>();
    { auto rest = std::move(ends.first).send(Counted(1)).send(Counted(2)); }
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second.value() == 1);
    REQUIRE(lifetimes.live() == 2);  // one received, one in the buffer
    { auto dropped = std::move(got.first); }
    REQUIRE(lifetimes.live() == 1);
    REQUIRE(violations.count() == 2);
  }
  SECTION("both die with messages unread") {
    {
      auto ends = ss::session_channel<P>();
      auto rest = std::move(ends.first).send(Counted(1)).send(Counted(2));
    }
    REQUIRE(lifetimes.live() == 0);
    REQUIRE(violations.count() == 2);
  }
  SECTION("a session with messages both ways in flight") {
    {
      using Both = Send<Counted, Recv<Counted, Eps>>;
      auto ends = ss::session_channel<Both>();
      auto a = std::move(ends.first).send(Counted(1));
      auto got = std::move(ends.second).recv();
      auto b = std::move(got.first).send(Counted(2));
      auto a2 = std::move(a);  // moves do not copy or drop messages
      REQUIRE(lifetimes.live() == 2);
      std::move(b).close();
      // a2 dies live with Counted(2) unread.
    }
    REQUIRE(lifetimes.live() == 0);
    REQUIRE(violations.count() == 1);
  }
  // LifetimeCheck: constructions == destructions, nothing destroyed twice.
}

TEST_CASE("in flight: a delegated endpoint still in flight is destroyed live, and its own peer disconnected",
          "[session][lifetime][delegation]") {
  RecordViolations violations;
  using Job = Recv<int, Eps>;
  auto job = ss::session_channel<Job>();
  auto carrier = ss::session_channel<Send<Chan<Job>, Eps>>();
  std::move(carrier.first).send(std::move(job.first)).close();
  REQUIRE(violations.count() == 0);
  { auto dropped = std::move(carrier.second); }  // the Chan<Job> in its buffer goes with it
  REQUIRE(violations.count() == 2);              // the carrier's receiver and the job endpoint
  REQUIRE_THROWS_AS(std::move(job.second).send(1), ss::Disconnected);
  REQUIRE(violations.count() == 2);
}

TEST_CASE("in flight: torn down from two threads at once, every message is destroyed once", "[session][lifetime]") {
  // Both ends die at about the same time on different threads, with messages
  // in flight both ways; repeated to catch the interleavings.
  Watchdog dog("concurrent teardown");
  RecordViolations violations;
  LifetimeCheck lifetimes;
  using P = Rec<Send<Counted, Recv<Counted, Var<Z>>>>;
  constexpr int rounds = 200;
  int violations_expected = 0;
  for (int round = 0; round < rounds; ++round) {
    auto ends = ss::session_channel<P>();
    std::atomic<bool> go{false};
    std::atomic<bool> ready{false};
    auto other = th::spawn(
        [&go, &ready, round](Chan<Dual<P>> end) {
          auto c = std::move(end).enter();
          auto got = std::move(c).recv();
          auto pending = std::move(got.first).send(Counted(round));
          ready = true;
          return spin_until([&go] { return go.load(); });  // then `pending` dies live
        },
        std::move(ends.second));
    bool was_ready = false;
    {
      auto sent = std::move(ends.first).enter().send(Counted(-round));
      was_ready = eventually([&ready] { return ready.load(); });
      go = true;
      // `sent` dies live here, racing the other thread's endpoint (and with
      // the other thread's Counted still unread in its buffer).
    }
    const bool other_ok = other.join().unwrap();
    REQUIRE(was_ready);
    REQUIRE(other_ok);
    violations_expected += 2;
  }
  REQUIRE(violations.count() == violations_expected);
}

// The default handler's abort is checked by the death tests (tests/death),
// which run it in a child process.
