// AVX-512 (F+BW) UTF-8 check: the algorithm of utf8_avx2.cpp on 64-byte blocks. The byte
// N back crosses 128-bit lanes through a qword shift (valignq) before the per-lane
// alignr, and the tail is a masked load, which reads nothing past the end.
#include <immintrin.h>

#include <array>

#include "protocol/simd_internal.hpp"
#include "protocol/utf8_lookup_internal.hpp"

namespace ringcast::protocol::detail {

namespace {

namespace lk = utf8_lookup;

// The 16-byte table repeated in each 128-bit lane (a constant load, rather than
// _mm512_broadcast_i32x4, which trips GCC 12's -Wuninitialized inside the intrinsic).
constexpr std::array<std::uint8_t, 64> per_lane(const std::array<std::uint8_t, 16>& t) noexcept {
  std::array<std::uint8_t, 64> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = t[i % 16];
  return out;
}
alignas(64) constexpr std::array<std::uint8_t, 64> kPrevHigh = per_lane(lk::kPrevHigh);
alignas(64) constexpr std::array<std::uint8_t, 64> kPrevLow = per_lane(lk::kPrevLow);
alignas(64) constexpr std::array<std::uint8_t, 64> kCurHigh = per_lane(lk::kCurHigh);

[[nodiscard]] inline __m512i table(const std::array<std::uint8_t, 64>& t) noexcept { return _mm512_load_si512(t.data()); }

// A byte at position 63/62/61 above these opens a sequence the block doesn't finish.
constexpr std::array<std::uint8_t, 64> make_incomplete_max() noexcept {
  std::array<std::uint8_t, 64> m{};
  for (auto& b : m) b = 0xFF;
  m[61] = 0xEF;
  m[62] = 0xDF;
  m[63] = 0xBF;
  return m;
}
alignas(64) constexpr std::array<std::uint8_t, 64> kIncompleteMax = make_incomplete_max();

// The byte N positions back, for every byte of `cur`, taking the first N from `prev`.
template <int N>
[[nodiscard]] inline __m512i back(__m512i cur, __m512i prev) noexcept {
  // Lane j of `shifted` is lane j-1 of cur (lane 3 of prev for j = 0). The all-ones
  // maskz form sidesteps GCC 12's -Wmaybe-uninitialized inside the unmasked intrinsic.
  const __m512i shifted = _mm512_maskz_alignr_epi64(0xFF, cur, prev, 6);
  return _mm512_alignr_epi8(cur, shifted, 16 - N);
}

[[nodiscard]] inline bool any(__m512i v) noexcept { return _mm512_test_epi64_mask(v, v) != 0; }

class Checker {
 public:
  Checker() noexcept
      : prev_high_(table(kPrevHigh)),
        prev_low_(table(kPrevLow)),
        cur_high_(table(kCurHigh)),
        low_nibble_(_mm512_set1_epi8(0x0F)),
        incomplete_max_(table(kIncompleteMax)) {}

  void block(__m512i in) noexcept {
    if (_mm512_movepi8_mask(in) == 0) {
      error_ = _mm512_or_si512(error_, incomplete_);
    } else {
      error_ = _mm512_or_si512(error_, check_pairs(in));
      incomplete_ = _mm512_subs_epu8(in, incomplete_max_);
    }
    prev_ = in;
  }

  [[nodiscard]] bool ok_at_end() const noexcept { return !any(_mm512_or_si512(error_, incomplete_)); }
  [[nodiscard]] bool ok_so_far() const noexcept { return !any(error_); }

 private:
  [[nodiscard]] __m512i check_pairs(__m512i in) const noexcept {
    const __m512i prev1 = back<1>(in, prev_);
    const __m512i p_hi = _mm512_and_si512(_mm512_srli_epi16(prev1, 4), low_nibble_);
    const __m512i p_lo = _mm512_and_si512(prev1, low_nibble_);
    const __m512i c_hi = _mm512_and_si512(_mm512_srli_epi16(in, 4), low_nibble_);
    const __m512i special = _mm512_and_si512(
        _mm512_and_si512(_mm512_shuffle_epi8(prev_high_, p_hi), _mm512_shuffle_epi8(prev_low_, p_lo)),
        _mm512_shuffle_epi8(cur_high_, c_hi));
    const __m512i third = _mm512_subs_epu8(back<2>(in, prev_), _mm512_set1_epi8(static_cast<char>(0xE0 - 0x80)));
    const __m512i fourth = _mm512_subs_epu8(back<3>(in, prev_), _mm512_set1_epi8(static_cast<char>(0xF0 - 0x80)));
    const __m512i must_continue =
        _mm512_and_si512(_mm512_or_si512(third, fourth), _mm512_set1_epi8(static_cast<char>(0x80)));
    static_assert(lk::kTwoContsBit == 7, "the continuation bit must line up with 0x80");
    return _mm512_xor_si512(must_continue, special);
  }

  __m512i prev_high_;
  __m512i prev_low_;
  __m512i cur_high_;
  __m512i low_nibble_;
  __m512i incomplete_max_;
  __m512i prev_ = _mm512_setzero_si512();
  __m512i error_ = _mm512_setzero_si512();
  __m512i incomplete_ = _mm512_setzero_si512();
};

}  // namespace

bool utf8_avx512(const std::uint8_t* data, std::size_t len) noexcept {
  Checker check;
  std::size_t i = 0;
  for (; i + 256 <= len; i += 256) {
    for (std::size_t j = 0; j < 256; j += 64) {
      check.block(_mm512_loadu_si512(data + i + j));
    }
    if (!check.ok_so_far()) return false;  // fail fast on long invalid input
  }
  for (; i + 64 <= len; i += 64) {
    check.block(_mm512_loadu_si512(data + i));
  }
  if (i < len) {
    // Masked-off bytes read as zero (ASCII) and are never fetched.
    const __mmask64 m = _bzhi_u64(~std::uint64_t{0}, static_cast<unsigned>(len - i));
    check.block(_mm512_maskz_loadu_epi8(m, data + i));
  }
  return check.ok_at_end();
}

}  // namespace ringcast::protocol::detail
