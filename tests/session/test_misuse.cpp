// SPDX-License-Identifier: MIT
// Misuse at run time: steps on moved-from or closed endpoints throw
// ProtocolError; destroying a live endpoint in the middle of its protocol is
// a protocol violation that runs the violation handler (with a description
// that names the thread) and disconnects the peer (whose pending or next
// step throws Disconnected instead of hanging); an endpoint spent by
// Disconnected is not a violation, nor is one at Eps (it closes), nor one
// destroyed by an exception unwinding its scope (the peer is disconnected
// all the same); messages in flight are destroyed exactly once. (That the
// default handler prints the protocol state and aborts is a death test:
// tests/death.)

#include <atomic>
#include <chrono>
#include <cstdint>
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

// --- an endpoint at Eps closes when it is destroyed --------------------------------

TEST_CASE("eps: an endpoint at Eps destroyed without close() closes quietly and the peer reads on",
          "[session][violation][eps]") {
  RecordViolations violations;
  LifetimeCheck lifetimes;

  SECTION("the peer still receives what was sent before, then closes") {
    using P = Send<Counted, Send<Counted, Eps>>;
    auto ends = ss::session_channel<P>();
    {
      auto done = std::move(ends.first).send(Counted(1)).send(Counted(2));
      static_assert(std::is_same_v<decltype(done), Chan<Eps, Env<P>>>);
      REQUIRE(done.is_live());
      // `done` dies live at Eps: that is a close, not a violation.
    }
    REQUIRE(violations.count() == 0);
    REQUIRE(lifetimes.live() == 2);  // both messages wait for the peer
    auto r1 = std::move(ends.second).recv();
    REQUIRE(r1.second.value() == 1);
    auto r2 = std::move(r1.first).recv();
    REQUIRE(r2.second.value() == 2);
    std::move(r2.first).close();
  }
  SECTION("both ends of an Eps session dropped") {
    {
      auto ends = ss::session_channel<Eps>();
      REQUIRE(ends.first.is_live());
      REQUIRE(ends.second.is_live());
    }
    REQUIRE(violations.count() == 0);
  }
  SECTION("the peer drops its end at Eps too, after reading everything") {
    auto ends = ss::session_channel<Send<Counted, Eps>>();
    { auto done = std::move(ends.first).send(Counted(3)); }
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second.value() == 3);
    { auto also_done = std::move(got.first); }
    REQUIRE(violations.count() == 0);
  }
  SECTION("the Eps branch left in offer()'s variant") {
    using P = Choose<Send<int, Eps>, Eps>;
    auto ends = ss::session_channel<P>();
    { auto chose = std::move(ends.first).sel2(); }  // at Eps: closes
    {
      auto offered = std::move(ends.second).offer();
      REQUIRE(offered.index() == 1);
      REQUIRE(std::get<1>(offered).is_live());
      // The variant dies holding a live Chan<Eps, ...>: closes too.
    }
    REQUIRE(violations.count() == 0);
  }
  SECTION("move-assigning over an endpoint at Eps closes the one overwritten") {
    auto first = ss::session_channel<Eps>();
    auto second = ss::session_channel<Eps>();
    first.first = std::move(second.first);
    REQUIRE(violations.count() == 0);
    REQUIRE(first.first.is_live());
    std::move(first.first).close();
    std::move(first.second).close();
    std::move(second.second).close();
  }
  SECTION("an endpoint at Eps still in flight is destroyed quietly with its carrier") {
    using Job = Send<std::string, Eps>;
    auto job = ss::session_channel<Job>();
    auto at_eps = std::move(job.first).send(std::string(100, 'x'));  // Chan<Eps, Env<Job>>
    auto carrier = ss::session_channel<Send<Chan<Eps, Env<Job>>, Eps>>();
    std::move(carrier.first).send(std::move(at_eps)).close();
    { auto dropped = std::move(carrier.second); }  // mid-protocol: one violation; the Eps endpoint in it: none
    REQUIRE(violations.count() == 1);
    auto got = std::move(job.second).recv();
    REQUIRE(got.second == std::string(100, 'x'));
    std::move(got.first).close();
    REQUIRE(violations.count() == 1);
  }
  SECTION("on another thread: a function that returns with its endpoint at Eps") {
    Watchdog dog("an endpoint at Eps dropped on another thread");
    auto ends = ss::session_channel<Send<Counted, Eps>>();
    auto sender = th::spawn(
        [](Chan<Send<Counted, Eps>> end) {
          auto rest = std::move(end).send(Counted(5));
          return rest.is_live();  // `rest` dies here, live, at Eps
        },
        std::move(ends.first));
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second.value() == 5);
    std::move(got.first).close();
    REQUIRE(sender.join().unwrap());
    REQUIRE(violations.count() == 0);
  }
  // LifetimeCheck: every message was destroyed exactly once.
}

// --- an endpoint destroyed by unwinding ---------------------------------------------------

namespace {

/// An exception with a payload, to check that what is caught is what was thrown.
struct Boom : std::runtime_error {
  explicit Boom(int c) : std::runtime_error("boom"), code(c) {}
  int code;
};

/// A destructor that makes a session and drops both ends mid-protocol, with
/// no exception of its own: when it runs during the unwinding of another
/// exception, the ends were made while that exception was in flight and
/// are not destroyed by it.
struct MakesAndDrops {
  MakesAndDrops() = default;
  MakesAndDrops(const MakesAndDrops&) = delete;
  MakesAndDrops& operator=(const MakesAndDrops&) = delete;
  ~MakesAndDrops() { [[maybe_unused]] auto [a, b] = ss::session_channel<Send<int, Eps>>(); }
};

/// A destructor that makes a session, then throws and catches an exception
/// of its own that unwinds the two ends: they are destroyed by unwinding.
struct MakesThenUnwinds {
  MakesThenUnwinds() = default;
  MakesThenUnwinds(const MakesThenUnwinds&) = delete;
  MakesThenUnwinds& operator=(const MakesThenUnwinds&) = delete;
  ~MakesThenUnwinds() {
    try {
      auto ends = ss::session_channel<Send<int, Eps>>();
      auto held = std::move(ends.second);
      throw Boom(-1);
    } catch (const Boom&) {
      caught = true;
    }
  }
  static inline std::atomic<bool> caught{false};
};

/// A destructor that makes a session while an exception is in flight and
/// hands one end to a new thread, whose own exception unwinds it there: the
/// count of exceptions in flight at the making belongs to this thread, not
/// to that one. Records whether the peer saw Disconnected.
struct HandsOffDuringUnwinding {
  HandsOffDuringUnwinding() = default;
  HandsOffDuringUnwinding(const HandsOffDuringUnwinding&) = delete;
  HandsOffDuringUnwinding& operator=(const HandsOffDuringUnwinding&) = delete;
  ~HandsOffDuringUnwinding() {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto worker = th::spawn(
        [](Chan<Send<int, Eps>> end) {
          auto held = std::move(end);
          throw Boom(-2);
        },
        std::move(ends.first));
    (void)worker.join();
    try {
      auto got = std::move(ends.second).recv();
      std::move(got.first).close();
    } catch (const ss::Disconnected&) {
      peer_disconnected = true;
    }
  }
  static inline std::atomic<bool> peer_disconnected{false};
};

}  // namespace

TEST_CASE("unwinding: an endpoint destroyed by an exception is no violation and the peer sees Disconnected",
          "[session][violation][unwind]") {
  RecordViolations violations;
  LifetimeCheck lifetimes;

  SECTION("one thread: what was sent before still arrives, then Disconnected") {
    using P = Send<Counted, Recv<int, Eps>>;
    auto ends = ss::session_channel<P>();
    int code = 0;
    std::string what;
    try {
      auto waiting = std::move(ends.first).send(Counted(1));  // Chan<Recv<int, Eps>, ...>
      REQUIRE(waiting.is_live());
      throw Boom(7);
    } catch (const Boom& e) {
      code = e.code;
      what = e.what();
    }
    REQUIRE(code == 7);  // the exception reached the catcher unchanged
    REQUIRE(what == "boom");
    REQUIRE(violations.count() == 0);
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second.value() == 1);
    auto& rest = got.first;
    REQUIRE_THROWS_AS(std::move(rest).send(2), ss::Disconnected);
    REQUIRE_FALSE(rest.is_live());
    REQUIRE(violations.count() == 0);
  }
  SECTION("a by-value parameter of a function that throws") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto fail = [](Chan<Send<int, Eps>> end) {
      REQUIRE(end.is_live());
      throw Boom(8);
    };
    REQUIRE_THROWS_AS(fail(std::move(ends.first)), Boom);
    REQUIRE_FALSE(ends.first.is_live());
    REQUIRE(violations.count() == 0);
    REQUIRE_THROWS_AS(std::move(ends.second).recv(), ss::Disconnected);
  }
  SECTION("an endpoint outside the scope that unwinds is untouched") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    auto fail = [](Chan<Send<int, Eps>>& /*borrowed*/) { throw Boom(9); };
    REQUIRE_THROWS_AS(fail(ends.first), Boom);
    REQUIRE(ends.first.is_live());
    std::move(ends.first).send(10).close();
    auto got = std::move(ends.second).recv();
    REQUIRE(got.second == 10);
    std::move(got.first).close();
    REQUIRE(violations.count() == 0);
  }
  SECTION("a member of an object the exception destroys") {
    struct Holder {
      Chan<Send<int, Eps>> end;
    };
    auto ends = ss::session_channel<Send<int, Eps>>();
    try {
      Holder holder{std::move(ends.first)};
      REQUIRE(holder.end.is_live());
      throw Boom(11);
    } catch (const Boom& e) {
      REQUIRE(e.code == 11);
    }
    REQUIRE(violations.count() == 0);
    REQUIRE_THROWS_AS(std::move(ends.second).recv(), ss::Disconnected);
  }
  SECTION("inside a loop, with the branch still in offer()'s variant, several frames down") {
    using Loop = Rec<Offer<Recv<Counted, Var<Z>>, Eps>>;
    auto ends = ss::session_channel<Loop>();
    auto client = std::move(ends.second).enter();
    client = std::move(client).sel1().send(Counted(1)).zero();
    client = std::move(client).sel1().send(Counted(2)).zero();
    // The server fails when it sees the second request, before taking its
    // endpoint out of the variant.
    auto serve = [](Chan<Loop> end) {
      auto top = std::move(end).enter();
      for (int seen = 1;; ++seen) {
        auto offered = std::move(top).offer();
        if (offered.index() == 1) {
          std::get<1>(std::move(offered)).close();
          return;
        }
        if (seen == 2) {
          throw Boom(seen);  // `offered` holds a live endpoint
        }
        auto got = std::get<0>(std::move(offered)).recv();
        top = std::move(got.first).zero();
      }
    };
    auto outer = [&serve](Chan<Loop> end) { serve(std::move(end)); };
    int code = 0;
    try {
      outer(std::move(ends.first));
    } catch (const Boom& e) {
      code = e.code;
    }
    REQUIRE(code == 2);
    REQUIRE(violations.count() == 0);
    auto& last = client;
    REQUIRE_THROWS_AS(std::move(last).sel1(), ss::Disconnected);
    REQUIRE_FALSE(last.is_live());
  }
  // LifetimeCheck: the Counted left unread in the buffer was destroyed too.
}

TEST_CASE("unwinding: a peer blocked in recv on another thread throws Disconnected when the endpoint unwinds",
          "[session][violation][unwind][disconnect]") {
  Watchdog dog("unwinding while the peer waits");
  RecordViolations violations;
  std::atomic<bool> about_to_block{false};
  auto ends = ss::session_channel<Send<int, Eps>>();
  // The thread's function throws with its endpoint: the exception escapes
  // the thread, and join() hands it over.
  auto failing = th::spawn(
      [&about_to_block](Chan<Send<int, Eps>> end) {
        auto held = std::move(end);
        (void)spin_until([&about_to_block] { return about_to_block.load(); });
        std::this_thread::sleep_for(20ms);  // most likely asleep in recv() by now; correct either way
        throw Boom(12);
      },
      std::move(ends.first));

  bool disconnected = false;
  about_to_block = true;
  try {
    auto got = std::move(ends.second).recv();  // nothing will come
    std::move(got.first).close();
  } catch (const ss::Disconnected&) {
    disconnected = true;
  }
  auto joined = failing.join();
  REQUIRE(disconnected);
  REQUIRE_FALSE(ends.second.is_live());
  REQUIRE(joined.is_err());
  const Boom* boom = joined.unwrap_err().get_if<Boom>();
  REQUIRE(boom != nullptr);
  REQUIRE(boom->code == 12);
  REQUIRE(violations.count() == 0);
}

TEST_CASE("unwinding: endpoints made while an unrelated exception is in flight are still violations when dropped",
          "[session][violation][unwind]") {
  RecordViolations violations;

  SECTION("made and dropped in a destructor that runs during unwinding") {
    int code = 0;
    try {
      MakesAndDrops d;
      throw Boom(13);
    } catch (const Boom& e) {
      code = e.code;
    }
    REQUIRE(code == 13);
    REQUIRE(violations.count() == 2);  // both ends: made after the throw, not destroyed by it
  }
  SECTION("made in such a destructor and then unwound by an exception of its own") {
    MakesThenUnwinds::caught = false;
    try {
      MakesThenUnwinds d;
      throw Boom(14);
    } catch (const Boom& e) {
      REQUIRE(e.code == 14);
    }
    REQUIRE(MakesThenUnwinds::caught.load());
    REQUIRE(violations.count() == 0);
  }
  SECTION("made in such a destructor and unwound by another thread's exception") {
    Watchdog dog("an endpoint handed to a thread during unwinding");
    HandsOffDuringUnwinding::peer_disconnected = false;
    try {
      HandsOffDuringUnwinding d;
      throw Boom(16);
    } catch (const Boom& e) {
      REQUIRE(e.code == 16);
    }
    REQUIRE(HandsOffDuringUnwinding::peer_disconnected.load());
    REQUIRE(violations.count() == 0);
  }
  SECTION("dropped in a catch block, after the exception was caught") {
    auto ends = ss::session_channel<Send<int, Eps>>();
    try {
      throw Boom(15);
    } catch (const Boom&) {
      auto dropped = std::move(ends.first);  // nothing is unwinding it
    }
    REQUIRE(violations.count() == 1);
    REQUIRE_THROWS_AS(std::move(ends.second).recv(), ss::Disconnected);
  }
  SECTION("abandoned with no exception anywhere") {
    { auto ends = ss::session_channel<Send<int, Recv<int, Eps>>>(); }
    REQUIRE(violations.count() == 2);
  }
}

// --- the description names the thread ----------------------------------------------------

namespace {

std::string thread_id_text(std::uint64_t id) { return "ThreadId(" + std::to_string(id) + ")"; }

/// Drops a live endpoint of a fresh Send<int, Eps> session on the calling
/// thread and returns the thread's id (the peer is dropped quietly first).
std::uint64_t drop_one_here(Chan<Send<int, Eps>> end) {
  { auto dropped = std::move(end); }
  return th::current().id().as_u64();
}

}  // namespace

TEST_CASE("violations: the description names the thread that destroyed the endpoint", "[session][violation][thread]") {
  Watchdog dog("violations on named threads");
  RecordViolations violations;
  const std::uint64_t main_id = th::current().id().as_u64();
  auto ends = ss::session_channel<Send<int, Eps>>();
  std::string text;

  SECTION("the process's first thread is \"main\"") {
    REQUIRE(drop_one_here(std::move(ends.first)) == main_id);
    REQUIRE(violations.count() == 1);
    text = violations.last();
    REQUIRE(contains(text, "main"));
    REQUIRE(contains(text, thread_id_text(main_id)));
  }
  SECTION("a thread named through Builder") {
    auto handle = th::Builder().name("kv-worker").spawn(drop_one_here, std::move(ends.first)).unwrap();
    const std::uint64_t id = handle.join().unwrap();
    REQUIRE(violations.count() == 1);
    text = violations.last();
    REQUIRE(id != main_id);
    REQUIRE(contains(text, "kv-worker"));
    REQUIRE(contains(text, thread_id_text(id)));
    REQUIRE_FALSE(contains(text, thread_id_text(main_id)));
  }
  SECTION("a name longer than the OS keeps is given whole") {
    const std::string name = "kv-worker-with-a-name-the-kernel-cuts";
    auto handle = th::Builder().name(name).spawn(drop_one_here, std::move(ends.first)).unwrap();
    const std::uint64_t id = handle.join().unwrap();
    REQUIRE(violations.count() == 1);
    text = violations.last();
    REQUIRE(contains(text, name));
    REQUIRE(contains(text, thread_id_text(id)));
  }
  SECTION("an unnamed thread spawned by spindle") {
    auto handle = th::spawn(drop_one_here, std::move(ends.first));
    const std::uint64_t id = handle.join().unwrap();
    REQUIRE(violations.count() == 1);
    text = violations.last();
    REQUIRE(id != main_id);
    REQUIRE(contains(text, thread_id_text(id)));
    REQUIRE_FALSE(contains(text, thread_id_text(main_id)));
  }
  SECTION("a thread spindle did not start") {
    std::uint64_t id = 0;
    std::thread plain([&id, end = std::move(ends.first)]() mutable { id = drop_one_here(std::move(end)); });
    plain.join();
    REQUIRE(violations.count() == 1);
    text = violations.last();
    REQUIRE(id != 0);
    REQUIRE(id != main_id);
    REQUIRE(contains(text, thread_id_text(id)));
  }
  // The protocol state is still all there, beside the thread.
  REQUIRE(contains(text, "protocol violation"));
  REQUIRE(contains(text, "next step:  Send<int, Eps>"));
  REQUIRE_THROWS_AS(std::move(ends.second).recv(), ss::Disconnected);
  REQUIRE(violations.count() == 1);
}

// The default handler's abort is checked by the death tests (tests/death),
// which run it in a child process.
