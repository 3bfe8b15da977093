// Utf8Validator and the whole-buffer checks. feed() splits each chunk into the code point
// carried over (scalar), a body of complete code points (the active SIMD kernel) and an
// incomplete tail (scalar, so a bad 2nd/3rd byte fails on the feed where it arrives).
#include "protocol/utf8.hpp"

#include "protocol/simd_internal.hpp"
#include "protocol/utf8_scalar_internal.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringcast::protocol {

namespace {
// Below this the automaton is about as fast as the kernel's set-up (utf8/danmaku_phrases).
constexpr std::size_t kInlineMax = 16;

[[nodiscard]] bool check_body(const std::uint8_t* data, std::size_t len) noexcept {
  return len < kInlineMax ? detail::utf8_scalar_span(data, len) : detail::g_kernels.utf8(data, len);
}

// Start of a trailing code point that `data` does not complete, or `len` if none.
[[nodiscard]] std::size_t incomplete_tail(const std::uint8_t* data, std::size_t len) noexcept {
  const std::size_t stop = len > 3 ? len - 3 : 0;  // an incomplete code point has <= 3 bytes
  for (std::size_t j = len; j-- > stop;) {
    const std::uint8_t b = data[j];
    if ((b & 0xC0) == 0x80) continue;
    if (b >= 0xC0) {
      const std::size_t width = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : 2);
      if (width > len - j) return j;
    }
    break;
  }
  return len;
}
}  // namespace

bool Utf8Validator::feed(const std::uint8_t* data, std::size_t len) noexcept {
  if (!ok_) return false;
  detail::Utf8Cursor cur{need_, lo_, hi_};
  std::size_t i = 0;
  for (; cur.need != 0 && i < len; ++i) {
    if (!detail::utf8_step(cur, data[i])) {
      ok_ = false;
      return false;
    }
  }
  const std::size_t tail = i + incomplete_tail(data + i, len - i);
  if (!check_body(data + i, tail - i)) {
    ok_ = false;
    return false;
  }
  for (i = tail; i < len; ++i) {
    if (!detail::utf8_step(cur, data[i])) {
      ok_ = false;
      return false;
    }
  }
  need_ = cur.need;
  lo_ = cur.lo;
  hi_ = cur.hi;
  return true;
}

bool is_valid_utf8(const std::uint8_t* data, std::size_t len) noexcept {
  return check_body(data, len);
}

bool is_valid_utf8_scalar(const std::uint8_t* data, std::size_t len) noexcept {
  return detail::utf8_scalar_span(data, len);
}

namespace detail {

// SSE2 has no byte shuffle for table lookups, so this level only skips ASCII 16 bytes
// at a time and runs the scalar automaton over everything else.
bool utf8_sse2(const std::uint8_t* data, std::size_t len) noexcept {
#if defined(__SSE2__)
  Utf8Cursor cur;
  std::size_t i = 0;
  while (i < len) {
    if (cur.need == 0 && i + 16 <= len &&
        _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i))) == 0) {
      i += 16;
      continue;
    }
    const std::size_t end = i + 16 < len ? i + 16 : len;
    for (; i < end; ++i) {
      if (!utf8_step(cur, data[i])) return false;
    }
  }
  return cur.need == 0;
#else
  return utf8_scalar_span(data, len);
#endif
}

}  // namespace detail
}  // namespace ringcast::protocol
