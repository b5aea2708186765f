// SPDX-License-Identifier: MIT
//
// spindle::session's codec (<spindle/session/codec.hpp>): every built-in
// type round-trips, the bytes on the wire are the documented ones whatever
// the machine, and malformed input (truncated, a forged count, a bad flag,
// bytes left over) is refused with DecodeError, never read past its end.

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "support/catch.hpp"

#include <spindle/session/codec.hpp>

namespace ss = spindle::session;
using namespace std::string_literals;

namespace {

template <class T>
std::string encoded(const T& value) {
  std::string frame;
  ss::Writer out(frame);
  ss::encode(out, value);
  return frame;
}

template <class T>
T round_trip(const T& value) {
  return ss::decode_all<T>(encoded(value));
}

enum class Colour : std::uint16_t { red = 1, green = 0x0203 };

// A user type, taught to the codec through the customisation point.
struct Point {
  std::int32_t x;
  std::int32_t y;
  friend bool operator==(const Point&, const Point&) = default;
};

}  // namespace

template <>
struct spindle::session::Codec<Point> {
  static constexpr std::size_t min_size = 8;
  static void encode(Writer& out, const Point& p) {
    ss::encode(out, p.x);
    ss::encode(out, p.y);
  }
  static Point decode(Reader& in) {
    const auto x = ss::decode<std::int32_t>(in);
    const auto y = ss::decode<std::int32_t>(in);
    return {x, y};
  }
};

TEST_CASE("codec: numbers round-trip at their limits", "[session][codec]") {
  CHECK(round_trip(std::int8_t{-128}) == -128);
  CHECK(round_trip(std::uint16_t{65535}) == 65535);
  CHECK(round_trip(std::numeric_limits<std::int32_t>::min()) == std::numeric_limits<std::int32_t>::min());
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) == std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(std::int64_t{-1}) == -1);
  CHECK(round_trip(1.5f) == 1.5f);
  CHECK(round_trip(-0.0) == 0.0);
  CHECK(std::signbit(round_trip(-0.0)));
  CHECK(std::isinf(round_trip(std::numeric_limits<double>::infinity())));
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN())));
  CHECK(round_trip(true));
  CHECK_FALSE(round_trip(false));
  CHECK(round_trip(Colour::green) == Colour::green);
  CHECK(round_trip('x') == 'x');
}

TEST_CASE("codec: containers and compounds round-trip", "[session][codec]") {
  CHECK(round_trip(""s).empty());
  CHECK(round_trip("with a \0 inside"s) == "with a \0 inside"s);
  CHECK(round_trip(std::vector<int>{}).empty());
  CHECK(round_trip(std::vector<int>{1, -2, 3}) == std::vector<int>{1, -2, 3});
  CHECK(round_trip(std::vector<std::string>{"a", "", "ccc"}) == std::vector<std::string>{"a", "", "ccc"});
  const std::vector<std::vector<std::uint16_t>> nested{{1, 2}, {}, {3}};
  CHECK(round_trip(nested) == nested);
  CHECK(round_trip(std::array<std::uint8_t, 3>{7, 8, 9}) == std::array<std::uint8_t, 3>{7, 8, 9});
  CHECK(round_trip(std::array<int, 0>{}).empty());
  CHECK(round_trip(std::optional<std::string>{}) == std::nullopt);
  CHECK(round_trip(std::optional<std::string>{"here"}) == std::optional<std::string>{"here"});
  CHECK(round_trip(std::pair<std::uint32_t, std::string>{7, "seven"}) ==
        std::pair<std::uint32_t, std::string>{7, "seven"});
  const std::tuple<bool, double, std::vector<Point>, std::optional<Colour>> mixed{
      true, 2.25, {{1, 2}, {-3, 4}}, Colour::red};
  CHECK(round_trip(mixed) == mixed);
  CHECK(round_trip(std::tuple<>{}) == std::tuple<>{});
  CHECK(round_trip(Point{-5, 6}) == Point{-5, 6});
}

TEST_CASE("codec: the bytes on the wire are little-endian and length-prefixed", "[session][codec]") {
  CHECK(encoded(std::uint32_t{0x01020304}) == "\x04\x03\x02\x01"s);
  CHECK(encoded(std::int16_t{-2}) == "\xfe\xff"s);
  CHECK(encoded(1.0) == "\x00\x00\x00\x00\x00\x00\xf0\x3f"s);
  CHECK(encoded(true) == "\x01"s);
  CHECK(encoded(Colour::green) == "\x03\x02"s);
  CHECK(encoded("ab"s) == "\x02\x00\x00\x00"s + "ab");
  CHECK(encoded(std::vector<std::uint8_t>{5, 6}) == "\x02\x00\x00\x00\x05\x06"s);
  CHECK(encoded(std::optional<std::uint8_t>{}) == "\x00"s);
  CHECK(encoded(std::optional<std::uint8_t>{9}) == "\x01\x09"s);
  CHECK(encoded(std::pair<std::uint8_t, bool>{1, false}) == "\x01\x00"s);
}

TEST_CASE("codec: every truncation of a valid message is refused", "[session][codec][hostile]") {
  using Message = std::tuple<std::uint64_t, std::string, std::vector<std::int32_t>, std::optional<Point>, bool>;
  const Message value{42, "hello", {1, 2, 3}, Point{7, 8}, true};
  const std::string frame = encoded(value);
  REQUIRE(ss::decode_all<Message>(frame) == value);
  for (std::size_t length = 0; length < frame.size(); ++length) {
    INFO("the first " << length << " of " << frame.size() << " bytes");
    CHECK_THROWS_AS(ss::decode_all<Message>(std::string_view(frame).substr(0, length)), ss::DecodeError);
  }
}

TEST_CASE("codec: bytes left over, bad flags and forged counts are refused", "[session][codec][hostile]") {
  CHECK_THROWS_AS(ss::decode_all<std::uint8_t>("\x01\x02"s), ss::DecodeError);
  CHECK_THROWS_AS(ss::decode_all<bool>("\x02"s), ss::DecodeError);
  CHECK_THROWS_AS(ss::decode_all<std::optional<std::uint8_t>>("\x02\x05"s), ss::DecodeError);

  // A count the rest of the message cannot hold is refused before anything
  // is allocated for it: here 4 billion elements in 4 bytes.
  const std::string forged = "\xff\xff\xff\xff\x00\x00\x00\x00"s;
  CHECK_THROWS_AS(ss::decode_all<std::string>(forged), ss::DecodeError);
  CHECK_THROWS_AS(ss::decode_all<std::vector<std::uint64_t>>(forged), ss::DecodeError);
  CHECK_THROWS_AS(ss::decode_all<std::vector<std::tuple<>>>(forged), ss::DecodeError);
  // Two u64 need 16 bytes; 15 are left.
  CHECK_THROWS_AS(ss::decode_all<std::vector<std::uint64_t>>("\x02\x00\x00\x00"s + std::string(15, '\0')),
                  ss::DecodeError);
  // A user type's min_size bounds its count too: one Point needs 8 bytes.
  CHECK_THROWS_AS(ss::decode_all<std::vector<Point>>("\x01\x00\x00\x00"s + std::string(7, '\0')), ss::DecodeError);
}
