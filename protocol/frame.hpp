// WebSocket frame headers (RFC 6455 section 5.2): decode from partial input, encode
// server (unmasked) and client (masked) frames into caller-owned buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/result.hpp"
#include "protocol/unmask.hpp"

namespace ringcast::protocol {

enum class Opcode : std::uint8_t {
  continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA,
};
[[nodiscard]] constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

inline constexpr std::size_t kMaxHeaderLen = 14;       // 2 + 8 (length) + 4 (mask)
inline constexpr std::size_t kMaxControlPayload = 125;
inline constexpr std::uint8_t kRsv1 = 0x4, kRsv2 = 0x2, kRsv3 = 0x1;  // as in FrameHeader::rsv

struct FrameHeader {
  bool fin = false;
  std::uint8_t rsv = 0;  // the three RSV bits, RSV1 = 0x4
  Opcode opcode = Opcode::continuation;
  bool masked = false;
  MaskKey mask{};
  std::uint64_t payload_len = 0;
  std::uint8_t header_len = 0;  // bytes the header took on the wire
};

struct FrameRules {
  bool require_mask = true;       // server side: client frames must be masked (else 1002)
  std::uint8_t allowed_rsv = 0;   // RSV bits a negotiated extension permits
  std::uint64_t max_payload = UINT64_MAX;  // larger frames fail with 1009
};

struct FrameParse {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // header bytes when ok
  CloseCode code = CloseCode::none;  // on error: the close code to send
  const char* reason = "";           // on error: a short static explanation for logs/close reason
};

// Decodes one header from the start of `in`. need_more until all header bytes are present.
// Errors: RSV bits not allowed, unknown opcode, control frame fragmented or > 125 bytes,
// 64-bit length with the top bit set, unmasked client frame (1002); payload > max_payload (1009).
// Non-minimal length encodings are accepted (RFC 6455 does not forbid them).
[[nodiscard]] FrameParse decode_frame_header(std::span<const std::uint8_t> in, const FrameRules& rules,
                                             FrameHeader& out) noexcept;

// Header length a frame of `payload_len` needs (2, 4 or 10, plus 4 when masked).
[[nodiscard]] constexpr std::size_t frame_header_len(std::uint64_t payload_len, bool masked = false) noexcept {
  return (payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}

// Encoders write minimal length encodings; payload_len must be below 2^63 (RFC 6455 5.2).
// Writes a minimal server header (unmasked) to `out` (room for frame_header_len(len) bytes).
std::size_t encode_server_header(std::uint8_t* out, Opcode op, std::uint64_t payload_len, bool fin = true,
                                 std::uint8_t rsv = 0) noexcept;
// Writes a client header with `mask` to `out` (room for frame_header_len(len, true) bytes).
std::size_t encode_client_header(std::uint8_t* out, Opcode op, std::uint64_t payload_len, MaskKey mask,
                                 bool fin = true, std::uint8_t rsv = 0) noexcept;

// Whole frames into `out`; return bytes written, or 0 when `out` is too small.
std::size_t encode_server_frame(std::span<std::uint8_t> out, Opcode op, std::span<const std::uint8_t> payload,
                                bool fin = true, std::uint8_t rsv = 0) noexcept;
std::size_t encode_client_frame(std::span<std::uint8_t> out, Opcode op, std::span<const std::uint8_t> payload,
                                MaskKey mask, bool fin = true, std::uint8_t rsv = 0) noexcept;

}  // namespace ringcast::protocol
