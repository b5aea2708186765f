// SPDX-License-Identifier: MIT
//
// More of tutorial section 3, "Session types": delegation, an endpoint sent
// over another session.
//
// In Rust's session_types crate a Chan is a value like any other, so one
// session can carry another: Send<Chan<(), P>, Q>. The thread that receives
// it takes over the session at the point it had reached, and the peer at the
// other end cannot tell. This is how a server that accepts connections hands
// each one to a worker.
//
// Here a front desk accepts sessions from clients. Each client first says
// its name, then sends a line of text and expects it back in capitals. The
// desk reads the name and hands the rest of the session to one of two
// workers, in turn, over a session of its own with each worker; the worker
// finishes it. In C++ an endpoint's type names the protocol still to run and
// the protocol it started as (its Env), so the rest of a client's session,
// after the name, is Chan<Job, Env<Service>>: that is the type the desk's
// protocol with a worker sends. The desk's own variable is spent once the
// endpoint has moved into send(); a step on it would throw ProtocolError.
//
// Clients come one at a time, and each line is printed between receiving a
// message and sending the next one, so the lines come out in one order
// every time: the desk, then the worker, then the client.

#include <spindle/mpsc.hpp>
#include <spindle/session.hpp>
#include <spindle/thread.hpp>

#include <array>
#include <cctype>
#include <cstddef>
#include <iostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

using spindle::session::Chan;
using spindle::session::Choose;
using spindle::session::Dual;
using spindle::session::Env;
using spindle::session::Eps;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;

namespace {

// A client's session, seen from the server: the client's name, then a line
// of text, and the line in capitals back.
using Job = Recv<std::string, Send<std::string, Eps>>;
using Service = Recv<std::string, Job>;

// What is left of a client's session once the desk has read the name.
using RestOfSession = Chan<Job, Env<Service>>;

// The desk and one worker, seen from the desk: again and again, the client's
// name and the rest of its session, until the desk says stop.
using Assignment = Choose<Send<std::string, Send<RestOfSession, Var<Z>>>, Eps>;
using Assign = Rec<Assignment>;
// The desk's end of it, at the top of the loop.
using ToWorker = Chan<Assignment, Env<Assign, Assignment>>;

std::string capitals(std::string text) {
  for (char& ch : text) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return text;
}

// Accepts sessions until every sender of `incoming` is gone, then tells the
// workers to stop.
void front_desk(spindle::mpsc::Receiver<Chan<Service>> incoming, std::vector<ToWorker> workers) {
  std::size_t turn = 0;
  for (Chan<Service> session : incoming) {
    auto [rest, name] = std::move(session).recv();
    const std::size_t w = turn++ % workers.size();
    std::cout << "front desk: " << name << " is here, worker " << w + 1 << " takes over\n";
    // cppcheck-suppress accessMoved ; false positive (cppcheck 2.10): `name` is new each iteration
    workers[w] = std::move(workers[w]).sel1().send(std::move(name)).send(std::move(rest)).zero();
    // `rest` is spent: the session now belongs to the worker.
  }
  for (ToWorker& to_worker : workers) {
    std::move(to_worker).sel2().close();
  }
}

// Finishes the sessions the desk hands over until told to stop; returns how
// many it finished.
int worker(int number, Chan<Dual<Assign>> desk) {
  int finished = 0;
  auto top = std::move(desk).enter();
  for (;;) {
    auto next = std::move(top).offer();
    if (next.index() == 1) {  // stop
      std::get<1>(std::move(next)).close();
      return finished;
    }
    auto [with_name, name] = std::get<0>(std::move(next)).recv();
    auto [with_session, session] = std::move(with_name).recv();
    top = std::move(with_session).zero();

    // The client's session, taken over where the desk left it.
    std::cout << "worker " << number << ": finishing " << name << "'s session\n";
    auto [reply, line] = std::move(session).recv();
    std::move(reply).send(capitals(line)).close();
    ++finished;
  }
}

}  // namespace

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  // Two workers, each with a session to the desk.
  std::vector<ToWorker> desk_ends;
  std::vector<spindle::thread::JoinHandle<int>> workers;
  for (int number = 1; number <= 2; ++number) {
    auto [desk_end, worker_end] = spindle::session::session_channel<Assign>();
    workers.push_back(spindle::thread::spawn(worker, number, std::move(worker_end)));
    desk_ends.push_back(std::move(desk_end).enter());
  }

  // Where the desk accepts sessions: a plain channel of server endpoints.
  auto [connect_tx, connect_rx] = spindle::mpsc::channel<Chan<Service>>();
  auto desk = spindle::thread::spawn(front_desk, std::move(connect_rx), std::move(desk_ends));

  const std::array<std::pair<std::string, std::string>, 3> clients = {{
      {"ada", "the analytical engine"},
      {"grace", "it is easier to ask forgiveness"},
      {"edsger", "goto considered harmful"},
  }};
  bool ok = true;
  {
    auto connect = std::move(connect_tx);
    for (const auto& [name, line] : clients) {
      auto [server_end, client_end] = spindle::session::session_channel<Service>();
      connect.send(std::move(server_end)).unwrap();  // the desk accepts it
      // The client speaks Dual<Service> and never learns who finished it.
      auto [rest, reply] = std::move(client_end).send(name).send(line).recv();
      std::move(rest).close();
      std::cout << name << ": sent \"" << line << "\", got back \"" << reply << "\"\n";
      ok = ok && reply == capitals(line);
    }
  }  // the last sender goes: the desk's loop ends, and it stops the workers

  desk.join().unwrap();
  const int first = workers[0].join().unwrap();
  const int second = workers[1].join().unwrap();
  std::cout << "Sessions finished: worker 1: " << first << ", worker 2: " << second << '\n';
  return ok && first == 2 && second == 1 ? 0 : 1;
}
