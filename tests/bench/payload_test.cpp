// ringcast-load's measurement record: what the generator writes, what it reads back out of
// received messages (with or without a chat server's "ID<port>: " prefix), and what it must
// refuse (truncated, foreign, out-of-range) so that it is counted as foreign, not misread.
#include "bench/load/payload.hpp"

#include <gtest/gtest.h>

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
  const std::string msg = message(60, r);
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

}  // namespace
}  // namespace ringcast::load
