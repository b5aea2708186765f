// expect: the protocol says Offer<...> here, so the peer picks the branch: call offer()
//
// The server tries to pick a branch, but in its protocol the client picks
// (Offer): the server must call offer() and follow the client's choice.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Server = Offer<Recv<int, Eps>, Eps>;  // the client sends a number, or nothing

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, n] = std::move(c).sel1().recv();  // the mistake: Offer<...> here
        std::printf("%d\n", n);
        std::move(c1).close();
      },
      [](Chan<Dual<Server>> c) { std::move(c).sel1().send(5).close(); });
}
