// SPDX-License-Identifier: MIT
#pragma once

// The unbounded flavour: a linked list of blocks of slots, as crossbeam's
// list flavour, specialised for a single receiver.
//
// Positions: every message gets the next position; a block covers `lap`
// consecutive positions, of which the last is never a slot but the marker
// "the next block is being installed". tail_ holds the next free position
// shifted left by two, with two flags below it:
//   bit 0  DISCONNECTED  the receiver is gone: no more claims
//   bit 1  SLEEPING      the receiver sleeps waiting for the slot at tail
// A sender claims a slot by a CAS that moves tail one position on (clearing
// SLEEPING, and so learning whether to wake the receiver), writes the message,
// and publishes it through the slot's state. The sender that claims a block's
// last slot installs the next block before it writes.
//
// The receiver alone reads, in order, so it needs no atomic head: it owns
// head_ and frees each block once it has read the block's last slot, after
// which no sender touches that block (a sender's last access to a block is
// the store that publishes its slot). One freed block is kept as a spare
// for the next installation.

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "spindle/detail/atomic.hpp"
#include "spindle/detail/channel/backoff.hpp"
#include "spindle/detail/channel/common.hpp"
#include "spindle/detail/channel/receiver.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/time.hpp"

namespace spindle::detail::channel {

template <class T>
class List {
  // Positions per block: more for small messages, so a block is a few KiB.
  static constexpr std::uint64_t lap = sizeof(T) <= 16 ? 128 : sizeof(T) <= 64 ? 64 : 32;
  static constexpr std::uint64_t block_cap = lap - 1;
  static constexpr unsigned shift = ReceiverSide::shift;
  static constexpr std::uint64_t one = ReceiverSide::one;
  static constexpr std::uint64_t disconnected = ReceiverSide::disconnected;
  static constexpr std::uint64_t sleeping = ReceiverSide::sleeping;

  // Slot states.
  static constexpr std::uint32_t empty = 0;
  static constexpr std::uint32_t written = 1;
  static constexpr std::uint32_t skipped = 2;  // the sender's copy threw; no message

  struct Slot {
    Storage<T> value;
    Atomic<std::uint32_t> state{empty};
  };

  struct Block {
    Atomic<Block*> next{nullptr};
    Slot slots[block_cap];
  };

 public:
  explicit List(WaitPolicy policy = WaitPolicy::adaptive) : receiver_(policy) {
    auto* first = new Block;
    tail_.block.store(first, std::memory_order::relaxed);
    head_.block = first;
  }
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  // Runs once both sides are gone; the receiver already destroyed every
  // message (disconnect_receiver), so only the blocks are left.
  ~List() {
    Block* block = head_.block;
    while (block != nullptr) {
      Block* next = block->next.load(std::memory_order::relaxed);
      delete block;
      block = next;
    }
    delete spare_.load(std::memory_order::relaxed);
  }

  // --- senders ---------------------------------------------------------------

  /// Appends `value` (moved from only on Ok). Never blocks; Disconnected once
  /// the receiver is gone.
  SendStatus send(T& value, Mode /*never full*/) {
    Backoff backoff;
    Block* next_block = nullptr;
    for (;;) {
      // acquire (L1): pairs with release (L2) of the sender that installed
      // the current block, so tail_.block below is that block or a later one.
      std::uint64_t tail = tail_.index.load(std::memory_order::acquire);
      if ((tail & disconnected) != 0) {
        recycle(next_block);
        return SendStatus::Disconnected;
      }
      const std::uint64_t offset = (tail >> shift) % lap;
      if (offset == block_cap) {
        backoff.spin();  // another sender is installing the next block
        continue;
      }
      Block* block = tail_.block.load(std::memory_order::acquire);  // acquire: pairs with (L3)
      if (offset + 1 == block_cap && next_block == nullptr) {
        // About to take the block's last slot: have the next block ready,
        // so the others wait only for a few stores.
        next_block = take_spare_or_new();
      }
      const std::uint64_t claimed = (tail + one) & ~sleeping;
      // The claim needs no release: the message is published by the slot's
      // state (L5), and a CAS that succeeds proves `block` is the block of
      // position `tail` (positions only grow). acquire (L6): when the claim
      // clears SLEEPING, the receiver's registration, set before it raised
      // the flag, is visible to the wake-up.
      if (tail_.index.compare_exchange_weak(tail, claimed, std::memory_order::acquire, std::memory_order::relaxed)) {
        if (offset + 1 == block_cap) {
          // release (L3): the block before the index move that uncovers it.
          tail_.block.store(next_block, std::memory_order::release);
          // release (L2): skip the marker position; pairs with (L1).
          tail_.index.fetch_add(one, std::memory_order::release);
          // release (L4): pairs with acquire (R3) in the receiver, which
          // follows `next` after reading this block's last slot.
          block->next.store(next_block, std::memory_order::release);
          next_block = nullptr;
        }
        // A block made ready for a last slot another sender won goes back.
        recycle(next_block);
        publish(block->slots[offset], value, (tail & sleeping) != 0);
        return SendStatus::Ok;
      }
      backoff.spin();
    }
  }

  /// As send(value, mode); a failed send always hands back `value` itself.
  SendStatus send(T& value, Mode mode, T*& back) {
    back = &value;
    return send(value, mode);
  }

  /// The last sender went: the receiver drains what is left, then sees
  /// Disconnected.
  void disconnect_senders() noexcept { receiver_.disconnect_senders(tail_.index); }

  // --- the receiver ------------------------------------------------------------

  /// Waits (per `mode` and `deadline`) for the next message; on Ready,
  /// `out` points to it until release().
  RecvStatus wait_ready(Mode mode, Deadline deadline, T*& out) noexcept {
    return receiver_.wait(
        mode, deadline, tail_.index, [&] { return look(out); }, [&] { return idle(); });
  }

  // --- select ----------------------------------------------------------------

  /// A select's looks (see ReceiverSide::peek and looks_ready).
  RecvStatus peek_ready(T*& out) noexcept {
    return receiver_.peek(
        tail_.index, [&] { return look(out); }, [&] { return idle(); });
  }
  bool looks_ready() noexcept {
    T* out = nullptr;
    return receiver_.looks_ready(
        tail_.index, [&] { return look(out); }, [&] { return idle(); });
  }

  /// Registers the receiver to be woken when a message or the disconnect
  /// comes; false (nothing registered) when one may have come already.
  bool watch(Registration& registration) noexcept { return receiver_.watch(tail_.index, idle(), registration); }
  /// Withdraws what watch() registered.
  void unwatch() noexcept { receiver_.unwatch(tail_.index, idle()); }
  /// When a message comes by itself (never: only a sender brings one).
  [[nodiscard]] static Deadline due() noexcept { return forever; }

  /// Destroys the message wait_ready() handed out and moves past it.
  void release() noexcept {
    slot_at_head().value.destroy();
    advance();
  }

  // --- introspection ---------------------------------------------------------

  /// The messages in the channel (a claimed slot being written counts): a
  /// snapshot, exact when nothing else runs. Any thread.
  [[nodiscard]] std::size_t len() const noexcept {
    for (;;) {
      const std::uint64_t tail = tail_.index.load(std::memory_order::relaxed);
      // acquire: pairs with the release in advance(). The receiver passes
      // only claimed positions, so a tail read after this is at least head.
      const std::uint64_t head = head_.seen.load(std::memory_order::acquire);
      if (tail_.index.load(std::memory_order::relaxed) == tail) {
        // Positions in [head, tail), less the markers among them (one per
        // lap, at its last position: as many as laps begun).
        const std::uint64_t t = tail >> shift;
        const std::uint64_t h = head >> shift;
        return static_cast<std::size_t>((t - h) - (t / lap - h / lap));
      }
    }
  }
  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return no_bound; }

  /// The receiver closes the channel but stays: no sender may claim a slot
  /// from now on; what was sent before stays to be received.
  void close() noexcept { receiver_.close(tail_.index); }

  /// The receiver goes: no sender may claim a slot from now on, and every
  /// message still in the channel is destroyed now.
  void disconnect_receiver() noexcept {
    // seq_cst: a total order with the senders' claims; after this no CAS
    // from an unflagged tail can succeed.
    const std::uint64_t tail = tail_.index.fetch_or(disconnected, std::memory_order::seq_cst);
    const std::uint64_t end = tail >> shift;
    Backoff backoff;
    // Claims made before the flag are written soon: wait for each.
    while ((head_.index >> shift) != end && (head_.index >> shift) < end) {
      Slot& slot = slot_at_head();
      // acquire (R1'): pairs with (L5).
      const std::uint32_t state = slot.state.load(std::memory_order::acquire);
      if (state == empty) {
        backoff.spin();  // pauses, then yields: that sender may have lost its CPU
        continue;
      }
      if (state == written) {
        slot.value.destroy();
      }
      advance();
      backoff.reset();
    }
  }

 private:
  Slot& slot_at_head() noexcept { return head_.block->slots[(head_.index >> shift) % lap]; }

  void publish(Slot& slot, T& value, bool wake_receiver) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      slot.value.construct(std::move(value));
    } else {
      try {
        slot.value.construct(std::move(value));
      } catch (...) {
        // The slot is claimed: mark it so the receiver steps over it.
        slot.state.store(skipped, std::memory_order::release);
        if (wake_receiver) {
          receiver_.wake();
        }
        throw;
      }
    }
    // release (L5): publishes the message; pairs with acquire (R1).
    slot.state.store(written, std::memory_order::release);
    if (wake_receiver) {
      receiver_.wake();
    }
  }

  // What the head slot holds.
  Head look(T*& out) noexcept {
    Slot& slot = slot_at_head();
    // acquire (R1): pairs with release (L5).
    const std::uint32_t state = slot.state.load(std::memory_order::acquire);
    if (state == written) {
      out = slot.value.get();
      return Head::ready;
    }
    if (state == skipped) {
      advance();
      return Head::skipped;
    }
    return Head::none;
  }

  // The tail word when nothing is claimed beyond head.
  [[nodiscard]] std::uint64_t idle() const noexcept { return head_.index; }

  void advance() noexcept {
    const std::uint64_t offset = (head_.index >> shift) % lap;
    if (offset + 1 == block_cap) {
      // acquire (R3): pairs with release (L4). Set before the last slot was
      // published, so it is there.
      Block* next = head_.block->next.load(std::memory_order::acquire);
      retire(head_.block);
      head_.block = next;
      head_.index += 2 * one;  // past the last slot and the marker
    } else {
      head_.index += one;
    }
    // release: for len(), the slots passed were claimed (see there).
    head_.seen.store(head_.index, std::memory_order::release);
  }

  Block* take_spare_or_new() {
    // acquire: pairs with the release in retire(), which reset the block.
    if (Block* block = spare_.exchange(nullptr, std::memory_order::acquire)) {
      return block;
    }
    return new Block;
  }

  // An unused, reset block: keep it as the spare, or free it.
  void recycle(Block* block) noexcept {
    if (block == nullptr) {
      return;
    }
    Block* none = nullptr;
    // release: publishes the reset block to the sender that takes it.
    if (!spare_.compare_exchange_strong(none, block, std::memory_order::release, std::memory_order::relaxed)) {
      delete block;
    }
  }

  // A block the receiver has read to the end.
  void retire(Block* block) noexcept {
    for (Slot& slot : block->slots) {
      slot.state.store(empty, std::memory_order::relaxed);  // published by recycle's release
    }
    block->next.store(nullptr, std::memory_order::relaxed);
    recycle(block);
  }

  // Written by senders (each cache line written by one side only where it
  // can be: padding keeps the receiver's fields off the senders' line).
  struct alignas(cache_line) {
    Atomic<std::uint64_t> index{0};
    Atomic<Block*> block{nullptr};
  } tail_;

  // The receiver's alone.
  struct alignas(cache_line) {
    std::uint64_t index = 0;
    Block* block = nullptr;
    Atomic<std::uint64_t> seen{0};  // index, for len() on other threads
  } head_;

  // Touched by senders only to wake a sleeping receiver, and on block changes.
  alignas(cache_line) ReceiverSide receiver_;
  Atomic<Block*> spare_{nullptr};
};

}  // namespace spindle::detail::channel
