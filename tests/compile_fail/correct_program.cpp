// expect-compile: this program is correct and must compile
//
// The positive control: a client and a server that use every step the
// protocol types allow (send, recv, sel1, sel2, select<I>, offer, enter,
// zero, succ, close), session_channel<P, Q>() with a dual pair, and
// connect(). If this stops compiling (a broken include path, a header that
// no longer builds), every misuse below would "fail to compile" for the
// wrong reason, so this test fails instead.
#include <spindle/session.hpp>

#include <cstdio>
#include <string>
#include <utility>
#include <variant>

using namespace spindle::session;

// The server loops: the client adds two numbers, streams numbers into a
// running total (an inner loop it leaves with Var<S<Z>>), or quits.
using Adder = Recv<int, Recv<int, Send<int, Var<Z>>>>;
using Stream = Rec<Offer<Recv<int, Var<Z>>, Send<int, Var<S<Z>>>>>;
using Server = Rec<Offer<Adder, Stream, Eps>>;

void serve(Chan<Server> start) {
  auto c = std::move(start).enter();
  for (;;) {
    auto picked = std::move(c).offer();
    if (auto* add = std::get_if<0>(&picked)) {
      auto [c1, a] = std::move(*add).recv();
      auto [c2, b] = std::move(c1).recv();
      c = std::move(c2).send(a + b).zero();
    } else if (auto* stream = std::get_if<1>(&picked)) {
      auto s = std::move(*stream).enter();
      int total = 0;
      for (;;) {
        auto more = std::move(s).offer();
        if (auto* next = std::get_if<0>(&more)) {
          auto [s1, n] = std::move(*next).recv();
          total += n;
          s = std::move(s1).zero();
        } else {
          c = std::move(std::get<1>(more)).send(total).succ().zero();
          break;
        }
      }
    } else {
      std::move(std::get<2>(picked)).close();
      return;
    }
  }
}

int main() {
  // The dual pair spelled out: this must be accepted.
  auto [s, c] = session_channel<Send<std::string, Eps>, Recv<std::string, Eps>>();
  auto s1 = std::move(s).send(std::string("hello"));
  auto [c1, received] = std::move(c).recv();
  std::move(s1).close();
  std::move(c1).close();
  const std::string text = std::move(received);

  connect(serve, [&text](Chan<Dual<Server>> start) {
    auto c2 = std::move(start).enter();
    auto [c3, sum] = std::move(c2).sel1().send(40).send(2).recv();
    auto s2 = std::move(c3).zero().sel2().enter();
    auto [s3, total] = std::move(s2).sel1().send(1).zero().sel1().send(2).zero().sel2().recv();
    std::move(s3).succ().zero().select<2>().close();
    std::printf("%s %d %d\n", text.c_str(), sum, total);
  });
}
