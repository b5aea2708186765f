// SPDX-License-Identifier: MIT
// The control: a client that takes every step once and closes must compile
// cleanly with SPINDLE_SESSION_TYPESTATE and -Werror=consumed.
#include <spindle/session.hpp>

namespace ss = spindle::session;

using Client = ss::Send<int, ss::Recv<int, ss::Eps>>;

int client(ss::Chan<Client> endpoint) {
  auto sent = std::move(endpoint).send(1);
  auto received = std::move(sent).recv();
  std::move(received.first).close();
  return received.second;
}

int main() {}
