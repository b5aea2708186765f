// expect: the protocol says Recv<T, P> here, so this side must receive
//
// The server answers before it has heard the question: its protocol starts
// with a Recv.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Server = Recv<int, Send<int, Eps>>;

int main() {
  connect(
      [](Chan<Server> c) {
        auto c1 = std::move(c).send(0);  // the mistake: Recv<int, ...> here
        auto [c2, n] = std::move(c1).recv();
        std::printf("%d\n", n);
        std::move(c2).close();
      },
      [](Chan<Dual<Server>> c) {
        auto [c1, square] = std::move(c).send(7).recv();
        std::printf("%d\n", square);
        std::move(c1).close();
      });
}
