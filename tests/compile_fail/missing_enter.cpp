// expect: the protocol says Rec<P> here: call enter()
//
// A loop must be entered before its first step.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>
#include <variant>

using namespace spindle::session;

using Server = Rec<Offer<Recv<int, Var<Z>>, Eps>>;

int main() {
  connect(
      [](Chan<Server> start) {
        auto c = std::move(start).enter();
        for (;;) {
          auto picked = std::move(c).offer();
          if (picked.index() == 1) {
            std::move(std::get<1>(picked)).close();
            return;
          }
          auto [c1, n] = std::move(std::get<0>(picked)).recv();
          std::printf("%d\n", n);
          c = std::move(c1).zero();
        }
      },
      [](Chan<Dual<Server>> start) {
        std::move(start).sel1().send(1).zero().sel2().close();  // the mistake: enter() first
      });
}
