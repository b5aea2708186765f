// SPDX-License-Identifier: MIT
//
// More of tutorial section 3, "Session types": the ATM, a protocol with
// choices and a loop, after the example that comes with Rust's
// session_types crate.
//
// The protocol, the ATM and the client's transactions are in atm/atm.hpp,
// which explains them: examples/12_remote_atm/ runs the very same ATM
// between two processes. Here both sides run in this process, as the
// Rust example does: connect(server, client) makes a session's two
// endpoints, runs the server on a new thread and the client on this one,
// and joins the server's thread before it returns.

#include <spindle/session.hpp>

#include <utility>

#include "atm/atm.hpp"

using spindle::session::Chan;

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  atm::Accounts accounts = atm::opening_books();
  const auto serve = [&accounts](Chan<atm::Atm> c) { atm::serve(std::move(c), accounts); };

  // Each connect() runs the ATM on a new thread for one session, the
  // customer on this one, and joins the ATM.
  bool ok = true;
  spindle::session::connect(serve, [&](Chan<atm::Client> c) { ok = atm::stranger(std::move(c)) && ok; });
  spindle::session::connect(serve, [&](Chan<atm::Client> c) { ok = atm::alice(std::move(c)) && ok; });

  // Both ATM threads have been joined: the books are final.
  atm::print_books(accounts);
  ok = ok && atm::books_are_right(accounts);
  return ok ? 0 : 1;
}
