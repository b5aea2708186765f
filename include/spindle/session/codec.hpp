// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::session's codec: how a message of a session that crosses
/// processes becomes bytes and back. It depends on nothing but the standard
/// library.
///
///   std::string frame;
///   spindle::session::Writer out(frame);
///   spindle::session::encode(out, std::pair<std::uint32_t, std::string>{7, "seven"});
///   spindle::session::Reader in(frame);
///   auto back = spindle::session::decode<std::pair<std::uint32_t, std::string>>(in);
///
/// The wire format, fixed whatever the machine:
///   - integers and floating-point numbers: their bytes, little-endian;
///     bool: one byte, 0 or 1; an enum: its underlying integer;
///   - std::string, std::vector<T>: a u32 count, then the characters or the
///     elements; std::array<T, N>: the N elements;
///   - std::optional<T>: one byte, 0 (empty) or 1, then the T if there is one;
///   - std::pair, std::tuple: the members in order.
///
/// Decoding untrusted bytes is safe: every read is bounds-checked, a count
/// is refused when the bytes left cannot hold that many elements (so a
/// forged count never makes a large allocation), and anything malformed
/// throws DecodeError.
///
/// Other types: specialize spindle::session::Codec<T> with
///   static void encode(Writer& out, const T& value);
///   static T decode(Reader& in);
/// and, if every encoding of a T takes at least a few bytes, with
///   static constexpr std::size_t min_size = <those bytes>;
/// (it bounds the count of a std::vector<T> being decoded; the default, 1,
/// is always safe).

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace spindle::session {

/// Bytes that are not the encoding of the type asked for: truncated, with
/// a count the rest cannot hold, a bool or a flag that is neither 0 nor 1,
/// or bytes left over.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Appends encoded bytes to a std::string (a frame under construction).
class Writer {
 public:
  explicit Writer(std::string& frame) noexcept : frame_(&frame) {}
  void bytes(const void* data, std::size_t size) { frame_->append(static_cast<const char*>(data), size); }

 private:
  std::string* frame_;
};

/// Reads encoded bytes from a frame, checking every read against its end.
class Reader {
 public:
  explicit Reader(std::string_view frame) noexcept : rest_(frame) {}

  /// The next `size` bytes; DecodeError if fewer are left.
  std::string_view bytes(std::size_t size) {
    if (size > rest_.size()) {
      throw DecodeError("spindle::session: decode: the message ends early");
    }
    std::string_view taken = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return taken;
  }
  /// How many bytes are left.
  [[nodiscard]] std::size_t left() const noexcept { return rest_.size(); }

 private:
  std::string_view rest_;
};

/// The customisation point: how a T is encoded and decoded. Specialize it
/// for your own message types (see the top of this header).
template <class T, class Enable = void>
struct Codec {
  static_assert(sizeof(T) == 0,
                "spindle::session: no codec for this message type (the T of Codec<T> in the compiler's notes): "
                "specialize spindle::session::Codec<T> with static void encode(Writer&, const T&) and static T "
                "decode(Reader&), or send a type the codec carries (arithmetic types, enums, std::string, "
                "std::vector, std::array, std::optional, std::pair, std::tuple)");
};

/// Appends the encoding of `value`.
template <class T>
void encode(Writer& out, const T& value) {
  Codec<T>::encode(out, value);
}

/// Reads a T.
template <class T>
T decode(Reader& in) {
  return Codec<T>::decode(in);
}

/// A whole frame that is exactly one T: DecodeError if bytes are left over.
template <class T>
T decode_all(std::string_view frame) {
  Reader in(frame);
  T value = decode<T>(in);
  if (in.left() != 0) {
    throw DecodeError("spindle::session: decode: bytes left over after the message");
  }
  return value;
}

namespace detail {

// The fewest bytes any encoding of T takes (at least 1: it bounds counts).
template <class T>
constexpr std::size_t min_size() {
  if constexpr (requires { Codec<T>::min_size; }) {
    return Codec<T>::min_size > 0 ? Codec<T>::min_size : 1;
  } else {
    return 1;
  }
}

// Integers, and the IEEE 754 binary32 and binary64 numbers (float, double).
template <class T>
inline constexpr bool is_wire_number = (std::is_integral_v<T> && !std::is_same_v<T, bool>) ||
                                       ((std::is_same_v<T, float> ||
                                         std::is_same_v<T, double>)&&std::numeric_limits<T>::is_iec559);

template <class U>
U little_endian(U bits) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    U swapped = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      swapped = static_cast<U>((swapped << 8) | ((bits >> (8 * i)) & 0xFF));
    }
    return swapped;
  } else {
    return bits;
  }
}

template <std::size_t n>
using UnsignedOf = std::conditional_t<
    n == 1, std::uint8_t,
    std::conditional_t<n == 2, std::uint16_t, std::conditional_t<n == 4, std::uint32_t, std::uint64_t>>>;

}  // namespace detail

// --- the built-in codecs ------------------------------------------------------------------

/// Integers and IEEE floating-point numbers: little-endian.
template <class T>
struct Codec<T, std::enable_if_t<detail::is_wire_number<T>>> {
  static constexpr std::size_t min_size = sizeof(T);
  using Bits = detail::UnsignedOf<sizeof(T)>;
  static void encode(Writer& out, const T& value) {
    const Bits bits = detail::little_endian(std::bit_cast<Bits>(value));
    out.bytes(&bits, sizeof bits);
  }
  static T decode(Reader& in) {
    Bits bits = 0;
    std::memcpy(&bits, in.bytes(sizeof bits).data(), sizeof bits);
    return std::bit_cast<T>(detail::little_endian(bits));
  }
};

namespace detail {

// Counts (of characters, of elements) are u32; a count the bytes left
// cannot hold, at element_size bytes each at least, is refused.
inline std::uint32_t read_count(Reader& in, std::size_t element_size) {
  const auto count = Codec<std::uint32_t>::decode(in);
  if (count != 0 && element_size > in.left() / count) {
    throw DecodeError("spindle::session: decode: a count larger than the message can hold");
  }
  return count;
}

inline void write_count(Writer& out, std::size_t count) {
  if (count > UINT32_MAX) {
    throw std::length_error("spindle::session: encode: more than 2^32 - 1 elements");
  }
  Codec<std::uint32_t>::encode(out, static_cast<std::uint32_t>(count));
}

}  // namespace detail

/// bool: one byte, 0 or 1.
template <>
struct Codec<bool> {
  static constexpr std::size_t min_size = 1;
  static void encode(Writer& out, const bool& value) {
    const auto byte = static_cast<std::uint8_t>(value ? 1 : 0);
    out.bytes(&byte, 1);
  }
  static bool decode(Reader& in) {
    const auto byte = static_cast<std::uint8_t>(in.bytes(1)[0]);
    if (byte > 1) {
      throw DecodeError("spindle::session: decode: a bool that is neither 0 nor 1");
    }
    return byte == 1;
  }
};

/// Enums: their underlying integer (any value of it is accepted).
template <class T>
struct Codec<T, std::enable_if_t<std::is_enum_v<T>>> {
  using Underlying = std::underlying_type_t<T>;
  static constexpr std::size_t min_size = sizeof(Underlying);
  static void encode(Writer& out, const T& value) { Codec<Underlying>::encode(out, static_cast<Underlying>(value)); }
  static T decode(Reader& in) { return static_cast<T>(Codec<Underlying>::decode(in)); }
};

/// std::string: a u32 length, then the characters.
template <>
struct Codec<std::string> {
  static constexpr std::size_t min_size = 4;
  static void encode(Writer& out, const std::string& value) {
    detail::write_count(out, value.size());
    out.bytes(value.data(), value.size());
  }
  static std::string decode(Reader& in) {
    const std::uint32_t size = detail::read_count(in, 1);
    return std::string(in.bytes(size));
  }
};

/// std::vector<T>: a u32 count, then the elements.
template <class T, class A>
struct Codec<std::vector<T, A>> {
  static constexpr std::size_t min_size = 4;
  // Bytes (one-byte integers) are copied at once: their encoding is themselves.
  static constexpr bool bytes = std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) == 1;

  static void encode(Writer& out, const std::vector<T, A>& value) {
    detail::write_count(out, value.size());
    if constexpr (bytes) {
      out.bytes(value.data(), value.size());
    } else {
      for (const auto& element : value) {
        Codec<T>::encode(out, element);
      }
    }
  }
  static std::vector<T, A> decode(Reader& in) {
    const std::uint32_t count = detail::read_count(in, detail::min_size<T>());
    std::vector<T, A> value;
    if constexpr (bytes) {
      const std::string_view raw = in.bytes(count);
      value.resize(count);
      if (count != 0) {
        std::memcpy(value.data(), raw.data(), count);
      }
    } else {
      value.reserve(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        value.push_back(Codec<T>::decode(in));
      }
    }
    return value;
  }
};

/// std::array<T, N>: the N elements.
template <class T, std::size_t N>
struct Codec<std::array<T, N>> {
  static constexpr std::size_t min_size = N * detail::min_size<T>();
  static void encode(Writer& out, const std::array<T, N>& value) {
    for (const auto& element : value) {
      Codec<T>::encode(out, element);
    }
  }
  static std::array<T, N> decode(Reader& in) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      // A braced list decodes its elements in order.
      return std::array<T, N>{(static_cast<void>(I), Codec<T>::decode(in))...};
    }
    (std::make_index_sequence<N>{});
  }
};

/// std::optional<T>: one byte, 0 (empty) or 1, then the T if there is one.
template <class T>
struct Codec<std::optional<T>> {
  static constexpr std::size_t min_size = 1;
  static void encode(Writer& out, const std::optional<T>& value) {
    Codec<bool>::encode(out, value.has_value());
    if (value) {
      Codec<T>::encode(out, *value);
    }
  }
  static std::optional<T> decode(Reader& in) {
    if (!Codec<bool>::decode(in)) {
      return std::nullopt;
    }
    return std::optional<T>(Codec<T>::decode(in));
  }
};

/// std::tuple<T...>: the members in order.
template <class... T>
struct Codec<std::tuple<T...>> {
  static constexpr std::size_t min_size = (std::size_t{0} + ... + detail::min_size<T>());
  static void encode(Writer& out, const std::tuple<T...>& value) {
    std::apply([&](const T&... member) { (Codec<T>::encode(out, member), ...); }, value);
  }
  static std::tuple<T...> decode(Reader& in) {
    // A braced list decodes its members in order.
    return std::tuple<T...>{Codec<T>::decode(in)...};
  }
};

/// std::pair<A, B>: first, then second.
template <class A, class B>
struct Codec<std::pair<A, B>> {
  static constexpr std::size_t min_size = detail::min_size<A>() + detail::min_size<B>();
  static void encode(Writer& out, const std::pair<A, B>& value) {
    Codec<A>::encode(out, value.first);
    Codec<B>::encode(out, value.second);
  }
  static std::pair<A, B> decode(Reader& in) {
    A first = Codec<A>::decode(in);
    B second = Codec<B>::decode(in);
    return std::pair<A, B>(std::move(first), std::move(second));
  }
};

}  // namespace spindle::session
