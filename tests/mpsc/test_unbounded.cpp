// SPDX-License-Identifier: MIT
// The unbounded flavour, channel<T>(): a list of blocks that grows without
// limit, so send never blocks; many messages cross many block boundaries,
// and every block and message is given back.

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mpsc/flavours.hpp"
#include "mpsc/heap.hpp"
#include "support/bounded.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"

#include <spindle/detail/park.hpp>
#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

#if SPINDLE_TEST_COUNTS_HEAP
#include <malloc.h>
#endif

// --- heap accounting for this test binary (see mpsc/heap.hpp) ----------------

#if SPINDLE_TEST_COUNTS_HEAP

namespace {

std::atomic<long> heap_allocations{0};
std::atomic<long> heap_live_bytes{0};

void* counted_alloc(std::size_t size, std::size_t align) {
  if (size == 0) {
    size = 1;
  }
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else if (::posix_memalign(&p, align, size) != 0) {
    p = nullptr;
  }
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  heap_live_bytes.fetch_add(static_cast<long>(::malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}

void counted_free(void* p) noexcept {
  if (p != nullptr) {
    heap_live_bytes.fetch_sub(static_cast<long>(::malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
  }
}

}  // namespace

spindle::test::heap::Snapshot spindle::test::heap::snapshot() noexcept {
  // What is made once per process on first use is not a leak: the portable
  // parking fallback's table of buckets comes with the first park or wake,
  // which a warm-up run may not have needed. Make it before any count.
  static spindle::detail::park::Word word{0};
  spindle::detail::park::wake_all(word);
  return {heap_allocations.load(std::memory_order_relaxed), heap_live_bytes.load(std::memory_order_relaxed)};
}

void* operator new(std::size_t size) { return counted_alloc(size, 0); }
void* operator new[](std::size_t size) { return counted_alloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t align) { return counted_alloc(size, static_cast<std::size_t>(align)); }
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_alloc(size, static_cast<std::size_t>(align));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size, static_cast<std::size_t>(align));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size, static_cast<std::size_t>(align));
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }

#endif  // SPINDLE_TEST_COUNTS_HEAP

namespace th = spindle::thread;
namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using spindle::test::Counted;
using spindle::test::drop;
using spindle::test::eventually;
using spindle::test::LifetimeCheck;
using spindle::test::wait_limit;
using spindle::test::Watchdog;

TEST_CASE("unbounded: 100k messages buffered without a receive, then received in order", "[mpsc][unbounded]") {
  Watchdog dog("100k buffered");
  constexpr int n = 100'000;  // hundreds of blocks whatever their size
  auto tx_rx = mpsc::channel<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    failed += tx.send(i).is_err() ? 1 : 0;  // never blocks: nobody receives yet
  }
  REQUIRE(failed == 0);
  int wrong = 0;
  for (int i = 0; i < n; ++i) {
    auto r = rx.try_recv();  // all of it is ready
    wrong += (r.is_ok() && *r == i) ? 0 : 1;
  }
  REQUIRE(wrong == 0);
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Empty);
  drop(std::move(tx));
  REQUIRE(rx.try_recv().error() == mpsc::TryRecvError::Disconnected);
}

TEST_CASE("unbounded: 100k messages streamed from another thread arrive in order", "[mpsc][unbounded]") {
  Watchdog dog("100k streamed");
  constexpr int n = 100'000;
  auto tx_rx = mpsc::channel<std::uint64_t>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) {
      if (tx.send(i * 3).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::uint64_t expected = 0;
  std::uint64_t wrong = 0;
  for (std::uint64_t v : rx) {
    wrong += v != expected ? 1 : 0;
    expected = v + 3;
  }
  REQUIRE(wrong == 0);
  REQUIRE(expected == 3 * static_cast<std::uint64_t>(n));
  REQUIRE(producer.join().unwrap());
}

TEST_CASE("unbounded: send never blocks, whatever the receiver does", "[mpsc][unbounded]") {
  Watchdog dog("send never blocks");
  constexpr int n = 20'000;
  auto tx_rx = mpsc::channel<std::string>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::atomic<bool> go{false};
  int sent = 0;
  const int drained_in_order = th::scope([&](th::Scope& s) {
    spindle::test::SetOnExit release(go);
    // The receiver lives on a thread that does not receive until told to.
    auto consumer = s.spawn([&go, rx = std::move(rx)]() mutable {
      if (!eventually([&go] { return go.load(); })) {
        return -1;
      }
      int in_order = 0;
      for (int i = 0; i < n; ++i) {
        auto r = rx.try_recv();  // all of it is there already
        in_order += (r.is_ok() && *r == std::to_string(i)) ? 1 : 0;
      }
      return in_order;
    });
    for (int i = 0; i < n; ++i) {
      sent += tx.send(std::to_string(i)).is_ok() ? 1 : 0;
    }
    go = true;
    return consumer.join().unwrap();
  });
  REQUIRE(sent == n);
  REQUIRE(drained_in_order == n);
}

TEST_CASE("unbounded: alternating send and try_recv across block boundaries", "[mpsc][unbounded]") {
  // The receiver catches up with the senders at every position, including
  // the last slot of a block and the first of the next.
  auto tx_rx = mpsc::channel<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  int wrong = 0;
  for (int i = 0; i < 5000; ++i) {
    if (tx.send(i).is_err()) {
      ++wrong;
    }
    auto r = rx.try_recv();
    wrong += (r.is_ok() && *r == i) ? 0 : 1;
    wrong += rx.try_recv().is_err() ? 0 : 1;  // and then it is empty
  }
  REQUIRE(wrong == 0);
  // Bursts of every length up to a few blocks.
  int next_send = 0;
  int next_recv = 0;
  for (int burst = 1; burst < 400; burst += 7) {
    for (int i = 0; i < burst; ++i) {
      wrong += tx.send(next_send++).is_ok() ? 0 : 1;
    }
    for (int i = 0; i < burst; ++i) {
      auto r = rx.try_recv();
      wrong += (r.is_ok() && *r == next_recv++) ? 0 : 1;
    }
    wrong += rx.try_recv().is_err() ? 0 : 1;
  }
  REQUIRE(wrong == 0);
}

TEST_CASE("unbounded: a receiver waiting at a block boundary is woken", "[mpsc][unbounded]") {
  Watchdog dog("wake at block boundary");
  // One message at a time, the receiver waiting for each, over many blocks:
  // every position, boundaries included, is reached by a sleeping receiver.
  auto tx_rx = mpsc::channel<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto ack_tx_ack_rx = mpsc::channel<int>();
  auto& ack_tx = ack_tx_ack_rx.first;
  auto& ack_rx = ack_tx_ack_rx.second;
  auto producer = th::spawn([tx = std::move(tx), ack_rx = std::move(ack_rx)]() mutable {
    for (int i = 0; i < 600; ++i) {
      if (tx.send(i).is_err()) {
        return false;
      }
      // Wait for the receiver to have it, so it waits again for the next.
      if (ack_rx.recv_timeout(wait_limit).is_err()) {
        return false;
      }
    }
    return true;
  });
  int wrong = 0;
  for (int i = 0; i < 600; ++i) {
    auto r = rx.recv();
    wrong += (r.is_ok() && *r == i) ? 0 : 1;
    if (ack_tx.send(i).is_err()) {
      ++wrong;
    }
  }
  REQUIRE(wrong == 0);
  REQUIRE(producer.join().unwrap());
  REQUIRE(rx.recv().is_err());
}

TEST_CASE("unbounded: many buffered blocks are freed, with their messages, when the receiver goes", "[mpsc][unbounded][lifetime]") {
  LifetimeCheck check;
  auto tx_rx = mpsc::channel<Counted>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(tx.send(Counted(i)).is_ok());
  }
  // Take some, so the receiver is partway through a block.
  for (int i = 0; i < 1234; ++i) {
    auto r = rx.try_recv();
    REQUIRE(r.is_ok());
    REQUIRE(r->value() == i);
  }
  REQUIRE(check.live() == 3000 - 1234);
  drop(std::move(rx));
  REQUIRE(check.live() == 0);
  REQUIRE(check.errors() == 0);
  // The senders' side is freed later, by the last sender (ASan checks the blocks).
  auto tx2 = tx;
  drop(std::move(tx));
  REQUIRE(tx2.send(Counted(1)).is_err());
}

TEST_CASE("unbounded: many blocks are freed when the senders go first", "[mpsc][unbounded][lifetime]") {
  LifetimeCheck check;
  {
    auto tx_rx = mpsc::channel<Counted>();
    auto& tx = tx_rx.first;
    auto& rx = tx_rx.second;
    for (int i = 0; i < 2000; ++i) {
      REQUIRE(tx.send(Counted(i)).is_ok());
    }
    drop(std::move(tx));
    for (int i = 0; i < 1000; ++i) {
      auto r = rx.recv();
      REQUIRE(r.is_ok());
      REQUIRE(r->value() == i);
    }
    REQUIRE(check.live() == 1000);
  }  // the receiver goes last, with half the messages unread
  REQUIRE(check.balanced());
}

TEST_CASE("unbounded: large messages across blocks", "[mpsc][unbounded]") {
  Watchdog dog("large messages across blocks");
  using Big = std::array<std::uint32_t, 512>;  // 2 KiB: few slots per block
  auto tx_rx = mpsc::channel<Big>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  auto producer = th::spawn([tx = std::move(tx)]() mutable {
    for (std::uint32_t i = 0; i < 500; ++i) {
      Big b;
      b.fill(i);
      b.back() = ~i;
      if (tx.send(b).is_err()) {
        return false;
      }
    }
    return true;
  });
  std::uint32_t i = 0;
  int wrong = 0;
  for (const Big& b : rx) {
    wrong += (b.front() == i && b[255] == i && b.back() == ~i) ? 0 : 1;
    ++i;
  }
  REQUIRE(i == 500);
  REQUIRE(wrong == 0);
  REQUIRE(producer.join().unwrap());
}

TEST_CASE("unbounded: senders racing across block boundaries lose and repeat nothing", "[mpsc][unbounded]") {
  Watchdog dog("racing senders");
  constexpr int producers = 4;
  constexpr int per_producer = 20'000;
  auto tx_rx = mpsc::channel<std::pair<int, int>>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<bool>> handles;
  for (int p = 0; p < producers; ++p) {
    handles.push_back(th::spawn([tx = tx, p]() mutable {
      for (int i = 0; i < per_producer; ++i) {
        if (tx.send({p, i}).is_err()) {
          return false;
        }
      }
      return true;
    }));
  }
  drop(std::move(tx));
  std::array<int, producers> next{};
  int wrong = 0;
  long total = 0;
  for (auto [p, i] : rx) {
    wrong += (p >= 0 && p < producers && next[static_cast<std::size_t>(p)] == i) ? 0 : 1;
    if (p >= 0 && p < producers) {
      next[static_cast<std::size_t>(p)] = i + 1;
    }
    ++total;
  }
  for (auto& h : handles) {
    REQUIRE(h.join().unwrap());
  }
  REQUIRE(wrong == 0);
  REQUIRE(total == producers * per_producer);
}

#if SPINDLE_TEST_COUNTS_HEAP
namespace {

// Four senders racing over block boundaries, one receiver taking it all;
// returns how many messages arrived once everything is joined and gone.
long race_over_blocks(int per_sender) {
  auto tx_rx = mpsc::channel<int>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  std::vector<th::JoinHandle<bool>> senders;
  for (int t = 0; t < 4; ++t) {
    senders.push_back(th::spawn([tx = tx, per_sender]() mutable {
      for (int i = 0; i < per_sender; ++i) {
        if (tx.send(i).is_err()) {
          return false;
        }
      }
      return true;
    }));
  }
  drop(std::move(tx));
  long received = 0;
  for ([[maybe_unused]] int v : rx) {
    ++received;
  }
  for (auto& s : senders) {
    received -= s.join().unwrap_or(false) ? 0 : 1'000'000;
  }
  return received;
}

}  // namespace

TEST_CASE("unbounded: no block is left behind when senders race for the last slot of a block",
          "[mpsc][unbounded][memory]") {
  namespace heap = spindle::test::heap;
  Watchdog dog("racing senders leave no block behind");
  // A first, small race makes whatever is made once per process (thread
  // bookkeeping, parking tables) before the count starts.
  REQUIRE(race_over_blocks(500) == 4 * 500);
  const heap::Snapshot before = heap::snapshot();
  long received = 0;
  for (int round = 0; round < 4; ++round) {
    received += race_over_blocks(20'000);
  }
  const heap::Snapshot after = heap::snapshot();
  REQUIRE(received == 4 * 4 * 20'000);
  const long leaked_bytes = after.live_bytes - before.live_bytes;
  CAPTURE(after.allocations - before.allocations);
  REQUIRE(leaked_bytes == 0);
}

TEST_CASE("unbounded: the memory of consumed blocks is given back", "[mpsc][unbounded][memory]") {
  namespace heap = spindle::test::heap;
  constexpr long few_blocks = 64 * 1024;  // a block of 8-byte messages is a few KiB
  auto tx_rx = mpsc::channel<std::uint64_t>();
  auto& tx = tx_rx.first;
  auto& rx = tx_rx.second;
  const heap::Snapshot base = heap::snapshot();

  // A steady flow in small bursts, over hundreds of blocks: the memory stays
  // at a few blocks, and with the spare block reused hardly anything is
  // allocated.
  long worst = 0;
  int wrong = 0;
  std::uint64_t next_send = 0;
  std::uint64_t next_recv = 0;
  for (int round = 0; round < 10'000; ++round) {
    for (int i = 0; i < 10; ++i) {
      wrong += tx.send(next_send++).is_ok() ? 0 : 1;
    }
    for (int i = 0; i < 10; ++i) {
      auto r = rx.try_recv();
      wrong += (r.is_ok() && *r == next_recv++) ? 0 : 1;
    }
    const long live = heap::snapshot().live_bytes - base.live_bytes;
    worst = live > worst ? live : worst;
  }
  const long steady_allocations = heap::snapshot().allocations - base.allocations;

  // A backlog: the memory grows with it, and is given back as it drains.
  constexpr int backlog = 50'000;
  for (int i = 0; i < backlog; ++i) {
    wrong += tx.send(next_send++).is_ok() ? 0 : 1;
  }
  const long peak = heap::snapshot().live_bytes - base.live_bytes;
  for (int i = 0; i < backlog; ++i) {
    auto r = rx.try_recv();
    wrong += (r.is_ok() && *r == next_recv++) ? 0 : 1;
  }
  const long drained = heap::snapshot().live_bytes - base.live_bytes;

  REQUIRE(wrong == 0);
  CAPTURE(worst, steady_allocations, peak, drained);
  REQUIRE(worst <= few_blocks);
  REQUIRE(steady_allocations <= 16);  // 100k messages, ~800 blocks' worth
  REQUIRE(peak >= backlog * static_cast<long>(sizeof(std::uint64_t)));
  REQUIRE(drained <= few_blocks);
}
#endif

TEST_CASE("spindle::drop of the last sender disconnects the channel", "[mpsc][drop]") {
  auto [tx, rx] = mpsc::channel<int>();
  auto tx2 = tx;
  REQUIRE(tx.send(7).is_ok());
  spindle::drop(std::move(tx));
  REQUIRE(rx.try_recv().unwrap() == 7);
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Empty);  // tx2 still sends
  spindle::drop(std::move(tx2));
  REQUIRE(rx.try_recv().unwrap_err() == mpsc::TryRecvError::Disconnected);

  auto [tx3, rx3] = mpsc::channel<int>();
  spindle::drop(std::move(rx3));
  REQUIRE(tx3.send(1).is_err());  // the receiver is gone
}
