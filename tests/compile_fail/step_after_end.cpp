// expect: the protocol has ended here (Eps): call close()
//
// The server's protocol ends after its answer; it sends one more value.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Server = Recv<int, Send<int, Eps>>;

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, n] = std::move(c).recv();
        auto c2 = std::move(c1).send(n * n);
        std::move(c2).send(n).close();  // the mistake: Eps here
      },
      [](Chan<Dual<Server>> c) {
        auto [c1, square] = std::move(c).send(7).recv();
        std::printf("%d\n", square);
        std::move(c1).close();
      });
}
