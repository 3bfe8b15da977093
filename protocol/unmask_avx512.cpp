// AVX-512 (F+BW) unmask kernel: a masked block up to the first 64-byte boundary,
// aligned full blocks, then a masked tail. Masked loads/stores never touch bytes
// outside [data, data+len), so no scalar head or tail is needed.
#include <immintrin.h>

#include "protocol/simd_internal.hpp"

namespace ringcast::protocol::detail {

namespace {
[[nodiscard]] inline __m512i key_at(MaskKey key, std::uint32_t phase, std::size_t offset) noexcept {
  return _mm512_set1_epi32(static_cast<int>(rotated_key(key, phase + static_cast<std::uint32_t>(offset & 3u))));
}

// Low `n` bits set, n <= 64.
[[nodiscard]] inline __mmask64 first_bytes(std::size_t n) noexcept {
  return n >= 64 ? ~__mmask64{0} : _bzhi_u64(~std::uint64_t{0}, static_cast<unsigned>(n));
}
}  // namespace

std::uint32_t unmask_avx512(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept {
  phase &= 3u;
  const auto next_phase = static_cast<std::uint32_t>((phase + len) & 3u);
  std::size_t i = 0;
  const std::size_t misalign = reinterpret_cast<std::uintptr_t>(data) & 63u;
  if (misalign != 0) {
    const std::size_t n = len < 64 - misalign ? len : 64 - misalign;
    const __mmask64 m = first_bytes(n);
    const __m512i v = _mm512_maskz_loadu_epi8(m, data);
    _mm512_mask_storeu_epi8(data, m, _mm512_xor_si512(v, key_at(key, phase, 0)));
    i = n;
  }
  const __m512i k = key_at(key, phase, i);
  for (; i + 256 <= len; i += 256) {
    auto* p = reinterpret_cast<__m512i*>(data + i);
    const __m512i a = _mm512_xor_si512(_mm512_load_si512(p), k);
    const __m512i b = _mm512_xor_si512(_mm512_load_si512(p + 1), k);
    const __m512i c = _mm512_xor_si512(_mm512_load_si512(p + 2), k);
    const __m512i d = _mm512_xor_si512(_mm512_load_si512(p + 3), k);
    _mm512_store_si512(p, a);
    _mm512_store_si512(p + 1, b);
    _mm512_store_si512(p + 2, c);
    _mm512_store_si512(p + 3, d);
  }
  for (; i + 64 <= len; i += 64) {
    auto* p = reinterpret_cast<__m512i*>(data + i);
    _mm512_store_si512(p, _mm512_xor_si512(_mm512_load_si512(p), k));
  }
  if (i < len) {
    const __mmask64 m = first_bytes(len - i);
    const __m512i v = _mm512_maskz_loadu_epi8(m, data + i);
    _mm512_mask_storeu_epi8(data + i, m, _mm512_xor_si512(v, k));
  }
  return next_phase;
}

}  // namespace ringcast::protocol::detail
