#include "bench/load/payload.hpp"

#include <algorithm>
#include <cstring>

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

// Reads `|<tag><digits>` ending just before `end`; moves `end` to the '|'. Digits are
// canonical decimal (no leading zero unless the value is 0) and must not exceed `max`.
bool take_field(const std::uint8_t* begin, const std::uint8_t*& end, char tag, std::uint64_t max,
                std::uint64_t& out) noexcept {
  const std::uint8_t* p = end;
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') --p;
  const std::ptrdiff_t digits = end - p;
  if (digits == 0 || digits > 20 || (digits > 1 && *p == '0')) return false;
  if (p - begin < 2 || p[-1] != static_cast<std::uint8_t>(tag) || p[-2] != '|') return false;
  std::uint64_t v = 0;
  for (const std::uint8_t* d = p; d < end; ++d) {
    const auto digit = static_cast<std::uint64_t>(*d - '0');
    if (v > (max - digit) / 10) return false;  // v * 10 + digit > max (covers uint64 overflow)
    v = v * 10 + digit;
  }
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

}  // namespace ringcast::load
