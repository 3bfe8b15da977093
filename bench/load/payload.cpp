#include "bench/load/payload.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <string_view>

#include "bench/feed/market.hpp"

namespace ringcast::load {
namespace {

std::uint8_t* put_field(std::uint8_t* p, char tag, std::uint64_t v) noexcept {
  do {
    *--p = static_cast<std::uint8_t>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  *--p = static_cast<std::uint8_t>(tag);
  *--p = '|';
  return p;
}

// Eight digits at a time (SWAR): every delivery parses ~25 digits, which was a fifth of the
// generator's CPU in the fan-out scenario one byte at a time.
std::uint64_t load8(const std::uint8_t* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  if constexpr (std::endian::native == std::endian::big) x = __builtin_bswap64(x);
  return x;  // the first byte in the lowest lane
}

bool all_digits8(std::uint64_t x) noexcept {
  // Each byte 0x30..0x39: high nibble 3, and still 3 after adding 6 (0x3A..0x3F become 0x4_).
  constexpr std::uint64_t kHigh = 0xF0F0F0F0F0F0F0F0ull, kThrees = 0x3030303030303030ull;
  return (x & kHigh) == kThrees && ((x + 0x0606060606060606ull) & kHigh) == kThrees;
}

std::uint64_t value8(std::uint64_t x) noexcept {
  // Pairs of digits, then pairs of pairs, then the two halves; no lane ever carries.
  x -= 0x3030303030303030ull;
  x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFull;
  x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFull;
  return (x * 10000 + (x >> 32)) & 0xFFFFFFFFull;
}

// Reads `|<tag><digits>` ending just before `end`; moves `end` to the '|'. Digits are
// canonical decimal (no leading zero unless the value is 0) and must not exceed `max`.
bool take_field(const std::uint8_t* begin, const std::uint8_t*& end, char tag, std::uint64_t max,
                std::uint64_t& out) noexcept {
  const std::uint8_t* p = end;
  while (p - begin >= 8 && all_digits8(load8(p - 8))) p -= 8;
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') --p;
  const std::ptrdiff_t digits = end - p;
  if (digits == 0 || digits > 20 || (digits > 1 && *p == '0')) return false;
  if (p - begin < 2 || p[-1] != static_cast<std::uint8_t>(tag) || p[-2] != '|') return false;
  // Up to 19 digits cannot overflow 64 bits; a 20th is checked on its own.
  const std::uint8_t* last = digits == 20 ? end - 1 : end;
  const std::uint8_t* d = p;
  std::uint64_t v = 0;
  for (; (last - d) % 8 != 0; ++d) v = v * 10 + static_cast<std::uint64_t>(*d - '0');
  for (; d < last; d += 8) v = v * 100'000'000u + value8(load8(d));
  if (last != end) {
    const auto digit = static_cast<std::uint64_t>(*last - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // v * 10 + digit would wrap
    v = v * 10 + digit;
  }
  if (v > max) return false;
  out = v;
  end = p - 2;
  return true;
}

}  // namespace

std::size_t write_record_before(std::uint8_t* end, const Record& r) noexcept {
  std::uint8_t* p = end;
  *--p = '|';
  p = put_field(p, 't', r.t_ns);
  p = put_field(p, 's', r.seq);
  p = put_field(p, 'p', r.pub);
  return static_cast<std::size_t>(end - p);
}

bool parse_record(std::span<const std::uint8_t> tail, Record& out) noexcept {
  const std::uint8_t* begin = tail.data();
  const std::uint8_t* end = begin + tail.size();
  if (end == begin || end[-1] != '|') return false;
  --end;
  std::uint64_t t = 0, s = 0, p = 0;
  if (!take_field(begin, end, 't', UINT64_MAX, t) || !take_field(begin, end, 's', UINT32_MAX, s) ||
      !take_field(begin, end, 'p', UINT32_MAX, p) || s == 0) {
    return false;
  }
  out = Record{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(s), t};
  return true;
}

bool parse_push_offset(std::span<const std::uint8_t> tail, std::uint64_t& out) noexcept {
  static constexpr std::string_view kKey = "\"offset\":", kEnd = "}}}";
  if (tail.size() < kKey.size() + 1 + kEnd.size()) return false;
  std::string_view t(reinterpret_cast<const char*>(tail.data()), tail.size());
  if (!t.ends_with(kEnd)) return false;
  t.remove_suffix(kEnd.size());
  std::size_t digits = 0;
  while (digits < t.size() && digits < 20 && t[t.size() - 1 - digits] >= '0' && t[t.size() - 1 - digits] <= '9') ++digits;
  if (digits == 0 || !t.substr(0, t.size() - digits).ends_with(kKey)) return false;
  std::uint64_t v = 0;
  for (char ch : t.substr(t.size() - digits)) {
    std::uint64_t d = static_cast<std::uint64_t>(ch - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

void MessageTail::append(std::span<const std::uint8_t> chunk) noexcept {
  const std::size_t n = chunk.size();
  if (n >= kCapacity) {
    std::memcpy(buf_, chunk.data() + n - kCapacity, kCapacity);
    len_ = static_cast<std::uint8_t>(kCapacity);
    return;
  }
  if (n == 0) return;
  const std::size_t keep = std::min<std::size_t>(len_, kCapacity - n);
  std::memmove(buf_, buf_ + len_ - keep, keep);
  std::memcpy(buf_ + keep, chunk.data(), n);
  len_ = static_cast<std::uint8_t>(keep + n);
}

void fill_market_json(std::span<std::uint8_t> out, bool single_quotes) {
  std::string text = feed::ticker_batch(out.size());
  if (single_quotes) std::replace(text.begin(), text.end(), '"', '\'');
  std::memcpy(out.data(), text.data(), out.size());
}

}  // namespace ringcast::load
