// SPDX-License-Identifier: MIT
//
// More of tutorial section 3, "Session types": a recursive protocol, two
// loops deep.
//
// In Rust's session_types crate a loop is Rec<P>, and Var<Z> inside P jumps
// back to its start. The index is a de Bruijn index: it counts Recs outwards
// from where the Var stands, so Var<Z> names the nearest enclosing Rec and
// Var<S<Z>> the one around that. Entering a Rec is a step of its own
// (enter()); so is each jump: zero() for Var<Z>, and succ() to leave the
// nearest loop, which turns Var<S<N>> into Var<N> for the loop around it.
//
// Here a client streams numbers to a server in batches. Inside a batch it
// sends one number after another, then asks for their sum, which ends the
// batch; then it starts another batch or stops. Seen from the server:
//
//   Summer = Rec<Offer<Batch, Eps>>               the outer loop: a batch, or stop
//   Batch  = Rec<Offer<Recv<i64, Var<Z>>,         one more number, back to the batch's top
//                      Send<i64, Var<S<Z>>>>>     the sum, back to the outer loop
//
// In C++ the types are written the same way. After zero() an endpoint has
// the same type it had at the top of the loop, so each loop is a plain `for`
// that reassigns the endpoint; leaving the inner loop is succ() then zero().
// The server prints nothing: the client prints each batch once the server's
// sum has arrived, so the lines come out in one order every time.

#include <spindle/session.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using spindle::session::Chan;
using spindle::session::Choose;
using spindle::session::Dual;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::S;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;

namespace {

using i64 = std::int64_t;

// The protocol, seen from the server.
using Batch = Rec<Offer<Recv<i64, Var<Z>>,       // one more number; back to the top of the batch
                        Send<i64, Var<S<Z>>>>>;  // the batch's sum; back to the top of Summer
using Summer = Rec<Offer<Batch, Eps>>;           // another batch, or stop

static_assert(spindle::session::well_formed<Summer>);
// The client's side: the same loops, with Choose where the server has Offer.
using Client = Dual<Summer>;
static_assert(std::is_same_v<Client, Rec<Choose<Rec<Choose<Send<i64, Var<Z>>, Recv<i64, Var<S<Z>>>>>, Eps>>>);

// Sums each batch until the client stops; returns how many batches it summed.
int server(Chan<Summer> c) {
  int batches = 0;
  auto top = std::move(c).enter();  // the top of the outer loop
  for (;;) {
    auto next = std::move(top).offer();
    if (next.index() == 1) {  // the client stops
      std::get<1>(std::move(next)).close();
      return batches;
    }
    auto item = std::get<0>(std::move(next)).enter();  // the top of this batch
    i64 sum = 0;
    for (;;) {
      auto step = std::move(item).offer();
      if (step.index() == 0) {  // one more number
        auto [rest, n] = std::get<0>(std::move(step)).recv();
        sum += n;
        item = std::move(rest).zero();  // Var<Z>: back to the top of the batch
      } else {                          // the client asks for the sum
        // Var<S<Z>>: succ() leaves the batch's loop, leaving Var<Z> for the
        // outer one; zero() jumps to its top.
        // cppcheck-suppress accessMoved ; false positive (cppcheck 2.10): the other branch moved it
        top = std::get<1>(std::move(step)).send(sum).succ().zero();
        ++batches;
        break;
      }
    }
  }
}

// Streams each batch and asks for its sum; returns whether every sum was right.
bool client(Chan<Client> c, const std::vector<std::vector<i64>>& batches) {
  bool ok = true;
  auto top = std::move(c).enter();
  for (const auto& batch : batches) {
    auto item = std::move(top).sel1().enter();  // start a batch
    i64 expected = 0;
    for (const i64 n : batch) {
      item = std::move(item).sel1().send(n).zero();
      expected += n;
    }
    auto [rest, sum] = std::move(item).sel2().recv();  // ask for the sum
    top = std::move(rest).succ().zero();

    std::cout << "sent";
    for (const i64 n : batch) {
      std::cout << ' ' << n;
    }
    std::cout << (batch.empty() ? " nothing" : "") << ": the server says the sum is " << sum << '\n';
    ok = ok && sum == expected;
  }
  std::move(top).sel2().close();  // stop
  return ok;
}

}  // namespace

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  const std::vector<std::vector<i64>> batches = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {3, -4, 5}, {}, {1000000}};
  int summed = 0;
  bool ok = false;
  spindle::session::connect([&](Chan<Summer> c) { summed = server(std::move(c)); },
                            [&](Chan<Client> c) { ok = client(std::move(c), batches); });

  std::cout << "The server summed " << summed << " batches\n";
  return ok && summed == static_cast<int>(batches.size()) ? 0 : 1;
}
