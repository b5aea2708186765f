// SPDX-License-Identifier: MIT
//
// Tutorial section 3, "Session types", across processes: the customers of
// examples/07_atm.cpp as a program of their own, at an ATM in another
// process (server.cpp), over ZeroMQ. run.cpp starts both and checks what
// they print.
//
// remote::dial<Dual<Atm>>(endpoint) opens a session with the listener
// there and returns a Chan<Dual<Atm>>: the endpoint connect() gives the
// customer in 07, with the same steps, so mallory and alice are those of
// atm/atm.hpp, unchanged, and print the same lines. Each customer dials
// anew: one session each, as at a real ATM. If the server speaks another
// protocol, dial throws remote::Refused, naming both; if nothing answers
// in time, remote::ConnectError.
//
//   client <endpoint>
//
// <endpoint> is the one the server printed, e.g. tcp://127.0.0.1:40123.
// Exits 0 if every answer was the expected one.

#include <spindle/session/zmq.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

#include "../atm/atm.hpp"

namespace remote = spindle::session::remote;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: client <endpoint>\n";
    return 2;
  }
  const std::string where = argv[1];

  // The defaults suit a network: 3 s of silence and a peer is taken for
  // dead, 5 s to be accepted. Here both programs share a machine that may
  // be busy with other builds, where a live server can stall for seconds,
  // and alice waits to be accepted until mallory's session is over (the
  // server serves one customer at a time). 10 s for both is long enough
  // that a live server is never taken for dead; a dead one is still found
  // out at once, as its connection drops when its process ends.
  remote::Options options;
  options.timeout = std::chrono::seconds(10);
  options.connect_timeout = std::chrono::seconds(10);

  try {
    bool ok = atm::stranger(remote::dial<atm::Client>(where, options));
    ok = atm::alice(remote::dial<atm::Client>(where, options)) && ok;
    return ok ? 0 : 1;
  } catch (const std::exception& error) {
    // Nothing answered at <endpoint>, it speaks another protocol, or the
    // ATM went away mid-session (spindle::session::Disconnected).
    std::cerr << "client: " << error.what() << '\n';
    return 1;
  }
}
