// SPDX-License-Identifier: MIT
#pragma once

// The ATM of tutorial section 3, "Session types": its protocol, the ATM's
// side and the client's transactions, written once for two examples. One
// runs both sides on threads of one process (examples/07_atm.cpp), the
// other in two programs over ZeroMQ (examples/12_remote_atm/). Nothing
// here knows which: a remote endpoint is the same Chan<P> as an in-process
// one, with the same steps.
//
// In Rust, the ATM's protocol is one type: the client inserts a card (sends
// an id); the ATM chooses to accept it or not; once accepted, the client
// picks from a menu (deposit, withdraw, balance, quit) again and again. The
// menu is an Offer inside a Rec, and each branch but "quit" ends in
// Var<Z>, a jump back to the top of the menu. A withdrawal ends in a choice
// of the ATM's: the cash came out, or the funds were too low. Whoever has a
// Choose picks a branch with sel1()/sel2(); whoever has the matching Offer
// learns which one from offer().
//
// In C++ the protocol types and their duals are the same. Choose and Offer
// take any number of branches, so the menu is one Offer of four rather than
// nested pairs, and select<I>() picks branch I (0-based). offer() returns a
// std::variant holding the endpoint of the branch the peer picked (the
// client's withdrawal switches on its index()); offer(f0, f1, ...) calls the
// handler of that branch instead, as Rust's offer! does (the ATM's menu).
// Every branch of the loop comes back, through zero(), to an endpoint of
// the same type, so each side runs its loop as a plain `for` that reassigns
// the endpoint. The ATM prints nothing: the client prints each answer after
// receiving it, so the lines come out in one order every time.

#include <spindle/session.hpp>

#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace atm {

using spindle::session::Chan;
using spindle::session::ChanAt;
using spindle::session::Choose;
using spindle::session::Dual;
using spindle::session::Env;
using spindle::session::Eps;
using spindle::session::Offer;
using spindle::session::Rec;
using spindle::session::Recv;
using spindle::session::Send;
using spindle::session::Var;
using spindle::session::Z;

using Money = std::uint64_t;

// The bank's books: each account's balance, by the id on its card.
using Accounts = std::map<std::string, Money>;

// The protocol, seen from the ATM.
using Deposit = Recv<Money, Send<Money, Var<Z>>>;    // the amount in, the new balance out
using Withdraw = Recv<Money,                         // the amount asked for, then the ATM picks:
                      Choose<Send<Money, Var<Z>>,    //   0: cash out; the new balance
                             Send<Money, Var<Z>>>>;  //   1: insufficient funds; the balance
using Balance = Send<Money, Var<Z>>;
using Menu = Offer<Deposit, Withdraw, Balance, Eps>;  // the client picks; Eps is "quit"
using Atm = Recv<std::string,                         // the card's account id
                 Choose<Rec<Menu>,                    //   0: accepted, to the menu
                        Eps>>;                        //   1: rejected

using Client = Dual<Atm>;
static_assert(std::is_same_v<Client, Send<std::string, Offer<Rec<Dual<Menu>>, Eps>>>);

// The client's endpoint at the top of the menu: its next step is Dual<Menu>
// (a Choose of four), inside the Rec of the protocol Dual<Atm>. Its type,
// Chan<Dual<Menu>, Env<Client, Dual<Menu>>>, records which loop Var<Z> jumps
// back to; ChanAt spells it from the protocol and the point in it.
using ClientMenu = ChanAt<Client, Dual<Menu>>;
static_assert(std::is_same_v<ClientMenu, Chan<Dual<Menu>, Env<Client, Dual<Menu>>>>);

// --- the ATM ----------------------------------------------------------------

// Serves one customer's session, on the books `accounts`. The same function
// serves an endpoint of connect() (examples/07_atm.cpp) and one that a
// remote::Listener accepted from another process (examples/12_remote_atm/
// server.cpp): both are a Chan<Atm>.
inline void serve(Chan<Atm> c, Accounts& accounts) {
  auto [card, id] = std::move(c).recv();
  const auto account = accounts.find(id);
  if (account == accounts.end()) {
    std::move(card).sel2().close();  // an unknown card: the session ends here
    return;
  }
  Money& balance = account->second;

  // offer() calls the handler of the branch the client picked, with that
  // branch's endpoint, and returns what it returns: here, the endpoint back
  // at the top of the menu, or nothing once the client quits.
  using Top = std::optional<ChanAt<Atm, Menu>>;
  for (Top menu = std::move(card).sel1().enter(); menu;) {
    menu = std::move(*menu).offer(
        [&](auto deposit) -> Top {
          auto [rest, amount] = std::move(deposit).recv();
          balance += amount;
          return std::move(rest).send(balance).zero();
        },
        [&](auto withdrawal) -> Top {
          auto [rest, amount] = std::move(withdrawal).recv();
          if (amount <= balance) {
            balance -= amount;
            return std::move(rest).sel1().send(balance).zero();
          }
          return std::move(rest).sel2().send(balance).zero();
        },
        [&](auto statement) -> Top { return std::move(statement).send(balance).zero(); },
        [](auto quit) -> Top {
          std::move(quit).close();
          return std::nullopt;
        });
  }
}

// --- the client's transactions ----------------------------------------------
//
// Each takes the endpoint at the top of the menu, runs one transaction and
// hands the endpoint back at the top of the menu.

// The endpoint back at the top of the menu, and the balance the ATM reported.
struct Statement {
  ClientMenu menu;
  Money balance;
};

inline Statement deposit(ClientMenu menu, Money amount) {
  auto [rest, balance] = std::move(menu).select<0>().send(amount).recv();
  return {std::move(rest).zero(), balance};
}

struct Withdrawal {
  ClientMenu menu;
  bool dispensed;
  Money balance;
};

inline Withdrawal withdraw(ClientMenu menu, Money amount) {
  auto outcome = std::move(menu).select<1>().send(amount).offer();
  if (outcome.index() == 0) {
    auto [rest, balance] = std::get<0>(std::move(outcome)).recv();
    return {std::move(rest).zero(), true, balance};
  }
  auto [rest, balance] = std::get<1>(std::move(outcome)).recv();
  return {std::move(rest).zero(), false, balance};
}

inline Statement ask_balance(ClientMenu menu) {
  auto [rest, balance] = std::move(menu).select<2>().recv();
  return {std::move(rest).zero(), balance};
}

inline void quit(ClientMenu menu) { std::move(menu).select<3>().close(); }

// --- two customers --------------------------------------------------------
//
// Each runs one session, and prints what the ATM answered.

// A card the bank does not know: the ATM takes the Eps branch. Returns
// whether the ATM behaved as expected.
inline bool stranger(Chan<Client> c) {
  auto answer = std::move(c).send("mallory").offer();
  if (answer.index() == 0) {
    quit(std::get<0>(std::move(answer)).enter());
    std::cout << "mallory: card accepted?!\n";
    return false;
  }
  std::get<1>(std::move(answer)).close();
  std::cout << "mallory: card rejected\n";
  return true;
}

// Alice: a few transactions, one of them refused, then quit.
inline bool alice(Chan<Client> c) {
  auto answer = std::move(c).send("alice").offer();
  if (answer.index() != 0) {
    std::get<1>(std::move(answer)).close();
    std::cout << "alice: card rejected?!\n";
    return false;
  }
  ClientMenu menu = std::get<0>(std::move(answer)).enter();
  bool ok = true;

  auto statement = ask_balance(std::move(menu));
  std::cout << "alice: balance " << statement.balance << '\n';
  ok = ok && statement.balance == 100;

  statement = deposit(std::move(statement.menu), 50);
  std::cout << "alice: deposited 50, balance " << statement.balance << '\n';
  ok = ok && statement.balance == 150;

  auto refused = withdraw(std::move(statement.menu), 500);
  std::cout << "alice: withdraw 500: " << (refused.dispensed ? "dispensed" : "insufficient funds") << ", balance "
            << refused.balance << '\n';
  ok = ok && !refused.dispensed && refused.balance == 150;

  auto paid = withdraw(std::move(refused.menu), 120);
  std::cout << "alice: withdraw 120: " << (paid.dispensed ? "dispensed" : "insufficient funds") << ", balance "
            << paid.balance << '\n';
  ok = ok && paid.dispensed && paid.balance == 30;

  quit(std::move(paid.menu));
  std::cout << "alice: quit\n";
  return ok;
}

// --- the books ----------------------------------------------------------

// Before the two customers come: alice has 100, bob 20.
inline Accounts opening_books() { return {{"alice", 100}, {"bob", 20}}; }

// After them, as both examples print it last.
inline void print_books(const Accounts& accounts) {
  std::cout << "Accounts: alice " << accounts.at("alice") << ", bob " << accounts.at("bob") << '\n';
}

// Alice deposited 50 and took out 120; bob never came.
inline bool books_are_right(const Accounts& accounts) { return accounts.at("alice") == 30 && accounts.at("bob") == 20; }

}  // namespace atm
