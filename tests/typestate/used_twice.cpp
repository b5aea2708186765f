// SPDX-License-Identifier: MIT
// With SPINDLE_SESSION_TYPESTATE, clang's -Wconsumed sees a step taken on an
// endpoint that an earlier step already consumed.
#include <spindle/session.hpp>

namespace ss = spindle::session;

void client(ss::Chan<ss::Send<int, ss::Eps>> endpoint) {
  auto done = std::move(endpoint).send(1);
  auto again = std::move(endpoint).send(2);  // endpoint was consumed by the first send
  std::move(done).close();
  std::move(again).close();
}

int main() {}
