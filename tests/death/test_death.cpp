// SPDX-License-Identifier: MIT
// Death tests: what must end the process, run in a child process through
// death.hpp's fork/wait helper, and the checks that the helper tells an
// abort, an exit and a hang apart.
//
// What must end the process, according to the headers and DESIGN.md:
//   - session: destroying an endpoint that is neither closed nor moved-from
//     runs the violation handler; the default prints the protocol state to
//     stderr and aborts (session.hpp, detail::default_violation). The
//     handler runs in a noexcept destructor, so one that throws ends the
//     process through std::terminate.
//   - mpsc: destroying a SelectedOperation that was neither completed nor
//     moved from aborts with a message naming the operation
//     (mpsc/select.hpp), unless an exception is unwinding through it: then
//     the operation is given up quietly and its channel stays usable.
// And what must not, where a C++ programmer might expect it to:
//   - thread: a JoinHandle destroyed unjoined detaches its thread, as in
//     Rust (std::thread would call std::terminate); an exception escaping a
//     thread is the thread's Panic, never the process's end.
//
// Each test calls the helper from the test's only thread (the tests here
// start no thread in the parent); the children start threads of their own.

#include "death/death.hpp"
#include "support/catch.hpp"

#if SPINDLE_TEST_HAVE_FORK

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "support/bounded.hpp"

#include <spindle/select.hpp>
#include <spindle/session.hpp>
#include <spindle/thread.hpp>

namespace mpsc = spindle::mpsc;
namespace ss = spindle::session;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::eventually;
using spindle::test::death::check_in_child;
using spindle::test::death::DeathResult;
using spindle::test::death::run_in_child;
using ss::Chan;
using ss::Dual;
using ss::Eps;
using ss::Rec;
using ss::Recv;
using ss::Send;
using ss::Var;
using ss::Z;

namespace {

// What the default violation handler prints, whatever the protocol.
constexpr std::string_view violation_header =
    "spindle::session: protocol violation: an endpoint was destroyed before its protocol ended.";
constexpr std::string_view violation_advice = "Finish the protocol and call close() on Eps, or move the endpoint on.";

// That the child died as the default violation handler ends a process:
// SIGABRT, after its report, whose "next step" line starts with `next_step`.
// No sanitizer report.
void require_default_violation(const DeathResult& r, std::string_view next_step) {
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.killed_by(SIGABRT));
  REQUIRE(r.said(violation_header));
  REQUIRE(r.said(std::string("  next step:  ").append(next_step)));
}

// The tests below that expect the default handler check, in the parent,
// that it is the one installed: the child inherits it.
bool default_handler_installed() {
  const ss::ViolationHandler current = ss::set_violation_handler(nullptr);
  ss::set_violation_handler(current);
  return current == &ss::detail::default_violation;
}

// A handler that reports to stderr and counts, and returns: the session
// carries on with the peer disconnected.
std::atomic<int> handler_calls{0};

void report_violation(std::string_view description) {
  handler_calls.fetch_add(1);
  std::fprintf(stderr, "custom handler: %.*s\n", static_cast<int>(description.size()), description.data());
}

void throwing_handler(std::string_view /*description*/) { throw std::runtime_error("the handler threw"); }

}  // namespace

// --- the helper itself ------------------------------------------------------------

TEST_CASE("helper: a body that returns is an exit with code 0, not a death", "[death][helper]") {
  const DeathResult r = run_in_child([] { std::fputs("the child ran\n", stderr); });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.exited_with(0));
  REQUIRE_FALSE(r.signalled());
  REQUIRE_FALSE(r.timed_out());
  REQUIRE(r.said("the child ran"));
}

TEST_CASE("helper: a body that exits with a code is reported with that code", "[death][helper]") {
  const DeathResult r = run_in_child([] { ::_exit(7); });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.exited_with(7));
  REQUIRE_FALSE(r.exited_with(0));
  REQUIRE(r.code() == 7);
}

TEST_CASE("helper: a body that aborts is reported as killed by SIGABRT with its stderr", "[death][helper]") {
  const DeathResult r = run_in_child([] {
    std::fputs("last words\n", stderr);
    std::abort();
  });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.killed_by(SIGABRT));
  REQUIRE(r.signal() == SIGABRT);
  REQUIRE_FALSE(r.exited());
  REQUIRE(r.said("last words"));
}

TEST_CASE("helper: a body that runs past the limit is killed and reported as timed out", "[death][helper]") {
  const auto start = std::chrono::steady_clock::now();
  const DeathResult r = run_in_child([] { std::this_thread::sleep_for(10s); }, 200ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.timed_out());
  REQUIRE_FALSE(r.exited());
  REQUIRE_FALSE(r.killed_by(SIGABRT));
  REQUIRE(r.elapsed >= 200ms);
  // Killed near the limit, not after the body's ten seconds.
  REQUIRE(waited < 5s);
}

TEST_CASE("helper: an exception escaping the body ends the child with body_threw_code", "[death][helper]") {
  const DeathResult r = run_in_child([] { throw std::runtime_error("thrown in the child"); });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.exited_with(spindle::test::death::body_threw_code));
  REQUIRE(r.said("the body threw: thrown in the child"));
}

TEST_CASE("helper: a failed check_in_child ends the child with check_failed_code", "[death][helper]") {
  const DeathResult r = run_in_child([] {
    check_in_child(true, "this one holds");
    check_in_child(false, "this one does not");
  });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.exited_with(spindle::test::death::check_failed_code));
  REQUIRE(r.said("check failed in the child: this one does not"));
  REQUIRE_FALSE(r.said("this one holds"));
}

TEST_CASE("helper: the child may start threads", "[death][helper]") {
  const DeathResult r = run_in_child([] {
    auto handle = th::spawn([] { return 17; });
    check_in_child(handle.join().unwrap() == 17, "a thread in the child returned 17");
  });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.exited_with(0));
}

// --- session: the default violation handler aborts ------------------------------------

TEST_CASE("session: destroying a live endpoint prints the next step and the protocol, and aborts", "[death][session]") {
  REQUIRE(default_handler_installed());

  SECTION("in the middle of the protocol") {
    const DeathResult r = run_in_child([] {
      using P = Send<int, Recv<char, Eps>>;
      auto ends = ss::session_channel<P>();
      auto half = std::move(ends.first).send(1);  // Chan<Recv<char, Eps>, Env<P>>
      auto got = std::move(ends.second).recv();
      std::move(got.first).send('x').close();
      { auto dropped = std::move(half); }  // still has to receive: aborts here
      std::fputs("not reached\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Recv<char, Eps>\n");
    // (g++ spells the closing brackets "> >", clang ">>".)
    REQUIRE(r.said("  protocol:   Send<int, Recv<char, Eps>"));
    REQUIRE(r.said(violation_advice));
    REQUIRE_FALSE(r.said("spindle::session::"));
    REQUIRE_FALSE(r.said("not reached"));
  }
  SECTION("an untouched endpoint, on the dual side") {
    const DeathResult r = run_in_child([] {
      using P = Send<int, Recv<char, Eps>>;
      auto ends = ss::session_channel<P>();
      { Chan<Dual<P>> dropped = std::move(ends.second); }  // aborts here
      std::fputs("not reached\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Recv<int, Send<char, Eps>");
    REQUIRE(r.said("  protocol:   Recv<int, Send<char, Eps>"));
    REQUIRE_FALSE(r.said("not reached"));
  }
  SECTION("inside a loop") {
    const DeathResult r = run_in_child([] {
      using P = Rec<Send<int, Var<Z>>>;
      auto ends = ss::session_channel<P>();
      auto peer = std::move(ends.second).enter();
      auto jump = std::move(ends.first).enter().send(1);  // Chan<Var<Z>, ...>
      { auto dropped = std::move(jump); }                 // aborts here
      std::fputs("not reached\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Var<Z>\n");
    REQUIRE(r.said("  protocol:   Rec<Send<int, Var<Z>"));
    REQUIRE_FALSE(r.said("not reached"));
  }
}

TEST_CASE("session: a violation in a thread the program started aborts the whole process", "[death][session]") {
  REQUIRE(default_handler_installed());

  SECTION("the server of connect() drops its endpoint") {
    const DeathResult r = run_in_child([] {
      using P = Recv<int, Send<int, Eps>>;
      ss::connect<P>(
          [](Chan<P> end) {
            auto got = std::move(end).recv();
            (void)got;  // returns without sending back: `got.first` dies live
          },
          [](Chan<Dual<P>> end) {
            auto waiting = std::move(end).send(41);
            try {
              auto back = std::move(waiting).recv();  // the process ends first
              std::move(back.first).close();
            } catch (const ss::Disconnected&) {
              std::fputs("not reached: the client saw Disconnected\n", stderr);
            }
          });
      std::fputs("not reached: connect returned\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Send<int, Eps>\n");
    REQUIRE(r.said("  protocol:   Recv<int, Send<int, Eps>"));
    REQUIRE_FALSE(r.said("not reached"));
  }
  SECTION("the client of connect() leaves its endpoint unfinished") {
    const DeathResult r = run_in_child([] {
      using P = Recv<int, Eps>;
      ss::connect<P>(
          [](Chan<P> end) {
            try {
              auto got = std::move(end).recv();
              std::move(got.first).close();
            } catch (const ss::Disconnected&) {
              // The client's violation disconnects the server, unless the
              // abort ends the process first.
            }
          },
          [](Chan<Dual<P>>&& /*end taken by reference and left alone*/) {});
      std::fputs("not reached: connect returned\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Send<int, Eps>\n");
    REQUIRE_FALSE(r.said("not reached"));
  }
}

TEST_CASE("session: a session run to the end does not abort", "[death][session]") {
  REQUIRE(default_handler_installed());

  SECTION("both ends on one thread") {
    const DeathResult r = run_in_child([] {
      using P = Send<int, Recv<char, Eps>>;
      auto ends = ss::session_channel<P>();
      auto half = std::move(ends.first).send(1);
      auto got = std::move(ends.second).recv();
      std::move(got.first).send('x').close();
      auto back = std::move(half).recv();
      std::move(back.first).close();
      check_in_child(got.second == 1 && back.second == 'x', "the values crossed");
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("protocol violation"));
  }
  SECTION("a loop through connect(), with moved-from endpoints left behind") {
    const DeathResult r = run_in_child([] {
      using P = Rec<Recv<int, ss::Offer<Var<Z>, Eps>>>;
      ss::connect<P>(
          [](Chan<P> end) {
            auto c = std::move(end).enter();
            for (;;) {
              auto got = std::move(c).recv();
              auto next = std::move(got.first).offer();
              if (next.index() == 1) {
                std::get<1>(std::move(next)).close();
                return;
              }
              c = std::get<0>(std::move(next)).zero();
            }
          },
          [](Chan<Dual<P>> end) {
            auto c = std::move(end).enter();
            for (int i = 0; i < 3; ++i) {
              c = std::move(c).send(i).sel1().zero();
            }
            std::move(c).send(3).sel2().close();
          });
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("protocol violation"));
  }
}

// --- session: a handler that returns ------------------------------------------------

TEST_CASE("session: with a handler installed, a violation calls it instead of aborting", "[death][session]") {
  REQUIRE(default_handler_installed());

  SECTION("the handler is called once, the peer is disconnected, the process goes on") {
    const DeathResult r = run_in_child([] {
      const ss::ViolationHandler previous = ss::set_violation_handler(&report_violation);
      check_in_child(previous == &ss::detail::default_violation, "the default handler was installed");
      using P = Send<int, Recv<char, Eps>>;
      auto ends = ss::session_channel<P>();
      { auto half = std::move(ends.first).send(1); }  // dies live: the handler runs, and returns
      check_in_child(handler_calls.load() == 1, "the handler was called once");
      auto got = std::move(ends.second).recv();  // what was sent before still arrives
      check_in_child(got.second == 1, "the value sent before the violation arrived");
      bool disconnected = false;
      try {
        std::move(got.first).send('x').close();
      } catch (const ss::Disconnected&) {
        disconnected = true;
      }
      check_in_child(disconnected, "the peer's next step threw Disconnected");
      check_in_child(handler_calls.load() == 1, "the spent peer was no second violation");
      std::fputs("the child went on\n", stderr);
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE(r.said(std::string("custom handler: ").append(violation_header)));
    REQUIRE(r.said("  next step:  Recv<char, Eps>\n"));
    REQUIRE(r.said("the child went on"));
  }
  SECTION("set_violation_handler(nullptr) puts the default back, which aborts") {
    const DeathResult r = run_in_child([] {
      ss::set_violation_handler(&report_violation);
      check_in_child(ss::set_violation_handler(nullptr) == &report_violation, "nullptr replaced the custom handler");
      auto ends = ss::session_channel<Send<int, Eps>>();
      { auto dropped = std::move(ends.first); }  // aborts here
      std::fputs("not reached\n", stderr);
    });
    INFO(r);
    require_default_violation(r, "Send<int, Eps>\n");
    REQUIRE_FALSE(r.said("custom handler"));
    REQUIRE_FALSE(r.said("not reached"));
  }
}

TEST_CASE("session: a violation handler that throws ends the process through std::terminate", "[death][session]") {
  // The handler runs inside the endpoint's destructor (and a noexcept
  // function under it): an exception cannot leave it.
  const DeathResult r = run_in_child([] {
    ss::set_violation_handler(&throwing_handler);
    auto ends = ss::session_channel<Send<int, Eps>>();
    try {
      auto dropped = std::move(ends.first);
    } catch (...) {
      std::fputs("not reached: the handler's exception escaped the destructor\n", stderr);
    }
    std::fputs("not reached\n", stderr);
  });
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.killed_by(SIGABRT));
  REQUIRE_FALSE(r.said("not reached"));
#if defined(__GLIBCXX__)
  // libstdc++'s verbose terminate handler names the exception.
  REQUIRE(r.said("terminate called after throwing an instance of 'std::runtime_error'"));
  REQUIRE(r.said("the handler threw"));
#endif
}

// --- thread: what does not end the process ----------------------------------------------

TEST_CASE("thread: a JoinHandle destroyed unjoined detaches its thread and the process goes on", "[death][thread]") {
  SECTION("spindle::thread::JoinHandle") {
    const DeathResult r = run_in_child([] {
      static std::atomic<bool> go{false};
      static std::atomic<bool> ran{false};
      {
        auto handle = th::spawn([] {
          while (!go.load()) {
            std::this_thread::sleep_for(1ms);
          }
          ran = true;
        });
        // Destroyed while the thread runs, never joined: it detaches.
      }
      go = true;
      check_in_child(eventually([] { return ran.load(); }), "the detached thread ran to its end");
      std::fputs("the child went on\n", stderr);
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE(r.said("the child went on"));
  }
  SECTION("for contrast: a std::thread destroyed joinable calls std::terminate") {
    // The same program with std::thread: this is what the test above would
    // see if JoinHandle behaved like std::thread.
    const DeathResult r = run_in_child([] {
      static std::atomic<bool> go{false};
      {
        std::thread t([] {
          while (!go.load()) {
            std::this_thread::sleep_for(1ms);
          }
        });
      }
      go = true;
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.killed_by(SIGABRT));
  }
}

TEST_CASE("thread: a thread that throws or calls pthread_exit, never joined, does not end the process",
          "[death][thread]") {
  SECTION("an exception escapes the thread") {
    const DeathResult r = run_in_child([] {
      auto handle = th::spawn([]() -> int { throw std::runtime_error("escaped the thread"); });
      check_in_child(eventually([&handle] { return handle.is_finished(); }), "the thread finished");
      // `handle` is destroyed unjoined, its Panic with it.
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("terminate called"));
  }
#if defined(__GLIBC__)  // glibc's forced unwind is what spindle reports (thread.hpp)
  SECTION("the thread calls pthread_exit") {
    const DeathResult r = run_in_child([] {
      auto handle = th::spawn([] { ::pthread_exit(nullptr); });
      check_in_child(eventually([&handle] { return handle.is_finished(); }), "the thread finished");
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("terminate called"));
  }
#endif
}

// --- mpsc: a select's operation must be completed ------------------------------------

namespace {

// What select.hpp prints for an operation dropped uncompleted.
std::string dropped_operation(std::size_t index) {
  return "spindle::mpsc: the operation " + std::to_string(index) +
         " that a select started was dropped without being completed";
}

// That the child aborted for operation `index`, and got no further.
void require_dropped_abort(const DeathResult& r, std::size_t index) {
  INFO(r);
  REQUIRE_FALSE(r.sanitizer_reported());
  REQUIRE(r.killed_by(SIGABRT));
  REQUIRE(r.said(dropped_operation(index)));
  REQUIRE(r.said("call recv(rx) or send(tx, value) on the SelectedOperation"));
  REQUIRE_FALSE(r.said("not reached"));
}

// Thrown between select() and the completion of its operation.
struct AfterSelect : std::runtime_error {
  AfterSelect() : std::runtime_error("thrown after the select") {}
};

// Selects on the one operation `add` puts in, then throws before completing
// it: the SelectedOperation is destroyed by unwinding.
template <class Add>
void start_then_throw(Add add) {
  try {
    mpsc::Select sel;
    add(sel);
    auto op = sel.select_timeout(spindle::test::wait_limit).unwrap();
    throw AfterSelect();
  } catch (const AfterSelect&) {
  }
}

}  // namespace

TEST_CASE("mpsc: a SelectedOperation dropped without being completed aborts, naming the operation", "[death][select]") {
  SECTION("a receive, the second operation of a biased select") {
    const DeathResult r = run_in_child([] {
      auto idle = mpsc::channel<int>();
      auto busy = mpsc::channel<int>();
      (void)busy.first.send(1);
      auto sel = mpsc::Select::biased();
      sel.recv(idle.second);
      sel.recv(busy.second);
      { auto op = sel.select(); }  // aborts here
      std::fputs("not reached\n", stderr);
    });
    require_dropped_abort(r, 1);
  }
  SECTION("a send on a bounded channel, the third operation") {
    const DeathResult r = run_in_child([] {
      auto a = mpsc::channel<int>();
      auto b = mpsc::sync_channel<int>(0);
      auto c = mpsc::sync_channel<int>(1);
      mpsc::Select sel;
      sel.recv(a.second);
      sel.recv(b.second);
      sel.send(c.first);
      { auto op = sel.select(); }  // only the send can proceed; aborts here
      std::fputs("not reached\n", stderr);
    });
    require_dropped_abort(r, 2);
  }
  SECTION("the operation inside try_select()'s Result") {
    const DeathResult r = run_in_child([] {
      auto a = mpsc::channel<int>();
      (void)a.first.send(1);
      mpsc::Select sel;
      sel.recv(a.second);
      { auto started = sel.try_select(); }  // aborts here
      std::fputs("not reached\n", stderr);
    });
    require_dropped_abort(r, 0);
  }
}

TEST_CASE("mpsc: a SelectedOperation dropped while an exception is in flight is given up quietly", "[death][select]") {
  // Not dropped by the unwinding itself but by a destructor that the
  // unwinding runs: a programming error all the same, but one spindle does
  // not tell apart from unwinding (that would cost every select a look at
  // the exception count when it starts one). The operation is given up and
  // the message stays for the next receive.
  const DeathResult r = run_in_child([] {
    static auto a = mpsc::channel<int>();
    (void)a.first.send(1);
    struct DropsOne {
      DropsOne() = default;
      DropsOne(const DropsOne&) = delete;
      DropsOne& operator=(const DropsOne&) = delete;
      ~DropsOne() {
        mpsc::Select sel;
        sel.recv(a.second);
        auto op = sel.select();
      }  // given up here
    };
    try {
      const DropsOne guard;
      throw AfterSelect();
    } catch (const AfterSelect&) {
      check_in_child(a.second.try_recv().unwrap() == 1, "the message is still there");
      std::fputs("went on\n", stderr);
    }
  });
  INFO(r);
  REQUIRE(r.exited_with(0));
  REQUIRE(r.said("went on"));
  REQUIRE_FALSE(r.said("dropped without being completed"));
}

TEST_CASE("mpsc: a SelectedOperation destroyed by unwinding gives the operation up, the channel goes on",
          "[death][select]") {
  // Each body throws between select() and the operation's completion; the
  // operation is then given up, and the channel works as if it had never
  // been started.
  SECTION("receives from every flavour: the message is still there") {
    const DeathResult r = run_in_child([] {
      auto receive_then_throw = [](mpsc::Receiver<int>& rx) {
        start_then_throw([&rx](mpsc::Select& sel) { sel.recv(rx); });
      };
      auto u = mpsc::channel<int>();
      (void)u.first.send(5);
      receive_then_throw(u.second);
      check_in_child(u.second.try_recv().unwrap_or(-1) == 5, "the unbounded channel's message is still there");

      auto b = mpsc::sync_channel<int>(2);
      (void)b.first.send(6);
      receive_then_throw(b.second);
      check_in_child(b.second.try_recv().unwrap_or(-1) == 6, "the bounded channel's message is still there");

      // Rendezvous: the select pairs with a sender blocked in send().
      auto z = mpsc::sync_channel<int>(0);
      auto sender = th::spawn([&z] { return z.first.send(7).is_ok(); });
      receive_then_throw(z.second);
      check_in_child(z.second.recv_timeout(spindle::test::wait_limit).unwrap_or(-1) == 7,
                     "the rendezvous sender's message is still there");
      check_in_child(sender.join().unwrap(), "the rendezvous send succeeded once received");
      std::fputs("the child went on\n", stderr);
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("without being completed"));
    REQUIRE(r.said("the child went on"));
  }
  SECTION("sends on a bounded and a rendezvous channel: the next send gets through") {
    const DeathResult r = run_in_child([] {
      auto send_then_throw = [](mpsc::SyncSender<int>& tx) {
        start_then_throw([&tx](mpsc::Select& sel) { sel.send(tx); });
      };
      // Bounded: the claimed slot is given up; the receiver steps over it.
      auto b = mpsc::sync_channel<int>(1);
      send_then_throw(b.first);
      check_in_child(b.second.try_recv().is_err(), "nothing was sent on the bounded channel");
      check_in_child(b.first.try_send(8).is_ok(), "the bounded channel has room again");
      check_in_child(b.second.try_recv().unwrap_or(-1) == 8, "the next message arrived");

      // Rendezvous: the waiting receiver that the select claimed is given
      // back, and takes the next send.
      auto z = mpsc::sync_channel<int>(0);
      auto receiver = th::spawn([&z] { return z.second.recv_timeout(spindle::test::wait_limit).unwrap_or(-1); });
      send_then_throw(z.first);
      check_in_child(z.first.send(9).is_ok(), "the rendezvous receiver took the next send");
      check_in_child(receiver.join().unwrap() == 9, "the rendezvous receiver got the next message, not another");
      std::fputs("the child went on\n", stderr);
    });
    INFO(r);
    REQUIRE_FALSE(r.sanitizer_reported());
    REQUIRE(r.exited_with(0));
    REQUIRE_FALSE(r.said("without being completed"));
    REQUIRE(r.said("the child went on"));
  }
}

#else  // no fork()

TEST_CASE("death tests need fork(): skipped on this platform", "[death]") {
  WARN(
      "the death tests are skipped: they run the code under test in a child made with fork(), which this "
      "platform lacks");
}

#endif  // SPINDLE_TEST_HAVE_FORK
