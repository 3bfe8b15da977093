// Private to protocol/: the kernel table that simd.cpp fills and unmask()/utf8 call
// through, plus the per-ISA kernel entry points. Not part of the public API.
#pragma once
#include <cstddef>
#include <cstdint>

#include "protocol/simd.hpp"
#include "protocol/unmask.hpp"

namespace ringcast::protocol::detail {

using UnmaskFn = std::uint32_t (*)(std::uint8_t*, std::size_t, MaskKey, std::uint32_t) noexcept;
// Whole-buffer check: true when [data, data+len) is complete, valid UTF-8.
using Utf8Fn = bool (*)(const std::uint8_t*, std::size_t) noexcept;

struct Kernels {
  UnmaskFn unmask;
  Utf8Fn utf8;
  SimdLevel level;
};

// Constant-initialised to the scalar kernels, so calls made from other translation
// units' static initialisers are correct before simd.cpp's own initialiser runs.
extern constinit Kernels g_kernels;

std::uint32_t unmask_sse2(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept;
std::uint32_t unmask_avx2(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept;
std::uint32_t unmask_avx512(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase) noexcept;

bool utf8_sse2(const std::uint8_t* data, std::size_t len) noexcept;
bool utf8_avx2(const std::uint8_t* data, std::size_t len) noexcept;
bool utf8_avx512(const std::uint8_t* data, std::size_t len) noexcept;

// Key rotated so byte 0 of the result is the key byte for `phase`, as a little-endian word.
[[nodiscard]] inline std::uint32_t rotated_key(MaskKey key, std::uint32_t phase) noexcept {
  const std::uint32_t word = std::uint32_t{key[0]} | std::uint32_t{key[1]} << 8 |
                             std::uint32_t{key[2]} << 16 | std::uint32_t{key[3]} << 24;
  const unsigned shift = (phase & 3u) * 8u;
  return shift == 0 ? word : (word >> shift) | (word << (32u - shift));
}

}  // namespace ringcast::protocol::detail
