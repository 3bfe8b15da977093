#include "protocol/fossil_delta.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "protocol/utf8.hpp"

namespace fossil = ringcast::protocol::fossil;

namespace {

std::string delta(std::string_view source, std::string_view target) {
  fossil::DeltaEncoder enc;
  std::string out;
  enc.encode(source, target, out);
  return out;
}

std::string applied(std::string_view source, std::string_view d) {
  std::string out;
  EXPECT_TRUE(fossil::apply(source, d, out)) << d;
  return out;
}

// (Appended piece by piece: GCC 12's -O3 -Wrestrict misfires on "[" + std::to_string(...).)
std::string book(int bid, int ask) {
  std::string s = "{\"symbol\":\"BTC-USD\",\"bids\":[";
  auto level = [&s](int price, const char* cents, int size) {
    s += '[';
    s += std::to_string(price);
    s += cents;
    s += std::to_string(size);
    s += "],";
  };
  for (int i = 0; i < 20; ++i) level(bid - i, ".50,", 100 + i);
  s += "[0,0]],\"asks\":[";
  for (int i = 0; i < 20; ++i) level(ask + i, ".25,", 200 + i);
  return s + "[0,0]]}";
}

}  // namespace

TEST(FossilDelta, ChecksumMatchesFossilsLanes) {
  EXPECT_EQ(fossil::checksum(""), 0u);
  // One group of four: lanes weigh 24, 16, 8, 0 bits.
  EXPECT_EQ(fossil::checksum("\x01\x02\x03\x04"), 0x01020304u);
  // A tail of three bytes weighs like the first three lanes of another group.
  EXPECT_EQ(fossil::checksum("\x01\x02\x03\x04\x05\x06\x07"), 0x01020304u + 0x05060700u);
}

TEST(FossilDelta, SmallSourceIsOneLiteral) {
  // 5 bytes, one insert, the checksum: nothing of a 3-byte source to copy.
  std::string d = delta("abc", "hello");
  EXPECT_EQ(d, "5\n5:hello" + d.substr(d.find("hello") + 5));
  EXPECT_EQ(d.back(), ';');
  EXPECT_EQ(applied("abc", d), "hello");
}

TEST(FossilDelta, AppendedTailIsACopyAndALiteral) {
  std::string source(64, 'x');
  for (int i = 0; i < 64; ++i) source[static_cast<std::size_t>(i)] = static_cast<char>('A' + i % 26);
  std::string target = source + "tail";
  std::string d = delta(source, target);
  // 68 = "14" in base 64, a copy of 64 ("10") from 0, then the 4-byte literal.
  EXPECT_EQ(d.substr(0, 14), "14\n10@0,4:tail");
  EXPECT_EQ(applied(source, d), target);
}

TEST(FossilDelta, OrderBookUpdateIsSmall) {
  std::string before = book(50000, 50001), after = book(50001, 50002);
  std::string d = delta(before, after);
  EXPECT_EQ(applied(before, d), after);
  EXPECT_LT(d.size(), after.size());
  std::string same = delta(after, after);
  EXPECT_LT(same.size(), 16u) << same;  // one copy of everything
  EXPECT_EQ(applied(after, same), after);
}

TEST(FossilDelta, RoundTripsRandomEdits) {
  std::mt19937 rng(7);
  fossil::DeltaEncoder enc;  // reused: its index shrinks and grows
  for (int round = 0; round < 300; ++round) {
    std::size_t n = rng() % 3000;
    std::string source(n, '\0');
    for (char& c : source) c = static_cast<char>(rng() % (round % 2 == 0 ? 4 : 256));
    std::string target = source;
    for (int e = static_cast<int>(rng() % 8); e > 0; --e) {
      std::size_t at = target.empty() ? 0 : rng() % target.size();
      switch (rng() % 3) {
        case 0: target.insert(at, std::string(rng() % 40, static_cast<char>(rng()))); break;
        case 1: target.erase(at, rng() % 40); break;
        default: if (!target.empty()) target[at] = static_cast<char>(rng());
      }
    }
    std::string d;
    enc.encode(source, target, d);
    std::string out;
    ASSERT_TRUE(fossil::apply(source, d, out)) << round;
    ASSERT_EQ(out, target) << round;
  }
}

TEST(FossilDelta, UnicodeTargetGivesAValidUtf8Delta) {
  // Copies could start or end inside a character where source and target share its
  // continuation bytes; the encoder moves them to boundaries.
  std::string source, target;
  for (int i = 0; i < 40; ++i) source += "弹幕评论 ";
  target = source;
  // 弹 (E5 BC B9) becomes 伹 (E4 BC B9): a copy extended back from the next match would
  // start at BC, inside the character.
  target.replace(26, 3, "伹");
  target += "新的";
  ASSERT_TRUE(ringcast::protocol::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(target.data()), target.size()));
  std::string d = delta(source, target);
  EXPECT_TRUE(ringcast::protocol::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(d.data()), d.size()));
  EXPECT_EQ(applied(source, d), target);
}

TEST(FossilDelta, MalformedDeltasAreRefused) {
  std::string source = "0123456789abcdef0123456789abcdef";
  std::string good = delta(source, source + "!");
  std::string out;
  ASSERT_TRUE(fossil::apply(source, good, out));
  for (std::string bad : {std::string(""), std::string("5"), std::string("5\n"), std::string("5\n5:hel"),
                          std::string("1\n1@99,0;"), std::string("3\n1:a"), std::string("1\n1:a0;"),
                          std::string("1\n1#a"), std::string("\n1:a"), std::string("1\n1:aA;x")}) {
    EXPECT_FALSE(fossil::apply(source, bad, out)) << bad;
  }
  std::string wrong_sum = good;
  wrong_sum[wrong_sum.size() - 2] = wrong_sum[wrong_sum.size() - 2] == '0' ? '1' : '0';
  EXPECT_FALSE(fossil::apply(source, wrong_sum, out));
  EXPECT_FALSE(fossil::apply(source, "zzzzzzzzzzz\n", out));     // past 60 bits
  EXPECT_FALSE(fossil::apply(source, "100\n", out, 64));         // over max_size
  EXPECT_FALSE(fossil::apply(source.substr(0, 10), good, out));  // copies past the source's end
}
