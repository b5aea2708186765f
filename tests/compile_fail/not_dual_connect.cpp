// expect: connect(server, client): the two protocols are not dual
//
// connect() takes the server's protocol from its parameter and hands the
// client the dual. Here the client is written for the server's protocol,
// not for its dual: both sides wait to receive, and neither ever sends.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

int main() {
  connect(
      [](Chan<Recv<int, Eps>> c) {
        auto [c1, n] = std::move(c).recv();
        std::printf("%d\n", n);
        std::move(c1).close();
      },
      [](Chan<Recv<int, Eps>> c) {  // the mistake: Chan<Send<int, Eps>>, the dual
        auto [c1, n] = std::move(c).recv();
        std::printf("%d\n", n);
        std::move(c1).close();
      });
}
