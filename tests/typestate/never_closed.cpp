// SPDX-License-Identifier: MIT
// With SPINDLE_SESSION_TYPESTATE, clang's -Wconsumed sees an endpoint that
// goes out of scope without being closed or moved on.
#include <spindle/session.hpp>

namespace ss = spindle::session;

void client(ss::Chan<ss::Send<int, ss::Eps>> endpoint) {
  auto done = std::move(endpoint).send(1);
}  // done is never closed

int main() {}
