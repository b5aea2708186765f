// SPDX-License-Identifier: MIT
//
// spindle::session's fingerprints (<spindle/session/fingerprint.hpp>): the
// exact strings, which are part of the wire format (two programs built by
// different compilers must agree on them), and that protocols which differ
// in structure or in any message type differ in fingerprint.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "support/catch.hpp"

#include <spindle/session.hpp>
#include <spindle/session/fingerprint.hpp>

namespace ss = spindle::session;
using ss::Choose;
using ss::Dual;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::S;
using ss::Send;
using ss::Var;
using ss::Z;

namespace fingerprint_test {

enum class Colour : std::uint8_t { red, green };
enum Plain : int { one = 1 };

struct Named {
  int x;
};
struct Unnamed {
  int x;
};

}  // namespace fingerprint_test

template <>
struct spindle::session::Codec<fingerprint_test::Named> {
  static constexpr std::string_view name = "example.Named";
  static void encode(Writer& out, const fingerprint_test::Named& value) { ss::encode(out, value.x); }
  static fingerprint_test::Named decode(Reader& in) { return {ss::decode<int>(in)}; }
};
template <>
struct spindle::session::Codec<fingerprint_test::Unnamed> {
  static void encode(Writer& out, const fingerprint_test::Unnamed& value) { ss::encode(out, value.x); }
  static fingerprint_test::Unnamed decode(Reader& in) { return {ss::decode<int>(in)}; }
};

TEST_CASE("session fingerprint: the wire names of the built-in types", "[session][fingerprint]") {
  CHECK(ss::wire_name<bool>() == "bool");
  CHECK(ss::wire_name<char>() == "char");
  CHECK(ss::wire_name<std::int8_t>() == "i8");
  CHECK(ss::wire_name<std::uint8_t>() == "u8");
  CHECK(ss::wire_name<std::int16_t>() == "i16");
  CHECK(ss::wire_name<std::uint16_t>() == "u16");
  CHECK(ss::wire_name<std::int32_t>() == "i32");
  CHECK(ss::wire_name<std::uint32_t>() == "u32");
  CHECK(ss::wire_name<std::int64_t>() == "i64");
  CHECK(ss::wire_name<std::uint64_t>() == "u64");
  CHECK(ss::wire_name<const std::uint64_t>() == "u64");
  CHECK(ss::wire_name<float>() == "f32");
  CHECK(ss::wire_name<double>() == "f64");
  CHECK(ss::wire_name<std::string>() == "string");
  CHECK(ss::wire_name<std::vector<std::uint16_t>>() == "vector<u16>");
  CHECK(ss::wire_name<std::array<double, 3>>() == "array<f64,3>");
  CHECK(ss::wire_name<std::optional<std::string>>() == "optional<string>");
  CHECK(ss::wire_name<std::pair<bool, std::int32_t>>() == "pair<bool,i32>");
  CHECK(ss::wire_name<std::tuple<>>() == "tuple<>");
  CHECK(ss::wire_name<std::tuple<std::uint8_t, std::vector<std::string>, float>>() == "tuple<u8,vector<string>,f32>");
}

TEST_CASE("session fingerprint: enums and user types", "[session][fingerprint]") {
  // By the codec's name if it gives one, else by the Itanium ABI's name
  // (the same with g++ and clang); an enum also by its underlying type.
  CHECK(ss::wire_name<fingerprint_test::Named>() == "example.Named");
  CHECK(ss::wire_name<fingerprint_test::Unnamed>() == "N16fingerprint_test7UnnamedE");
  CHECK(ss::wire_name<fingerprint_test::Colour>() == "enum N16fingerprint_test6ColourE:u8");
  CHECK(ss::wire_name<fingerprint_test::Plain>() == "enum N16fingerprint_test5PlainE:i32");
}

TEST_CASE("session fingerprint: the structure of a protocol", "[session][fingerprint]") {
  CHECK(ss::fingerprint<Eps>() == "Eps");
  CHECK(ss::fingerprint<Recv<std::uint64_t, Choose<Send<std::string, Eps>, Eps>>>() ==
        "Recv<u64,Choose<Send<string,Eps>,Eps>>");
  using Loop = Rec<Offer<Recv<std::int32_t, Var<Z>>, Rec<Send<bool, Choose<Var<Z>, Var<S<Z>>, Eps>>>>>;
  CHECK(ss::fingerprint<Loop>() == "Rec<Offer<Recv<i32,Var<0>>,Rec<Send<bool,Choose<Var<0>,Var<1>,Eps>>>>>");
  CHECK(ss::fingerprint<Dual<Loop>>() == "Rec<Choose<Send<i32,Var<0>>,Rec<Recv<bool,Offer<Var<0>,Var<1>,Eps>>>>>");
}

TEST_CASE("session fingerprint: protocols that differ anywhere differ in fingerprint", "[session][fingerprint]") {
  // Each pair differs in one place: a type, a direction, a branch, a jump.
  CHECK(ss::fingerprint<Send<std::uint32_t, Eps>>() != ss::fingerprint<Send<std::uint64_t, Eps>>());
  CHECK(ss::fingerprint<Send<std::uint32_t, Eps>>() != ss::fingerprint<Send<std::int32_t, Eps>>());
  CHECK(ss::fingerprint<Send<std::uint32_t, Eps>>() != ss::fingerprint<Recv<std::uint32_t, Eps>>());
  CHECK(ss::fingerprint<Choose<Eps, Eps>>() != ss::fingerprint<Choose<Eps, Eps, Eps>>());
  CHECK(ss::fingerprint<Choose<Eps, Eps>>() != ss::fingerprint<Offer<Eps, Eps>>());
  CHECK(ss::fingerprint<Rec<Rec<Send<bool, Var<Z>>>>>() != ss::fingerprint<Rec<Rec<Send<bool, Var<S<Z>>>>>>());
  CHECK(ss::fingerprint<Send<fingerprint_test::Colour, Eps>>() != ss::fingerprint<Send<std::uint8_t, Eps>>());
  CHECK(ss::fingerprint<Send<std::vector<std::uint8_t>, Eps>>() != ss::fingerprint<Send<std::string, Eps>>());
  // A protocol is never its own dual unless it is Eps.
  CHECK(ss::fingerprint<Send<bool, Eps>>() != ss::fingerprint<Dual<Send<bool, Eps>>>());
}
