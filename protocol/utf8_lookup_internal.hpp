// Private to protocol/: nibble tables for the SIMD UTF-8 check, shared by every ISA.
// Each bad (previous byte, current byte) pair falls in one error class described as
// (high nibble of previous) x (low nibble of previous) x (high nibble of current);
// a class's bit is set in each table at the nibbles it covers, so the AND of the three
// lookups is non-zero exactly for the bad pairs. Tables are built here, not typed in.
#pragma once
#include <array>
#include <cstdint>

namespace ringcast::protocol::detail::utf8_lookup {

struct ErrorClass {
  std::uint16_t prev_high;  // bit n: high nibble n of the previous byte
  std::uint16_t prev_low;   // bit n: low nibble n of the previous byte
  std::uint16_t cur_high;   // bit n: high nibble n of the current byte
};

constexpr std::uint16_t nibbles(unsigned first, unsigned last) noexcept {
  std::uint16_t m = 0;
  for (unsigned n = first; n <= last; ++n) m = static_cast<std::uint16_t>(m | (1u << n));
  return m;
}
constexpr std::uint16_t kAny = nibbles(0x0, 0xF);
constexpr std::uint16_t kAscii = nibbles(0x0, 0x7);
constexpr std::uint16_t kCont = nibbles(0x8, 0xB);
constexpr std::uint16_t kLead = nibbles(0xC, 0xF);

// Bit 7 is "continuation after continuation": legal only where the byte two or three
// back opened a 3- or 4-byte sequence, which the kernel checks separately.
constexpr unsigned kTwoContsBit = 7;
constexpr std::array<ErrorClass, 8> kClasses{{
    {kLead, kAny, static_cast<std::uint16_t>(kAscii | kLead)},  // 0: lead not followed by continuation
    {kAscii, kAny, kCont},                                      // 1: continuation after ASCII
    {nibbles(0xE, 0xE), nibbles(0x0, 0x0), nibbles(0x8, 0x9)},  // 2: E0 80..9F, overlong 3-byte
    {nibbles(0xF, 0xF), nibbles(0x4, 0xF), nibbles(0x9, 0xB)},  // 3: F4..FF 90..BF, above U+10FFFF
    {nibbles(0xE, 0xE), nibbles(0xD, 0xD), nibbles(0xA, 0xB)},  // 4: ED A0..BF, surrogates
    {nibbles(0xC, 0xC), nibbles(0x0, 0x1), kCont},              // 5: C0/C1, overlong 2-byte
    // 6: F0 80..8F (overlong 4-byte) and F5..FF 80..8F share a bit: the product stays exact.
    {nibbles(0xF, 0xF), static_cast<std::uint16_t>(nibbles(0x0, 0x0) | nibbles(0x5, 0xF)), nibbles(0x8, 0x8)},
    {kCont, kAny, kCont},  // 7: continuation after continuation
}};

enum class Part { prev_high, prev_low, cur_high };

constexpr std::array<std::uint8_t, 16> build(Part part) noexcept {
  std::array<std::uint8_t, 16> t{};
  for (unsigned bit = 0; bit < kClasses.size(); ++bit) {
    const ErrorClass& c = kClasses[bit];
    const std::uint16_t set = part == Part::prev_high ? c.prev_high : part == Part::prev_low ? c.prev_low : c.cur_high;
    for (unsigned n = 0; n < 16; ++n) {
      if ((set >> n) & 1u) t[n] = static_cast<std::uint8_t>(t[n] | (1u << bit));
    }
  }
  return t;
}

alignas(16) inline constexpr std::array<std::uint8_t, 16> kPrevHigh = build(Part::prev_high);
alignas(16) inline constexpr std::array<std::uint8_t, 16> kPrevLow = build(Part::prev_low);
alignas(16) inline constexpr std::array<std::uint8_t, 16> kCurHigh = build(Part::cur_high);

}  // namespace ringcast::protocol::detail::utf8_lookup
