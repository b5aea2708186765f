// expect: session_channel<P, Q>(): the two protocols are not dual
//
// Both sides are written out by hand, and both of them send: the second
// protocol must be the dual of the first (Recv<int, Eps>).
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Ping = Send<int, Eps>;
using Pong = Send<int, Eps>;  // the mistake: should be Recv<int, Eps>

int main() {
  auto [ping, pong] = session_channel<Ping, Pong>();
  std::move(ping).send(1).close();
  auto [rest, n] = std::move(pong).recv();
  std::printf("%d\n", n);
  std::move(rest).close();
}
