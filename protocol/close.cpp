// Close code and close payload rules (RFC 6455 sections 5.5.1, 7.4.1, 7.4.2).
#include "protocol/close.hpp"

#include <cstring>

#include "protocol/utf8.hpp"

namespace ringcast::protocol {

bool is_valid_close_code(std::uint16_t code) noexcept {
  // 1004 is reserved, 1005/1006 are local-only, 1015 (TLS failure) is never sent,
  // 1016-2999 are unassigned, 3000-4999 belong to libraries and applications.
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

CloseParse parse_close_payload(std::span<const std::uint8_t> payload) noexcept {
  CloseParse r;
  if (payload.empty()) return r;  // ok, 1005: "no status code was present"
  if (payload.size() == 1 || payload.size() > 125) {
    r.status = Status::error;
    r.error = CloseCode::protocol_error;
    return r;
  }
  r.code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
  if (!is_valid_close_code(r.code)) {
    r.status = Status::error;
    r.error = CloseCode::protocol_error;
    return r;
  }
  const std::uint8_t* text = payload.data() + 2;
  const std::size_t text_len = payload.size() - 2;
  if (!is_valid_utf8(text, text_len)) {
    r.status = Status::error;
    r.error = CloseCode::invalid_payload;
    return r;
  }
  r.reason = std::string_view(reinterpret_cast<const char*>(text), text_len);
  return r;
}

std::size_t encode_close_payload(std::uint8_t* out, std::uint16_t code, std::string_view reason) noexcept {
  if (code == 0) return 0;
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  std::size_t n = reason.size();
  if (n > kMaxCloseReason) {
    n = kMaxCloseReason;
    // Step back over at most 3 continuation bytes so the cut lands before a lead byte.
    for (int i = 0; i < 3 && n > 0 && (static_cast<std::uint8_t>(reason[n]) & 0xC0) == 0x80; ++i) --n;
  }
  if (n != 0) std::memcpy(out + 2, reason.data(), n);
  return 2 + n;
}

}  // namespace ringcast::protocol
