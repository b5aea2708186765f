// SPDX-License-Identifier: MIT
//
// Tutorial section 3, "Session types", across processes: the ATM of
// examples/07_atm.cpp as a program of its own, which customers reach over
// ZeroMQ. The client is client.cpp; run.cpp starts both and checks what
// they print.
//
// Rust's session_types crate runs a session between two threads; crates
// such as dialectic carry one between programs, over a transport chosen
// apart from the protocol. Here <spindle/session/zmq.hpp> is that
// transport: a remote::Listener<Atm> accepts, on one ZeroMQ endpoint, a
// session from each client whose protocol is Dual<Atm>, and accept() hands
// back a Chan<Atm>: the same type connect() gives the ATM in 07, with the
// same steps. So the ATM below is atm::serve from atm/atm.hpp, unchanged.
// What the network adds: a client that speaks another protocol is refused
// before any step, and a peer that dies or goes silent ends its session
// (the next step throws spindle::session::Disconnected) instead of hanging.
//
//   server <endpoint> [sessions]
//
// <endpoint> is where to listen: tcp://127.0.0.1:* (ZeroMQ picks a free
// port), ipc://atm.ipc (a path), ... The server prints the endpoint it bound,
// serves [sessions] customers (2 if not given) one after another, prints
// the books and exits.

#include <spindle/session/zmq.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

#include "../atm/atm.hpp"

namespace remote = spindle::session::remote;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: server <endpoint> [sessions]\n";
    return 2;
  }

  // A peer that says nothing for `timeout` is taken for dead. The default,
  // 3 s, suits a network; here both programs share a machine that may be
  // busy with other builds, where a live peer can stall for seconds. 10 s
  // is long enough that a live one never is taken for dead, and a dead one
  // is still found out at once: its connection drops when its process ends.
  remote::Options options;
  options.timeout = std::chrono::seconds(10);

  try {
    const int sessions = argc == 3 ? std::stoi(argv[2]) : 2;
    remote::Listener<atm::Atm> listener(argv[1], options);
    // The runner reads this line to learn the port: flush it now, not when
    // the server exits.
    std::cout << "listening on " << listener.endpoint() << '\n' << std::flush;

    // One customer after another, each served to the end by the ATM of
    // 07, on the same books.
    atm::Accounts accounts = atm::opening_books();
    for (int i = 0; i < sessions; ++i) {
      atm::serve(listener.accept(), accounts);
    }

    // The books depend on who came: the client checks each answer it got,
    // the runner this line.
    atm::print_books(accounts);
    return 0;
  } catch (const std::exception& error) {
    // A bad argument, an endpoint it cannot listen on, or a customer who
    // went away mid-session (spindle::session::Disconnected).
    std::cerr << "server: " << error.what() << '\n';
    return 1;
  }
}
