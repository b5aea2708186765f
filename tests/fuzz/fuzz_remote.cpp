// SPDX-License-Identifier: MIT
//
// Fuzzes how a session with another process takes its peer's frames apart
// (<spindle/detail/session/frames.hpp>, used by <spindle/session/zmq.hpp>):
// arbitrary frames, as a hostile peer could send them, through the same
// steps a receiving endpoint takes.
//
// Byte 0 picks the side (the protocol's server or its client, which receive
// different message types) and how the records are expected: as what they
// say they are (so the decoders run), or as the step's one type. The rest
// is the frame: it is split into records as an endpoint splits it, and
// each is decoded. A record must either be refused with BrokenRecord or
// give the message expected: nothing else may escape, nothing may be read
// past the frame (ASan), no forged count may allocate much. A record that
// decodes must encode back to its very bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include <spindle/detail/session/frames.hpp>
#include <spindle/session.hpp>

#include "fuzz_support.hpp"

namespace {

namespace ss = spindle::session;
using ss::Choose;
using ss::Eps;
using ss::Offer;
using ss::Rec;
using ss::Recv;
using ss::Send;
using ss::Var;
using ss::Z;

// A protocol with a choice each way and the codec's kinds of types.
using Server = Rec<Offer<Recv<std::tuple<std::vector<std::string>, std::optional<std::int32_t>, bool>,
                              Choose<Send<std::vector<std::string>, Var<Z>>, Send<double, Var<Z>>, Eps>>,
                         Recv<std::uint64_t, Var<Z>>, Eps>>;

template <class In>
void take_apart(std::uint8_t how, std::string_view frame) {
  const bool as_labelled = (how & 1U) != 0;
  const std::size_t branches = 1 + (how >> 1U) % 4;
  while (!frame.empty()) {
    const std::size_t length = ss::detail::record_length<In>(frame);
    FUZZ_CHECK(length > 0 && length <= frame.size(), "a record outside its frame");
    const std::string_view record = frame.substr(0, length);
    frame.remove_prefix(length);
    const std::size_t tag = static_cast<std::uint8_t>(record[0]);
    const std::size_t expected = as_labelled ? tag : (how >> 3U) % std::variant_size_v<In>;
    std::optional<In> message;
    try {
      message.emplace(ss::detail::decode_record<In>({expected, branches}, record));
    } catch (const ss::detail::BrokenRecord&) {
      return;  // the session would end here: fine
    }
    FUZZ_CHECK(message->index() == expected, "a record decoded as another type than the one expected");
    std::string again;
    ss::detail::encode_record(again, *message);
    FUZZ_CHECK(again == record, "a decoded record does not encode to the bytes it came from");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  const std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 0x80U) != 0) {
    take_apart<ss::detail::Message<Server, false>>(data[0], frame);
  } else {
    take_apart<ss::detail::Message<ss::Dual<Server>, false>>(data[0], frame);
  }
  return 0;
}
