// SPDX-License-Identifier: MIT
#pragma once

// How the messages of a session with another process become frames and
// back (<spindle/session/zmq.hpp> sends the frames; this part needs no
// ZeroMQ, so that it can be fuzzed and tested alone).
//
// A frame is a run of records. A record is one message of the protocol:
// one byte, the index of its type in the direction's message variant (its
// tag), then the codec's bytes. A choice's record (the Label's tag and the
// branch's index, two bytes) may be followed by more records in the same
// frame; any other record runs to the frame's end. (zmq.hpp sends each
// record in a frame of its own, and takes either.)

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "spindle/detail/session/link.hpp"
#include "spindle/detail/session/wire.hpp"
#include "spindle/session/codec.hpp"

namespace spindle::session::detail {

/// A record that is not the message the step expects, or not a message at
/// all: the session cannot go on. what() says why.
class BrokenRecord : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The tag of a choice in the message variant V (V's size if it has none).
template <class V>
inline constexpr std::size_t label_tag = index_in<Label, V>;

/// Appends the record of `message` to `frame`.
template <class V>
void encode_record(std::string& frame, const V& message) {
  frame.push_back(static_cast<char>(message.index()));
  Writer out(frame);
  std::visit(
      [&](const auto& value) {
        using T = std::remove_cvref_t<decltype(value)>;
        if constexpr (std::is_same_v<T, Label>) {
          encode(out, value.index);
        } else if constexpr (!std::is_same_v<T, std::monostate>) {
          encode(out, value);
        }
      },
      message);
}

/// How long the next record of `rest` (the frame's bytes not taken yet,
/// at least one) is: a choice's two bytes when more follow, else all of it.
template <class V>
std::size_t record_length(std::string_view rest) noexcept {
  if constexpr (label_tag<V> < std::variant_size_v<V>) {
    if (rest.size() > 2 && static_cast<std::uint8_t>(rest[0]) == label_tag<V>) {
      return 2;
    }
  }
  return rest.size();
}

// One decoder per alternative of V, by tag (tag 0, std::monostate, is
// refused before). Each writes its value into the caller's optional: a
// variant returned by value through the table would go through registers
// and back to memory once more.
template <class V, class Tags = std::make_index_sequence<std::variant_size_v<V>>>
struct Decoders;
template <class V, std::size_t... I>
struct Decoders<V, std::index_sequence<I...>> {
  using Decode = void (*)(std::optional<V>&, std::string_view);

  template <std::size_t Tag>
  static void decode(std::optional<V>& out, std::string_view body) {
    using T = std::variant_alternative_t<Tag, V>;
    if constexpr (std::is_same_v<T, std::monostate>) {
      out.emplace();
    } else if constexpr (std::is_same_v<T, Label>) {
      out.emplace(std::in_place_index<Tag>, Label{decode_all<std::uint8_t>(body)});
    } else {
      out.emplace(std::in_place_index<Tag>, decode_all<T>(body));
    }
  }

  static constexpr std::array<Decode, sizeof...(I)> table{&decode<I>...};
};

/// Decodes into `out` the message in `record`, which must be the one
/// `expected`: its type, and for a choice a branch the protocol has.
template <class V>
void decode_record_into(std::optional<V>& out, Expect expected, std::string_view record) {
  if (record.empty()) {
    throw BrokenRecord("the peer sent an empty message");
  }
  const auto tag = static_cast<std::size_t>(static_cast<std::uint8_t>(record[0]));
  if (tag != expected.index || tag == 0 || tag >= std::variant_size_v<V>) {
    throw BrokenRecord("the peer sent a message of another type than this step's");
  }
  try {
    Decoders<V>::table[tag](out, record.substr(1));
  } catch (const DecodeError& error) {
    throw BrokenRecord(std::string("the peer sent a malformed message: ").append(error.what()));
  }
  if constexpr (label_tag<V> < std::variant_size_v<V>) {
    if (tag == label_tag<V> && std::get<label_tag<V>>(*out).index >= expected.branches) {
      out.reset();
      throw BrokenRecord("the peer chose a branch the protocol does not have");
    }
  }
}

/// decode_record_into(), returning the message.
template <class V>
V decode_record(Expect expected, std::string_view record) {
  std::optional<V> out;
  decode_record_into(out, expected, record);
  return std::move(*out);
}

}  // namespace spindle::session::detail
