// unmask(): short inputs inline, longer ones through the kernel chosen in simd.cpp.
// Also the scalar reference and the SSE2 kernel (SSE2 is baseline on x86-64).
#include "protocol/unmask.hpp"

#include <cstring>

#include "protocol/simd_internal.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringcast::protocol {

namespace {
// Below this length the indirect call costs more than the XOR itself.
constexpr std::size_t kInlineMax = 16;
}  // namespace

std::uint32_t unmask_scalar(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept {
  phase &= 3u;
  for (std::size_t i = 0; i < len; ++i) {
    data[i] ^= key[(phase + i) & 3u];
  }
  return static_cast<std::uint32_t>((phase + len) & 3u);
}

std::uint32_t unmask(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept {
  if (len < kInlineMax) {
    return unmask_scalar(data, len, key, phase);
  }
  return detail::g_kernels.unmask(data, len, key, phase & 3u);
}

namespace detail {

std::uint32_t unmask_sse2(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept {
#if defined(__SSE2__)
  phase &= 3u;
  const __m128i k = _mm_set1_epi32(static_cast<int>(rotated_key(key, phase)));
  std::size_t i = 0;
  // 16 is a multiple of 4, so the key phase is the same at every block start.
  for (; i + 64 <= len; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + i), _mm_xor_si128(a, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + i + 16), _mm_xor_si128(b, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + i + 32), _mm_xor_si128(c, k));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + i + 48), _mm_xor_si128(d, k));
  }
  for (; i + 16 <= len; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(data + i), _mm_xor_si128(a, k));
  }
  // i is a multiple of 16, so the tail starts at the same phase.
  unmask_scalar(data + i, len - i, key, phase);
  return static_cast<std::uint32_t>((phase + len) & 3u);
#else
  return unmask_scalar(data, len, key, phase);
#endif
}

}  // namespace detail
}  // namespace ringcast::protocol
