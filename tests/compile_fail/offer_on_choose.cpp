// expect: the protocol says Choose<...> here, so this side must pick a branch
//
// The client waits for a choice, but in its protocol it is the one that
// chooses (Choose, the dual of the server's Offer).
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
        auto picked = std::move(c).offer();  // the mistake: Choose<...> here
        std::move(std::get<1>(picked)).close();
      });
}
