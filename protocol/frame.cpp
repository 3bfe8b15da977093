// Frame header decode/encode (RFC 6455 section 5.2). Pure byte arithmetic: no I/O, no
// allocation. Header errors that the first two bytes already show are reported before
// the rest of the header arrives, so a bad peer is cut off as early as possible.
#include "protocol/frame.hpp"

#include <cstring>

namespace ringcast::protocol {
namespace {

[[gnu::cold]] FrameParse fail(CloseCode code, const char* reason) noexcept {
  FrameParse r;
  r.status = Status::error;
  r.code = code;
  r.reason = reason;
  return r;
}

// Opcodes RFC 6455 defines; 3-7 and 0xB-0xF are reserved.
constexpr bool is_known_opcode(std::uint8_t op) noexcept { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

std::uint64_t load_be(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Writes byte 0 and the length field (with the mask bit); returns the bytes written.
std::size_t put_base(std::uint8_t* out, Opcode op, std::uint64_t len, bool fin, std::uint8_t rsv,
                     std::uint8_t mask_bit) noexcept {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | static_cast<std::uint8_t>(op));
  if (len < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | len);
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = static_cast<std::uint8_t>(mask_bit | 126);
    out[2] = static_cast<std::uint8_t>(len >> 8);
    out[3] = static_cast<std::uint8_t>(len);
    return 4;
  }
  out[1] = static_cast<std::uint8_t>(mask_bit | 127);
  for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(len >> (56 - 8 * i));
  return 10;
}

}  // namespace

FrameParse decode_frame_header(std::span<const std::uint8_t> in, const FrameRules& rules,
                               FrameHeader& out) noexcept {
  out = FrameHeader{};
  if (in.size() < 2) return FrameParse{};  // need_more

  const std::uint8_t b0 = in[0];
  const std::uint8_t b1 = in[1];
  const std::uint8_t rsv = (b0 >> 4) & 0x7;
  const std::uint8_t op = b0 & 0xF;
  const bool fin = (b0 & 0x80) != 0;
  const bool masked = (b1 & 0x80) != 0;
  const std::uint8_t len7 = b1 & 0x7F;

  if ((rsv & ~rules.allowed_rsv) != 0) return fail(CloseCode::protocol_error, "reserved bits set");
  if (!is_known_opcode(op)) return fail(CloseCode::protocol_error, "unknown opcode");
  const bool control = (op & 0x8) != 0;
  if (control && !fin) return fail(CloseCode::protocol_error, "fragmented control frame");
  if (masked != rules.require_mask) {
    return fail(CloseCode::protocol_error, masked ? "masked server frame" : "unmasked client frame");
  }

  const std::size_t len_bytes = len7 < 126 ? 0 : len7 == 126 ? 2 : 8;
  const std::size_t header_len = 2 + len_bytes + (masked ? 4 : 0);
  if (in.size() < header_len) return FrameParse{};  // need_more

  std::uint64_t len = len7;
  if (len_bytes != 0) {
    len = load_be(in.data() + 2, len_bytes);
    if ((len >> 63) != 0) return fail(CloseCode::protocol_error, "64-bit length with top bit set");
  }
  // Checked on the decoded length, so a non-minimal encoding of a small length is accepted.
  if (control && len > kMaxControlPayload) return fail(CloseCode::protocol_error, "control frame over 125 bytes");
  if (len > rules.max_payload) return fail(CloseCode::message_too_big, "frame too big");

  out.fin = fin;
  out.rsv = rsv;
  out.opcode = static_cast<Opcode>(op);
  out.masked = masked;
  if (masked) std::memcpy(out.mask.data(), in.data() + 2 + len_bytes, 4);
  out.payload_len = len;
  out.header_len = static_cast<std::uint8_t>(header_len);

  FrameParse r;
  r.status = Status::ok;
  r.consumed = header_len;
  return r;
}

std::size_t encode_server_header(std::uint8_t* out, Opcode op, std::uint64_t payload_len, bool fin,
                                 std::uint8_t rsv) noexcept {
  return put_base(out, op, payload_len, fin, rsv, 0);
}

std::size_t encode_client_header(std::uint8_t* out, Opcode op, std::uint64_t payload_len, MaskKey mask, bool fin,
                                 std::uint8_t rsv) noexcept {
  const std::size_t n = put_base(out, op, payload_len, fin, rsv, 0x80);
  std::memcpy(out + n, mask.data(), 4);
  return n + 4;
}

std::size_t encode_server_frame(std::span<std::uint8_t> out, Opcode op, std::span<const std::uint8_t> payload,
                                bool fin, std::uint8_t rsv) noexcept {
  const std::size_t header = frame_header_len(payload.size());
  if (out.size() < header || out.size() - header < payload.size()) return 0;
  const std::size_t n = encode_server_header(out.data(), op, payload.size(), fin, rsv);
  if (!payload.empty()) std::memcpy(out.data() + n, payload.data(), payload.size());
  return n + payload.size();
}

std::size_t encode_client_frame(std::span<std::uint8_t> out, Opcode op, std::span<const std::uint8_t> payload,
                                MaskKey mask, bool fin, std::uint8_t rsv) noexcept {
  const std::size_t header = frame_header_len(payload.size(), true);
  if (out.size() < header || out.size() - header < payload.size()) return 0;
  const std::size_t n = encode_client_header(out.data(), op, payload.size(), mask, fin, rsv);
  if (!payload.empty()) {
    std::memcpy(out.data() + n, payload.data(), payload.size());
    (void)unmask(out.data() + n, payload.size(), mask);  // masking is the same XOR
  }
  return n + payload.size();
}

}  // namespace ringcast::protocol
