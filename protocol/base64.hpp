// Standard base64 (RFC 4648 section 4, with padding): what Sec-WebSocket-Key and
// Sec-WebSocket-Accept use; and base64url without padding (section 5): what JWTs use.
// Strict decoding: no whitespace, canonical form only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringcast::protocol {

[[nodiscard]] constexpr std::size_t base64_encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

// Writes base64_encoded_size(in.size()) chars; returns that, or 0 when `out` is too small.
std::size_t base64_encode(std::span<const std::uint8_t> in, std::span<char> out) noexcept;

inline constexpr std::size_t kBase64Invalid = static_cast<std::size_t>(-1);

// Decodes canonical padded base64 (length a multiple of 4, '=' only at the end, unused
// bits zero). Returns the decoded length, or kBase64Invalid for bad input or small `out`.
[[nodiscard]] std::size_t base64_decode(std::string_view in, std::span<std::uint8_t> out) noexcept;

// Decodes unpadded base64url (RFC 7515 section 2: no '=', length % 4 != 1, unused bits
// zero). Returns the decoded length, or kBase64Invalid for bad input or small `out`.
[[nodiscard]] std::size_t base64url_decode(std::string_view in, std::span<std::uint8_t> out) noexcept;
[[nodiscard]] constexpr std::size_t base64url_decoded_size(std::size_t n) noexcept { return n / 4 * 3 + (n % 4) * 3 / 4; }

// Writes `in` as unpadded base64url; returns its length (at most base64_encoded_size), or 0
// when `out` is too small for base64_encoded_size(in.size()). For tests and tools that mint
// tokens; the server only verifies them.
std::size_t base64url_encode(std::span<const std::uint8_t> in, std::span<char> out) noexcept;

}  // namespace ringcast::protocol
