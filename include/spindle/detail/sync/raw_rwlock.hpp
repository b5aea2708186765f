// SPDX-License-Identifier: MIT
#pragma once

// The reader-writer lock behind spindle::sync::RwLock.
//
// Readers do not share one counter: each thread counts its read locks in
// one of a few cache-line-sized reader slots (chosen once per thread), so
// readers on different CPUs never write the same cache line. A reader
// announces itself in its slot, then checks that no writer is there; a
// writer announces itself in the state word, then waits until the slots
// sum to zero. Both sides announce before they check (seq_cst), so at least
// one of them sees the other.
//
// Policy. Readers never block each other. Writers take turns through a
// mutex of their own, and a writer that has announced itself holds off new
// readers, so a stream of readers cannot starve a waiting writer: it waits
// only for the readers already inside. The other way round, while readers
// wait, writers keep the lock for at most one "phase" (20 us) of
// back-to-back write locks; then the unlocking writer gives readers a turn
// of the same length, during which new writers wait. So neither side
// starves the other, and under contention each side runs in batches
// instead of handing the lock over on every operation. A reader that takes
// a second read lock while holding one can deadlock if a writer announces
// itself in between (as with Rust's RwLock): do not nest read locks.
//
// The state word:
//   bit 0      WRITER          a writer holds the lock or waits for readers to leave
//   bit 1      WRITER_PARKED   that writer sleeps on drain_ until they have left
//   bit 2      TURN            readers' turn: writers wait until turn_until_
//   bit 3      READERS_PARKED  readers sleep on this word until WRITER clears
//   bits 4-31  the number of readers waiting for WRITER to clear

#include <chrono>
#include <cstdint>
#include <thread>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/sync/raw_mutex.hpp"
#include "spindle/detail/thread_safety.hpp"
#include "spindle/detail/time.hpp"

/// Reader slots per RwLock (a power of two): more slots, fewer readers
/// sharing a cache line, and a larger lock (64 bytes a slot).
#ifndef SPINDLE_RWLOCK_READER_SLOTS
#define SPINDLE_RWLOCK_READER_SLOTS 4
#endif

namespace spindle::detail::sync {

class SPINDLE_CAPABILITY("rwlock") RawRwLock {
 public:
  RawRwLock() = default;
  RawRwLock(const RawRwLock&) = delete;
  RawRwLock& operator=(const RawRwLock&) = delete;

  // --- readers ---------------------------------------------------------------

  void lock_shared() noexcept SPINDLE_ACQUIRE_SHARED() {
    Slot& slot = my_slot();
    if (!try_enter(slot)) {
      lock_shared_slow(slot);
    }
  }

  [[nodiscard]] bool try_lock_shared() noexcept SPINDLE_TRY_ACQUIRE_SHARED(true) {
    Slot& slot = my_slot();
    if (try_enter(slot)) {
      return true;
    }
    leave(slot);
    return false;
  }

  void unlock_shared() noexcept SPINDLE_RELEASE_SHARED() { leave(my_slot()); }

  // --- writers ---------------------------------------------------------------

  void lock() noexcept SPINDLE_ACQUIRE() {
    writers_.lock();
    wait_for_turn_end();
    // seq_cst (W1): announce before scanning the slots; pairs with the
    // readers' announce-then-check (R1, R2).
    state_.fetch_or(writer, std::memory_order::seq_cst);
    wait_for_readers();
  }

  [[nodiscard]] bool try_lock() noexcept SPINDLE_TRY_ACQUIRE(true) {
    if (!writers_.try_lock()) {
      return false;
    }
    if ((state_.load(std::memory_order::acquire) & turn) != 0 && !turn_over()) {
      writers_.unlock();
      return false;
    }
    state_.fetch_or(writer, std::memory_order::seq_cst);  // (W1)
    if (readers_inside() != 0) {
      release_writer(false);
      writers_.unlock();
      return false;
    }
    return true;
  }

  void unlock() noexcept SPINDLE_RELEASE() {
    const std::uint32_t waiting = state_.load(std::memory_order::relaxed) >> waiting_shift;
    bool give_turn = false;
    if (waiting == 0) {
      phase_started_ = false;
    } else {
      const std::int64_t now = now_ns();
      if (!phase_started_) {
        phase_started_ = true;
        phase_start_ = now;
      } else if (now - phase_start_ >= phase_ns) {
        phase_started_ = false;
        turn_until_.store(now + phase_ns, std::memory_order::relaxed);  // published by (W3)
        give_turn = true;
      }
    }
    release_writer(give_turn);
    writers_.unlock();
  }

 private:
  static constexpr std::uint32_t writer = 1;
  static constexpr std::uint32_t writer_parked = 2;
  static constexpr std::uint32_t turn = 4;
  static constexpr std::uint32_t readers_parked = 8;
  static constexpr unsigned waiting_shift = 4;
  static constexpr std::uint32_t one_waiting = 1U << waiting_shift;
  static constexpr std::int64_t phase_ns = 20'000;
  static constexpr unsigned slot_count = SPINDLE_RWLOCK_READER_SLOTS;
  static_assert((slot_count & (slot_count - 1)) == 0, "SPINDLE_RWLOCK_READER_SLOTS must be a power of two");

  // One per cache line: readers on different CPUs write different lines.
  struct alignas(cache_line) Slot {
    // Read locks taken through this slot minus those released through it
    // (mod 2^32: a guard moved to another thread releases through that
    // thread's slot, so only the sum over all slots is meaningful).
    Atomic<std::uint32_t> readers{0};
  };

  static Slot& slot_of(Slot* slots) noexcept {
    // relaxed: the index only spreads threads over slots.
    static Atomic<unsigned> next{0};
    thread_local const unsigned index = next.fetch_add(1, std::memory_order::relaxed) & (slot_count - 1);
    return slots[index];
  }
  Slot& my_slot() noexcept { return slot_of(slots_); }

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  }

  // Announces a reader in `slot`, then checks for a writer.
  bool try_enter(Slot& slot) noexcept {
    // seq_cst (R1): announce before the check; pairs with (W1)/(W2).
    slot.readers.fetch_add(1, std::memory_order::seq_cst);
    // seq_cst (R2): the check. Also acquire: pairs with the release (W3) of
    // the last writer's unlock, whose writes this reader then sees.
    return (state_.load(std::memory_order::seq_cst) & writer) == 0;
  }

  // Withdraws a reader from `slot` (after its read or a failed try_enter),
  // waking a writer that sleeps until the readers are gone.
  void leave(Slot& slot) noexcept {
    // seq_cst (R3): release for the read; ordered before the check below
    // against the writer's park-then-scan (W2).
    slot.readers.fetch_sub(1, std::memory_order::seq_cst);
    if ((state_.load(std::memory_order::seq_cst) & writer_parked) != 0) {
      // seq_cst: the bump follows our release in the total order, so a
      // writer that read drain_ before it sees our leave.
      drain_.fetch_add(1, std::memory_order::seq_cst);
      park::wake_one(drain_);
    }
  }

  void lock_shared_slow(Slot& slot) noexcept {
    for (;;) {
      leave(slot);
      wait_for_no_writer();
      if (try_enter(slot)) {
        return;
      }
    }
  }

  // Waits until no writer holds or wants the lock, counted as a waiting
  // reader so that writers give readers a turn.
  void wait_for_no_writer() noexcept {
    bool counted = false;
    for (std::uint32_t spins = 0;; ++spins) {
      std::uint32_t state = state_.load(std::memory_order::acquire);
      if ((state & writer) == 0) {
        break;
      }
      if (!counted) {
        state_.fetch_add(one_waiting, std::memory_order::relaxed);
        counted = true;
        continue;
      }
      if (spins < 200) {
        cpu_relax();
      } else if (spins < 260) {
        std::this_thread::yield();
      } else {
        // seq_cst: the writer's unlock sees the flag and wakes us; the
        // futex compares the word, so no wake-up is lost.
        if ((state & readers_parked) != 0 ||
            state_.compare_exchange_strong(state, state | readers_parked, std::memory_order::seq_cst,
                                           std::memory_order::relaxed)) {
          park::wait(state_, state | readers_parked, forever);
        }
        spins = 0;
      }
    }
    if (counted) {
      state_.fetch_sub(one_waiting, std::memory_order::relaxed);
    }
  }

  // The readers inside: the slots' sum (mod 2^32).
  std::uint32_t readers_inside() const noexcept {
    std::uint32_t sum = 0;
    for (const Slot& slot : slots_) {
      // seq_cst (W2): the scan follows the announcement (W1); acquire for
      // the readers' releases (R3).
      sum += slot.readers.load(std::memory_order::seq_cst);
    }
    return sum;
  }

  void wait_for_readers() noexcept {
    for (std::uint32_t spins = 0;; ++spins) {
      if (readers_inside() == 0) {
        return;
      }
      if (spins < 200) {
        cpu_relax();
        continue;
      }
      if (spins < 260) {
        std::this_thread::yield();
        continue;
      }
      const std::uint32_t prepared = drain_.load(std::memory_order::seq_cst);
      state_.fetch_or(writer_parked, std::memory_order::seq_cst);
      if (readers_inside() != 0) {
        park::wait(drain_, prepared, forever);
      }
      state_.fetch_and(~writer_parked, std::memory_order::relaxed);
      spins = 0;
    }
  }

  // Clears WRITER (and, with `give_turn`, sets TURN) and wakes parked readers.
  void release_writer(bool give_turn) noexcept {
    std::uint32_t state = state_.load(std::memory_order::relaxed);
    std::uint32_t next = 0;
    do {
      next = (state & ~(writer | writer_parked | readers_parked)) | (give_turn ? turn : 0);
      // release (W3): publishes the write; pairs with acquire (R2).
    } while (!state_.compare_exchange_weak(state, next, std::memory_order::release, std::memory_order::relaxed));
    if ((state & readers_parked) != 0) {
      park::wake_all(state_);
    }
  }

  // During readers' turn: true (and the turn cleared) once it is over.
  bool turn_over() noexcept {
    if (now_ns() < turn_until_.load(std::memory_order::relaxed)) {
      return false;
    }
    state_.fetch_and(~turn, std::memory_order::relaxed);
    return true;
  }

  void wait_for_turn_end() noexcept {
    while ((state_.load(std::memory_order::acquire) & turn) != 0 && !turn_over()) {
      std::this_thread::yield();  // readers run meanwhile; at most one phase
    }
  }

  Slot slots_[slot_count];
  alignas(cache_line) park::Word state_{0};
  park::Word drain_{0};
  Atomic<std::int64_t> turn_until_{0};
  // Written only by the writer holding writers_.
  bool phase_started_ = false;
  std::int64_t phase_start_ = 0;
  RawMutex writers_;
};

}  // namespace spindle::detail::sync
