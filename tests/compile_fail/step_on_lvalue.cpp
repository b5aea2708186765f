// expect: send(value) consumes its endpoint: call it on an rvalue
//
// Every step consumes its endpoint: it must be called on an rvalue
// (std::move(c).send(1)), never on the named endpoint itself.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>

using namespace spindle::session;

using Server = Recv<int, Eps>;

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, n] = std::move(c).recv();
        std::printf("%d\n", n);
        std::move(c1).close();
      },
      [](Chan<Dual<Server>> c) {
        auto c1 = c.send(1);  // the mistake: c is an lvalue; std::move(c).send(1)
        std::move(c1).close();
      });
}
