// SPDX-License-Identifier: MIT
// Tests of crossbeam-channel 0.5.6 (tests/list.rs, array.rs and zero.rs)
// that need several receivers, len(), capacity() or send_timeout(), ported
// to spindle::mpmc in spindle's words: list.rs is channel<T>(), array.rs
// sync_channel<T>(n) with n >= 1, zero.rs sync_channel<T>(0). Each case says
// which crossbeam test it mirrors.
//
// How the ports differ from the originals:
// - crossbeam orders its threads with sleeps ("sleep a second, then send");
//   here flags order them, and only what holds whatever the timing is
//   asserted. The few sleeps left only make a race more likely.
// - crossbeam's threads borrow one receiver; here each thread has its own
//   copy, and many cases add a second receiver (or sender) copy, to check the
//   multi-consumer side: which copy gets a message is free, that exactly one
//   does is not.
// - Counts are scaled down so the file stays quick under ThreadSanitizer;
//   the stress cases also stop early on a loaded machine (a time budget), and
//   every blocking wait has a limit (wait_limit, a Watchdog).
// - stress_oversubscription is not in crossbeam-channel 0.5.6: those cases
//   are spindle's own, after crossbeam's mpmc with far more threads than
//   cores.
// - Nothing is asserted inside a spawned thread: threads return what they
//   saw, and the test checks it after joining them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/mpmc.hpp>
#include <spindle/thread.hpp>

namespace {

namespace mpmc = spindle::mpmc;
namespace th = spindle::thread;
using namespace std::chrono_literals;
using spindle::test::Budget;
using spindle::test::Counted;
using spindle::test::eventually;
using spindle::test::LifetimeCheck;
using spindle::test::raised;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

template <class T>
using mpmc_port_Ends = std::pair<mpmc::Sender<T>, mpmc::Receiver<T>>;

/// How long a stress case may keep going: it does its full count on a quiet
/// machine and stops early, after at least one round, on a loaded one (where
/// the tight rings of eight threads or more on two cores get much slower), so
/// that the watchdogs catch hangs, not slowness.
constexpr std::chrono::milliseconds mpmc_port_budget{2000};

/// Rust's `()`, crossbeam's message where only its arrival matters.
struct mpmc_port_Unit {};

/// What every handle of a channel reports at once: the two senders and two
/// receivers (copies of one another) must agree.
template <class T>
void mpmc_port_require_sizes(const mpmc::Sender<T>& tx, const mpmc::Sender<T>& tx2, const mpmc::Receiver<T>& rx,
                             const mpmc::Receiver<T>& rx2, std::size_t len, bool full) {
  CAPTURE(len, full);
  REQUIRE(tx.len() == len);
  REQUIRE(tx2.len() == len);
  REQUIRE(rx.len() == len);
  REQUIRE(rx2.len() == len);
  REQUIRE(tx.is_empty() == (len == 0));
  REQUIRE(rx2.is_empty() == (len == 0));
  REQUIRE(tx2.is_full() == full);
  REQUIRE(rx.is_full() == full);
}

/// The same capacity on every handle and every copy of it.
template <class T>
void mpmc_port_require_capacity(const mpmc_port_Ends<T>& ends, std::optional<std::size_t> expected) {
  const mpmc::Sender<T> tx2 = ends.first;
  const mpmc::Receiver<T> rx2 = ends.second;
  REQUIRE(ends.first.capacity() == expected);
  REQUIRE(ends.second.capacity() == expected);
  REQUIRE(tx2.capacity() == expected);
  REQUIRE(rx2.capacity() == expected);
}

// --- mpmc ----------------------------------------------------------------------

/// One round of crossbeam's mpmc: four senders each send 0..count-1 while
/// four receivers each take `count` messages; every value must arrive
/// exactly four times. The test's own handles stay open, so the channel ends
/// the round empty, not disconnected.
void mpmc_port_many_to_many_round(mpmc_port_Ends<std::size_t>& ends, std::size_t count) {
  constexpr std::size_t threads = 4;
  auto& tx = ends.first;
  auto& rx = ends.second;
  std::vector<std::atomic<std::size_t>> seen(count);
  std::vector<th::JoinHandle<bool>> handles;
  handles.reserve(2 * threads);
  for (std::size_t t = 0; t < threads; ++t) {
    handles.push_back(th::spawn([mine = rx, &seen, count]() mutable {
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t n = mine.recv_timeout(wait_limit).unwrap_or(count);
        if (n >= count) {
          return false;  // timed out, or a value nobody sent
        }
        seen[n].fetch_add(1, std::memory_order_relaxed);
      }
      return true;
    }));
  }
  for (std::size_t t = 0; t < threads; ++t) {
    handles.push_back(th::spawn([mine = tx, count]() mutable {
      for (std::size_t i = 0; i < count; ++i) {
        if (mine.send(i).is_err()) {
          return false;
        }
      }
      return true;
    }));
  }
  std::size_t failed_threads = 0;
  for (auto& h : handles) {
    failed_threads += h.join().unwrap() ? 0 : 1;
  }
  REQUIRE(failed_threads == 0);
  REQUIRE(rx.try_recv().err() == std::optional(mpmc::TryRecvError::Empty));
  const auto wrong = std::count_if(seen.begin(), seen.end(), [](const auto& c) { return c.load() != threads; });
  REQUIRE(wrong == 0);
}

/// crossbeam's mpmc as rounds on one channel, as many as the budget allows.
void mpmc_port_many_to_many(mpmc_port_Ends<std::size_t> ends, std::size_t count, int rounds) {
  const Budget budget(mpmc_port_budget);
  for (int round = 0; round < rounds && budget.more(round); ++round) {
    CAPTURE(round);
    mpmc_port_many_to_many_round(ends, count);
  }
}

// --- linearizable --------------------------------------------------------------

/// crossbeam's linearizable: four threads, each with its own copies, send
/// one message and then try_recv: the message it just sent (or another's) is
/// in the channel, so try_recv must never find it empty.
void mpmc_port_linearizable(const mpmc_port_Ends<int>& ends, int count) {
  constexpr int threads = 4;
  const Budget budget(mpmc_port_budget);
  std::vector<th::JoinHandle<int>> handles;
  handles.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    handles.push_back(th::spawn([tx = ends.first, rx = ends.second, count, &budget]() mutable {
      int misses = 0;
      for (int i = 0; i < count && budget.more(i); ++i) {
        if (tx.send(0).is_err()) {
          return -1;
        }
        misses += rx.try_recv().is_err() ? 1 : 0;
      }
      return misses;
    }));
  }
  std::vector<int> misses;
  misses.reserve(threads);
  for (auto& h : handles) {
    misses.push_back(h.join().unwrap());
  }
  REQUIRE(misses == std::vector<int>(threads, 0));
  REQUIRE(ends.second.is_empty());
}

// --- try_recv ------------------------------------------------------------------

struct mpmc_port_Polled {
  bool first_empty = false;
  std::vector<int> got;
  bool disconnected = false;
};

/// crossbeam's try_recv, with two receivers: both find the channel empty
/// before anything is sent; then a sender sends 7 and goes. Polling, exactly
/// one of them gets 7, and both end seeing Disconnected.
void mpmc_port_try_recv(mpmc_port_Ends<int> ends) {
  std::atomic<int> looked{0};
  auto poll = [&looked](mpmc::Receiver<int> mine) {
    mpmc_port_Polled out;
    out.first_empty = mine.try_recv().err() == std::optional(mpmc::TryRecvError::Empty);
    looked.fetch_add(1);
    out.disconnected = eventually([&] {
      auto r = mine.try_recv();
      if (r.is_ok()) {
        out.got.push_back(r.unwrap());
        return false;
      }
      return r.error() == mpmc::TryRecvError::Disconnected;
    });
    return out;
  };
  auto first = th::spawn([poll, mine = ends.second]() mutable { return poll(std::move(mine)); });
  auto second = th::spawn([poll, mine = std::move(ends.second)]() mutable { return poll(std::move(mine)); });
  // Nothing is sent before both looked (crossbeam: the sender sleeps first).
  const bool both_looked = eventually([&] { return looked.load() == 2; });
  auto sender = th::spawn([tx = std::move(ends.first)]() mutable { return tx.send(7).is_ok(); });
  const bool sent = sender.join().unwrap();
  const mpmc_port_Polled a = first.join().unwrap();
  const mpmc_port_Polled b = second.join().unwrap();
  REQUIRE(both_looked);
  REQUIRE(sent);
  REQUIRE(a.first_empty);
  REQUIRE(b.first_empty);
  std::vector<int> got = a.got;
  got.insert(got.end(), b.got.begin(), b.got.end());
  REQUIRE(got == std::vector<int>{7});
  REQUIRE(a.disconnected);
  REQUIRE(b.disconnected);
}

// --- recv_timeout --------------------------------------------------------------

struct mpmc_port_Timed {
  bool first_timed_out = false;
  std::optional<int> got;            // the second receive's message, if it had one
  bool second_disconnected = false;  // or else it saw Disconnected
  bool third_disconnected = false;
};

/// crossbeam's recv_timeout, with two receivers: both time out while
/// nothing is sent; then one message is sent and its sender goes. One
/// receiver gets it, the other sees Disconnected, and so do both after.
void mpmc_port_recv_timeout(mpmc_port_Ends<int> ends) {
  std::atomic<int> timed_out{0};
  auto receive = [&timed_out](mpmc::Receiver<int> mine) {
    mpmc_port_Timed out;
    out.first_timed_out = mine.recv_timeout(5ms).err() == std::optional(mpmc::RecvTimeoutError::Timeout);
    timed_out.fetch_add(1);
    auto second = mine.recv_timeout(wait_limit);
    if (second.is_ok()) {
      out.got = second.unwrap();
    } else {
      out.second_disconnected = second.error() == mpmc::RecvTimeoutError::Disconnected;
    }
    out.third_disconnected = mine.recv_timeout(wait_limit).err() == std::optional(mpmc::RecvTimeoutError::Disconnected);
    return out;
  };
  auto first = th::spawn([receive, mine = ends.second]() mutable { return receive(std::move(mine)); });
  auto second = th::spawn([receive, mine = std::move(ends.second)]() mutable { return receive(std::move(mine)); });
  const bool both_timed_out = eventually([&] { return timed_out.load() == 2; });
  th::sleep(1ms);  // likelier that both wait in their second receive
  auto sender = th::spawn([tx = std::move(ends.first)]() mutable { return tx.send(7).is_ok(); });
  const bool sent = sender.join().unwrap();
  const mpmc_port_Timed a = first.join().unwrap();
  const mpmc_port_Timed b = second.join().unwrap();
  REQUIRE(both_timed_out);
  REQUIRE(sent);
  REQUIRE(a.first_timed_out);
  REQUIRE(b.first_timed_out);
  // Exactly one got the message; the other was told the senders are gone.
  REQUIRE(a.got.has_value() != b.got.has_value());
  REQUIRE((a.got.has_value() ? *a.got : *b.got) == 7);
  REQUIRE((a.got.has_value() ? b.second_disconnected : a.second_disconnected));
  REQUIRE(a.third_disconnected);
  REQUIRE(b.third_disconnected);
}

// --- disconnect_wakes_receiver ---------------------------------------------------

/// crossbeam's disconnect_wakes_receiver, with two receivers and two sender
/// copies: dropping one sender copy leaves both receivers waiting, dropping
/// the last wakes both with Disconnected.
void mpmc_port_disconnect_wakes_receiver(mpmc_port_Ends<mpmc_port_Unit> ends) {
  auto tx = std::move(ends.first);
  auto tx2 = tx;
  std::atomic<int> started{0};
  std::atomic<int> returned{0};
  auto receive = [&started, &returned](mpmc::Receiver<mpmc_port_Unit> mine) {
    started.fetch_add(1);
    const bool disconnected =
        mine.recv_timeout(wait_limit).err() == std::optional(mpmc::RecvTimeoutError::Disconnected);
    returned.fetch_add(1);
    return disconnected;
  };
  auto first = th::spawn([receive, mine = ends.second]() mutable { return receive(std::move(mine)); });
  auto second = th::spawn([receive, mine = std::move(ends.second)]() mutable { return receive(std::move(mine)); });
  const bool both_started = eventually([&] { return started.load() == 2; });
  th::sleep(1ms);  // likelier that both are blocked by now
  spindle::drop(std::move(tx));
  // A sender remains and nothing was sent: no receive may have returned.
  const int returned_early = returned.load();
  spindle::drop(std::move(tx2));
  const bool a = first.join().unwrap();
  const bool b = second.join().unwrap();
  REQUIRE(both_started);
  REQUIRE(returned_early == 0);
  REQUIRE(a);
  REQUIRE(b);
}

// --- disconnect_wakes_sender -----------------------------------------------------

/// crossbeam's disconnect_wakes_sender (array.rs and zero.rs), with two
/// receiver copies: a sender blocks (the channel is full, or nobody
/// receives); dropping one receiver copy leaves it blocked, dropping the last
/// wakes it with its value back.
void mpmc_port_disconnect_wakes_sender(mpmc_port_Ends<int> ends, bool fill_first) {
  auto rx = std::move(ends.second);
  auto rx2 = rx;
  std::atomic<bool> filled{false};
  std::atomic<bool> returned{false};
  auto sender = th::spawn([tx = std::move(ends.first), fill_first, &filled, &returned]() mutable {
    const bool first = !fill_first || tx.send(1).is_ok();
    filled = true;
    auto second = tx.send(2);
    returned = true;
    return first && second.is_err() && second.error().value == 2;
  });
  const bool was_filled = raised(filled);
  th::sleep(1ms);  // likelier that the second send is blocked by now
  spindle::drop(std::move(rx));
  // A receiver remains and receives nothing: the send may not have returned.
  const bool returned_early = returned.load();
  spindle::drop(std::move(rx2));
  const bool ok = sender.join().unwrap();
  REQUIRE(was_filled);
  REQUIRE_FALSE(returned_early);
  REQUIRE(ok);
}

// --- send_after_disconnect -------------------------------------------------------

/// crossbeam's send_after_disconnect (list.rs, array.rs), with two receiver
/// copies: the channel stays open while one is left; once both are gone
/// send, try_send and send_timeout each fail with their value.
void mpmc_port_send_after_disconnect(mpmc_port_Ends<int> ends) {
  auto& tx = ends.first;
  auto rx2 = ends.second;
  REQUIRE(tx.send(1).is_ok());
  REQUIRE(tx.send(2).is_ok());
  spindle::drop(std::move(ends.second));
  REQUIRE(tx.send(3).is_ok());  // rx2 still receives
  REQUIRE(tx.len() == 3);
  spindle::drop(std::move(rx2));
  REQUIRE(tx.len() == 0);  // the last receiver destroyed what was buffered
  auto sent = tx.send(4);
  REQUIRE(sent.is_err());
  REQUIRE(sent.error().value == 4);
  auto tried = tx.try_send(5);
  REQUIRE(tried.is_err());
  REQUIRE(tried.error().kind() == mpmc::TrySendError<int>::Disconnected);
  REQUIRE(tried.error().value == 5);
  auto timed = tx.send_timeout(6, 500ms);
  REQUIRE(timed.is_err());
  REQUIRE(timed.error().kind() == mpmc::SendTimeoutError<int>::Disconnected);
  REQUIRE(timed.error().value == 6);
}

// --- len with threads --------------------------------------------------------------

struct mpmc_port_Drained {
  std::size_t received = 0;
  bool in_order = true;      // this receiver saw the sender's values rising
  bool within = true;        // every len() it read was at most the bound
  bool ended_clean = false;  // Disconnected at the end, not a timeout
};

/// The threaded half of crossbeam's len (array.rs, zero.rs), with two
/// receivers: one sender sends 0..count-1 and goes; both receivers take
/// what comes until Disconnected. len() read by any of them never exceeds
/// the bound, each receiver sees the values in order, and every value
/// arrives exactly once.
void mpmc_port_len_while_running(mpmc_port_Ends<int> ends, std::size_t bound, int count) {
  auto& rx = ends.second;
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(count));
  const Budget budget(mpmc_port_budget);
  // How many it sent (0..sent-1), or -1 when a send failed or len() was
  // ever above the bound.
  auto sender = th::spawn([tx = std::move(ends.first), bound, count, &budget]() mutable {
    bool ok = true;
    int i = 0;
    for (; i < count && budget.more(i); ++i) {
      ok = tx.send(i).is_ok() && tx.len() <= bound && ok;
    }
    return ok ? i : -1;
  });
  auto drain = [&seen, bound, count](mpmc::Receiver<int> mine) {
    mpmc_port_Drained out;
    int last = -1;
    for (;;) {
      auto r = mine.recv_timeout(wait_limit);
      if (r.is_err()) {
        out.ended_clean = r.error() == mpmc::RecvTimeoutError::Disconnected;
        return out;
      }
      const int v = r.unwrap();
      out.within = mine.len() <= bound && out.within;
      if (v <= last || v >= count) {
        out.in_order = false;
        continue;
      }
      last = v;
      ++out.received;
      seen[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto first = th::spawn([drain, mine = rx]() mutable { return drain(std::move(mine)); });
  auto second = th::spawn([drain, mine = rx]() mutable { return drain(std::move(mine)); });
  const int sent = sender.join().unwrap();
  const mpmc_port_Drained a = first.join().unwrap();
  const mpmc_port_Drained b = second.join().unwrap();
  REQUIRE(sent > 0);
  REQUIRE(a.ended_clean);
  REQUIRE(b.ended_clean);
  REQUIRE(a.in_order);
  REQUIRE(b.in_order);
  REQUIRE(a.within);
  REQUIRE(b.within);
  REQUIRE(a.received + b.received == static_cast<std::size_t>(sent));
  const auto wrong = std::count_if(seen.begin(), seen.begin() + sent, [](const auto& c) { return c.load() != 1; });
  REQUIRE(wrong == 0);
  REQUIRE(std::all_of(seen.begin() + sent, seen.end(), [](const auto& c) { return c.load() == 0; }));
  REQUIRE(rx.len() == 0);
  REQUIRE(rx.is_empty());
}

// --- stress_timeout_two_threads ----------------------------------------------------

/// crossbeam's stress_timeout_two_threads: both sides pause before every
/// other message and retry a short timed operation until it succeeds (the
/// list.rs sender sends plainly); the receiver gets 0..count-1 in order.
/// The retries are bounded by wait_limit.
void mpmc_port_timeout_two_threads(mpmc_port_Ends<int> ends, bool timed_send) {
  constexpr int count = 20;
  auto sender = th::spawn([tx = std::move(ends.first), timed_send]() mutable {
    const auto deadline = std::chrono::steady_clock::now() + wait_limit;
    for (int i = 0; i < count; ++i) {
      if (i % 2 == 0) {
        th::sleep(3ms);
      }
      if (!timed_send) {
        if (tx.send(i).is_err()) {
          return false;
        }
        continue;
      }
      for (;;) {
        auto sent = tx.send_timeout(i, 2ms);
        if (sent.is_ok()) {
          break;
        }
        if (sent.error().is_disconnected() || std::chrono::steady_clock::now() >= deadline) {
          return false;
        }
      }
    }
    return true;
  });
  auto receiver = th::spawn([rx = std::move(ends.second)]() mutable {
    const auto deadline = std::chrono::steady_clock::now() + wait_limit;
    for (int i = 0; i < count; ++i) {
      if (i % 2 == 0) {
        th::sleep(3ms);
      }
      for (;;) {
        auto got = rx.recv_timeout(2ms);
        if (got.is_ok()) {
          if (got.unwrap() != i) {
            return false;
          }
          break;
        }
        if (got.error() == mpmc::RecvTimeoutError::Disconnected || std::chrono::steady_clock::now() >= deadline) {
          return false;
        }
      }
    }
    return true;
  });
  const bool sent = sender.join().unwrap();
  const bool received = receiver.join().unwrap();
  REQUIRE(sent);
  REQUIRE(received);
}

// --- drops ---------------------------------------------------------------------

/// crossbeam's drops, with Counted for its DropCounter and two senders and
/// two receivers splitting the steps: after `steps` messages went through,
/// `additional` more are left in the channel; they are all alive until the
/// last sender and receiver go, and then none is. Random sizes from a fixed
/// seed, so a failure can be replayed.
template <class Make>
void mpmc_port_drops(Make make, int runs, std::size_t max_steps, std::size_t max_additional, bool try_send_rest) {
  std::minstd_rand rng(20240611);  // NOLINT(cert-msc51-cpp): a fixed seed, so a failing run can be replayed
  const Budget budget(mpmc_port_budget);
  for (int run = 0; run < runs && budget.more(run); ++run) {
    const std::size_t steps = rng() % max_steps;
    const std::size_t additional = max_additional == 0 ? 0 : rng() % max_additional;
    CAPTURE(run, steps, additional);
    LifetimeCheck lifetimes;
    mpmc_port_Ends<Counted> ends = make();
    auto receive = [](mpmc::Receiver<Counted> mine, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        if (mine.recv_timeout(wait_limit).is_err()) {
          return false;
        }
      }
      return true;
    };
    auto send = [](mpmc::Sender<Counted> mine, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        if (mine.send(Counted(static_cast<int>(i))).is_err()) {
          return false;
        }
      }
      return true;
    };
    const std::size_t half = steps / 2;
    const std::size_t rest = steps - half;
    std::vector<th::JoinHandle<bool>> handles;
    handles.reserve(4);
    handles.push_back(
        th::spawn([receive, mine = ends.second, half]() mutable { return receive(std::move(mine), half); }));
    handles.push_back(
        th::spawn([receive, mine = ends.second, rest]() mutable { return receive(std::move(mine), rest); }));
    handles.push_back(th::spawn([send, mine = ends.first, half]() mutable { return send(std::move(mine), half); }));
    handles.push_back(th::spawn([send, mine = ends.first, rest]() mutable { return send(std::move(mine), rest); }));
    std::size_t failed_threads = 0;
    for (auto& h : handles) {
      failed_threads += h.join().unwrap() ? 0 : 1;
    }
    std::size_t extra_sent = 0;
    for (std::size_t i = 0; i < additional; ++i) {
      Counted extra(-static_cast<int>(i) - 2);
      const bool ok =
          try_send_rest ? ends.first.try_send(std::move(extra)).is_ok() : ends.first.send(std::move(extra)).is_ok();
      extra_sent += ok ? 1 : 0;
    }
    const long live_while_open = lifetimes.live();
    spindle::drop(std::move(ends.first));
    const long live_after_senders = lifetimes.live();
    spindle::drop(std::move(ends.second));
    REQUIRE(failed_threads == 0);
    REQUIRE(extra_sent == additional);
    // Every message that went through is gone; the extra ones wait in the
    // channel, still there once the senders are gone, and destroyed with the
    // last receiver.
    REQUIRE(live_while_open == static_cast<long>(additional));
    REQUIRE(live_after_senders == static_cast<long>(additional));
    REQUIRE(lifetimes.live() == 0);
  }
}

// --- stress_oversubscription ---------------------------------------------------------

struct mpmc_port_Crowd {
  bool in_order = true;
  bool ended_clean = false;
};

/// Many more threads than cores (eight senders, eight receivers, on a
/// machine of two): each sender sends its own numbered run; the receivers
/// take whatever comes until Disconnected. Each value arrives exactly once,
/// and each receiver sees any one sender's values in the order they were
/// sent.
void mpmc_port_oversubscribed(mpmc_port_Ends<std::uint32_t> ends, std::uint32_t per_sender) {
  constexpr std::uint32_t senders = 8;
  constexpr std::uint32_t receivers = 8;
  const std::uint32_t total = senders * per_sender;
  std::vector<std::atomic<int>> seen(total);
  const Budget budget(mpmc_port_budget);
  std::vector<th::JoinHandle<mpmc_port_Crowd>> takers;
  takers.reserve(receivers);
  for (std::uint32_t r = 0; r < receivers; ++r) {
    takers.push_back(th::spawn([mine = ends.second, &seen, per_sender, total]() mutable {
      mpmc_port_Crowd out;
      std::vector<long> last(senders, -1);
      for (;;) {
        auto got = mine.recv_timeout(wait_limit);
        if (got.is_err()) {
          out.ended_clean = got.error() == mpmc::RecvTimeoutError::Disconnected;
          return out;
        }
        const std::uint32_t v = got.unwrap();
        if (v >= total) {
          out.in_order = false;
          continue;
        }
        const std::uint32_t from = v / per_sender;
        const long index = static_cast<long>(v % per_sender);
        out.in_order = index > last[from] && out.in_order;
        last[from] = index;
        seen[v].fetch_add(1, std::memory_order_relaxed);
      }
    }));
  }
  // Each sender returns how many of its run it sent (all of it, unless the
  // budget ran out), or -1 when a send failed.
  std::vector<th::JoinHandle<long>> givers;
  givers.reserve(senders);
  for (std::uint32_t s = 0; s < senders; ++s) {
    givers.push_back(th::spawn([mine = ends.first, s, per_sender, &budget]() mutable {
      std::uint32_t i = 0;
      for (; i < per_sender && budget.more(i); ++i) {
        if (mine.send(s * per_sender + i).is_err()) {
          return -1L;
        }
      }
      return static_cast<long>(i);
    }));
  }
  // The threads hold the only handles now: the receivers end once every
  // sender has.
  spindle::drop(std::move(ends.first));
  spindle::drop(std::move(ends.second));
  std::vector<long> sent;
  sent.reserve(senders);
  for (auto& h : givers) {
    sent.push_back(h.join().unwrap());
  }
  std::size_t out_of_order = 0;
  std::size_t unclean = 0;
  for (auto& h : takers) {
    const mpmc_port_Crowd out = h.join().unwrap();
    out_of_order += out.in_order ? 0 : 1;
    unclean += out.ended_clean ? 0 : 1;
  }
  REQUIRE(std::all_of(sent.begin(), sent.end(), [](long n) { return n > 0; }));
  REQUIRE(unclean == 0);
  REQUIRE(out_of_order == 0);
  // What was sent arrived exactly once; what was not, never.
  std::size_t wrong = 0;
  for (std::uint32_t v = 0; v < total; ++v) {
    const int expected = static_cast<long>(v % per_sender) < sent[v / per_sender] ? 1 : 0;
    wrong += seen[v].load() == expected ? 0 : 1;
  }
  REQUIRE(wrong == 0);
}

}  // namespace

// ================================================================================
// tests/list.rs: channel<T>()
// ================================================================================

// Mirrors list.rs capacity.
TEST_CASE("crossbeam mpmc list.rs: capacity, an unbounded channel has none on any handle or copy", "[mpmc][ported]") {
  mpmc_port_require_capacity(mpmc::channel<mpmc_port_Unit>(), std::nullopt);
}

// Mirrors list.rs len_empty_full.
TEST_CASE("crossbeam mpmc list.rs: len_empty_full, never full, every copy sees the same len", "[mpmc][ported]") {
  auto ends = mpmc::channel<mpmc_port_Unit>();
  auto& tx = ends.first;
  auto& rx = ends.second;
  const auto tx2 = tx;
  const auto rx2 = rx;
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 0, false);
  REQUIRE(tx.send(mpmc_port_Unit{}).is_ok());
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 1, false);
  REQUIRE(rx.recv().is_ok());
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 0, false);
}

// Mirrors list.rs len.
TEST_CASE("crossbeam mpmc list.rs: len, each send and each receive counts exactly, seen from either receiver",
          "[mpmc][ported]") {
  auto ends = mpmc::channel<std::size_t>();
  auto& tx = ends.first;
  auto& rx = ends.second;
  auto rx2 = rx;
  REQUIRE(tx.len() == 0);
  REQUIRE(rx.len() == 0);
  for (std::size_t i = 0; i < 50; ++i) {
    REQUIRE(tx.send(i).is_ok());
    REQUIRE(tx.len() == i + 1);
  }
  for (std::size_t i = 0; i < 50; ++i) {
    // The copies take turns; the messages still come in order.
    REQUIRE((i % 2 == 0 ? rx : rx2).recv().unwrap() == i);
    REQUIRE(rx.len() == 50 - i - 1);
    REQUIRE(rx2.len() == 50 - i - 1);
  }
  REQUIRE(tx.len() == 0);
  REQUIRE(rx.len() == 0);
}

// Mirrors list.rs try_recv.
TEST_CASE("crossbeam mpmc list.rs: try_recv, one of two polling receivers gets the message, both then see Disconnected",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list try_recv");
  mpmc_port_try_recv(mpmc::channel<int>());
}

// Mirrors list.rs recv_timeout.
TEST_CASE("crossbeam mpmc list.rs: recv_timeout, two receivers time out, one takes the message, both then disconnect",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list recv_timeout");
  mpmc_port_recv_timeout(mpmc::channel<int>());
}

// Mirrors list.rs send_timeout.
TEST_CASE(
    "crossbeam mpmc list.rs: send_timeout, never waits unbounded, fails with the value once the last receiver goes",
    "[mpmc][ported]") {
  constexpr std::size_t count = 1000;
  auto ends = mpmc::channel<std::size_t>();
  auto& tx = ends.first;
  auto rx2 = ends.second;
  for (std::size_t i = 0; i < count; ++i) {
    // Timeouts from none at all up to about a second: none is waited out.
    REQUIRE(tx.send_timeout(i, std::chrono::milliseconds(i)).is_ok());
  }
  REQUIRE(tx.len() == count);
  spindle::drop(std::move(ends.second));
  REQUIRE(tx.send_timeout(count, 0ms).is_ok());  // rx2 is still there
  spindle::drop(std::move(rx2));
  auto refused = tx.send_timeout(std::size_t{777}, 0ms);
  REQUIRE(refused.is_err());
  REQUIRE(refused.error().kind() == mpmc::SendTimeoutError<std::size_t>::Disconnected);
  REQUIRE(refused.error().value == 777);
}

// Mirrors list.rs send_after_disconnect.
TEST_CASE(
    "crossbeam mpmc list.rs: send_after_disconnect, every kind of send fails with its value once both receivers go",
    "[mpmc][ported]") {
  mpmc_port_send_after_disconnect(mpmc::channel<int>());
}

// Mirrors list.rs disconnect_wakes_receiver.
TEST_CASE("crossbeam mpmc list.rs: disconnect_wakes_receiver, only the last sender copy's drop wakes both receivers",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list disconnect_wakes_receiver");
  mpmc_port_disconnect_wakes_receiver(mpmc::channel<mpmc_port_Unit>());
}

// Mirrors list.rs mpmc.
TEST_CASE("crossbeam mpmc list.rs: mpmc, four senders and four receivers, every message received exactly once",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list mpmc");
  mpmc_port_many_to_many(mpmc::channel<std::size_t>(), 250, 10);
}

// Mirrors list.rs stress_timeout_two_threads.
TEST_CASE(
    "crossbeam mpmc list.rs: stress_timeout_two_threads, short timed receives retried lose nothing and keep order",
    "[mpmc][ported]") {
  Watchdog dog("mpmc list stress_timeout_two_threads");
  mpmc_port_timeout_two_threads(mpmc::channel<int>(), false);
}

// Mirrors list.rs drops.
TEST_CASE("crossbeam mpmc list.rs: drops, messages left in the channel die with the last receiver, none twice",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list drops");
  mpmc_port_drops([] { return mpmc::channel<Counted>(); }, 20, 2'000, 200, true);
}

// Mirrors list.rs linearizable.
TEST_CASE("crossbeam mpmc list.rs: linearizable, a try_recv right after a send never finds the channel empty",
          "[mpmc][ported]") {
  Watchdog dog("mpmc list linearizable");
  mpmc_port_linearizable(mpmc::channel<int>(), 5'000);
}

// No such test in crossbeam-channel 0.5.6's list.rs: spindle's own, in the
// spirit of its mpmc test, with far more threads than cores.
TEST_CASE(
    "crossbeam mpmc list.rs: stress_oversubscription, eight senders and eight receivers on two cores lose nothing",
    "[mpmc][ported]") {
  Watchdog dog("mpmc list stress_oversubscription");
  mpmc_port_oversubscribed(mpmc::channel<std::uint32_t>(), 1'250);
}

// ================================================================================
// tests/array.rs: sync_channel<T>(n), n >= 1
// ================================================================================

// Mirrors array.rs capacity.
TEST_CASE("crossbeam mpmc array.rs: capacity, each bound from 1 to 9 reported on every handle and copy",
          "[mpmc][ported]") {
  for (std::size_t n = 1; n < 10; ++n) {
    CAPTURE(n);
    mpmc_port_require_capacity(mpmc::sync_channel<mpmc_port_Unit>(n), std::optional<std::size_t>(n));
  }
}

// Mirrors array.rs len_empty_full.
TEST_CASE("crossbeam mpmc array.rs: len_empty_full, a channel of two filled and drained, alike on every copy",
          "[mpmc][ported]") {
  auto ends = mpmc::sync_channel<mpmc_port_Unit>(2);
  auto& tx = ends.first;
  auto& rx = ends.second;
  const auto tx2 = tx;
  auto rx2 = rx;
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 0, false);
  REQUIRE(tx.send(mpmc_port_Unit{}).is_ok());
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 1, false);
  REQUIRE(tx.send(mpmc_port_Unit{}).is_ok());
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 2, true);
  REQUIRE(rx2.recv().is_ok());
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 1, false);
}

// Mirrors array.rs len.
TEST_CASE("crossbeam mpmc array.rs: len, exact across laps of the ring, within the bound while two receivers run",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array len");
  constexpr std::size_t cap = 1000;
  auto ends = mpmc::sync_channel<int>(cap);
  {
    auto& tx = ends.first;
    auto& rx = ends.second;
    REQUIRE(tx.len() == 0);
    REQUIRE(rx.len() == 0);
    for (std::size_t round = 0; round < cap / 10; ++round) {
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(tx.send(static_cast<int>(i)).is_ok());
        REQUIRE(tx.len() == i + 1);
      }
      for (std::size_t i = 0; i < 50; ++i) {
        REQUIRE(rx.recv().is_ok());
        REQUIRE(rx.len() == 50 - i - 1);
      }
    }
    REQUIRE(tx.len() == 0);
    for (std::size_t i = 0; i < cap; ++i) {
      REQUIRE(tx.send(static_cast<int>(i)).is_ok());
      REQUIRE(tx.len() == i + 1);
    }
    REQUIRE(tx.is_full());
    REQUIRE(tx.try_send(-1).error().is_full());
    for (std::size_t i = 0; i < cap; ++i) {
      REQUIRE(rx.recv().is_ok());
    }
    REQUIRE(tx.len() == 0);
    REQUIRE(rx.len() == 0);
  }
  mpmc_port_len_while_running(std::move(ends), cap, 10'000);
}

// Mirrors array.rs try_recv.
TEST_CASE(
    "crossbeam mpmc array.rs: try_recv, one of two polling receivers gets the message, both then see Disconnected",
    "[mpmc][ported]") {
  Watchdog dog("mpmc array try_recv");
  mpmc_port_try_recv(mpmc::sync_channel<int>(100));
}

// Mirrors array.rs recv_timeout.
TEST_CASE("crossbeam mpmc array.rs: recv_timeout, two receivers time out, one takes the message, both then disconnect",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array recv_timeout");
  mpmc_port_recv_timeout(mpmc::sync_channel<int>(100));
}

// Mirrors array.rs send_timeout.
TEST_CASE("crossbeam mpmc array.rs: send_timeout, a full channel times out, room from two receivers lets sends through",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array send_timeout");
  auto ends = mpmc::sync_channel<int>(2);
  auto& tx = ends.first;
  std::atomic<bool> timed_out{false};
  std::atomic<int> drained{0};
  // Each receiver takes one of the two buffered messages; the first then
  // waits for the other to have taken its own, and takes what comes next.
  auto receive = [&timed_out, &drained](mpmc::Receiver<int> mine, bool again) {
    std::vector<int> got;
    if (!raised(timed_out)) {
      return got;
    }
    got.push_back(mine.recv_timeout(wait_limit).unwrap_or(-1));
    drained.fetch_add(1);
    if (again && eventually([&] { return drained.load() == 2; })) {
      got.push_back(mine.recv_timeout(wait_limit).unwrap_or(-1));
    }
    return got;
  };
  auto first = th::spawn([receive, mine = ends.second]() mutable { return receive(std::move(mine), true); });
  auto second =
      th::spawn([receive, mine = std::move(ends.second)]() mutable { return receive(std::move(mine), false); });
  const bool one = tx.send_timeout(1, wait_limit).is_ok();
  const bool two = tx.send_timeout(2, wait_limit).is_ok();
  const bool full = tx.is_full() && tx.len() == 2;
  auto three = tx.send_timeout(3, 20ms);  // full, and nobody receives yet
  timed_out = true;
  const bool both_drained = eventually([&] { return drained.load() == 2; });
  const bool four = tx.send_timeout(4, wait_limit).is_ok();
  const std::vector<int> got_first = first.join().unwrap();
  const std::vector<int> got_second = second.join().unwrap();
  auto five = tx.send(5);  // both receivers are gone
  REQUIRE(one);
  REQUIRE(two);
  REQUIRE(full);
  REQUIRE(three.is_err());
  REQUIRE(three.error().kind() == mpmc::SendTimeoutError<int>::Timeout);
  REQUIRE(three.error().value == 3);
  REQUIRE(both_drained);
  REQUIRE(four);
  REQUIRE(got_first.size() == 2);
  REQUIRE(got_second.size() == 1);
  REQUIRE(std::min(got_first[0], got_second[0]) == 1);
  REQUIRE(std::max(got_first[0], got_second[0]) == 2);
  REQUIRE(got_first[1] == 4);
  REQUIRE(five.is_err());
  REQUIRE(five.error().value == 5);
}

// Mirrors array.rs send_after_disconnect.
TEST_CASE(
    "crossbeam mpmc array.rs: send_after_disconnect, every kind of send fails with its value once both receivers go",
    "[mpmc][ported]") {
  mpmc_port_send_after_disconnect(mpmc::sync_channel<int>(100));
}

// Mirrors array.rs disconnect_wakes_sender.
TEST_CASE(
    "crossbeam mpmc array.rs: disconnect_wakes_sender, a sender blocked on a full channel wakes when the last receiver "
    "goes",
    "[mpmc][ported]") {
  Watchdog dog("mpmc array disconnect_wakes_sender");
  mpmc_port_disconnect_wakes_sender(mpmc::sync_channel<int>(1), true);
}

// Mirrors array.rs disconnect_wakes_receiver.
TEST_CASE("crossbeam mpmc array.rs: disconnect_wakes_receiver, only the last sender copy's drop wakes both receivers",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array disconnect_wakes_receiver");
  mpmc_port_disconnect_wakes_receiver(mpmc::sync_channel<mpmc_port_Unit>(1));
}

// Mirrors array.rs mpmc.
TEST_CASE("crossbeam mpmc array.rs: mpmc, four senders and four receivers through a ring of three, each message once",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array mpmc");
  mpmc_port_many_to_many(mpmc::sync_channel<std::size_t>(3), 250, 10);
}

// Mirrors array.rs stress_timeout_two_threads.
TEST_CASE(
    "crossbeam mpmc array.rs: stress_timeout_two_threads, short timed sends and receives retried keep every message in "
    "order",
    "[mpmc][ported]") {
  Watchdog dog("mpmc array stress_timeout_two_threads");
  mpmc_port_timeout_two_threads(mpmc::sync_channel<int>(2), true);
}

// Mirrors array.rs drops.
TEST_CASE("crossbeam mpmc array.rs: drops, messages left in the ring die with the last receiver, none twice",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array drops");
  mpmc_port_drops([] { return mpmc::sync_channel<Counted>(50); }, 20, 2'000, 50, false);
}

// Mirrors array.rs linearizable.
TEST_CASE("crossbeam mpmc array.rs: linearizable, a try_recv right after a send never finds the ring empty",
          "[mpmc][ported]") {
  Watchdog dog("mpmc array linearizable");
  mpmc_port_linearizable(mpmc::sync_channel<int>(4), 5'000);
}

// No such test in crossbeam-channel 0.5.6's array.rs: spindle's own, in the
// spirit of its mpmc test, with far more threads than cores on a ring of one.
TEST_CASE(
    "crossbeam mpmc array.rs: stress_oversubscription, eight senders and eight receivers on a ring of one lose nothing",
    "[mpmc][ported]") {
  Watchdog dog("mpmc array stress_oversubscription");
  mpmc_port_oversubscribed(mpmc::sync_channel<std::uint32_t>(1), 1'250);
}

// ================================================================================
// tests/zero.rs: sync_channel<T>(0)
// ================================================================================

// Mirrors zero.rs capacity.
TEST_CASE("crossbeam mpmc zero.rs: capacity, a rendezvous channel reports 0 on every handle and copy",
          "[mpmc][ported]") {
  mpmc_port_require_capacity(mpmc::sync_channel<mpmc_port_Unit>(0), std::optional<std::size_t>(0));
}

// Mirrors zero.rs len_empty_full.
TEST_CASE("crossbeam mpmc zero.rs: len_empty_full, empty and full at once, before and after a rendezvous",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero len_empty_full");
  auto ends = mpmc::sync_channel<int>(0);
  auto& tx = ends.first;
  auto& rx = ends.second;
  const auto tx2 = tx;
  const auto rx2 = rx;
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 0, true);
  auto sender = th::spawn([mine = tx]() mutable { return mine.send(0).is_ok(); });
  auto receiver = th::spawn([mine = rx]() mutable { return mine.recv_timeout(wait_limit).unwrap_or(-1); });
  const bool sent = sender.join().unwrap();
  const int got = receiver.join().unwrap();
  REQUIRE(sent);
  REQUIRE(got == 0);
  mpmc_port_require_sizes(tx, tx2, rx, rx2, 0, true);
}

// Mirrors zero.rs len.
TEST_CASE("crossbeam mpmc zero.rs: len, always 0 while a sender meets two receivers", "[mpmc][ported]") {
  Watchdog dog("mpmc zero len");
  auto ends = mpmc::sync_channel<int>(0);
  REQUIRE(ends.first.len() == 0);
  REQUIRE(ends.second.len() == 0);
  mpmc_port_len_while_running(std::move(ends), 0, 5'000);
}

// Mirrors zero.rs try_recv.
TEST_CASE(
    "crossbeam mpmc zero.rs: try_recv, one of two polling receivers meets the blocked sender, both then see "
    "Disconnected",
    "[mpmc][ported]") {
  Watchdog dog("mpmc zero try_recv");
  mpmc_port_try_recv(mpmc::sync_channel<int>(0));
}

// Mirrors zero.rs recv_timeout.
TEST_CASE("crossbeam mpmc zero.rs: recv_timeout, two receivers time out, one takes the message, both then disconnect",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero recv_timeout");
  mpmc_port_recv_timeout(mpmc::sync_channel<int>(0));
}

// Mirrors zero.rs send_timeout.
TEST_CASE("crossbeam mpmc zero.rs: send_timeout, no receiver times out, two receivers take one each, then disconnected",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero send_timeout");
  auto ends = mpmc::sync_channel<int>(0);
  auto& tx = ends.first;
  std::atomic<bool> timed_out{false};
  auto receive = [&timed_out](mpmc::Receiver<int> mine) {
    return raised(timed_out) ? mine.recv_timeout(wait_limit).unwrap_or(-1) : -1;
  };
  auto first = th::spawn([receive, mine = ends.second]() mutable { return receive(std::move(mine)); });
  auto second = th::spawn([receive, mine = std::move(ends.second)]() mutable { return receive(std::move(mine)); });
  auto seven = tx.send_timeout(7, 20ms);  // nobody receives yet
  timed_out = true;
  const bool eight = tx.send_timeout(8, wait_limit).is_ok();
  const bool nine = tx.send_timeout(9, wait_limit).is_ok();
  const int got_first = first.join().unwrap();
  const int got_second = second.join().unwrap();
  auto ten = tx.send_timeout(10, wait_limit);  // both receivers are gone
  REQUIRE(seven.is_err());
  REQUIRE(seven.error().kind() == mpmc::SendTimeoutError<int>::Timeout);
  REQUIRE(seven.error().value == 7);
  REQUIRE(eight);
  REQUIRE(nine);
  REQUIRE(std::min(got_first, got_second) == 8);
  REQUIRE(std::max(got_first, got_second) == 9);
  REQUIRE(ten.is_err());
  REQUIRE(ten.error().kind() == mpmc::SendTimeoutError<int>::Disconnected);
  REQUIRE(ten.error().value == 10);
}

// Mirrors zero.rs disconnect_wakes_sender.
TEST_CASE("crossbeam mpmc zero.rs: disconnect_wakes_sender, a sender nobody meets wakes when the last receiver goes",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero disconnect_wakes_sender");
  mpmc_port_disconnect_wakes_sender(mpmc::sync_channel<int>(0), false);
}

// Mirrors zero.rs disconnect_wakes_receiver.
TEST_CASE("crossbeam mpmc zero.rs: disconnect_wakes_receiver, only the last sender copy's drop wakes both receivers",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero disconnect_wakes_receiver");
  mpmc_port_disconnect_wakes_receiver(mpmc::sync_channel<mpmc_port_Unit>(0));
}

// Mirrors zero.rs mpmc.
TEST_CASE("crossbeam mpmc zero.rs: mpmc, four senders meet four receivers, every message received exactly once",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero mpmc");
  mpmc_port_many_to_many(mpmc::sync_channel<std::size_t>(0), 100, 10);
}

// Mirrors zero.rs stress_timeout_two_threads.
TEST_CASE("crossbeam mpmc zero.rs: stress_timeout_two_threads, short timed sends and receives retried meet in order",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero stress_timeout_two_threads");
  mpmc_port_timeout_two_threads(mpmc::sync_channel<int>(0), true);
}

// Mirrors zero.rs drops.
TEST_CASE("crossbeam mpmc zero.rs: drops, every message handed over is destroyed once, nothing stays behind",
          "[mpmc][ported]") {
  Watchdog dog("mpmc zero drops");
  mpmc_port_drops([] { return mpmc::sync_channel<Counted>(0); }, 20, 1'000, 0, false);
}

// No such test in crossbeam-channel 0.5.6's zero.rs: spindle's own, in the
// spirit of its mpmc test, with far more threads than cores.
TEST_CASE(
    "crossbeam mpmc zero.rs: stress_oversubscription, eight senders meet eight receivers on two cores, nothing lost",
    "[mpmc][ported]") {
  Watchdog dog("mpmc zero stress_oversubscription");
  mpmc_port_oversubscribed(mpmc::sync_channel<std::uint32_t>(0), 500);
}
