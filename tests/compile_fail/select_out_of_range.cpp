// expect: select<I>(): the protocol's Choose<...> has no branch I
//
// The protocol offers two branches, 0 and 1; the client selects branch 2.
#include <spindle/session.hpp>

#include <cstdio>
#include <utility>
#include <variant>

using namespace spindle::session;

using Server = Offer<Recv<int, Eps>, Eps>;

int main() {
  connect(
      [](Chan<Server> c) {
        auto picked = std::move(c).offer();
        if (auto* number = std::get_if<0>(&picked)) {
          auto [c1, n] = std::move(*number).recv();
          std::printf("%d\n", n);
          std::move(c1).close();
        } else {
          std::move(std::get<1>(picked)).close();
        }
      },
      [](Chan<Dual<Server>> c) {
        std::move(c).select<2>().close();  // the mistake: the branches are 0 and 1
      });
}
