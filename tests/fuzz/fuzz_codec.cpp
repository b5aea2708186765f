// SPDX-License-Identifier: MIT
//
// Fuzzes spindle::session's codec (<spindle/session/codec.hpp>) with
// arbitrary frames, as a remote peer could send them.
//
// Byte 0 picks the message type the frame is decoded as; the rest is the
// frame. decode_all must either refuse it with DecodeError or return a
// value: nothing else may escape, and nothing may be read past the frame's
// end (ASan). A forged count must not make a large allocation: libFuzzer
// fails an input that allocates more than its malloc limit. The encoding is
// canonical, so a value decoded from a frame must encode to the same bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <spindle/session/codec.hpp>

#include "fuzz_support.hpp"

namespace {

namespace ss = spindle::session;

enum class Mode : std::uint8_t { a = 1, b = 2 };

using Mixed = std::tuple<std::uint8_t, std::int64_t, double, bool, Mode, std::string>;
using Nested = std::vector<std::optional<std::vector<std::pair<std::uint16_t, std::string>>>>;
using Fixed = std::pair<std::array<std::int32_t, 3>, std::optional<float>>;
using Empties = std::vector<std::tuple<>>;

template <class T>
void check(std::string_view frame) {
  std::optional<T> value;
  try {
    value.emplace(ss::decode_all<T>(frame));
  } catch (const ss::DecodeError&) {
    return;  // refused: fine
  }
  std::string again;
  ss::Writer out(again);
  ss::encode(out, *value);
  FUZZ_CHECK(again == frame, "a decoded value does not encode to the bytes it came from");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      check<Mixed>(frame);
      break;
    case 1:
      check<Nested>(frame);
      break;
    case 2:
      check<Fixed>(frame);
      break;
    case 3:
      check<Empties>(frame);
      break;
    default:
      check<std::vector<std::string>>(frame);
      break;
  }
  return 0;
}
