// AVX2 UTF-8 check: 32-byte blocks, all-ASCII blocks skipped with one movemask, others
// checked with three nibble lookups per byte (utf8_lookup_internal.hpp) plus a test that
// the 2nd/3rd continuation bytes of 3- and 4-byte sequences are where they must be.
// Errors are OR-ed together and looked at once per 256-byte stretch. A tail shorter than a
// block is checked as the buffer's last 32 bytes, or copied into a zero-padded block when
// the whole buffer is that short: nothing past the end is ever read.
#include <immintrin.h>

#include <cstring>

#include "protocol/simd_internal.hpp"
#include "protocol/utf8_lookup_internal.hpp"

namespace ringcast::protocol::detail {

namespace {

namespace lk = utf8_lookup;

[[nodiscard]] inline __m256i table(const std::array<std::uint8_t, 16>& t) noexcept {
  return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(t.data())));
}

// The byte N positions back, for every byte of `cur`, taking the first N from `prev`.
template <int N>
[[nodiscard]] inline __m256i back(__m256i cur, __m256i prev) noexcept {
  return _mm256_alignr_epi8(cur, _mm256_permute2x128_si256(prev, cur, 0x21), 16 - N);
}

class Checker {
 public:
  Checker() noexcept
      : prev_high_(table(lk::kPrevHigh)),
        prev_low_(table(lk::kPrevLow)),
        cur_high_(table(lk::kCurHigh)),
        low_nibble_(_mm256_set1_epi8(0x0F)),
        // A byte at position 31/30/29 above these opens a sequence the block doesn't finish.
        incomplete_max_(_mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                         static_cast<char>(0xEF), static_cast<char>(0xDF),
                                         static_cast<char>(0xBF))) {}

  void block(__m256i in) noexcept {
    if (_mm256_movemask_epi8(in) == 0) {
      // All ASCII: only a sequence left open by the previous block can be wrong.
      error_ = _mm256_or_si256(error_, incomplete_);
    } else {
      error_ = _mm256_or_si256(error_, check_pairs(in));
      incomplete_ = _mm256_subs_epu8(in, incomplete_max_);
    }
    prev_ = in;
  }

  // Non-zero error so far, counting a sequence still open at the end.
  [[nodiscard]] bool ok_at_end() const noexcept {
    const __m256i e = _mm256_or_si256(error_, incomplete_);
    return _mm256_testz_si256(e, e) != 0;
  }
  // Continue as if the block just checked had ended with the last bytes of `prev`
  // (only its bytes 29..31 matter: a pair check looks at most three bytes back).
  void restart_after(__m256i prev) noexcept {
    prev_ = prev;
    incomplete_ = _mm256_subs_epu8(prev, incomplete_max_);
  }

  [[nodiscard]] bool ok_so_far() const noexcept { return _mm256_testz_si256(error_, error_) != 0; }

 private:
  [[nodiscard]] __m256i check_pairs(__m256i in) const noexcept {
    const __m256i prev1 = back<1>(in, prev_);
    const __m256i p_hi = _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low_nibble_);
    const __m256i p_lo = _mm256_and_si256(prev1, low_nibble_);
    const __m256i c_hi = _mm256_and_si256(_mm256_srli_epi16(in, 4), low_nibble_);
    const __m256i special = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(prev_high_, p_hi), _mm256_shuffle_epi8(prev_low_, p_lo)),
        _mm256_shuffle_epi8(cur_high_, c_hi));
    // 0x80 where the byte two back is E0+ or three back is F0+: this byte must continue.
    const __m256i third = _mm256_subs_epu8(back<2>(in, prev_), _mm256_set1_epi8(static_cast<char>(0xE0 - 0x80)));
    const __m256i fourth = _mm256_subs_epu8(back<3>(in, prev_), _mm256_set1_epi8(static_cast<char>(0xF0 - 0x80)));
    const __m256i must_continue =
        _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(static_cast<char>(0x80)));
    static_assert(lk::kTwoContsBit == 7, "the continuation bit must line up with 0x80");
    return _mm256_xor_si256(must_continue, special);
  }

  __m256i prev_high_;
  __m256i prev_low_;
  __m256i cur_high_;
  __m256i low_nibble_;
  __m256i incomplete_max_;
  __m256i prev_ = _mm256_setzero_si256();
  __m256i error_ = _mm256_setzero_si256();
  __m256i incomplete_ = _mm256_setzero_si256();
};

}  // namespace

bool utf8_avx2(const std::uint8_t* data, std::size_t len) noexcept {
  Checker check;
  std::size_t i = 0;
  for (; i + 256 <= len; i += 256) {
    for (std::size_t j = 0; j < 256; j += 32) {
      check.block(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + j)));
    }
    if (!check.ok_so_far()) return false;  // fail fast on long invalid input
  }
  for (; i + 32 <= len; i += 32) {
    check.block(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i)));
  }
  if (i == len) return check.ok_at_end();
  if (len >= 36) {
    // Check the last 32 bytes as one overlapping window (re-checking a pair is harmless),
    // preceded by the three bytes before it, instead of copying a short tail.
    std::uint32_t before = 0;
    std::memcpy(&before, data + len - 36, sizeof before);
    check.restart_after(_mm256_insert_epi32(_mm256_setzero_si256(), static_cast<int>(before), 7));
    check.block(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + len - 32)));
  } else {
    alignas(32) std::uint8_t last[32] = {};
    std::memcpy(last, data + i, len - i);
    check.block(_mm256_load_si256(reinterpret_cast<const __m256i*>(last)));
  }
  return check.ok_at_end();
}

}  // namespace ringcast::protocol::detail
