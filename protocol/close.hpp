// Close frame rules (RFC 6455 sections 5.5.1 and 7.4).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/result.hpp"

namespace ringcast::protocol {

// May a peer send this code on the wire? 1000-1003, 1007-1014, 3000-4999.
[[nodiscard]] bool is_valid_close_code(std::uint16_t code) noexcept;

struct CloseParse {
  Status status = Status::ok;       // ok or error
  std::uint16_t code = 1005;        // the peer's code; 1005 (no_status) for an empty payload
  std::string_view reason;          // into the payload; valid UTF-8 when status is ok
  CloseCode error = CloseCode::none;  // on error: 1002 (bad code, 1-byte payload) or 1007 (bad UTF-8)
};

// Validates a received close payload (already unmasked).
[[nodiscard]] CloseParse parse_close_payload(std::span<const std::uint8_t> payload) noexcept;

inline constexpr std::size_t kMaxCloseReason = 123;  // 125 minus the 2-byte code
// Writes code + reason (truncated to kMaxCloseReason bytes, on a UTF-8 boundary) to `out`
// (room for 125 bytes); returns the payload length. code 0 writes an empty payload.
std::size_t encode_close_payload(std::uint8_t* out, std::uint16_t code, std::string_view reason) noexcept;

}  // namespace ringcast::protocol
