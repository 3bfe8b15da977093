#include "bench/load/payload.hpp"

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

// Reads `|<tag><digits>` ending just before `end`; moves `end` to the '|'.
bool take_field(const std::uint8_t* begin, const std::uint8_t*& end, char tag, std::uint64_t max,
                std::uint64_t& out) noexcept {
  const std::uint8_t* p = end;
  std::uint64_t v = 0, scale = 1;
  int digits = 0;
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') {
    if (++digits > 20) return false;
    v += static_cast<std::uint64_t>(p[-1] - '0') * scale;
    scale *= 10;
    --p;
  }
  if (digits == 0 || p - begin < 2 || p[-1] != static_cast<std::uint8_t>(tag) || p[-2] != '|' || v > max) return false;
  out = v;
  end = p - 2;
  return true;
}

}  // namespace

std::size_t write_record_before(std::uint8_t* end, const Record& r) noexcept {
  std::uint8_t* p = put_field(end, 't', r.t_ns);
  p = put_field(p, 's', r.seq);
  p = put_field(p, 'p', r.pub);
  return static_cast<std::size_t>(end - p);
}

bool parse_record(std::span<const std::uint8_t> tail, Record& out) noexcept {
  const std::uint8_t* begin = tail.data();
  const std::uint8_t* end = begin + tail.size();
  std::uint64_t t = 0, s = 0, p = 0;
  if (!take_field(begin, end, 't', UINT64_MAX, t) || !take_field(begin, end, 's', UINT32_MAX, s) ||
      !take_field(begin, end, 'p', UINT32_MAX, p)) {
    return false;
  }
  out = Record{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(s), t};
  return true;
}

}  // namespace ringcast::load
