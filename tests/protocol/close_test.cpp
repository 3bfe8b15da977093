// Close codes and close payloads: the valid ranges at their edges, every parse error
// with its code, and truncation of long reasons on a UTF-8 boundary.
#include "protocol/close.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/utf8.hpp"

namespace ringcast::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes payload(std::uint16_t code, std::string_view reason) {
  Bytes out(2 + reason.size());
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  for (std::size_t i = 0; i < reason.size(); ++i) out[2 + i] = static_cast<std::uint8_t>(reason[i]);
  return out;
}

TEST(CloseCode, Edges) {
  for (const std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                                   3999, 4000, 4999}) {
    EXPECT_TRUE(is_valid_close_code(code)) << code;
  }
  for (const std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_close_code(code)) << code;
  }
}

TEST(CloseCode, CountOverWholeRange) {
  // 4 (1000-1003) + 8 (1007-1014) + 2000 (3000-4999): nothing else slips through.
  std::size_t valid = 0;
  for (std::uint32_t code = 0; code <= 0xFFFF; ++code) valid += is_valid_close_code(static_cast<std::uint16_t>(code));
  EXPECT_EQ(valid, 2012u);
}

TEST(CloseParse, EmptyMeansNoStatus) {
  const CloseParse r = parse_close_payload({});
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.code, 1005);
  EXPECT_TRUE(r.reason.empty());
}

TEST(CloseParse, CodeAndReason) {
  const Bytes p = payload(1000, "bye \xE2\x82\xAC");
  const CloseParse r = parse_close_payload(p);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.code, 1000);
  EXPECT_EQ(r.reason, "bye \xE2\x82\xAC");
  EXPECT_EQ(static_cast<const void*>(r.reason.data()), static_cast<const void*>(p.data() + 2));  // no copy

  const CloseParse app = parse_close_payload(payload(4321, ""));
  EXPECT_EQ(app.status, Status::ok);
  EXPECT_EQ(app.code, 4321);
}

TEST(CloseParse, Errors) {
  const Bytes one{0x03};
  CloseParse r = parse_close_payload(one);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.error, CloseCode::protocol_error);

  for (const std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000}) {
    r = parse_close_payload(payload(code, "x"));
    EXPECT_EQ(r.status, Status::error) << code;
    EXPECT_EQ(r.error, CloseCode::protocol_error) << code;
  }
  for (const char* bad : {"\xFF", "ok\xC0\xAF", "\xED\xA0\x80", "cut \xE2\x82"}) {
    r = parse_close_payload(payload(1000, bad));
    EXPECT_EQ(r.status, Status::error) << bad;
    EXPECT_EQ(r.error, CloseCode::invalid_payload) << bad;
  }
  // A bad code wins over a bad reason: the code is checked first.
  r = parse_close_payload(payload(1005, "\xFF"));
  EXPECT_EQ(r.error, CloseCode::protocol_error);
}

TEST(CloseEncode, CodeZeroIsEmpty) {
  std::uint8_t out[125];
  EXPECT_EQ(encode_close_payload(out, 0, "ignored"), 0u);
}

TEST(CloseEncode, RoundTrip) {
  std::uint8_t out[125];
  const std::size_t n = encode_close_payload(out, 1001, "going away");
  ASSERT_EQ(n, 12u);
  const CloseParse r = parse_close_payload(std::span<const std::uint8_t>(out, n));
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.code, 1001);
  EXPECT_EQ(r.reason, "going away");
}

TEST(CloseEncode, TruncatesOnUtf8Boundary) {
  // A 2-, 3- and 4-byte code point placed at every offset around the 123-byte limit.
  for (const std::string_view cp : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9D\x84\x9E"}) {
    for (std::size_t prefix = 118; prefix <= 124; ++prefix) {
      const std::string reason = std::string(prefix, 'a') + std::string(cp) + "tail";
      std::uint8_t out[125 + 8];
      std::fill(std::begin(out), std::end(out), 0xEE);
      const std::size_t n = encode_close_payload(out, 1000, reason);
      ASSERT_LE(n, 125u);
      EXPECT_EQ(out[125], 0xEE) << "wrote past 125 bytes";
      const std::size_t kept = n - 2;
      // Longest prefix of `reason` that is <= 123 bytes and ends on a code point boundary.
      std::size_t want = std::min<std::size_t>(reason.size(), kMaxCloseReason);
      if (want > prefix && want < prefix + cp.size()) want = prefix;
      EXPECT_EQ(kept, want) << cp.size() << "-byte code point at " << prefix;
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(out + 2), kept), reason.substr(0, kept));
      EXPECT_EQ(parse_close_payload(std::span<const std::uint8_t>(out, n)).status, Status::ok);
    }
  }
}

TEST(CloseEncode, ExactlyMaxKeptWhole) {
  const std::string reason(kMaxCloseReason, 'r');
  std::uint8_t out[125];
  EXPECT_EQ(encode_close_payload(out, 1000, reason), 125u);
  EXPECT_EQ(encode_close_payload(out, 1000, reason + "s"), 125u);
}

}  // namespace
}  // namespace ringcast::protocol
