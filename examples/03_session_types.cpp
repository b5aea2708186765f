// SPDX-License-Identifier: MIT
//
// Tutorial section 3: "Session types".
//
// In Rust, the session_types crate writes the protocol two threads speak as a
// type. `type Server = Recv<u32, Eps>` says: receive a u32, then stop. The
// client's protocol is the server's dual, `<Server as HasDual>::Dual`, which
// is `Send<u32, Eps>`. Each endpoint, a Chan, is consumed by every step and
// comes back typed for the rest of the protocol, so receiving where the
// protocol says send, or stopping before Eps, does not compile. connect(srv,
// cli) runs the server on a new thread and the client on this one.
//
// In C++ the names are the same, in spindle::session: Dual<Server> is the
// client's protocol, and each step is called on an rvalue,
// `std::move(c).send(42)`, because it consumes the endpoint. recv() returns
// the rest of the endpoint and the value as a pair, which a structured
// binding unpacks. A session must end with close(): an endpoint destroyed
// before that is a protocol violation, caught at run time.
//
// The tutorial prints the client's line, then the server's. The protocol
// alone cannot promise that order. send() returns once the message is in the
// session's buffer (or, with no buffer, once the server has taken it), and
// from then on the client's print and the server's print, after its recv(),
// run in two threads at the same time: either may come first. The protocol
// orders the messages, not what each side does after them. So the client
// counts down a std::latch after it has printed, and the server waits on it
// before printing: that is the one extra edge the order needs, stated in the
// code rather than left to luck.

#include <spindle/session.hpp>

#include <cstdint>
#include <iostream>
#include <latch>
#include <type_traits>
#include <utility>

using spindle::session::Chan;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Recv;
using spindle::session::Send;

// The server receives a number, then the session ends.
using Server = Recv<std::uint32_t, Eps>;
// The client does the opposite: it sends a number, then the session ends.
using Client = Send<std::uint32_t, Eps>;

// The client's protocol is exactly the dual of the server's.
static_assert(std::is_same_v<Client, Dual<Server>>);

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  std::uint32_t received = 0;
  std::latch client_printed(1);

  spindle::session::connect(
      // The server, on a new thread; its protocol is deduced from Chan<Server>.
      [&](Chan<Server> c) {
        auto [rest, n] = std::move(c).recv();  // rest: Chan<Eps>
        // `std::move(rest).recv()` here would not compile: the protocol has
        // ended, and the only step Eps allows is close().
        client_printed.wait();  // the client's line comes first
        std::cout << "The server received some data: " << n << '\n';
        received = n;
        std::move(rest).close();
      },
      // The client, on this thread.
      [&](Chan<Client> c) {
        const std::uint32_t n = 42;
        auto rest = std::move(c).send(n);  // Chan<Eps>
        std::cout << "The client just sent the number " << n << "!\n";
        client_printed.count_down();  // now the server may print
        std::move(rest).close();
      });
  // connect() has joined the server, so `received` is settled.

  return received == 42 ? 0 : 1;
}
