// SPDX-License-Identifier: MIT
// What the compiler knows about a protocol: duals, well-formedness, the
// endpoint types each step returns (including the recursion environment),
// and that endpoints are move-only. Almost all of it is static_asserts, so
// this file failing to compile is the failure; the test cases at the end
// check the few facts that need a value at run time.

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "session/common.hpp"
#include "support/catch.hpp"

#include <spindle/session.hpp>

namespace ss = spindle::session;
using spindle::test::session_support::RecordViolations;
using ss::Chan;
using ss::Choose;
using ss::Dual;
using ss::Env;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::S;
using ss::Send;
using ss::Var;
using ss::Z;

namespace {

// --- Dual ------------------------------------------------------------------------

// One step at a time.
static_assert(std::is_same_v<Dual<Eps>, Eps>);
static_assert(std::is_same_v<Dual<Send<int, Eps>>, Recv<int, Eps>>);
static_assert(std::is_same_v<Dual<Recv<int, Eps>>, Send<int, Eps>>);
static_assert(std::is_same_v<Dual<Choose<Eps, Send<int, Eps>>>, Offer<Eps, Recv<int, Eps>>>);
static_assert(std::is_same_v<Dual<Offer<Eps, Send<int, Eps>>>, Choose<Eps, Recv<int, Eps>>>);
static_assert(std::is_same_v<Dual<Choose<Eps, Eps, Recv<char, Eps>>>, Offer<Eps, Eps, Send<char, Eps>>>);
static_assert(std::is_same_v<Dual<Rec<Send<int, Var<Z>>>>, Rec<Recv<int, Var<Z>>>>);
static_assert(std::is_same_v<Dual<Var<Z>>, Var<Z>>);
static_assert(std::is_same_v<Dual<Var<S<Z>>>, Var<S<Z>>>);

// The message type is never dualised, even when it is an endpoint type.
static_assert(std::is_same_v<Dual<Send<Chan<Send<int, Eps>>, Eps>>, Recv<Chan<Send<int, Eps>>, Eps>>);

// Protocols that use every combinator, nested.
using Everything = Rec<Choose<                                               //
    Send<int, Recv<std::string, Var<Z>>>,                                    // two-step branch, loops
    Offer<Eps,                                                               //
          Rec<Choose<Send<double, Var<Z>>, Recv<char, Var<S<Z>>>>>>,         // inner loop, leaves to outer
    Offer<Recv<long, Eps>, Send<bool, Var<Z>>, Rec<Send<float, Var<Z>>>>>>;  // three-branch offer
using EverythingDual = Rec<Offer<                                            //
    Recv<int, Send<std::string, Var<Z>>>,                                    //
    Choose<Eps,                                                              //
           Rec<Offer<Recv<double, Var<Z>>, Send<char, Var<S<Z>>>>>>,         //
    Choose<Send<long, Eps>, Recv<bool, Var<Z>>, Rec<Recv<float, Var<Z>>>>>>;
static_assert(std::is_same_v<Dual<Everything>, EverythingDual>);
static_assert(std::is_same_v<Dual<Dual<Everything>>, Everything>);
static_assert(std::is_same_v<Dual<Dual<EverythingDual>>, EverythingDual>);

using ThreeChoices = Choose<Send<int, Eps>, Recv<int, Eps>, Offer<Eps, Send<std::string, Eps>>>;
static_assert(std::is_same_v<Dual<Dual<ThreeChoices>>, ThreeChoices>);
using TwoDeep = Rec<Rec<Recv<int, Offer<Var<Z>, Var<S<Z>>, Eps>>>>;
static_assert(std::is_same_v<Dual<Dual<TwoDeep>>, TwoDeep>);
static_assert(std::is_same_v<Dual<TwoDeep>, Rec<Rec<Send<int, Choose<Var<Z>, Var<S<Z>>, Eps>>>>>);

// --- are_dual --------------------------------------------------------------------------

static_assert(ss::are_dual<Send<int, Eps>, Recv<int, Eps>>);
static_assert(ss::are_dual<Recv<int, Eps>, Send<int, Eps>>);
static_assert(ss::are_dual<Eps, Eps>);
static_assert(ss::are_dual<Everything, EverythingDual>);
static_assert(ss::are_dual<EverythingDual, Everything>);
static_assert(!ss::are_dual<Send<int, Eps>, Send<int, Eps>>);                           // both send
static_assert(!ss::are_dual<Send<int, Eps>, Recv<long, Eps>>);                          // another type
static_assert(!ss::are_dual<Send<int, Eps>, Recv<int, Recv<int, Eps>>>);                // longer
static_assert(!ss::are_dual<Choose<Eps, Recv<int, Eps>>, Offer<Send<int, Eps>, Eps>>);  // branches swapped
static_assert(!ss::are_dual<Choose<Eps, Eps>, Choose<Eps, Eps>>);
static_assert(!ss::are_dual<Rec<Send<int, Var<Z>>>, Rec<Recv<int, Var<S<Z>>>>>);
static_assert(!ss::are_dual<Everything, Everything>);

// --- well_formed -------------------------------------------------------------------

static_assert(ss::well_formed<Eps>);
static_assert(ss::well_formed<Send<int, Recv<std::string, Eps>>>);
static_assert(ss::well_formed<Choose<Eps, Eps>>);
static_assert(ss::well_formed<Offer<Eps, Eps, Eps>>);
static_assert(ss::well_formed<Rec<Send<int, Var<Z>>>>);
static_assert(ss::well_formed<Rec<Choose<Var<Z>, Eps>>>);  // a Var under a choice is fine
static_assert(ss::well_formed<Rec<Rec<Send<int, Var<S<Z>>>>>>);
static_assert(ss::well_formed<Everything>);
static_assert(ss::well_formed<EverythingDual>);
static_assert(ss::well_formed<TwoDeep>);

static_assert(!ss::well_formed<Var<Z>>);                              // no Rec around it
static_assert(!ss::well_formed<Send<int, Var<Z>>>);                   // no Rec around it
static_assert(!ss::well_formed<Rec<Send<int, Var<S<Z>>>>>);           // one Rec, index 1
static_assert(!ss::well_formed<Rec<Rec<Send<int, Var<S<S<Z>>>>>>>);   // two Recs, index 2
static_assert(!ss::well_formed<Rec<Choose<Var<Z>, Var<S<Z>>>>>);      // one branch out of scope
static_assert(!ss::well_formed<Rec<Var<Z>>>);                         // a loop that does nothing
static_assert(!ss::well_formed<Choose<Eps>>);                         // one branch
static_assert(!ss::well_formed<Offer<Eps>>);                          // one branch
static_assert(!ss::well_formed<Choose<>>);                            // no branch
static_assert(!ss::well_formed<Send<int, int>>);                      // not a protocol after Send
static_assert(!ss::well_formed<int>);                                 // not a protocol at all
static_assert(!ss::well_formed<Rec<Send<int, Var<int>>>>);            // not an index
static_assert(!ss::well_formed<Choose<Send<int, Eps>, Offer<Eps>>>);  // nested one-branch offer

// --- session_channel and Chan ------------------------------------------------------

template <class P>
using SessionPair = decltype(ss::session_channel<P>());

static_assert(std::is_same_v<SessionPair<Send<int, Eps>>, std::pair<Chan<Send<int, Eps>>, Chan<Recv<int, Eps>>>>);
static_assert(std::is_same_v<SessionPair<Everything>, std::pair<Chan<Everything>, Chan<EverythingDual>>>);
static_assert(std::is_same_v<decltype(ss::session_channel<Everything, EverythingDual>()), SessionPair<Everything>>);

// The default environment: the protocol itself is the root, no loop entered.
static_assert(std::is_same_v<Chan<Everything>, Chan<Everything, Env<Everything>>>);
static_assert(std::is_same_v<Chan<Everything>::protocol, Everything>);
static_assert(std::is_same_v<Chan<Everything>::environment, Env<Everything>>);

// Move-only.
static_assert(!std::is_copy_constructible_v<Chan<Send<int, Eps>>>);
static_assert(!std::is_copy_assignable_v<Chan<Send<int, Eps>>>);
static_assert(std::is_nothrow_move_constructible_v<Chan<Send<int, Eps>>>);
static_assert(std::is_nothrow_move_assignable_v<Chan<Send<int, Eps>>>);
static_assert(!std::is_default_constructible_v<Chan<Send<int, Eps>>>);
// Different protocols are different, unrelated types.
static_assert(!std::is_constructible_v<Chan<Send<int, Eps>>, Chan<Recv<int, Eps>>&&>);
static_assert(!std::is_constructible_v<Chan<Send<int, Eps>>, Chan<Send<long, Eps>>&&>);

// Every step consumes the endpoint, so it is called on an rvalue. (On an
// lvalue it is a compile error with its own message: that is
// tests/compile_fail's business, not something a requires-expression can
// ask, since the error is a static_assert in the body.)
template <class C>
concept SendsOnRvalue = requires(C&& c) {
  std::move(c).send(1);
};
static_assert(SendsOnRvalue<Chan<Send<int, Eps>>>);

// --- the type of each step -----------------------------------------------------------

// send -> Chan<Next, E>; the environment is carried along.
using SR = Send<int, Recv<std::string, Eps>>;
static_assert(std::is_same_v<decltype(std::declval<Chan<SR>>().send(1)), Chan<Recv<std::string, Eps>, Env<SR>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<SR>>().send(short{1})), Chan<Recv<std::string, Eps>, Env<SR>>>);

// recv -> pair<Chan<Next, E>, T>.
using RS = Recv<std::string, Send<int, Eps>>;
static_assert(
    std::is_same_v<decltype(std::declval<Chan<RS>>().recv()), std::pair<Chan<Send<int, Eps>, Env<RS>>, std::string>>);

// close -> void.
static_assert(std::is_void_v<decltype(std::declval<Chan<Eps>>().close())>);

// Choices: sel1/sel2/select<I> -> Chan<Branch I, E>.
using C3 = Choose<Send<int, Eps>, Recv<char, Eps>, Eps>;
static_assert(std::is_same_v<decltype(std::declval<Chan<C3>>().sel1()), Chan<Send<int, Eps>, Env<C3>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<C3>>().sel2()), Chan<Recv<char, Eps>, Env<C3>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<C3>>().select<0>()), Chan<Send<int, Eps>, Env<C3>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<C3>>().select<1>()), Chan<Recv<char, Eps>, Env<C3>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<C3>>().select<2>()), Chan<Eps, Env<C3>>>);

// offer -> a variant of the branch endpoints, in order.
using O2 = Offer<Recv<int, Eps>, Eps>;
static_assert(std::is_same_v<decltype(std::declval<Chan<O2>>().offer()),
                             std::variant<Chan<Recv<int, Eps>, Env<O2>>, Chan<Eps, Env<O2>>>>);
using O3 = Offer<Recv<int, Eps>, Send<char, Eps>, Eps>;
static_assert(
    std::is_same_v<decltype(std::declval<Chan<O3>>().offer()),
                   std::variant<Chan<Recv<int, Eps>, Env<O3>>, Chan<Send<char, Eps>, Env<O3>>, Chan<Eps, Env<O3>>>>);

// One loop: enter() pushes the body, zero() jumps back to it.
using Loop = Rec<Send<int, Var<Z>>>;
using LoopBody = Send<int, Var<Z>>;
using LoopEnv = Env<Loop, LoopBody>;
static_assert(std::is_same_v<decltype(std::declval<Chan<Loop>>().enter()), Chan<LoopBody, LoopEnv>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<LoopBody, LoopEnv>>().send(1)), Chan<Var<Z>, LoopEnv>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Var<Z>, LoopEnv>>().zero()), Chan<LoopBody, LoopEnv>>);

// Two loops: an outer one offering a row or the end, an inner one choosing
// another element or the end of the row (which leaves to the outer loop).
using Inner = Choose<Send<int, Var<Z>>, Var<S<Z>>>;
using OuterBody = Offer<Rec<Inner>, Eps>;
using Nested = Rec<OuterBody>;
using OuterEnv = Env<Nested, OuterBody>;
using InnerEnv = Env<Nested, Inner, OuterBody>;  // innermost first
static_assert(ss::well_formed<Nested>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Nested>>().enter()), Chan<OuterBody, OuterEnv>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<OuterBody, OuterEnv>>().offer()),
                             std::variant<Chan<Rec<Inner>, OuterEnv>, Chan<Eps, OuterEnv>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Rec<Inner>, OuterEnv>>().enter()), Chan<Inner, InnerEnv>>);
static_assert(
    std::is_same_v<decltype(std::declval<Chan<Inner, InnerEnv>>().sel1()), Chan<Send<int, Var<Z>>, InnerEnv>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Var<Z>, InnerEnv>>().zero()), Chan<Inner, InnerEnv>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Inner, InnerEnv>>().sel2()), Chan<Var<S<Z>>, InnerEnv>>);
// Leaving the inner loop: succ() pops it, and zero() then jumps to the outer body.
static_assert(std::is_same_v<decltype(std::declval<Chan<Var<S<Z>>, InnerEnv>>().succ()), Chan<Var<Z>, OuterEnv>>);
static_assert(
    std::is_same_v<decltype(std::declval<Chan<Var<S<Z>>, InnerEnv>>().succ().zero()), Chan<OuterBody, OuterEnv>>);

// Three loops deep, jumping out two levels: succ().succ().zero().
using L3Body = Recv<int, Var<S<S<Z>>>>;
using L2Body = Rec<L3Body>;
using L1Body = Rec<L2Body>;
using L1 = Rec<L1Body>;
static_assert(ss::well_formed<L1>);
using L3Env = Env<L1, L3Body, L2Body, L1Body>;
static_assert(std::is_same_v<decltype(std::declval<Chan<L1>>().enter().enter().enter()), Chan<L3Body, L3Env>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Var<S<S<Z>>>, L3Env>>().succ()),
                             Chan<Var<S<Z>>, Env<L1, L2Body, L1Body>>>);
static_assert(std::is_same_v<decltype(std::declval<Chan<Var<S<S<Z>>>, L3Env>>().succ().succ().zero()),
                             Chan<L1Body, Env<L1, L1Body>>>);

// Delegation: an endpoint is a message like any other.
using Delegate = Send<Chan<Recv<int, Eps>>, Eps>;
static_assert(std::is_same_v<decltype(std::declval<Chan<Dual<Delegate>>>().recv()),
                             std::pair<Chan<Eps, Env<Dual<Delegate>>>, Chan<Recv<int, Eps>>>>);

// --- the transport's message types (white box) ----------------------------------

// Each direction carries a variant of exactly the types sent that way, each
// once, in order of first appearance, with a Label where that side chooses;
// the first alternative is an unused monostate.
namespace sd = ss::detail;
using Wire = Rec<Choose<Send<int, Recv<std::string, Var<Z>>>, Send<int, Send<double, Eps>>, Recv<std::string, Eps>>>;
static_assert(std::is_same_v<sd::Message<Wire, true>, std::variant<std::monostate, sd::Label, int, double>>);
static_assert(std::is_same_v<sd::Message<Wire, false>, std::variant<std::monostate, std::string>>);
static_assert(std::is_same_v<sd::Message<Dual<Wire>, false>, sd::Message<Wire, true>>);
static_assert(std::is_same_v<sd::Message<Dual<Wire>, true>, sd::Message<Wire, false>>);
static_assert(std::is_same_v<sd::Message<Eps, true>, std::variant<std::monostate>>);

}  // namespace

TEST_CASE("types: a fresh endpoint is live and its peer speaks the dual protocol", "[session][types]") {
  RecordViolations violations;  // a failed check unwinds into a report, not an abort
  auto ends = ss::session_channel<Send<int, Eps>>();
  REQUIRE(ends.first.is_live());
  REQUIRE(ends.second.is_live());
  auto rest = std::move(ends.first).send(5);
  static_assert(std::is_same_v<decltype(rest), Chan<Eps, Env<Send<int, Eps>>>>);
  REQUIRE(rest.is_live());
  REQUIRE_FALSE(ends.first.is_live());
  auto got = std::move(ends.second).recv();
  REQUIRE(got.second == 5);
  std::move(rest).close();
  std::move(got.first).close();
  REQUIRE_FALSE(rest.is_live());
  REQUIRE_FALSE(got.first.is_live());
  REQUIRE(violations.count() == 0);
}

TEST_CASE("types: session_channel<P, Q> with Q = Dual<P> makes the same pair", "[session][types]") {
  RecordViolations violations;  // a failed check unwinds into a report, not an abort
  auto ends = ss::session_channel<Recv<std::string, Eps>, Send<std::string, Eps>>();
  std::move(ends.second).send("checked dual").close();
  auto got = std::move(ends.first).recv();
  REQUIRE(got.second == "checked dual");
  std::move(got.first).close();
  REQUIRE(violations.count() == 0);
}
