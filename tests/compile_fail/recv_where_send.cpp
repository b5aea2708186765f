// expect: the protocol says Send<T, P> here, so this side must send
//
// The client receives first, but its protocol (the dual of the server's)
// starts with a Send: the client must send the number first.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Server = Recv<int, Send<int, Eps>>;  // a number in, its square out

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, n] = std::move(c).recv();
        std::move(c1).send(n * n).close();
      },
      [](Chan<Dual<Server>> c) {
        auto [c1, square] = std::move(c).recv();  // the mistake: Send<int, ...> here
        std::printf("%d\n", square);
        std::move(c1).close();
      });
}
