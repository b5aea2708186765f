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
// mutex of their own (the OWNED bit of the state word, so that a writer
// that meets no one takes it and announces itself in one step), and a
// writer that has announced itself holds off new readers, so a stream of
// readers cannot starve a waiting writer: it waits only for the readers
// already inside. The other way round, while both sides want the lock it
// alternates between them in phases, so each side works in batches
// instead of handing the lock over on every operation:
//   - writers' phase: when a writer unlocks while readers wait, writers may
//     go on locking back to back for a while. Meanwhile the gate stays
//     closed to readers even between two writes; readers that have spun a
//     little sleep until the phase ends. A phase whose writers stop early
//     holds no one up for long: a reader that waits notices (one of those
//     asleep wakes every 50 us to look) and ends it, and a writer that
//     unlocks with none of them waiting opens the gate at once.
//   - readers' turn: the writer whose unlock ends the phase opens the gate
//     and wakes the readers, and the next writer sleeps at least 100 us
//     (longer when the OS is slow to run it again) while they read.
// Both sides get the same share of the machine: readers can use every
// core in their turn, a writer uses one, so a writers' phase lasts as long
// as the readers' last turn times the number of cores, between 50 us and
// 6 ms. So neither side starves the other, and a reader or writer that
// waits under contention waits a few milliseconds at most. A reader that
// takes a second read lock while holding one can deadlock if a writer
// announces itself in between (as with Rust's RwLock): do not nest read
// locks.
//
// The state word:
//   bit 0      WRITER          a writer holds the lock or waits for readers to leave
//   bit 1      WRITER_PARKED   that writer sleeps on drain_ until they have left
//   bit 2      TURN            readers' turn: writers wait until turn_until_
//   bit 3      READERS_PARKED  readers sleep on gate_ until the gate opens
//   bit 4      PHASE           writers' phase: readers stay out until phase_end_
//   bit 5      OWNED           the writers' mutex: one writer owns the write side (from
//                              before its announcement, through a readers' turn, to its unlock)
//   bit 6      WRITERS_PARKED  writers sleep on queue_ until the write side is free
//   bits 7-31  the number of readers waiting to go in

#include <cstdint>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/this_thread.hpp"
#include "spindle/detail/thread_safety.hpp"
#include "spindle/detail/time.hpp"

/// Reader slots per RwLock (a power of two): more slots, fewer readers
/// sharing a cache line, and a larger lock (64 bytes a slot).
#ifndef SPINDLE_RWLOCK_READER_SLOTS
#define SPINDLE_RWLOCK_READER_SLOTS 4
#endif

// The writers' phase thresholds, counted in operations (tuning; the
// defaults suit real machines, and a test may set its own):
//   SPINDLE_RWLOCK_PHASE_AFTER         contended unlocks in a row that start a phase
//   SPINDLE_RWLOCK_CLOCK_EVERY         unlocks in a phase per clock read (a power of two)
//   SPINDLE_RWLOCK_WRITERS_GONE_AFTER  a waiting reader's looks that find no writer
//                                      about before it ends the phase itself
// A model-checking build cuts each to 2, so that a model's few operations
// open, extend and end phases.
#if defined(SPINDLE_MODEL_CHECK)
#ifndef SPINDLE_RWLOCK_PHASE_AFTER
#define SPINDLE_RWLOCK_PHASE_AFTER 2
#endif
#ifndef SPINDLE_RWLOCK_CLOCK_EVERY
#define SPINDLE_RWLOCK_CLOCK_EVERY 2
#endif
#ifndef SPINDLE_RWLOCK_WRITERS_GONE_AFTER
#define SPINDLE_RWLOCK_WRITERS_GONE_AFTER 2
#endif
#endif
#ifndef SPINDLE_RWLOCK_PHASE_AFTER
#define SPINDLE_RWLOCK_PHASE_AFTER 4
#endif
#ifndef SPINDLE_RWLOCK_CLOCK_EVERY
#define SPINDLE_RWLOCK_CLOCK_EVERY 16
#endif
#ifndef SPINDLE_RWLOCK_WRITERS_GONE_AFTER
#define SPINDLE_RWLOCK_WRITERS_GONE_AFTER 16
#endif
// A writers' phase lasts as long as the readers' last turn times the
// number of cores, within these bounds (nanoseconds).
#ifndef SPINDLE_RWLOCK_MIN_PHASE_NS
#define SPINDLE_RWLOCK_MIN_PHASE_NS 50'000
#endif
#ifndef SPINDLE_RWLOCK_MAX_PHASE_NS
#define SPINDLE_RWLOCK_MAX_PHASE_NS 6'000'000
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
    if (!try_enter(slot, writer | phase)) {
      lock_shared_slow(slot);
    }
  }

  // Fails only while a writer holds the lock or waits for it.
  [[nodiscard]] bool try_lock_shared() noexcept SPINDLE_TRY_ACQUIRE_SHARED(true) {
    Slot& slot = my_slot();
    if (try_enter(slot, writer)) {
      return true;
    }
    leave(slot);
    return false;
  }

  void unlock_shared() noexcept SPINDLE_RELEASE_SHARED() { leave(my_slot()); }

  /// For clang's thread-safety analysis only: the caller holds a read lock
  /// (a read guard does, wherever it has moved). Checks nothing at run time.
  void assert_shared_held() const noexcept SPINDLE_ASSERT_SHARED_CAPABILITY(this) {}

  // --- writers ---------------------------------------------------------------

  /// As assert_shared_held(), for the write lock.
  void assert_held() const noexcept SPINDLE_ASSERT_CAPABILITY(this) {}

  void lock() noexcept SPINDLE_ACQUIRE() {
    // No other writer and no readers' turn: own the write side and announce
    // ourselves in one step. seq_cst (W1): the announcement comes before
    // the scan of the slots; pairs with the readers' announce-then-check
    // (R1, R2). Its acquire pairs with the last writer's release (W3).
    std::uint32_t state = state_.load(std::memory_order::relaxed);
    if ((state & (owned | turn)) != 0 ||
        !state_.compare_exchange_strong(state, state | owned | writer, std::memory_order::seq_cst,
                                        std::memory_order::relaxed)) {
      lock_slow();
    }
    if (readers_inside() != 0) {
      wait_for_readers();
    }
  }

  [[nodiscard]] bool try_lock() noexcept SPINDLE_TRY_ACQUIRE(true) {
    std::uint32_t state = state_.load(std::memory_order::relaxed);
    if ((state & owned) == 0 && (state & turn) != 0 && turn_over()) {
      state = state_.load(std::memory_order::relaxed);
    }
    do {
      if ((state & (owned | turn)) != 0) {
        return false;
      }
      // seq_cst: as (W1).
    } while (!state_.compare_exchange_weak(state, state | owned | writer, std::memory_order::seq_cst,
                                           std::memory_order::relaxed));
    if (readers_inside() != 0) {
      release_writer(Release::open);
      return false;
    }
    return true;
  }

  void unlock() noexcept SPINDLE_RELEASE() {
    // Nobody waits, sleeps or keeps a phase, and the last unlock met no
    // waiting reader either: free everything in one step (what
    // unlock_slow() does then). seq_cst: as (W3).
    std::uint32_t state = owned | writer;
    if (contended_unlocks_ != 0 || phase_end_ != 0 ||
        !state_.compare_exchange_strong(state, 0, std::memory_order::seq_cst, std::memory_order::relaxed)) {
      unlock_slow();
    }
  }

 private:
  static constexpr std::uint32_t writer = 1;
  static constexpr std::uint32_t writer_parked = 2;
  static constexpr std::uint32_t turn = 4;
  static constexpr std::uint32_t readers_parked = 8;
  static constexpr std::uint32_t phase = 16;
  static constexpr std::uint32_t owned = 32;
  static constexpr std::uint32_t writers_parked = 64;
  static constexpr unsigned waiting_shift = 7;
  static constexpr std::uint32_t one_waiting = 1U << waiting_shift;
  static constexpr std::int64_t min_phase_ns = SPINDLE_RWLOCK_MIN_PHASE_NS;
  static constexpr std::int64_t max_phase_ns = SPINDLE_RWLOCK_MAX_PHASE_NS;
  static constexpr std::int64_t phase_watch_ns = 50'000;
  // The writers' phase thresholds (see their macros above).
  static constexpr std::uint32_t phase_after = SPINDLE_RWLOCK_PHASE_AFTER;
  static constexpr std::uint32_t clock_every = SPINDLE_RWLOCK_CLOCK_EVERY;
  static constexpr std::uint32_t writers_gone_after = SPINDLE_RWLOCK_WRITERS_GONE_AFTER;
  static constexpr std::int64_t reader_turn_ns = 100'000;
  static constexpr std::uint32_t reader_spins = spin_limit(100);
  static constexpr unsigned slot_count = SPINDLE_RWLOCK_READER_SLOTS;
  static_assert((slot_count & (slot_count - 1)) == 0, "SPINDLE_RWLOCK_READER_SLOTS must be a power of two");
  static_assert(clock_every != 0 && (clock_every & (clock_every - 1)) == 0,
                "SPINDLE_RWLOCK_CLOCK_EVERY must be a power of two");
  static_assert(phase_after != 0 && writers_gone_after != 0,
                "SPINDLE_RWLOCK_PHASE_AFTER and SPINDLE_RWLOCK_WRITERS_GONE_AFTER must be at least 1");

  // How an unlocking writer leaves the readers.
  enum class Release {
    open,       // let them in and wake the sleepers
    keep_out,   // a writers' phase: the gate stays closed, sleepers sleep on
    give_turn,  // the phase is over: open, wake, and start the readers' turn
  };

  // lock() when another writer owns the write side, or readers have their
  // turn (or the state word changed under the fast path's CAS).
  SPINDLE_NOINLINE void lock_slow() noexcept {
    own_write_side();
    wait_for_turn_end();
    state_.fetch_or(writer, std::memory_order::seq_cst);  // (W1)
  }

  // unlock() when readers wait, or a phase is on: decides between opening
  // the gate, keeping readers out (a writers' phase) and giving them their
  // turn.
  SPINDLE_NOINLINE void unlock_slow() noexcept {
    const std::uint32_t waiting = state_.load(std::memory_order::relaxed) >> waiting_shift;
    Release release = Release::open;
    if (waiting == 0) {
      contended_unlocks_ = 0;
    } else if (contended_unlocks_ < phase_after) {
      ++contended_unlocks_;
    }
    // A phase needs writes back to back with readers waiting: a lone write
    // (or two, three) just opens the gate.
    if (contended_unlocks_ >= phase_after) {
      if (phase_end_ != 0 && (++phase_writes_ & (clock_every - 1)) != 0) {
        release = Release::keep_out;  // inside a phase: look at the clock only now and then
      } else {
        const std::int64_t now = now_ns();
        if (phase_end_ == 0) {
          phase_end_ = now + phase_ns_;
          // relaxed: published by the release (W3) that sets PHASE.
          published_phase_end_.store(phase_end_, std::memory_order::relaxed);
          release = Release::keep_out;
        } else if (now < phase_end_) {
          release = Release::keep_out;
        } else {
          turn_start_ = now;
          turn_until_.store(now + reader_turn_ns, std::memory_order::relaxed);  // published by (W3)
          release = Release::give_turn;
        }
      }
    }
    if (release != Release::keep_out) {
      phase_end_ = 0;
    }
    release_writer(release);
  }

  // One per cache line: readers on different CPUs write different lines.
  struct alignas(cache_line) Slot {
    // Read locks taken through this slot minus those released through it
    // (mod 2^32: a guard moved to another thread releases through that
    // thread's slot, so only the sum over all slots is meaningful).
    Atomic<std::uint32_t> readers{0};
  };

  // cppcheck-suppress constParameter ; false positive: the slot it returns is written through
  static Slot& slot_of(Slot* slots) noexcept {
#if defined(SPINDLE_MODEL_CHECK)
    // The checker's threads are fibers of one OS thread.
    return slots[model::thread_slot() & (slot_count - 1)];
#else
    // Not part of the algorithm (any spread is correct), so a plain
    // std::atomic, outside the seam. relaxed: only spreads threads.
    static std::atomic<unsigned> next{0};
    thread_local const unsigned index = next.fetch_add(1, std::memory_order::relaxed) & (slot_count - 1);
    return slots[index];
#endif
  }
  Slot& my_slot() noexcept { return slot_of(slots_); }

  // The phases' clock: now_ns() reads it, sleep_until_ns() sleeps until it
  // reads at least `ns`. A model-checking build reads the checker's clock
  // instead (one per lock, in tests/relacy/model.hpp), which the checker
  // moves on or not at each reading, so that a model takes both sides of
  // every "is the phase (or the turn) over?". The lock only ever compares
  // readings of its own clock.
#if defined(SPINDLE_MODEL_CHECK)
  std::int64_t now_ns() noexcept { return clock_.now_ns(); }
  void sleep_until_ns(std::int64_t ns) noexcept { clock_.sleep_until_ns(ns); }
#else
  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  }
  static void sleep_until_ns(std::int64_t ns) noexcept { this_thread::sleep_until(at_ns(ns)); }
#endif
  static std::uint32_t cores() noexcept {
    static const std::uint32_t count = [] {
      const unsigned n = this_thread::hardware_concurrency();
      return n > 1 ? n : 1U;
    }();
    return count;
  }
  static Deadline at_ns(std::int64_t ns) noexcept {
    return Deadline(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
  }

  // Announces a reader in `slot`, then checks that none of `closed` is set.
  // Only WRITER matters for exclusion; PHASE is the fairness gate.
  bool try_enter(Slot& slot, std::uint32_t closed) noexcept {
    // seq_cst (R1): announce before the check; pairs with (W1)/(W2).
    slot.readers.fetch_add(1, std::memory_order::seq_cst);
    // seq_cst (R2): the check. Also acquire: pairs with the release (W3) of
    // the last writer's unlock, whose writes this reader then sees.
    return (state_.load(std::memory_order::seq_cst) & closed) == 0;
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
    leave(slot);
    // relaxed: only a count; the checks below order nothing by it.
    state_.fetch_add(one_waiting, std::memory_order::relaxed);
    for (;;) {
      wait_for_gate();
      if (try_enter(slot, writer)) {
        break;
      }
      leave(slot);
    }
    state_.fetch_sub(one_waiting, std::memory_order::relaxed);
  }

  // Waits until no writer holds or wants the lock and no writers' phase
  // keeps readers out.
  void wait_for_gate() noexcept {
    std::uint32_t idle = 0;
    Watch watch(watcher_);
    for (std::uint32_t spins = 0;; ++spins) {
      std::uint32_t state = state_.load(std::memory_order::acquire);
      Deadline until = forever;
      if ((state & phase) != 0) {
        // relaxed: the acquire load above, which saw PHASE, saw its (W3).
        const std::int64_t end = published_phase_end_.load(std::memory_order::relaxed);
        // No writer holds, wants or is about to want the lock: the phase's
        // writers have stopped, seen a few times in a row to be sure.
        idle = (state & (writer | owned)) != 0 ? 0 : idle + 1;
        if (idle >= writers_gone_after || now_ns() >= end) {
          // The phase is over, whether or not its writers noticed, or they
          // have gone. Open the gate for the readers behind us, and wake
          // those asleep in the phase (one try: a failure means a writer
          // changed the word, and it knows best). seq_cst: as the writer's
          // release (W3), for the sleepers' gate_ load and CAS.
          if (state_.compare_exchange_strong(state, state & ~(phase | readers_parked), std::memory_order::seq_cst,
                                             std::memory_order::relaxed) &&
              (state & readers_parked) != 0) {
            gate_.fetch_add(1, std::memory_order::seq_cst);
            park::wake_all(gate_);
          }
          return;
        }
        until = at_ns(end);
      } else if ((state & writer) == 0) {
        return;
      }
      if (spins < reader_spins) {
        cpu_relax();
        continue;
      }
      // Sleep on gate_, which changes only when the gate opens (state_
      // changes with every write). seq_cst: a writer that opens the gate
      // after our CAS sees READERS_PARKED and bumps gate_ after our load of
      // it, so the futex's compare or the wake-up stops the sleep; one that
      // opens it before makes the CAS fail. The CAS runs even when
      // READERS_PARKED is already set: it is what proves that `state`, on
      // which we decided to sleep, is still current after the gate_ load.
      // A phase sleep is bounded by its end; the watcher's, by a short
      // look-out (see Watch).
      if ((state & phase) != 0 && watch.take()) {
        const Deadline look_out = at_ns(now_ns() + phase_watch_ns);
        until = look_out < until ? look_out : until;
      }
      const std::uint32_t gate = gate_.load(std::memory_order::seq_cst);
      if (state_.compare_exchange_strong(state, state | readers_parked, std::memory_order::seq_cst,
                                         std::memory_order::relaxed)) {
        park::wait(gate_, gate, until);
      }
      spins = 0;
    }
  }

  // One reader asleep in a writers' phase is its watcher: it wakes every
  // phase_watch_ns to look whether the phase's writers have stopped (and
  // if so ends the phase and wakes the others), so that readers asleep in
  // a phase whose writer stops early go in at once, not at its end (up to
  // max_phase_ns later). The others sleep until the phase ends or the gate
  // opens. A hint only: which reader watches, or whether one does for a
  // moment, decides nothing but that delay.
  class Watch {
   public:
    explicit Watch(Atomic<bool>& watcher) noexcept : watcher_(watcher) {}
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch() {
      if (mine_) {
        watcher_.store(false, std::memory_order::relaxed);
      }
    }
    // Whether we watch (taking the post if it is free). relaxed: a hint.
    bool take() noexcept {
      mine_ = mine_ || !watcher_.exchange(true, std::memory_order::relaxed);
      return mine_;
    }

   private:
    Atomic<bool>& watcher_;
    bool mine_ = false;
  };

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

  SPINDLE_NOINLINE void wait_for_readers() noexcept {
    for (std::uint32_t spins = 0;; ++spins) {
      if (readers_inside() == 0) {
        return;
      }
      if (spins < spin_limit(200)) {
        cpu_relax();
        continue;
      }
      if (spins < spin_limit(260)) {
        yield_thread();
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

  // Takes the write side (OWNED) when the writer ahead of us has gone:
  // spins a little, then sleeps on queue_. A writer that has slept takes it
  // with WRITERS_PARKED set, as it cannot know whether others still sleep
  // (the wake-up took the bit): its unlock then wakes the next.
  void own_write_side() noexcept {
    bool slept = false;
    for (std::uint32_t spins = 0;; ++spins) {
      std::uint32_t state = state_.load(std::memory_order::relaxed);
      if ((state & owned) == 0) {
        // acquire: pairs with the release (W3) of the last writer's unlock.
        if (state_.compare_exchange_weak(state, state | owned | (slept ? writers_parked : 0),
                                         std::memory_order::acquire, std::memory_order::relaxed)) {
          return;
        }
        continue;
      }
      if ((state & writers_parked) == 0 && spins < spin_limit(100)) {
        cpu_relax();
        continue;
      }
      // seq_cst: the queue_ load comes before the state we sleep on (the
      // load, or our CAS, below). An unlock clears OWNED after that, reads
      // WRITERS_PARKED with it and bumps queue_ after, so the futex's
      // compare or the wake-up ends our sleep.
      const std::uint32_t seen = queue_.load(std::memory_order::seq_cst);
      state = state_.load(std::memory_order::seq_cst);
      if ((state & owned) == 0) {
        continue;
      }
      if ((state & writers_parked) == 0 &&
          !state_.compare_exchange_strong(state, state | writers_parked, std::memory_order::seq_cst,
                                          std::memory_order::relaxed)) {
        continue;
      }
      park::wait(queue_, seen, forever);
      slept = true;
      spins = 0;
    }
  }

  // Clears WRITER (and WRITER_PARKED), gives up the write side, and opens
  // the gate, wakes the readers or keeps them out, as `release` says; then
  // wakes a writer that sleeps for the write side.
  void release_writer(Release release) noexcept {
    std::uint32_t state = state_.load(std::memory_order::relaxed);
    std::uint32_t next = 0;
    bool wake = false;
    do {
      // Sleepers are woken when the gate opens, and when a phase starts:
      // those that went to sleep before it wait for a wake-up, not its end.
      wake = release != Release::keep_out || (state & phase) == 0;
      next = state & ~(writer | writer_parked | owned | writers_parked | phase | (wake ? readers_parked : 0));
      next |= release == Release::keep_out ? phase : 0;
      next |= release == Release::give_turn ? turn : 0;
      // release (W3): publishes the write; pairs with acquire (R2), and with
      // the next writer's acquire of OWNED. Also seq_cst against the
      // readers' CAS and gate_ load in wait_for_gate, and against a
      // sleeping writer's queue_-then-state loads (own_write_side).
    } while (!state_.compare_exchange_weak(state, next, std::memory_order::seq_cst, std::memory_order::relaxed));
    if (wake && (state & readers_parked) != 0) {
      gate_.fetch_add(1, std::memory_order::seq_cst);
      park::wake_all(gate_);
    }
    if ((state & writers_parked) != 0) {
      queue_.fetch_add(1, std::memory_order::seq_cst);
      park::wake_one(queue_);
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

  // Waits, readers running meanwhile, until the readers' turn is over; then
  // sizes the next writers' phase by how long the turn really lasted.
  void wait_for_turn_end() noexcept {
    if ((state_.load(std::memory_order::acquire) & turn) == 0) {
      return;
    }
    while (!turn_over()) {
      sleep_until_ns(turn_until_.load(std::memory_order::relaxed));
    }
    const std::int64_t turn_ns = now_ns() - turn_start_;
    std::int64_t phase_ns = turn_ns * cores();
    if (phase_ns < min_phase_ns) {
      phase_ns = min_phase_ns;
    } else if (phase_ns > max_phase_ns) {
      phase_ns = max_phase_ns;
    }
    phase_ns_ = phase_ns;
  }

  Slot slots_[slot_count];
  alignas(cache_line) park::Word state_{0};
  park::Word drain_{0};
  park::Word gate_{0};
  park::Word queue_{0};          // writers sleep here for the write side
  Atomic<bool> watcher_{false};  // a reader asleep in a phase watches it (Watch)
  Atomic<std::int64_t> turn_until_{0};
  Atomic<std::int64_t> published_phase_end_{0};
  // When the writers' phase ends (0: no phase); only the writer that owns
  // the write side touches it, and the fields below.
  std::int64_t phase_end_ = 0;
  std::int64_t phase_ns_ = min_phase_ns;  // the next phase's length
  std::uint32_t phase_writes_ = 0;
  std::uint32_t contended_unlocks_ = 0;  // unlocks in a row that found readers waiting
  std::int64_t turn_start_ = 0;          // when the last readers' turn began
#if defined(SPINDLE_MODEL_CHECK)
  model::PhaseClock clock_;
#endif
};

}  // namespace spindle::detail::sync
