// Byte classes of HTTP/1.1 (RFC 9110 section 5.6.2, RFC 9112 section 3.2) as 256-entry
// tables, and ASCII case folding. Header-only so the parser's inner loops inline them.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace ringcast::protocol::http {

enum CharClass : std::uint8_t {
  kTchar = 1,       // token: field names, methods, extension names
  kFieldChar = 2,   // field-value: VCHAR, SP, HTAB, obs-text (0x80..0xFF)
  kTargetChar = 4,  // request-target of origin-form: VCHAR except '#'
};

inline constexpr std::array<std::uint8_t, 256> kCharClass = [] {
  std::array<std::uint8_t, 256> t{};
  constexpr std::string_view tchar_punct = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool vchar = c >= 0x21 && c <= 0x7e;
    if (alnum || tchar_punct.find(static_cast<char>(c)) != std::string_view::npos) t[c] |= kTchar;
    if (vchar || c == ' ' || c == '\t' || c >= 0x80) t[c] |= kFieldChar;
    if (vchar && c != '#') t[c] |= kTargetChar;
  }
  return t;
}();

[[nodiscard]] constexpr bool is(char c, CharClass cls) noexcept {
  return (kCharClass[static_cast<unsigned char>(c)] & cls) != 0;
}

[[nodiscard]] constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// ASCII-only case-insensitive equality (header names and tokens are ASCII by grammar).
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

[[nodiscard]] constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace ringcast::protocol::http
