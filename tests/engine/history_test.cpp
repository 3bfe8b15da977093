#include "engine/pubsub/history.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

using namespace std::chrono_literals;

const StreamLimits kLimits{.size = 3, .ttl = 10s, .meta_ttl = 60s};

std::uint64_t append(Stream& s, std::int64_t now, const std::string& text) {
  return s.append(now, [&](std::uint64_t offset, std::string& out) { out = text + "@" + std::to_string(offset); });
}

// "prefix<n>" (built by appending: GCC 12's -O3 -Wrestrict misfires on "lit" + std::string).
std::string name(const char* prefix, int n) {
  std::string out = prefix;
  out += std::to_string(n);
  return out;
}

std::vector<std::string> records(const Stream& s) {
  std::vector<std::string> out;
  for (std::uint64_t o = s.first(); o <= s.top(); ++o) out.emplace_back(s.at(o));
  return out;
}

TEST(History, NumbersFromOneAndKeepsTheNewestUpToItsSize) {
  History h;
  History::Handle s = h.open("a", kLimits, 0, true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->top(), 0u);
  EXPECT_EQ(s->first(), 1u);
  EXPECT_EQ(s->epoch().size(), Stream::kEpochLength);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(append(*s.stream, 0, "p"), static_cast<std::uint64_t>(i));
  EXPECT_EQ(s->size(), 3u);
  EXPECT_EQ(s->first(), 3u);
  EXPECT_EQ(records(*s.stream), (std::vector<std::string>{"p@3", "p@4", "p@5"}));
}

TEST(History, FindsWithoutCreatingAndKeepsTheEpoch) {
  History h;
  EXPECT_FALSE(h.open("a", kLimits, 0, false));
  std::string epoch;
  {
    History::Handle s = h.open("a", kLimits, 0, true);
    epoch = std::string(s->epoch());
    append(*s.stream, 0, "x");
  }
  History::Handle again = h.open("a", kLimits, 1000, false);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->epoch(), epoch);
  EXPECT_EQ(again->top(), 1u);
  again = {};  // streams() takes every bucket's lock
  EXPECT_EQ(h.streams(), 1u);
}

TEST(History, TtlDropsTheRecordsButNotTheOffset) {
  History h;
  {
    History::Handle s = h.open("a", kLimits, 0, true);
    append(*s.stream, 0, "x");
    append(*s.stream, 5'000, "y");  // the TTL counts from the last append
  }
  History::Handle s = h.open("a", kLimits, 14'999, false);
  EXPECT_EQ(s->size(), 2u);
  s = {};
  s = h.open("a", kLimits, 15'000, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 0u);
  EXPECT_EQ(s->top(), 2u);
  EXPECT_EQ(s->first(), 3u);
  EXPECT_EQ(append(*s.stream, 15'000, "z"), 3u);
}

TEST(History, AStreamUnusedPastItsMetaTtlComesBackWithANewEpoch) {
  History h;
  std::string epoch;
  {
    History::Handle s = h.open("a", kLimits, 0, true);
    epoch = std::string(s->epoch());
    append(*s.stream, 0, "x");
  }
  EXPECT_FALSE(h.open("a", kLimits, 60'000, false));
  History::Handle s = h.open("a", kLimits, 60'000, true);
  EXPECT_NE(s->epoch(), epoch);
  EXPECT_EQ(s->top(), 0u);
}

TEST(History, ASweepForgetsWhatOutlivedItsMetaTtl) {
  History h;
  for (int i = 0; i < 200; ++i) (void)h.open(name("old", i), kLimits, 0, true);
  EXPECT_EQ(h.streams(), 200u);
  // New streams in every bucket, past the old ones' meta TTL: each bucket sweeps once.
  for (int i = 0; i < 400; ++i) (void)h.open(name("new", i), kLimits, 61'000, true);
  EXPECT_EQ(h.streams(), 400u);
}

TEST(History, AStreamNothingWasPublishedToGoesAfterItsTtl) {
  History h;
  (void)h.open("empty", kLimits, 0, true);
  EXPECT_TRUE(h.open("empty", kLimits, 9'999, false));  // each use keeps it another TTL
  EXPECT_FALSE(h.open("empty", kLimits, 20'000, false));
}

TEST(History, SweepingBucketInTurnFreesWhatNobodyTouches) {
  History h;
  for (int i = 0; i < 50; ++i) {
    History::Handle s = h.open(name("s", i), kLimits, 0, true);
    append(*s.stream, 0, "x");
  }
  for (int i = 0; i < 64; ++i) h.sweep_next(61'000);  // one round over every bucket
  EXPECT_EQ(h.streams(), 0u);
}

TEST(History, ClearKeepsOffsetAndEpoch) {
  History h;
  History::Handle s = h.open("a", kLimits, 0, true);
  append(*s.stream, 0, "x");
  append(*s.stream, 0, "y");
  s->clear();
  EXPECT_EQ(s->size(), 0u);
  EXPECT_EQ(s->top(), 2u);
  EXPECT_EQ(append(*s.stream, 0, "z"), 3u);
  EXPECT_EQ(records(*s.stream), (std::vector<std::string>{"z@3"}));
}

TEST(History, EpochsDiffer) {
  History h;
  std::set<std::string> epochs;
  for (int i = 0; i < 100; ++i) epochs.emplace(h.open(name("c", i), kLimits, 0, true)->epoch());
  EXPECT_EQ(epochs.size(), 100u);
}

TEST(History, ThreadsAppendingToOneStreamGetEveryOffsetOnce) {
  History h;
  const StreamLimits big{.size = 100'000, .ttl = 10s, .meta_ttl = 60s};
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        History::Handle s = h.open("shared", big, 0, true);
        got[t].push_back(append(*s.stream, 0, std::to_string(t)));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::uint64_t> all;
  for (const auto& v : got) {
    for (std::size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // in order per thread
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(kThreads * kEach));
}

}  // namespace
}  // namespace ringcast::engine
