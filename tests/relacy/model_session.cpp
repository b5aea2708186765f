// SPDX-License-Identifier: MIT
// Models of spindle::session's transport (two bounded mpsc channels, one
// per direction), run by relacy over the shipped code: a client and a
// server each step their endpoint on their own thread. Built with
// SPINDLE_SESSION_BUFFER=1 (see CMakeLists.txt), so a second send in one
// direction waits for the peer's recv.
//
// Each model checks that the protocol's values arrive, that what a side
// wrote before a send is visible to the peer after the matching recv or
// offer (relacy reports a data race otherwise), and that nobody hangs
// (relacy reports a deadlock).

// session.hpp includes spindle::thread (for connect()), whose OS-facing
// parts call pthreads and errno directly. relacy.hpp redefines those names
// (pthread_t, pthread_create, EINVAL, ...) as macros for its own threads,
// so those two headers come first, before model.hpp, with the system's
// meaning. They use no atomics nor parking: nothing the model checks is
// compiled before the seams are in place. The model never spawns a thread.
#include <spindle/detail/native_thread.hpp>
#include <spindle/detail/parallelism.hpp>

#include "model.hpp"

#include <spindle/session.hpp>

namespace {

namespace ss = spindle::session;
using ss::Choose;
using ss::Eps;
using ss::Offer;
using ss::Recv;
using ss::Send;

// Protocol violations seen by the handler installed in main(): one model
// destroys an endpoint early on purpose. relacy's threads are fibers of one
// OS thread, so the handler's count needs no ordering of its own.
std::atomic<int> violations{0};
void count_violation(std::string_view /*description*/) noexcept { violations.fetch_add(1, std::memory_order::relaxed); }

// The endpoints live in the test object, which relacy rebuilds each
// iteration; optionals so that each thread can take its own.
template <class P>
struct Endpoints {
  std::optional<ss::Chan<P>> server;
  std::optional<ss::Chan<ss::Dual<P>>> client;

  void make() {
    auto [s, c] = ss::session_channel<P>();
    server.emplace(std::move(s));
    client.emplace(std::move(c));
  }
  void reset() {
    server.reset();
    client.reset();
  }
};

// The client sends two numbers (the second waits while the first is
// unread: the buffer holds one) and receives their sum.
using SumServer = Recv<int, Recv<int, Send<int, Eps>>>;

struct SendSendRecv : rl::test_suite<SendSendRecv, 2> {
  Endpoints<SumServer> e;
  rl::var<int> note;  // written before each send, read after the recv

  void before() {
    e.make();
    note($) = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      note($) = 1;
      auto c1 = std::move(*e.client).send(20);
      auto c2 = std::move(c1).send(22);
      auto [c3, sum] = std::move(c2).recv();
      RL_ASSERT(sum == 42);
      RL_ASSERT(note($) == 2);
      std::move(c3).close();
    } else {
      auto [s1, a] = std::move(*e.server).recv();
      auto [s2, b] = std::move(s1).recv();
      RL_ASSERT(note($) == 1);
      note($) = 2;
      auto s3 = std::move(s2).send(a + b);
      std::move(s3).close();
    }
  }
  void after() {
    RL_ASSERT(!e.client->is_live() && !e.server->is_live());
    e.reset();
  }
};

// The client picks a branch; the server's offer() must see that branch.
// Branch 0 is a request and a reply, branch 1 ends at once.
using ChoiceServer = Offer<Recv<int, Send<int, Eps>>, Eps>;

template <int Branch>
struct ChooseOffer : rl::test_suite<ChooseOffer<Branch>, 2> {
  Endpoints<ChoiceServer> e;
  rl::var<int> note;

  void before() {
    e.make();
    note($) = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      note($) = 1;
      if constexpr (Branch == 0) {
        auto c1 = std::move(*this->e.client).sel1();
        auto c2 = std::move(c1).send(5);
        auto [c3, reply] = std::move(c2).recv();
        RL_ASSERT(reply == 6);
        std::move(c3).close();
      } else {
        std::move(*this->e.client).sel2().close();
      }
    } else {
      auto branch = std::move(*this->e.server).offer();
      RL_ASSERT(static_cast<int>(branch.index()) == Branch);
      RL_ASSERT(note($) == 1);
      if (auto* request = std::get_if<0>(&branch)) {
        auto [s1, x] = std::move(*request).recv();
        std::move(s1).send(x + 1).close();
      } else {
        std::move(std::get<1>(branch)).close();
      }
    }
  }
  void after() {
    RL_ASSERT(!e.client->is_live() && !e.server->is_live());
    e.reset();
  }
};

// The client sends its first number and then drops its endpoint in the
// middle of the protocol. The violation handler runs (it only counts) and
// the server, which may be asleep in its second recv at that moment, must
// get Disconnected rather than hang; the message already sent still
// arrives first.
struct ClientAbandons : rl::test_suite<ClientAbandons, 2> {
  Endpoints<SumServer> e;

  void before() {
    violations.store(0, std::memory_order::relaxed);
    e.make();
  }
  void thread(unsigned index) {
    if (index == 0) {
      auto c1 = std::move(*e.client).send(20);
      (void)c1;  // destroyed here, before its Send<int, ...>: a violation
    } else {
      auto [s1, a] = std::move(*e.server).recv();
      RL_ASSERT(a == 20);
      bool disconnected = false;
      try {
        auto [s2, b] = std::move(s1).recv();
        (void)s2;
        (void)b;
      } catch (const ss::Disconnected&) {
        disconnected = true;
      }
      RL_ASSERT(disconnected);
      RL_ASSERT(!s1.is_live());
    }
  }
  void after() {
    RL_ASSERT(violations.load(std::memory_order::relaxed) == 1);
    e.reset();
  }
};

// The server drops its endpoint before its reply while the client is
// sending or already waiting for it: the client's recv gets Disconnected
// (its sends went through: the buffer or the server took them).
struct ServerAbandons : rl::test_suite<ServerAbandons, 2> {
  Endpoints<SumServer> e;

  void before() {
    violations.store(0, std::memory_order::relaxed);
    e.make();
  }
  void thread(unsigned index) {
    if (index == 0) {
      bool disconnected = false;
      try {
        auto c1 = std::move(*e.client).send(1);
        auto c2 = std::move(c1).send(2);
        auto [c3, sum] = std::move(c2).recv();
        (void)c3;
        (void)sum;
      } catch (const ss::Disconnected&) {
        disconnected = true;
      }
      RL_ASSERT(disconnected);
    } else {
      auto [s1, a] = std::move(*e.server).recv();
      RL_ASSERT(a == 1);
      (void)s1;  // destroyed here, before its second Recv: a violation
    }
  }
  void after() {
    RL_ASSERT(violations.load(std::memory_order::relaxed) == 1);
    e.reset();
  }
};

// A timed offer and a timed recv racing the client's choice and value: a
// step that times out hands back the same endpoint, live, and loses
// nothing; the blocking step after it gets what the client sent.
struct TimedStepsRaceTheClient : rl::test_suite<TimedStepsRaceTheClient, 2> {
  Endpoints<ChoiceServer> e;
  rl::var<int> note;

  void before() {
    e.make();
    note($) = 0;
  }
  void thread(unsigned index) {
    if (index == 0) {
      note($) = 1;
      auto c1 = std::move(*e.client).sel1().send(5);
      auto [c2, reply] = std::move(c1).recv();
      RL_ASSERT(reply == 6);
      std::move(c2).close();
    } else {
      auto picked = std::move(*e.server).offer_timeout(std::chrono::nanoseconds(0));
      auto branch = picked.is_ok() ? std::move(picked).unwrap() : [&] {
        auto same = std::move(picked).unwrap_err();
        RL_ASSERT(same.is_live());
        return std::move(same).offer();
      }();
      RL_ASSERT(branch.index() == 0);
      RL_ASSERT(note($) == 1);
      auto request = std::get<0>(std::move(branch));
      auto got = std::move(request).recv_timeout(std::chrono::nanoseconds(0));
      auto [s1, x] = got.is_ok() ? std::move(got).unwrap() : [&] {
        auto same = std::move(got).unwrap_err();
        RL_ASSERT(same.is_live());
        return std::move(same).recv();
      }();
      RL_ASSERT(x == 5);
      std::move(s1).send(x + 1).close();
    }
  }
  void after() {
    RL_ASSERT(!e.client->is_live() && !e.server->is_live());
    e.reset();
  }
};

}  // namespace

int main() {
  using spindle::model_test::run;
  const ss::ViolationHandler previous = ss::set_violation_handler(&count_violation);
  // Where every wait sleeps, the exhaustive search of a session grows from
  // thousands of executions to up to a million (minutes): there it runs
  // only in the long runs, and the random scheduler runs longer instead.
  const bool exhaustive = !spindle::model_test::sleepy_build || spindle::model_test::long_runs();
  const int random = spindle::model_test::sleepy_build ? 10000 : 5000;
  bool ok = true;
  ok &= run<SendSendRecv>("session: send, send, recv", rl::sched_random, random);
  ok &= run<ChooseOffer<0>>("session: choose/offer, branch 0", rl::sched_random, random);
  ok &= run<ChooseOffer<1>>("session: choose/offer, branch 1", rl::sched_random, random);
  ok &= run<ClientAbandons>("session: client drops mid-protocol", rl::sched_random, random);
  ok &= run<ServerAbandons>("session: server drops mid-protocol", rl::sched_random, random);
  ok &= run<TimedStepsRaceTheClient>("session: timed offer and recv race the client", rl::sched_random, random);
  if (exhaustive) {
    ok &= run<SendSendRecv>("session: send, send, recv", rl::sched_bound, 20000);
    ok &= run<ChooseOffer<0>>("session: choose/offer, branch 0", rl::sched_bound, 20000);
    ok &= run<ClientAbandons>("session: client drops mid-protocol", rl::sched_bound, 20000);
    ok &= run<ServerAbandons>("session: server drops mid-protocol", rl::sched_bound, 20000);
    ok &= run<TimedStepsRaceTheClient>("session: timed offer and recv race the client", rl::sched_bound, 20000);
  }
  ss::set_violation_handler(previous);
  return ok ? 0 : 1;
}
