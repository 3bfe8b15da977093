// ringcast-feed's market (bench/feed/market.hpp): books stay sorted with a spread around
// the last trade, steps change little of a book's JSON, the same seed gives the same
// market, and what it writes is JSON the protocol's parser takes.
#include "bench/feed/market.hpp"

#include <gtest/gtest.h>

#include <string>

#include "protocol/client_command.hpp"

namespace ringcast::feed {
namespace {

bool is_json(const std::string& value) {
  struct Keep final : protocol::client::CommandSink {
    bool on_command(const protocol::client::Command&) override { return true; }
  } keep;
  protocol::client::CommandParser parser;
  return parser.parse("{\"publish\":{\"channel\":\"c\",\"data\":" + value + "}}", keep).error ==
         protocol::client::ParseError::none;
}

TEST(Market, BooksStaySortedAroundTheLastTrade) {
  Market m(20, 10, 3);
  EXPECT_EQ(m.at(0).symbol, "BTC-USD");
  EXPECT_EQ(m.at(19).symbol, "SYM19");
  for (int step = 0; step < 2000; ++step) {
    std::size_t i = static_cast<std::size_t>(step) % m.size();
    m.step(i);
    const Instrument& in = m.at(i);
    ASSERT_EQ(in.bids.size(), 10u);
    ASSERT_EQ(in.asks.size(), 10u);
    ASSERT_LT(in.bids.front().price, in.asks.front().price);
    ASSERT_LE(in.bids.front().price, in.last + 1);
    for (std::size_t k = 1; k < 10; ++k) {
      ASSERT_GT(in.bids[k - 1].price, in.bids[k].price);
      ASSERT_LT(in.asks[k - 1].price, in.asks[k].price);
    }
  }
}

TEST(Market, WritesJsonAndTheSameSeedGivesTheSameMarket) {
  Market a(3, 5, 11), b(3, 5, 11);
  for (int i = 0; i < 50; ++i) {
    a.step(1);
    b.step(1);
  }
  std::string ta, tb, ba, bb;
  a.append_ticker(ta, 1, 1700000000000);
  b.append_ticker(tb, 1, 1700000000000);
  a.append_book(ba, 1);
  b.append_book(bb, 1);
  EXPECT_EQ(ta, tb);
  EXPECT_EQ(ba, bb);
  EXPECT_TRUE(is_json(ta)) << ta;
  EXPECT_TRUE(is_json(ba)) << ba;
  EXPECT_NE(ta.find("\"s\":\"ETH-USD\""), std::string::npos);
  EXPECT_NE(ta.find("\"n\":50"), std::string::npos);
}

}  // namespace
}  // namespace ringcast::feed
