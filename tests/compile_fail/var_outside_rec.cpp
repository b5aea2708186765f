// expect: a Var<N> jumps to a Rec that does not enclose it
//
// A loop that jumps two levels out (Var<S<Z>>) but sits inside only one
// Rec: the jump has nowhere to go.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>
#include <variant>

using namespace spindle::session;

using Server = Rec<Offer<Recv<int, Var<S<Z>>>, Eps>>;  // the mistake: Var<Z>

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
      [](Chan<Dual<Server>> start) { std::move(start).enter().sel1().send(1).zero().sel2().close(); });
}
