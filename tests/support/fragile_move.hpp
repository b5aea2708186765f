// SPDX-License-Identifier: MIT
#pragma once

// FragileMove: a thread result whose move constructor throws once a budget of
// moves is spent. The budget travels with the value, so a test decides which
// move throws without knowing how many moves the library makes: a budget of
// 0 throws on the first move, a budget of 2 on the third. Its payload is a
// Counted, so a LifetimeCheck catches a copy that leaked or died twice.

#include <stdexcept>

#include "support/lifetime.hpp"

namespace spindle::test {

/// What a FragileMove's move throws.
class MoveFailed : public std::runtime_error {
 public:
  static constexpr const char* message = "FragileMove: the move threw";
  MoveFailed() : std::runtime_error(message) {}
};

class FragileMove {
 public:
  /// A budget no library spends: its moves never throw.
  static constexpr int plenty = 1000;

  FragileMove(int value, int moves_allowed) : moves_left_(moves_allowed), payload_(value) {}
  // Throws before the payload is moved: the source keeps its value.
  FragileMove(FragileMove&& other) : moves_left_(other.spend()), payload_(std::move(other.payload_)) {}
  FragileMove(const FragileMove&) = delete;
  FragileMove& operator=(const FragileMove&) = delete;
  FragileMove& operator=(FragileMove&&) = delete;
  ~FragileMove() = default;

  [[nodiscard]] int value() const noexcept { return payload_.value(); }

 private:
  [[nodiscard]] int spend() const {
    if (moves_left_ <= 0) {
      throw MoveFailed();
    }
    return moves_left_ - 1;
  }

  int moves_left_;
  Counted payload_;
};

}  // namespace spindle::test
