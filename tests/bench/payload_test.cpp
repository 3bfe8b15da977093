// ringcast-load's measurement record: what the generator writes, what it reads back out of
// received messages (with or without a chat server's "ID<port>: " prefix), and what it must
// refuse (truncated, foreign, out-of-range) so that it is counted as foreign, not misread.
#include "bench/load/payload.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::load {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string written(const Record& r) {
  std::uint8_t buf[64];
  const std::size_t n = write_record_before(buf + sizeof buf, r);
  return {reinterpret_cast<const char*>(buf + sizeof buf - n), n};
}

bool parses(std::string_view s, Record& r) { return parse_record(bytes(s), r); }
bool parses(std::string_view s) {
  Record r;
  return parse_record(bytes(s), r);
}

TEST(Payload, WritesTheDocumentedFormat) {
  EXPECT_EQ(written({3, 42, 123456789}), "|p3|s42|t123456789|");
  EXPECT_EQ(written({0, 1, 0}), "|p0|s1|t0|");
  const std::string longest = written({UINT32_MAX, UINT32_MAX, UINT64_MAX});
  EXPECT_EQ(longest, "|p4294967295|s4294967295|t18446744073709551615|");
  EXPECT_EQ(longest.size(), kMaxRecord);
}

TEST(Payload, RoundTripsThroughAChatPrefixAndPadding) {
  for (const Record& in : {Record{0, 1, 0}, Record{7, 1000, 5'000'000'000}, Record{UINT32_MAX, UINT32_MAX, UINT64_MAX}}) {
    for (const char* prefix : {"", "ID40312: ", "ID1: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
      const std::string msg = std::string(prefix) + written(in);
      Record out;
      ASSERT_TRUE(parses(msg, out)) << msg;
      EXPECT_EQ(out.pub, in.pub);
      EXPECT_EQ(out.seq, in.seq);
      EXPECT_EQ(out.t_ns, in.t_ns);
    }
  }
}

TEST(Payload, ReadsWhatRingcastDelivers) {
  Record r;
  ASSERT_TRUE(parses("ID40312: xxxxxxxx|p7|s9|t1000|", r));
  EXPECT_EQ(r.pub, 7u);
  EXPECT_EQ(r.seq, 9u);
  EXPECT_EQ(r.t_ns, 1000u);
  // The text before the record is not looked at, however it looks.
  ASSERT_TRUE(parses("|p1|s1|t1||p2|s3|t4|", r));
  EXPECT_EQ(r.pub, 2u);
  EXPECT_EQ(r.seq, 3u);
  EXPECT_EQ(r.t_ns, 4u);
}

TEST(Payload, NoticesAndForeignTextAreNotRecords) {
  for (std::string_view s : {"", "|", "||", "ID40312 joined", "ID40312 left", "ID40312: hello", "hello|",
                             "|p|s1|t1|", "|p0|s|t1|", "|p0|s1|t|", "|p0|s1|t1",  // no closing bar
                             "p0|s1|t1|", "0|s1|t1|", "|q0|s1|t1|", "|s1|p0|t1|", "|p0|t1|s1|",
                             "|p0 |s1|t1|", "|p0|s1|t1 |", "|p-1|s1|t1|", "|p0|s+1|t1|", "|p0|s1|t0x1|"}) {
    EXPECT_FALSE(parses(s)) << '"' << s << '"';
  }
  const std::uint8_t binary[] = {0xff, 0x00, '|', 'p', 0x80, '|', 's', '1', '|', 't', '1', '|'};
  Record r;
  EXPECT_FALSE(parse_record(binary, r));
}

TEST(Payload, EveryTruncationIsRefused) {
  // A message cut short anywhere (a server limiting message length, a torn write) must not
  // parse: without the closing bar, "|t12" would read as a send time of 12 ns.
  const std::string full = "ID9000: xxxx|p12|s345|t6789012345|";
  ASSERT_TRUE(parses(full));
  for (std::size_t n = 0; n < full.size(); ++n) EXPECT_FALSE(parses(std::string_view(full).substr(0, n))) << n;
}

TEST(Payload, OutOfRangeFieldsAreRefusedNotWrapped) {
  EXPECT_TRUE(parses("|p4294967295|s4294967295|t18446744073709551615|"));
  EXPECT_FALSE(parses("|p4294967296|s1|t1|"));                   // publisher id past 32 bits
  EXPECT_FALSE(parses("|p0|s4294967296|t1|"));                   // sequence past 32 bits
  EXPECT_FALSE(parses("|p0|s1|t18446744073709551616|"));         // 2^64
  EXPECT_FALSE(parses("|p0|s1|t99999999999999999999|"));         // 20 digits that wrap to 7766279631452241919
  EXPECT_FALSE(parses("|p0|s1|t100000000000000000000|"));        // 21 digits
  EXPECT_FALSE(parses("|p0|s99999999999999999999|t1|"));         // wraps below 2^32 if unchecked
  EXPECT_FALSE(parses("|p0|s0|t1|"));                            // sequences start at 1
}

TEST(Payload, OnlyCanonicalDigits) {
  EXPECT_TRUE(parses("|p0|s1|t0|"));
  EXPECT_FALSE(parses("|p00|s1|t1|"));
  EXPECT_FALSE(parses("|p01|s1|t1|"));
  EXPECT_FALSE(parses("|p1|s01|t1|"));
  EXPECT_FALSE(parses("|p1|s1|t007|"));
}

// The reference the parser (eight digits at a time) must agree with: the format read one
// byte at a time, range checked at every digit.
bool reference_field(std::string_view& s, char tag, std::uint64_t max, std::uint64_t& out) {
  std::size_t p = s.size();
  while (p > 0 && s[p - 1] >= '0' && s[p - 1] <= '9') --p;
  const std::string_view digits = s.substr(p);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0') || p < 2 || s[p - 1] != tag || s[p - 2] != '|') return false;
  std::uint64_t v = 0;
  for (char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;  // v * 10 + d > max
    v = v * 10 + d;
  }
  out = v;
  s = s.substr(0, p - 2);
  return true;
}

bool reference_parse(std::string_view s, Record& r) {
  if (s.empty() || s.back() != '|') return false;
  s.remove_suffix(1);
  std::uint64_t t = 0, q = 0, p = 0;
  if (!reference_field(s, 't', UINT64_MAX, t) || !reference_field(s, 's', UINT32_MAX, q) ||
      !reference_field(s, 'p', UINT32_MAX, p) || q == 0) {
    return false;
  }
  r = Record{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(q), t};
  return true;
}

TEST(Payload, AgreesWithAByteAtATimeReading) {
  // Records of every digit count, near every boundary, and strings of record-like bytes
  // (digits, bars, tags, the bytes either side of '0'..'9') around them.
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const std::string alphabet = "0123456789|||pst/:;?~";
  std::vector<std::string> cases;
  std::uint64_t pow10 = 1;
  for (int n = 1; n <= 20; ++n) {
    // A random n-digit value: from 10^(n-1) up to 10^n - 1, or to 2^64 - 1 for n = 20.
    const std::uint64_t random_n = n == 20 ? pow10 + next() % (UINT64_MAX - pow10 + 1) : pow10 + next() % (pow10 * 9);
    for (std::uint64_t v : {pow10, pow10 - 1, pow10 + 7, random_n}) {
      const auto u32 = static_cast<std::uint32_t>(v);
      cases.push_back(written({u32, u32 == 0 ? 1 : u32, v}));
      cases.push_back("|p" + std::to_string(v) + "|s" + std::to_string(v) + "|t" + std::to_string(v) + "|");
    }
    if (n < 20) pow10 *= 10;
  }
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    const std::size_t len = next() % 48;
    for (std::size_t k = 0; k < len; ++k) s += alphabet[next() % alphabet.size()];
    if (next() % 2 == 0) s += written({static_cast<std::uint32_t>(next()), static_cast<std::uint32_t>(next() | 1), next() >> (next() % 64)});
    if (next() % 4 == 0 && !s.empty()) s[next() % s.size()] = alphabet[next() % alphabet.size()];
    cases.push_back(std::move(s));
  }
  for (const std::string& s : cases) {
    Record want{}, got{};
    const bool ok = reference_parse(s, want);
    ASSERT_EQ(parses(s, got), ok) << '"' << s << '"';
    if (ok) {
      ASSERT_EQ(got.pub, want.pub) << s;
      ASSERT_EQ(got.seq, want.seq) << s;
      ASSERT_EQ(got.t_ns, want.t_ns) << s;
    }
  }
}

// MessageTail: the record must come out the same however the message was chunked.
std::string message(std::size_t filler, const Record& r) { return "ID51234: " + std::string(filler, 'x') + written(r); }

void expect_record(const MessageTail& t, const Record& want) {
  Record got;
  ASSERT_TRUE(parse_record(t.bytes(), got));
  EXPECT_EQ(got.pub, want.pub);
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.t_ns, want.t_ns);
}

TEST(MessageTail, ShortMessageIsKeptWhole) {
  MessageTail t;
  t.clear();
  t.append(bytes("ID1: hi"));
  t.append({});
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size()), "ID1: hi");
  t.clear();
  EXPECT_TRUE(t.bytes().empty());
}

TEST(MessageTail, KeepsTheLastBytesOfALongMessage) {
  const Record r{4, 77, 123'456'789'012};
  const std::string msg = message(4096, r);
  MessageTail t;
  t.clear();
  t.append(bytes(msg));
  ASSERT_EQ(t.bytes().size(), MessageTail::kCapacity);
  EXPECT_EQ(0, std::memcmp(t.bytes().data(), msg.data() + msg.size() - MessageTail::kCapacity, MessageTail::kCapacity));
  expect_record(t, r);
}

TEST(MessageTail, AnySplitIntoTwoChunks) {
  const Record r{UINT32_MAX, UINT32_MAX, UINT64_MAX};  // the longest record: the whole capacity matters
  const std::string msg = message(MessageTail::kCapacity + 20, r);  // longer than the tail keeps
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    MessageTail t;
    t.clear();
    t.append(bytes(std::string_view(msg).substr(0, cut)));
    t.append(bytes(std::string_view(msg).substr(cut)));
    ASSERT_EQ(t.bytes().size(), MessageTail::kCapacity) << cut;
    EXPECT_EQ(0, std::memcmp(t.bytes().data(), msg.data() + msg.size() - MessageTail::kCapacity, MessageTail::kCapacity)) << cut;
    expect_record(t, r);
  }
}

TEST(MessageTail, OneByteChunksAndRepeatedUse) {
  MessageTail t;
  for (std::uint32_t seq = 1; seq <= 3; ++seq) {
    const Record r{seq, seq, seq * 1000ull};
    const std::string msg = message(seq * 50, r);
    t.clear();  // a new message starts
    for (char ch : msg) t.append(bytes(std::string_view(&ch, 1)));
    expect_record(t, r);
  }
  // A notice after a record-carrying message leaves nothing of the old record behind.
  t.clear();
  t.append(bytes("ID3 joined"));
  Record r;
  EXPECT_FALSE(parse_record(t.bytes(), r));
}

TEST(Payload, PushOffsets) {
  auto offset = [](std::string_view text, std::uint64_t& out) {
    return parse_push_offset({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, out);
  };
  std::uint64_t o = 0;
  EXPECT_TRUE(offset(R"(...|t1|","info":{"user":"","client":"x"},"offset":42}}})", o));
  EXPECT_EQ(o, 42u);
  EXPECT_TRUE(offset(R"("offset":18446744073709551615}}})", o));
  EXPECT_EQ(o, UINT64_MAX);
  for (std::string_view bad : {R"(...|t1|"}}})", R"("offset":}}})", R"("offset":12}})", R"("offsets":12}}})",
                               R"("offset":18446744073709551616}}})", R"(offset":1}}})"}) {
    EXPECT_FALSE(offset(bad, o)) << bad;
  }
}

TEST(MarketJson, TickerLinesCutToSizeAndQuotedForAString) {
  std::vector<std::uint8_t> a(1024), b(1024), q(1024);
  fill_market_json(a, false);
  fill_market_json(b, false);
  EXPECT_EQ(a, b) << "the same bytes every run";
  const std::string text(a.begin(), a.end());
  EXPECT_TRUE(text.starts_with("[{\"s\":\"")) << text.substr(0, 40);
  EXPECT_GT(std::count(text.begin(), text.end(), '{'), 8);
  fill_market_json(q, true);
  const std::string quoted(q.begin(), q.end());
  EXPECT_EQ(quoted.find('"'), std::string::npos);
  EXPECT_EQ(quoted.find('\\'), std::string::npos) << "nothing a JSON string would need escaped";
  std::string back = quoted;
  std::replace(back.begin(), back.end(), '\'', '"');
  EXPECT_EQ(back, text);
}

}  // namespace
}  // namespace ringcast::load
