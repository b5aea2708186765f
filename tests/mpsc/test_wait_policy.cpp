// SPDX-License-Identifier: MIT
// WaitPolicy: every flavour under each policy delivers exactly what was
// sent, times out, and notices disconnection from either side, whether its
// waiters spin (WaitPolicy::spin), sleep at once (park) or both (adaptive).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::WaitPolicy;
using spindle::test::Watchdog;

namespace {

constexpr WaitPolicy policies[] = {WaitPolicy::adaptive, WaitPolicy::park, WaitPolicy::spin};

const char* name(WaitPolicy policy) {
  switch (policy) {
    case WaitPolicy::adaptive:
      return "adaptive";
    case WaitPolicy::park:
      return "park";
    case WaitPolicy::spin:
      return "spin";
  }
  return "?";
}

// The flavours, made with a policy: capacity -1 is channel(), else
// sync_channel(capacity).
template <class F>
void for_each_flavour(F&& test) {
  for (const WaitPolicy policy : policies) {
    for (const int capacity : {-1, 1, 4, 0}) {
      INFO("policy " << name(policy) << ", capacity " << capacity);
      if (capacity < 0) {
        auto [tx, rx] = mpsc::channel<int>(policy);
        test(std::move(tx), std::move(rx), capacity);
      } else {
        auto [tx, rx] = mpsc::sync_channel<int>(static_cast<std::size_t>(capacity), policy);
        test(std::move(tx), std::move(rx), capacity);
      }
    }
  }
}

}  // namespace

TEST_CASE("every policy delivers every message once, in order, on every flavour", "[mpsc][wait_policy]") {
  for_each_flavour([](auto tx, mpsc::Receiver<int> rx, int /*capacity*/) {
    constexpr int count = 2000;
    Watchdog dog("policy stream");
    auto producer = th::spawn([tx = std::move(tx)]() mutable {
      for (int i = 0; i < count; ++i) {
        if (tx.send(i).is_err()) {
          return false;
        }
      }
      return true;
    });
    std::vector<int> got;
    for (int v : rx) {
      got.push_back(v);
    }
    REQUIRE(producer.join().unwrap());
    REQUIRE(got.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      REQUIRE(got[static_cast<std::size_t>(i)] == i);
    }
  });
}

TEST_CASE("every policy times out on an empty channel and then still receives", "[mpsc][wait_policy]") {
  for_each_flavour([](auto tx, mpsc::Receiver<int> rx, int capacity) {
    Watchdog dog("policy timeout");
    REQUIRE(rx.recv_timeout(2ms).unwrap_err() == mpsc::RecvTimeoutError::Timeout);
    REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);
    if (capacity != 0) {
      REQUIRE(tx.send(7).is_ok());
      REQUIRE(rx.recv_timeout(2ms).unwrap() == 7);
    } else {
      auto sender = th::spawn([tx = std::move(tx)]() mutable { return tx.send(7).is_ok(); });
      REQUIRE(rx.recv().unwrap() == 7);
      REQUIRE(sender.join().unwrap());
    }
  });
}

TEST_CASE("every policy wakes a blocked receive when the last sender goes", "[mpsc][wait_policy]") {
  for_each_flavour([](auto tx, mpsc::Receiver<int> rx, int /*capacity*/) {
    Watchdog dog("policy disconnect");
    std::atomic<bool> receiving{false};
    auto receiver = th::spawn([&receiving, rx = std::move(rx)]() mutable {
      receiving = true;
      return rx.recv().is_err();
    });
    while (!receiving) {
      th::yield_now();
    }
    th::sleep(1ms);  // most likely blocked by now; either way it must end
    { auto gone = std::move(tx); }
    REQUIRE(receiver.join().unwrap());
  });
}

TEST_CASE("every policy wakes a sender blocked on a full channel when the receiver goes", "[mpsc][wait_policy]") {
  for (const WaitPolicy policy : policies) {
    for (const std::size_t capacity : {std::size_t{0}, std::size_t{1}}) {
      INFO("policy " << name(policy) << ", capacity " << capacity);
      Watchdog dog("policy receiver gone");
      auto [tx, rx] = mpsc::sync_channel<std::string>(capacity, policy);
      if (capacity == 1) {
        REQUIRE(tx.try_send("fills it").is_ok());
      }
      std::atomic<bool> sending{false};
      auto sender = th::spawn([&sending, tx = std::move(tx)]() mutable {
        sending = true;
        auto result = tx.send("blocked");
        return result.is_err() ? std::move(result).unwrap_err().into_inner() : std::string("sent");
      });
      while (!sending) {
        th::yield_now();
      }
      th::sleep(1ms);
      { auto gone = std::move(rx); }
      REQUIRE(sender.join().unwrap() == "blocked");
    }
  }
}
