// expect: succ() needs Var<S<N>> here; for Var<Z> call zero()
//
// Inside the inner loop, after a number the protocol says Var<Z> (back to
// the start of the inner loop): zero(), not succ().
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>
#include <variant>

using namespace spindle::session;

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
      r = std::move(r1).succ();  // the mistake: Var<Z> here, so zero()
    }
  }
}

int main() {
  connect(serve, [](Chan<Dual<Server>> start) {
    auto round = std::move(start).enter().sel1().enter().sel1().send(1).zero();
    std::move(round).sel2().succ().zero().sel2().close();
  });
}
