// expect: the protocol says Recv<T, P> here, so this side must receive
//
// The client closes its endpoint while its protocol still has the server's
// answer to receive: close() is only allowed on Eps.
#include <spindle/session.hpp>

#include <utility>

using namespace spindle::session;

using Server = Recv<int, Send<int, Eps>>;

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, n] = std::move(c).recv();
        std::move(c1).send(n * n).close();
      },
      [](Chan<Dual<Server>> c) {
        auto c1 = std::move(c).send(7);
        std::move(c1).close();  // the mistake: Recv<int, Eps> here, not Eps
      });
}
