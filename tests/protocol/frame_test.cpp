// Frame header decode/encode: every length encoding and boundary, every rejection with
// its close code, partial input at every prefix, and encode -> decode round trips.
#include "protocol/frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace ringcast::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr MaskKey kMask{0x37, 0xfa, 0x21, 0x3d};  // the key of RFC 6455 section 5.7

FrameRules server_rules() { return FrameRules{}; }
FrameRules client_rules() {
  FrameRules r;
  r.require_mask = false;
  return r;
}

FrameParse decode(const Bytes& in, const FrameRules& rules, FrameHeader& h) {
  return decode_frame_header(std::span<const std::uint8_t>(in), rules, h);
}

void expect_error(const Bytes& in, const FrameRules& rules, CloseCode code) {
  FrameHeader h;
  const FrameParse r = decode(in, rules, h);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.code, code);
  ASSERT_NE(r.reason, nullptr);
  EXPECT_GT(std::strlen(r.reason), 0u);
}

Bytes client_header(Opcode op, std::uint64_t len, bool fin = true, std::uint8_t rsv = 0) {
  Bytes out(kMaxHeaderLen);
  out.resize(encode_client_header(out.data(), op, len, kMask, fin, rsv));
  return out;
}

TEST(Frame, RfcExamplesDecode) {
  // RFC 6455 section 5.7: a single-frame unmasked and masked text message "Hello".
  const Bytes unmasked{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
  FrameHeader h;
  FrameParse r = decode(unmasked, client_rules(), h);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, Opcode::text);
  EXPECT_FALSE(h.masked);
  EXPECT_EQ(h.payload_len, 5u);

  Bytes masked{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  r = decode(masked, server_rules(), h);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.consumed, 6u);
  EXPECT_EQ(h.header_len, 6u);
  EXPECT_TRUE(h.masked);
  EXPECT_EQ(h.mask, kMask);
  (void)unmask(masked.data() + 6, 5, h.mask);
  EXPECT_EQ(Bytes(masked.begin() + 6, masked.end()), (Bytes{'H', 'e', 'l', 'l', 'o'}));
}

TEST(Frame, RfcExamplesEncode) {
  std::uint8_t out[kMaxHeaderLen];
  // 256 bytes binary: 16-bit length; 64 KiB binary: 64-bit length (RFC 6455 section 5.7).
  ASSERT_EQ(encode_server_header(out, Opcode::binary, 256), 4u);
  EXPECT_EQ(Bytes(out, out + 4), (Bytes{0x82, 0x7E, 0x01, 0x00}));
  ASSERT_EQ(encode_server_header(out, Opcode::binary, 65536), 10u);
  EXPECT_EQ(Bytes(out, out + 10), (Bytes{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
  // Unfragmented "Hel" then "lo": first frame FIN=0 text, then FIN=1 continuation.
  ASSERT_EQ(encode_server_header(out, Opcode::text, 3, false), 2u);
  EXPECT_EQ(Bytes(out, out + 2), (Bytes{0x01, 0x03}));
  ASSERT_EQ(encode_server_header(out, Opcode::continuation, 2), 2u);
  EXPECT_EQ(Bytes(out, out + 2), (Bytes{0x80, 0x02}));

  Bytes frame(16);
  const Bytes hello{'H', 'e', 'l', 'l', 'o'};
  frame.resize(encode_client_frame(frame, Opcode::text, hello, kMask));
  EXPECT_EQ(frame, (Bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(Frame, LengthBoundariesRoundTrip) {
  const std::uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1ull << 32, (1ull << 63) - 1};
  for (const std::uint64_t len : lens) {
    for (const bool masked : {false, true}) {
      std::uint8_t out[kMaxHeaderLen];
      const std::size_t n = masked ? encode_client_header(out, Opcode::binary, len, kMask)
                                   : encode_server_header(out, Opcode::binary, len);
      EXPECT_EQ(n, frame_header_len(len, masked)) << len;
      FrameHeader h;
      FrameRules rules;
      rules.require_mask = masked;
      const FrameParse r = decode_frame_header(std::span<const std::uint8_t>(out, n), rules, h);
      ASSERT_EQ(r.status, Status::ok) << len;
      EXPECT_EQ(r.consumed, n);
      EXPECT_EQ(h.header_len, n);
      EXPECT_EQ(h.payload_len, len);
      EXPECT_EQ(h.masked, masked);
      if (masked) {
        EXPECT_EQ(h.mask, kMask);
      }
    }
  }
  EXPECT_EQ(frame_header_len(125), 2u);
  EXPECT_EQ(frame_header_len(126), 4u);
  EXPECT_EQ(frame_header_len(65535), 4u);
  EXPECT_EQ(frame_header_len(65536), 10u);
}

TEST(Frame, EveryPrefixNeedsMore) {
  for (const std::uint64_t len : {5ull, 300ull, 70000ull}) {
    const Bytes full = client_header(Opcode::binary, len);
    for (std::size_t cut = 0; cut < full.size(); ++cut) {
      FrameHeader h;
      const FrameParse r = decode(Bytes(full.begin(), full.begin() + static_cast<long>(cut)), server_rules(), h);
      EXPECT_EQ(r.status, Status::need_more) << len << " cut " << cut;
      EXPECT_EQ(r.consumed, 0u);
    }
  }
}

TEST(Frame, NonMinimalLengthsAccepted) {
  // 5 bytes announced with the 16-bit and with the 64-bit form; 300 with the 64-bit form.
  const Bytes forms[] = {
      {0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4},
      {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x05, 1, 2, 3, 4},
      {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x2C, 1, 2, 3, 4},
  };
  const std::uint64_t want[] = {5, 5, 300};
  for (std::size_t i = 0; i < 3; ++i) {
    FrameHeader h;
    const FrameParse r = decode(forms[i], server_rules(), h);
    ASSERT_EQ(r.status, Status::ok) << i;
    EXPECT_EQ(r.consumed, forms[i].size());
    EXPECT_EQ(h.payload_len, want[i]);
  }
  // A control frame whose small length uses the 16-bit form is still <= 125 bytes.
  FrameHeader h;
  EXPECT_EQ(decode(Bytes{0x89, 0xFE, 0x00, 0x7D, 1, 2, 3, 4}, server_rules(), h).status, Status::ok);
  EXPECT_EQ(h.payload_len, 125u);
}

TEST(Frame, TopBitOfLongLength) {
  expect_error(Bytes{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, server_rules(), CloseCode::protocol_error);
  expect_error(Bytes{0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}, server_rules(),
               CloseCode::protocol_error);
}

TEST(Frame, MaskRules) {
  expect_error(Bytes{0x81, 0x05}, server_rules(), CloseCode::protocol_error);  // unmasked from a client
  expect_error(Bytes{0x81, 0x85}, client_rules(), CloseCode::protocol_error);  // masked from a server
  FrameHeader h;
  EXPECT_EQ(decode(Bytes{0x81, 0x05}, client_rules(), h).status, Status::ok);
  EXPECT_EQ(decode(Bytes{0x81, 0x85, 1, 2, 3, 4}, server_rules(), h).status, Status::ok);
}

TEST(Frame, ReservedOpcodes) {
  for (std::uint8_t op = 0; op < 16; ++op) {
    const bool known = op <= 2 || (op >= 8 && op <= 10);
    FrameHeader h;
    const FrameParse r = decode(Bytes{static_cast<std::uint8_t>(0x80 | op), 0x80, 1, 2, 3, 4}, server_rules(), h);
    if (known) {
      EXPECT_EQ(r.status, Status::ok) << int(op);
      EXPECT_EQ(static_cast<std::uint8_t>(h.opcode), op);
    } else {
      EXPECT_EQ(r.status, Status::error) << int(op);
      EXPECT_EQ(r.code, CloseCode::protocol_error);
    }
  }
}

TEST(Frame, RsvBits) {
  for (const std::uint8_t bit : {kRsv1, kRsv2, kRsv3}) {
    const Bytes in{static_cast<std::uint8_t>(0x81 | (bit << 4)), 0x80, 1, 2, 3, 4};
    expect_error(in, server_rules(), CloseCode::protocol_error);
    FrameRules allowed;
    allowed.allowed_rsv = bit;
    FrameHeader h;
    ASSERT_EQ(decode(in, allowed, h).status, Status::ok);
    EXPECT_EQ(h.rsv, bit);
  }
  FrameRules deflate;
  deflate.allowed_rsv = kRsv1;
  expect_error(Bytes{0xE1, 0x80, 1, 2, 3, 4}, deflate, CloseCode::protocol_error);  // RSV2+3 still refused
}

TEST(Frame, ControlFrameRules) {
  expect_error(Bytes{0x09, 0x80}, server_rules(), CloseCode::protocol_error);        // ping with FIN=0
  expect_error(Bytes{0x08, 0x80}, server_rules(), CloseCode::protocol_error);        // close with FIN=0
  expect_error(client_header(Opcode::ping, 126), server_rules(), CloseCode::protocol_error);
  expect_error(client_header(Opcode::pong, 70000), server_rules(), CloseCode::protocol_error);
  FrameHeader h;
  EXPECT_EQ(decode(client_header(Opcode::close, 125), server_rules(), h).status, Status::ok);
  EXPECT_EQ(decode(client_header(Opcode::text, 126, false), server_rules(), h).status, Status::ok);
}

TEST(Frame, ErrorsFromTheFirstTwoBytes) {
  // Fail fast: these are known before the extended length and mask arrive.
  expect_error(Bytes{0x83, 0xFF}, server_rules(), CloseCode::protocol_error);
  expect_error(Bytes{0xC1, 0xFE}, server_rules(), CloseCode::protocol_error);
  expect_error(Bytes{0x09, 0xFE}, server_rules(), CloseCode::protocol_error);
  expect_error(Bytes{0x82, 0x7F}, server_rules(), CloseCode::protocol_error);
}

TEST(Frame, MaxPayload) {
  FrameRules rules;
  rules.max_payload = 1000;
  FrameHeader h;
  EXPECT_EQ(decode(client_header(Opcode::binary, 1000), rules, h).status, Status::ok);
  expect_error(client_header(Opcode::binary, 1001), rules, CloseCode::message_too_big);
  expect_error(client_header(Opcode::binary, 1ull << 40), rules, CloseCode::message_too_big);
}

TEST(Frame, FinRsvOpcodeEncoded) {
  std::uint8_t out[kMaxHeaderLen];
  const std::size_t n = encode_client_header(out, Opcode::continuation, 70000, kMask, false, kRsv1 | kRsv3);
  FrameRules rules;
  rules.allowed_rsv = kRsv1 | kRsv3;
  FrameHeader h;
  ASSERT_EQ(decode_frame_header(std::span<const std::uint8_t>(out, n), rules, h).status, Status::ok);
  EXPECT_FALSE(h.fin);
  EXPECT_EQ(h.rsv, kRsv1 | kRsv3);
  EXPECT_EQ(h.opcode, Opcode::continuation);
  EXPECT_EQ(h.payload_len, 70000u);
}

TEST(Frame, WholeFramesRoundTrip) {
  for (const std::size_t len : {0ul, 1ul, 125ul, 126ul, 65535ul, 65536ul, 100000ul}) {
    Bytes payload(len);
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<std::uint8_t>(i * 131 + 7);

    Bytes client(frame_header_len(len, true) + len);
    ASSERT_EQ(encode_client_frame(client, Opcode::binary, payload, kMask), client.size());
    FrameHeader h;
    ASSERT_EQ(decode(client, server_rules(), h).status, Status::ok);
    ASSERT_EQ(h.payload_len, len);
    if (len >= 4) {
      EXPECT_NE(Bytes(client.begin() + h.header_len, client.end()), payload);  // really masked
    }
    (void)unmask(client.data() + h.header_len, len, h.mask);
    EXPECT_EQ(Bytes(client.begin() + h.header_len, client.end()), payload);

    Bytes server(frame_header_len(len) + len);
    ASSERT_EQ(encode_server_frame(server, Opcode::binary, payload), server.size());
    ASSERT_EQ(decode(server, client_rules(), h).status, Status::ok);
    EXPECT_EQ(Bytes(server.begin() + h.header_len, server.end()), payload);

    // One byte short: nothing written.
    Bytes small(server.size() - 1);
    EXPECT_EQ(encode_server_frame(small, Opcode::binary, payload), 0u);
    Bytes small_client(client.size() - 1);
    EXPECT_EQ(encode_client_frame(small_client, Opcode::binary, payload, kMask), 0u);
  }
}

}  // namespace
}  // namespace ringcast::protocol
