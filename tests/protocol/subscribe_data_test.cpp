// What ringcast reads from a subscribe's data: the max_frequency a subscription asks for,
// nothing from data of another shape, and a refusal only for a max_frequency that is not
// a string.
#include "protocol/subscribe_data.hpp"

#include <gtest/gtest.h>

namespace ringcast::protocol::client {
namespace {

TEST(SubscribeData, MaxFrequency) {
  SubscribeData d;
  ASSERT_TRUE(read_subscribe_data(R"({"room":"x","max_frequency":"500ms"})", d));
  EXPECT_EQ(d.max_frequency, "500ms");
  ASSERT_TRUE(read_subscribe_data(R"({"max_frequency":"1\u0073"})", d));
  EXPECT_EQ(d.max_frequency, "1s") << "unescaped";
}

TEST(SubscribeData, OtherDataAsksNothing) {
  for (const char* data : {"", "7", "\"500ms\"", "[1,2]", "null", R"({"other":{"max_frequency":"1s"}})", "{}"}) {
    SubscribeData d;
    d.max_frequency = "stale";
    EXPECT_TRUE(read_subscribe_data(data, d)) << data;
    EXPECT_TRUE(d.max_frequency.empty()) << data;
  }
}

TEST(SubscribeData, AMaxFrequencyThatIsNotAStringIsRefused) {
  SubscribeData d;
  EXPECT_FALSE(read_subscribe_data(R"({"max_frequency":500})", d));
  EXPECT_FALSE(read_subscribe_data(R"({"max_frequency":null})", d));
}

}  // namespace
}  // namespace ringcast::protocol::client
