// expect: zero() needs Var<Z> here; for Var<S<N>> call succ()
//
// Two nested loops: after the inner loop's last step the protocol says
// Var<S<Z>> (back to the outer loop), so the client must leave the inner
// loop with succ() first; zero() is for Var<Z>.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>
#include <variant>

using namespace spindle::session;

// Rounds of numbers: the inner loop takes numbers until the client ends the
// round, then the outer loop starts another round or stops.
using Round = Rec<Offer<Recv<int, Var<Z>>, Var<S<Z>>>>;
using Server = Rec<Offer<Round, Eps>>;

void serve(Chan<Server> start) {
  auto c = std::move(start).enter();
  for (;;) {
    auto picked = std::move(c).offer();
    if (picked.index() == 1) {
      std::move(std::get<1>(picked)).close();
      return;
    }
    auto r = std::move(std::get<0>(picked)).enter();
    for (;;) {
      auto more = std::move(r).offer();
      if (more.index() == 1) {
        c = std::move(std::get<1>(more)).succ().zero();
        break;
      }
      auto [r1, n] = std::move(std::get<0>(more)).recv();
      std::printf("%d\n", n);
      r = std::move(r1).zero();
    }
  }
}

int main() {
  connect(serve, [](Chan<Dual<Server>> start) {
    auto round = std::move(start).enter().sel1().enter().sel1().send(1).zero();
    auto c = std::move(round).sel2().zero();  // the mistake: Var<S<Z>> here, so succ().zero()
    std::move(c).sel2().close();
  });
}
