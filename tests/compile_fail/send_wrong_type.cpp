// expect: send(value): the value's type is not the T of the protocol's Send<T, P>
//
// The protocol sends a std::string; the client sends a number, which no
// std::string can be made from.
#include <spindle/session.hpp>

#include <cstdio>
#include <string>
#include <utility>

using namespace spindle::session;

using Server = Recv<std::string, Eps>;  // a name

int main() {
  connect(
      [](Chan<Server> c) {
        auto [c1, name] = std::move(c).recv();
        std::printf("hello, %s\n", name.c_str());
        std::move(c1).close();
      },
      [](Chan<Dual<Server>> c) {
        std::move(c).send(42.5).close();  // the mistake: a double, not a std::string
      });
}
