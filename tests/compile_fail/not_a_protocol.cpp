// expect: this is not a well-formed protocol
//
// Chan<int> reads like "a channel of ints", but Chan's parameter is a
// protocol, built from Eps, Send, Recv, Choose, Offer, Rec and Var.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

void consume(Chan<int> c) {  // the mistake: Chan<Recv<int, Eps>>
  auto [c1, n] = std::move(c).recv();
  std::printf("%d\n", n);
  std::move(c1).close();
}

int main() {
  auto [server, client] = session_channel<Recv<int, Eps>>();
  std::move(client).send(1).close();
  consume(std::move(server));
}
