// The broker's keys and envelopes: what every node writes and reads through Redis.
#include "engine/broker/broker_wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::engine::broker {
namespace {

TEST(BrokerWire, KeysNameTheChannel) {
  std::string k;
  key_of(k, kDefaultPrefix, Key::pubsub, "ticker:BTC-USD");
  EXPECT_EQ(k, "ringcast.p.ticker:BTC-USD");
  key_of(k, "x", Key::stream, "");
  EXPECT_EQ(k, "x.s.");
}

TEST(BrokerWire, EnvelopesRoundTripAndOddOnesAreRefused) {
  std::string out;
  write_envelope(out, 42, "ab12cd34", R"({"data":{"p":1},"offset":42})");
  EXPECT_EQ(out, R"(42:ab12cd34:{"data":{"p":1},"offset":42})");
  Envelope e;
  ASSERT_TRUE(parse_envelope(out, e));
  EXPECT_EQ(e.offset, 42u);
  EXPECT_EQ(e.epoch, "ab12cd34");
  EXPECT_EQ(e.record, R"({"data":{"p":1},"offset":42})");
  write_envelope(out, 0, "", "a:b:c");  // no history: the record may hold colons
  ASSERT_TRUE(parse_envelope(out, e));
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.record, "a:b:c");
  for (std::string_view bad : {"", "12", "12:ep", ":ep:x", "x:ep:r", "+1:ep:r", "0:ep:r", "3::r",
                               "123456789012345678901:ep:r", "18446744073709551616:ep:r"}) {
    EXPECT_FALSE(parse_envelope(bad, e)) << bad;
  }
}

}  // namespace
}  // namespace ringcast::engine::broker
