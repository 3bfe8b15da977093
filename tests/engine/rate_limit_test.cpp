// engine/app/rate_limit: a bucket admits `rate` commands at once and one more every
// interval/rate after; a command counts in total and its own (or default's) buckets, and a
// refused one charges none of them.
#include "engine/app/rate_limit.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ringcast::engine {
namespace {

using M = protocol::client::Method;
constexpr std::int64_t kSecond = 1'000'000'000;

std::size_t idx(M m) { return static_cast<std::size_t>(m); }

TEST(RateLimits, ABucketIsItsRateAtOnceThenOnePerEmission) {
  RateLimits rl;
  rl.enabled = true;
  rl.own[idx(M::publish)] = {{.interval_ns = kSecond, .rate = 2}};
  rl.has_own[idx(M::publish)] = true;
  rl.plan();
  ASSERT_EQ(rl.cells(), 1u);
  std::vector<std::int64_t> tat(rl.cells(), 0);
  const std::int64_t t0 = 1000 * kSecond;  // a monotonic clock well past zero
  EXPECT_TRUE(rl.admit(M::publish, tat, t0));
  EXPECT_TRUE(rl.admit(M::publish, tat, t0));
  EXPECT_FALSE(rl.admit(M::publish, tat, t0));
  EXPECT_FALSE(rl.admit(M::publish, tat, t0 + kSecond / 2 - 1));
  EXPECT_TRUE(rl.admit(M::publish, tat, t0 + kSecond / 2));  // one back after interval/rate
  EXPECT_FALSE(rl.admit(M::publish, tat, t0 + kSecond / 2));
  EXPECT_TRUE(rl.admit(M::publish, tat, t0 + 10 * kSecond));  // a long pause refills to the burst, no more
  EXPECT_TRUE(rl.admit(M::publish, tat, t0 + 10 * kSecond));
  EXPECT_FALSE(rl.admit(M::publish, tat, t0 + 10 * kSecond));
  EXPECT_TRUE(rl.admit(M::subscribe, tat, t0)) << "no limit of its own, no default, no total";
}

TEST(RateLimits, TotalCountsEveryMethodAndARefusalChargesNothing) {
  RateLimits rl;
  rl.enabled = true;
  rl.total = {{.interval_ns = kSecond, .rate = 3}};
  rl.fallback = {{.interval_ns = kSecond, .rate = 1}};
  rl.plan();
  EXPECT_EQ(rl.cells(), 1u + 8u);  // total, and default's copy for each limitable method
  std::vector<std::int64_t> tat(rl.cells(), 0);
  const std::int64_t t = 5 * kSecond;
  EXPECT_TRUE(rl.admit(M::publish, tat, t));
  EXPECT_FALSE(rl.admit(M::publish, tat, t)) << "default: 1 per second per method";
  EXPECT_TRUE(rl.admit(M::history, tat, t)) << "its own copy of default; the refused publish took no total";
  EXPECT_TRUE(rl.admit(M::ping, tat, t)) << "total only";
  EXPECT_FALSE(rl.admit(M::unsubscribe, tat, t)) << "total spent: 3 per second";
  EXPECT_FALSE(rl.admit(M::subscribe, tat, t));
}

TEST(RateLimits, SeveralBucketsAllMustHaveRoom) {
  RateLimits rl;
  rl.enabled = true;
  rl.total = {{.interval_ns = kSecond, .rate = 2}, {.interval_ns = 60 * kSecond, .rate = 3}};
  rl.plan();
  std::vector<std::int64_t> tat(rl.cells(), 0);
  std::int64_t t = 100 * kSecond;
  EXPECT_TRUE(rl.admit(M::ping, tat, t));
  EXPECT_TRUE(rl.admit(M::ping, tat, t));
  EXPECT_FALSE(rl.admit(M::ping, tat, t));
  EXPECT_TRUE(rl.admit(M::ping, tat, t + kSecond));
  EXPECT_FALSE(rl.admit(M::ping, tat, t + 2 * kSecond)) << "the minute bucket: 3";
  EXPECT_TRUE(rl.admit(M::ping, tat, t + 20 * kSecond)) << "a third of a minute later, one more";
}

TEST(RateLimits, DisabledPlansNothing) {
  RateLimits rl;
  rl.total = {{.interval_ns = kSecond, .rate = 1}};
  rl.plan();
  EXPECT_EQ(rl.cells(), 0u);
  EXPECT_TRUE(RateLimits::limitable(M::publish));
  EXPECT_FALSE(RateLimits::limitable(M::connect));
  EXPECT_FALSE(RateLimits::limitable(M::ping));
}

}  // namespace
}  // namespace ringcast::engine
