// --broker's addresses (what parses, the one-line errors) and the channel -> address hash:
// the same on every node, balanced, and moving only what a new address takes.
#include "engine/broker/redis_address.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::engine {
namespace {

TEST(RedisAddress, Forms) {
  RedisAddress a;
  ASSERT_EQ(parse_redis_address("redis://127.0.0.1", a), "");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.db, 0u);
  ASSERT_EQ(parse_redis_address("redis://localhost:6380/3", a), "");
  EXPECT_EQ(a.host, "localhost");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 3u);
  EXPECT_EQ(a.url, "redis://localhost:6380/3");
  ASSERT_EQ(parse_redis_address("redis://[::1]:7000", a), "");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 7000);
  ASSERT_EQ(parse_redis_address("redis://[::1]/1", a), "");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.db, 1u);
}

TEST(RedisAddress, OneLineErrors) {
  RedisAddress a;
  EXPECT_EQ(parse_redis_address("127.0.0.1:6379", a), "'127.0.0.1:6379': expected redis://HOST[:PORT][/DB]");
  EXPECT_EQ(parse_redis_address("redis://:6379", a), "'redis://:6379': missing or invalid host");
  EXPECT_EQ(parse_redis_address("redis://h:0", a), "'redis://h:0': the port is a number 1..65535");
  EXPECT_EQ(parse_redis_address("redis://h:", a), "'redis://h:': the port is a number 1..65535");
  EXPECT_EQ(parse_redis_address("redis://h:65536", a), "'redis://h:65536': the port is a number 1..65535");
  EXPECT_EQ(parse_redis_address("redis://h/16", a), "'redis://h/16': the database is a number 0..15");
  EXPECT_EQ(parse_redis_address("redis://h/", a), "'redis://h/': the database is a number 0..15");
  EXPECT_EQ(parse_redis_address("redis://u:p@h", a), "'redis://u:p@h': user and password are not supported");
  EXPECT_EQ(parse_redis_address("redis://[::1", a), "'redis://[::1': an IPv6 host needs its closing ']'");
  EXPECT_EQ(parse_redis_address("redis://[zz]", a), "'redis://[zz]': not an IPv6 address");
  EXPECT_EQ(parse_redis_address("redis://[1:2:3]", a), "'redis://[1:2:3]': not an IPv6 address") << "hex digits alone are not one";
  EXPECT_EQ(parse_redis_address("redis://h h", a), "'redis://h h': missing or invalid host");
}

TEST(RedisAddress, Lists) {
  std::vector<RedisAddress> v;
  ASSERT_EQ(parse_broker_list("redis://127.0.0.1:6379,redis://127.0.0.1:6380", v), "");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].port, 6380);
  EXPECT_EQ(parse_broker_list("redis://a,redis://a:6379", v), "'redis://a:6379' is listed twice");
  EXPECT_EQ(parse_broker_list("redis://a,", v), "'': expected redis://HOST[:PORT][/DB]");
  EXPECT_EQ(parse_broker_list("redis://a/1,redis://a/2", v), "");
}

TEST(BrokerShard, StableBalancedAndConsistent) {
  EXPECT_EQ(broker_shard("ticker:BTC-USD", 1), 0u);
  EXPECT_EQ(broker_shard("ticker:BTC-USD", 4), broker_shard("ticker:BTC-USD", 4));
  constexpr std::uint32_t kNames = 20000;
  std::vector<std::uint32_t> on4(kNames), count(4, 0);
  for (std::uint32_t i = 0; i < kNames; ++i) {
    on4[i] = broker_shard("room:" + std::to_string(i), 4);
    ASSERT_LT(on4[i], 4u);
    ++count[on4[i]];
  }
  for (std::uint32_t c : count) EXPECT_NEAR(c, kNames / 4, kNames / 40) << "within 10 % of a quarter";
  // A fifth address takes about a fifth of the channels, each from wherever it was; the
  // rest stay where they were.
  std::uint32_t moved = 0;
  for (std::uint32_t i = 0; i < kNames; ++i) {
    const std::uint32_t s = broker_shard("room:" + std::to_string(i), 5);
    if (s != on4[i]) {
      EXPECT_EQ(s, 4u) << "only to the new address";
      ++moved;
    }
  }
  EXPECT_NEAR(moved, kNames / 5, kNames / 50);
}

}  // namespace
}  // namespace ringcast::engine
