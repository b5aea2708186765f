// SPDX-License-Identifier: MIT
// Stress on every flavour: several producers and one consumer checking each
// producer's sequence; a random mix of blocking, non-blocking and timed
// operations; and channels created and torn down while the other side is
// busy. Counts are sized to finish in a few seconds under ThreadSanitizer
// on two cores; a Watchdog fails any test that hangs.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Bounded;
using spindle::test::Bounded1;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::has_try_send;
using spindle::test::LifetimeCheck;
using spindle::test::Rendezvous;
using spindle::test::Unbounded;
using spindle::test::wait_limit;
using spindle::test::Watchdog;
using Clock = std::chrono::steady_clock;

namespace {

struct Msg {
  int id;
  int seq;
};

/// Checks, on the consumer's side, that each producer's sequence goes up by
/// exactly one per message.
class SequenceCheck {
 public:
  explicit SequenceCheck(int producers) : next_(static_cast<std::size_t>(producers), 0) {}

  void saw(int id, int seq) {
    ++total_;
    if (id < 0 || static_cast<std::size_t>(id) >= next_.size()) {
      ++errors_;
      return;
    }
    int& next = next_[static_cast<std::size_t>(id)];
    if (seq != next) {
      ++errors_;
    }
    next = seq + 1;
  }

  [[nodiscard]] int errors() const { return errors_; }
  [[nodiscard]] long total() const { return total_; }
  [[nodiscard]] bool all_reached(int n) const {
    for (int next : next_) {
      if (next != n) {
        return false;
      }
    }
    return true;
  }

 private:
  std::vector<int> next_;
  int errors_ = 0;
  long total_ = 0;
};

// Messages per producer: a rendezvous pays a hand-off for each.
template <class F>
constexpr int per_producer() {
  return F::capacity == 0 ? 1500 : 4000;
}

}  // namespace

TEMPLATE_TEST_CASE("stress: four producers, one consumer, every sequence intact", "[mpsc][stress]", Unbounded, Bounded,
                   Bounded1, Rendezvous) {
  Watchdog dog("four producers");
  constexpr int producers = 4;
  constexpr int n = per_producer<TestType>();
  auto tx_rx = TestType::template make<Msg>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<int>> handles;
  for (int id = 0; id < producers; ++id) {
    handles.push_back(th::spawn([tx = tx, id]() mutable {
      int sent = 0;
      for (int seq = 0; seq < n && tx.send(Msg{id, seq}).is_ok(); ++seq) {
        ++sent;
      }
      return sent;
    }));
  }
  drop(std::move(tx));
  SequenceCheck check(producers);
  for (const Msg& m : rx) {
    check.saw(m.id, m.seq);
  }
  for (auto& h : handles) {
    REQUIRE(h.join().unwrap() == n);
  }
  REQUIRE(check.errors() == 0);
  REQUIRE(check.total() == static_cast<long>(producers) * n);
  REQUIRE(check.all_reached(n));
}

TEMPLATE_TEST_CASE("stress: a random mix of send, try_send, recv, try_recv and recv_timeout", "[mpsc][stress]",
                   Unbounded, Bounded, Bounded1, Rendezvous) {
  Watchdog dog("random mix");
  constexpr int producers = 4;
  constexpr int n = per_producer<TestType>() / 2;
  auto tx_rx = TestType::template make<Msg>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<int> wrong_value_back{0};
  std::vector<th::JoinHandle<int>> handles;
  for (int id = 0; id < producers; ++id) {
    handles.push_back(th::spawn([tx = tx, id, &wrong_value_back]() mutable {
      std::minstd_rand rng(static_cast<std::uint32_t>(1234 + id));
      int sent = 0;
      for (int seq = 0; seq < n; ++seq) {
        const auto op = rng() % 4;
        bool ok = false;
        if constexpr (has_try_send<TestType>) {
          if (op < 2) {
            ok = tx.send(Msg{id, seq}).is_ok();
          } else {
            // try_send until it fits; each refusal hands the very message back.
            for (int attempt = 0; attempt < 10'000'000; ++attempt) {
              auto r = tx.try_send(Msg{id, seq});
              if (r.is_ok()) {
                ok = true;
                break;
              }
              const Msg back = r.error().value;
              if (back.id != id || back.seq != seq) {
                wrong_value_back.fetch_add(1);
              }
              if (r.error().is_disconnected()) {
                break;
              }
              if (attempt % 16 == 15) {
                std::this_thread::yield();
              }
            }
          }
        } else {
          (void)wrong_value_back;  // a Sender has no try_send to hand values back
          ok = tx.send(Msg{id, seq}).is_ok();
          if (op == 0) {
            std::this_thread::yield();
          }
        }
        if (!ok) {
          break;
        }
        ++sent;
      }
      return sent;
    }));
  }
  drop(std::move(tx));

  SequenceCheck check(producers);
  std::minstd_rand rng(42);
  int timeouts = 0;
  bool disconnected = false;
  const auto give_up = Clock::now() + wait_limit;
  while (!disconnected && Clock::now() < give_up) {
    switch (rng() % 3) {
      case 0: {
        auto r = rx.recv();
        if (r.is_ok()) {
          check.saw(r->id, r->seq);
        } else {
          disconnected = true;
        }
        break;
      }
      case 1: {
        auto r = rx.try_recv();
        if (r.is_ok()) {
          check.saw(r->id, r->seq);
        } else {
          disconnected = r.error() == mpsc::TryRecvError::Disconnected;
        }
        break;
      }
      default: {
        auto r = rx.recv_timeout(std::chrono::microseconds(rng() % 200));
        if (r.is_ok()) {
          check.saw(r->id, r->seq);
        } else if (r.error() == mpsc::RecvTimeoutError::Timeout) {
          ++timeouts;
        } else {
          disconnected = true;
        }
        break;
      }
    }
  }
  for (auto& h : handles) {
    REQUIRE(h.join().unwrap() == n);
  }
  REQUIRE(disconnected);
  REQUIRE(check.errors() == 0);
  REQUIRE(check.total() == static_cast<long>(producers) * n);
  REQUIRE(wrong_value_back.load() == 0);
  (void)timeouts;  // how many depends on scheduling; any number is fine
}

TEMPLATE_TEST_CASE("stress: the receiver goes while senders are sending", "[mpsc][stress][lifetime]", Unbounded,
                   Bounded, Bounded1, Rendezvous) {
  Watchdog dog("receiver goes mid-send");
  LifetimeCheck check;
  constexpr int rounds = 60;
  int wrong_back = 0;
  int out_of_order = 0;
  long ok_sends = 0;
  long received = 0;
  for (int round = 0; round < rounds; ++round) {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::vector<th::JoinHandle<std::pair<int, bool>>> senders;
    for (int id = 0; id < 2; ++id) {
      senders.push_back(th::spawn([tx = tx, id]() mutable {
        // Send until the receiver is gone; the failing send hands back its message.
        for (int seq = 0; seq < 1'000'000; ++seq) {
          auto r = tx.send(Counted(id * 1'000'000 + seq));
          if (r.is_err()) {
            return std::pair<int, bool>(seq, r.error().value.value() == id * 1'000'000 + seq);
          }
          if (seq % 64 == 63) {
            std::this_thread::yield();  // keep an unbounded channel from growing huge
          }
        }
        return std::pair<int, bool>(-1, false);
      }));
    }
    drop(std::move(tx));
    // Take a few (none, some rounds), then go.
    std::array<int, 2> next{};
    for (int k = 0; k < round % 7; ++k) {
      auto r = rx.recv_timeout(wait_limit);
      if (r.is_err()) {
        break;
      }
      const int id = r->value() / 1'000'000;
      const int seq = r->value() % 1'000'000;
      out_of_order += (id == 0 || id == 1) && next[static_cast<std::size_t>(id)] == seq ? 0 : 1;
      if (id == 0 || id == 1) {
        next[static_cast<std::size_t>(id)] = seq + 1;
      }
      ++received;
    }
    if (round % 2 == 0) {
      drop(std::move(rx));
    } else {
      REQUIRE(th::spawn([rx = std::move(rx)]() mutable { drop(std::move(rx)); }).join().is_ok());
    }
    for (auto& s : senders) {
      auto [sent, back_ok] = s.join().unwrap();
      wrong_back += (sent >= 0 && back_ok) ? 0 : 1;
      ok_sends += sent;
    }
    REQUIRE(check.live() == 0);  // all buffered and handed-back messages are gone
  }
  REQUIRE(wrong_back == 0);
  REQUIRE(out_of_order == 0);
  REQUIRE(ok_sends >= received);
}

TEMPLATE_TEST_CASE("stress: the senders go while the receiver waits in recv_timeout", "[mpsc][stress]", Unbounded,
                   Bounded, Bounded1, Rendezvous) {
  Watchdog dog("senders go mid-wait");
  constexpr int rounds = 60;
  int mismatches = 0;
  int not_disconnected = 0;
  for (int round = 0; round < rounds; ++round) {
    auto tx_rx = TestType::template make<Msg>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    const int per_sender = round % 5;
    auto receiver = th::spawn([rx = std::move(rx), round]() mutable {
      std::minstd_rand rng(static_cast<std::uint32_t>(round));
      long count = 0;
      const auto give_up = Clock::now() + wait_limit;
      while (Clock::now() < give_up) {
        auto r = rx.recv_timeout(std::chrono::microseconds(rng() % 2000));
        if (r.is_ok()) {
          ++count;
        } else if (r.error() == mpsc::RecvTimeoutError::Disconnected) {
          return count;
        }
      }
      return -1L;  // never disconnected
    });
    std::vector<th::JoinHandle<int>> senders;
    for (int id = 0; id < 3; ++id) {
      senders.push_back(th::spawn([tx = tx, id, per_sender, round]() mutable {
        std::minstd_rand rng(static_cast<std::uint32_t>(round * 7 + id));
        int sent = 0;
        for (int seq = 0; seq < per_sender; ++seq) {
          if (rng() % 2 == 0) {
            th::sleep(std::chrono::microseconds(rng() % 500));
          }
          sent += tx.send(Msg{id, seq}).is_ok() ? 1 : 0;
        }
        return sent;  // the sender goes with the thread, at its own moment
      }));
    }
    if (round % 3 == 0) {
      th::sleep(std::chrono::microseconds(200));
    }
    drop(std::move(tx));
    int sent = 0;
    for (auto& s : senders) {
      sent += s.join().unwrap();
    }
    const long count = receiver.join().unwrap();
    not_disconnected += count < 0 ? 1 : 0;
    mismatches += count == sent ? 0 : 1;
  }
  REQUIRE(not_disconnected == 0);
  REQUIRE(mismatches == 0);
}

TEMPLATE_TEST_CASE("stress: both ends go at the same moment", "[mpsc][stress][lifetime]", Unbounded, Bounded, Bounded1,
                   Rendezvous) {
  Watchdog dog("both ends go");
  LifetimeCheck check;
  constexpr int rounds = 150;
  int failures = 0;
  for (int round = 0; round < rounds; ++round) {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    std::atomic<int> ready{0};
    auto wait_for_both = [&ready] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
        std::this_thread::yield();
      }
    };
    auto sender = th::spawn([tx = std::move(tx), wait_for_both, round]() mutable {
      if constexpr (has_try_send<TestType>) {
        (void)tx.try_send(Counted(round));  // maybe buffered, maybe refused
      } else {
        (void)tx.send(Counted(round));
      }
      wait_for_both();
      drop(std::move(tx));
      return true;
    });
    auto receiver = th::spawn([rx = std::move(rx), wait_for_both]() mutable {
      (void)rx.try_recv();
      wait_for_both();
      drop(std::move(rx));
      return true;
    });
    failures += sender.join().unwrap_or(false) ? 0 : 1;
    failures += receiver.join().unwrap_or(false) ? 0 : 1;
  }
  REQUIRE(failures == 0);
  REQUIRE(check.live() == 0);
}

TEMPLATE_TEST_CASE("stress: channels created and torn down in quick succession", "[mpsc][stress][lifetime]", Unbounded,
                   Bounded, Bounded1, Rendezvous) {
  // One long-lived pair of threads; each round a fresh channel travels to
  // them, carries a few messages, and is dropped at a different moment.
  Watchdog dog("channel churn");
  LifetimeCheck check;
  using Tx = spindle::test::TxOf<TestType, Counted>;
  auto work_tx_work_rx = mpsc::channel<Tx>();
  auto& work_tx = work_tx_work_rx.first;
  auto& work_rx = work_tx_work_rx.second;
  auto producer = th::spawn([work_rx = std::move(work_rx)]() mutable {
    int rounds = 0;
    for (Tx tx : work_rx) {
      for (int i = 0; i < 3; ++i) {
        if (tx.send(Counted(i)).is_err()) {
          break;
        }
      }
      drop(std::move(tx));
      ++rounds;
    }
    return rounds;
  });
  int wrong = 0;
  constexpr int rounds = 300;
  for (int round = 0; round < rounds; ++round) {
    auto tx_rx = TestType::template make<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    REQUIRE(work_tx.send(std::move(tx)).is_ok());
    const int take = round % 4;  // 3: all of them, then disconnection
    for (int i = 0; i < take; ++i) {
      auto r = rx.recv_timeout(wait_limit);
      if (i < 3) {
        wrong += (r.is_ok() && r->value() == i) ? 0 : 1;
      }
    }
    if (take == 3) {
      wrong += rx.recv_timeout(wait_limit).is_err() ? 0 : 1;
    }
  }
  drop(std::move(work_tx));
  REQUIRE(producer.join().unwrap() == rounds);
  REQUIRE(wrong == 0);
  REQUIRE(check.live() == 0);
}
