// AVX2 unmask kernel. The first and last 32 bytes are loaded before anything is written
// and stored last, so the head before the first aligned block and the tail after the
// last one cost one unaligned store each and nothing outside [data, data+len) is touched.
#include <immintrin.h>

#include "protocol/simd_internal.hpp"

namespace ringcast::protocol::detail {

namespace {
// The key, as seen from byte `offset`, repeated across a 32-byte lane.
[[nodiscard]] inline __m256i key_at(MaskKey key, std::uint32_t phase, std::size_t offset) noexcept {
  return _mm256_set1_epi32(static_cast<int>(rotated_key(key, phase + static_cast<std::uint32_t>(offset & 3u))));
}
}  // namespace

std::uint32_t unmask_avx2(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept {
  phase &= 3u;
  const auto next_phase = static_cast<std::uint32_t>((phase + len) & 3u);
  if (len < 32) {
    // 16..31 bytes: two overlapping 16-byte blocks, both computed from the original bytes.
    if (len < 16) return unmask_scalar(data, len, key, phase);
    const __m128i k0 = _mm_set1_epi32(static_cast<int>(rotated_key(key, phase)));
    const __m128i k1 = _mm_set1_epi32(static_cast<int>(rotated_key(key, phase + static_cast<std::uint32_t>((len - 16) & 3u))));
    const __m128i head = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data)), k0);
    const __m128i tail = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + len - 16)), k1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data), head);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + len - 16), tail);
    return next_phase;
  }
  const __m256i head = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data)), key_at(key, phase, 0));
  const __m256i tail = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + len - 32)),
                                        key_at(key, phase, len - 32));
  if (len <= 64) {
    // Head and tail already cover everything.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(data), head);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(data + len - 32), tail);
    return next_phase;
  }
  // First 32-byte-aligned offset past the start (1..32); the head store covers [0, 32).
  std::size_t i = 32 - (reinterpret_cast<std::uintptr_t>(data) & 31u);
  const __m256i k = key_at(key, phase, i);
  for (; i + 128 <= len; i += 128) {
    auto* p = reinterpret_cast<__m256i*>(data + i);
    const __m256i a = _mm256_xor_si256(_mm256_load_si256(p), k);
    const __m256i b = _mm256_xor_si256(_mm256_load_si256(p + 1), k);
    const __m256i c = _mm256_xor_si256(_mm256_load_si256(p + 2), k);
    const __m256i d = _mm256_xor_si256(_mm256_load_si256(p + 3), k);
    _mm256_store_si256(p, a);
    _mm256_store_si256(p + 1, b);
    _mm256_store_si256(p + 2, c);
    _mm256_store_si256(p + 3, d);
  }
  for (; i + 32 <= len; i += 32) {
    auto* p = reinterpret_cast<__m256i*>(data + i);
    _mm256_store_si256(p, _mm256_xor_si256(_mm256_load_si256(p), k));
  }
  // Stored last: they rewrite any overlap with the aligned blocks with the same values.
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(data), head);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(data + len - 32), tail);
  return next_phase;
}

}  // namespace ringcast::protocol::detail
