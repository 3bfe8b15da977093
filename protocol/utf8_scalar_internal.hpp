// Private to protocol/: the byte-at-a-time UTF-8 automaton (Unicode Table 3-7) shared
// by the scalar reference, the streaming validator and the SIMD kernels' tails.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ringcast::protocol::detail {

// Where we are inside a code point: continuation bytes still owed and the range the
// next one must fall in (narrower than 80..BF only right after E0, ED, F0, F4).
struct Utf8Cursor {
  std::uint8_t need = 0;
  std::uint8_t lo = 0x80;
  std::uint8_t hi = 0xBF;
};

// Advances by one byte; false when the byte makes the text invalid.
[[nodiscard]] inline bool utf8_step(Utf8Cursor& c, std::uint8_t b) noexcept {
  if (c.need != 0) {
    if (b < c.lo || b > c.hi) return false;
    c.lo = 0x80;
    c.hi = 0xBF;
    --c.need;
    return true;
  }
  if (b < 0x80) return true;
  if (b < 0xC2) return false;  // lone continuation, or C0/C1 (overlong 2-byte)
  if (b < 0xE0) {
    c.need = 1;
    return true;
  }
  if (b < 0xF0) {
    c.need = 2;
    c.lo = b == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
    c.hi = b == 0xED ? 0x9F : 0xBF;  // ED A0..BF are surrogates
    return true;
  }
  if (b < 0xF5) {
    c.need = 3;
    c.lo = b == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    c.hi = b == 0xF4 ? 0x8F : 0xBF;  // F4 90.. is above U+10FFFF
    return true;
  }
  return false;  // F5..FF never appear
}

// Validates a whole buffer from a code-point boundary; used for SIMD tails as well.
[[nodiscard]] inline bool utf8_scalar_span(const std::uint8_t* data, std::size_t len) noexcept {
  Utf8Cursor c;
  for (std::size_t i = 0; i < len; ++i) {
    if (!utf8_step(c, data[i])) return false;
  }
  return c.need == 0;
}

}  // namespace ringcast::protocol::detail
