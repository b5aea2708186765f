// SPDX-License-Identifier: MIT
#pragma once

// Turning an arbitrary value into text for error messages: what() of an
// exception, message() of an error code, operator<< when there is one, and
// otherwise the type's name.

#include <concepts>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>

#include "spindle/detail/config.hpp"

namespace spindle::detail {

/// The name of T as the compiler spells it, e.g. "std::vector<int>".
template <class T>
[[nodiscard]] constexpr std::string_view type_name() noexcept {
#if defined(__clang__) || defined(__GNUC__)
  // "...type_name() [with T = X; ...]" (g++) or "...type_name() [T = X]" (clang).
  constexpr std::string_view pretty = __PRETTY_FUNCTION__;
  constexpr std::string_view key = "T = ";
  constexpr auto start = pretty.find(key) + key.size();
  constexpr auto end = pretty.find_first_of(";]", start);
  return pretty.substr(start, end - start);
#else
  return "unknown type";
#endif
}

template <class T>
concept HasWhat = requires(const T& v) {
  { v.what() } -> std::convertible_to<std::string_view>;
};

template <class T>
concept HasMessage = requires(const T& v) {
  { v.message() } -> std::convertible_to<std::string>;
};

template <class T>
concept Streamable = requires(std::ostream& os, const T& v) {
  { os << v } -> std::same_as<std::ostream&>;
};

/// A stream buffer that appends what is written to a std::string: what
/// describe() needs of std::ostringstream, without <sstream> (and <istream>).
class StringSink : public std::streambuf {
 public:
  explicit StringSink(std::string& out) noexcept : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      out_.push_back(traits_type::to_char_type(c));
    }
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char_type* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string& out_;
};

/// A one-line description of `value` for a message.
template <class T>
[[nodiscard]] std::string describe(const T& value) {
  if constexpr (HasWhat<T>) {
    return std::string(std::string_view(value.what()));
  } else if constexpr (HasMessage<T>) {
    return value.message();
  } else if constexpr (std::is_enum_v<T> && !Streamable<T>) {
    return std::string(type_name<T>()) + "(" +
           std::to_string(static_cast<long long>(static_cast<std::underlying_type_t<T>>(value))) + ")";
  } else if constexpr (Streamable<T>) {
    std::string text;
    StringSink sink(text);
    std::ostream out(&sink);
    out << value;
    return text;
  } else {
    return "a value of type " + std::string(type_name<T>());
  }
}

}  // namespace spindle::detail
