// SPDX-License-Identifier: MIT
#pragma once

// One ping-pong, four ways: what a session type costs. A client sends a u64
// v, the echo answers v + 1.
//
//   Session            spindle::session; the client's protocol is
//                      Rec<Choose<Send<u64, Recv<u64, Var<Z>>>, Eps>>: sel1,
//                      send, recv and zero each round trip, sel2 and close
//                      at the end
//   SessionTransport   what the session runs on, by hand: two sync_channels
//                      (bound SPINDLE_SESSION_BUFFER) of the session's own
//                      std::variant message types; a label message, then
//                      the value, each round trip, checked as the session
//                      checks them
//   PlainU64<true>     two sync_channel<u64> (the same bound), no label
//   PlainU64<false>    two unbounded channel<u64>, no label
//
// Each is a struct with make() -> {Client, Echo}.
//   Client::round_trip(v, between): sends v, calls between(), returns the
//     reply; Client::finish() ends the exchange.
//   Echo::answer_one(): answers one message, false once told to finish;
//     Echo::run(trips) answers until the end: until told to finish where
//     echo_sees_finish, otherwise exactly `trips` times.

#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>

#include <spindle/mpsc.hpp>
#include <spindle/session.hpp>

#include "common.hpp"

namespace spindle_bench {

namespace ss = spindle::session;

struct Session {
  static constexpr const char* name = "session";
  static constexpr bool echo_sees_finish = true;

  using Body = ss::Choose<ss::Send<u64, ss::Recv<u64, ss::Var<ss::Z>>>, ss::Eps>;
  using Protocol = ss::Rec<Body>;  // the client's; the echo thread speaks Dual<Protocol>

  struct Client {
    ss::Chan<Body, ss::Env<Protocol, Body>> chan;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      auto sent = std::move(chan).sel1().send(v);
      between();
      auto [rest, reply] = std::move(sent).recv();
      chan = std::move(rest).zero();
      return reply;
    }
    void finish() { std::move(chan).sel2().close(); }
  };

  struct Echo {
    ss::Chan<ss::Dual<Body>, ss::Env<ss::Dual<Protocol>, ss::Dual<Body>>> top;
    bool answer_one() {
      auto next = std::move(top).offer();
      if (next.index() != 0) {
        std::get<1>(std::move(next)).close();
        return false;
      }
      auto [rest, v] = std::get<0>(std::move(next)).recv();
      top = std::move(rest).send(v + 1).zero();
      return true;
    }
    void run(u64 /*trips*/) {
      while (answer_one()) {
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [client, echo] = ss::session_channel<Protocol>();
    return {Client{std::move(client).enter()}, Echo{std::move(echo).enter()}};
  }
};

struct SessionTransport {
  static constexpr const char* name = "session_transport";
  static constexpr bool echo_sees_finish = true;

  // The very message types the session above sends each way (an internal
  // name, used here so that the two cannot drift apart).
  using Out = ss::detail::Message<Session::Protocol, true>;  // monostate, Label, u64
  using In = ss::detail::Message<Session::Protocol, false>;  // monostate, u64
  using Label = ss::detail::Label;

  struct Client {
    spindle::mpsc::SyncSender<Out> tx;
    spindle::mpsc::Receiver<In> rx;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      if (tx.send(Out(std::in_place_type<Label>, Label{0})).is_err() ||
          tx.send(Out(std::in_place_type<u64>, v)).is_err()) {
        die("session_transport: send failed");
      }
      between();
      auto received = rx.recv();
      if (received.is_err()) {
        die("session_transport: recv failed");
      }
      const u64* reply = std::get_if<u64>(&*received);
      if (reply == nullptr) {
        die("session_transport: not a u64");
      }
      return *reply;
    }
    void finish() {
      if (tx.send(Out(std::in_place_type<Label>, Label{1})).is_err()) {
        die("session_transport: send failed");
      }
    }
  };

  struct Echo {
    spindle::mpsc::Receiver<Out> rx;
    spindle::mpsc::SyncSender<In> tx;
    bool answer_one() {
      auto choice = rx.recv();
      const Label* label = choice.is_ok() ? std::get_if<Label>(&*choice) : nullptr;
      if (label == nullptr || label->index > 1) {
        die("session_transport: not a label");
      }
      if (label->index == 1) {
        return false;
      }
      auto message = rx.recv();
      const u64* v = message.is_ok() ? std::get_if<u64>(&*message) : nullptr;
      if (v == nullptr) {
        die("session_transport: not a u64");
      }
      if (tx.send(In(std::in_place_type<u64>, *v + 1)).is_err()) {
        die("session_transport: send failed");
      }
      return true;
    }
    void run(u64 /*trips*/) {
      while (answer_one()) {
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [out_tx, out_rx] = spindle::mpsc::sync_channel<Out>(SPINDLE_SESSION_BUFFER);
    auto [in_tx, in_rx] = spindle::mpsc::sync_channel<In>(SPINDLE_SESSION_BUFFER);
    return {Client{std::move(out_tx), std::move(in_rx)}, Echo{std::move(out_rx), std::move(in_tx)}};
  }
};

// Two plain u64 channels; the echo answers exactly as many times as told.
template <bool bounded>
struct PlainU64 {
  static constexpr const char* name = bounded ? "sync_channel_u64" : "channel_u64";
  static constexpr bool echo_sees_finish = false;  // it stops after `trips` answers
  using Sender = std::conditional_t<bounded, spindle::mpsc::SyncSender<u64>, spindle::mpsc::Sender<u64>>;

  static auto channel() {
    if constexpr (bounded) {
      return spindle::mpsc::sync_channel<u64>(SPINDLE_SESSION_BUFFER);
    } else {
      return spindle::mpsc::channel<u64>();
    }
  }

  struct Client {
    Sender tx;
    spindle::mpsc::Receiver<u64> rx;
    template <class Between>
    u64 round_trip(u64 v, Between between) {
      if (tx.send(v).is_err()) {
        die("plain: send failed");
      }
      between();
      auto reply = rx.recv();
      if (reply.is_err()) {
        die("plain: recv failed");
      }
      return *reply;
    }
    void finish() {}
  };

  struct Echo {
    spindle::mpsc::Receiver<u64> rx;
    Sender tx;
    bool answer_one() {
      auto v = rx.recv();
      if (v.is_err() || tx.send(*v + 1).is_err()) {
        die("plain: echo failed");
      }
      return true;
    }
    void run(u64 trips) {
      for (u64 i = 0; i < trips; ++i) {
        answer_one();
      }
    }
  };

  static std::pair<Client, Echo> make() {
    auto [ping_tx, ping_rx] = channel();
    auto [pong_tx, pong_rx] = channel();
    return {Client{std::move(ping_tx), std::move(pong_rx)}, Echo{std::move(ping_rx), std::move(pong_tx)}};
  }
};

}  // namespace spindle_bench
