// In-place XOR of a client payload with its 4-byte masking key (RFC 6455 section 5.3).
// `phase` is the key byte the first data byte uses (0..3), so a payload split across
// reads continues where the previous piece stopped; the return value is the next phase.
// Any alignment and length; dispatches to the kernel chosen in simd.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace ringcast::protocol {

using MaskKey = std::array<std::uint8_t, 4>;

std::uint32_t unmask(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase = 0) noexcept;

// The reference implementation every SIMD level is tested against.
std::uint32_t unmask_scalar(std::uint8_t* data, std::size_t len, MaskKey key, std::uint32_t phase = 0) noexcept;

}  // namespace ringcast::protocol
