#include "engine/app/history_query.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::engine {
namespace {

using namespace std::chrono_literals;

// Offsets 1..7, of which the stream keeps the newest five (3..7).
struct Fixture {
  History h;
  History::Handle st = h.open("c", {.size = 5, .ttl = 10s, .meta_ttl = 60s}, 0, true);
  Fixture() {
    for (int i = 0; i < 7; ++i) st->append(0, [](std::uint64_t o, std::string& out) { out = std::to_string(o); });
  }
  std::vector<std::string> select(HistoryQuery q, std::size_t cap = 300, bool ok = true) {
    std::vector<std::string_view> got;
    EXPECT_EQ(select_history(*st.stream, q, cap, got), ok);
    return {got.begin(), got.end()};
  }
  HistoryQuery since(std::uint64_t offset, std::int64_t limit, bool reverse = false) {
    return {.limit = limit, .has_since = true, .reverse = reverse, .since_offset = offset, .since_epoch = st->epoch()};
  }
};

using V = std::vector<std::string>;

HistoryQuery all(std::int64_t limit, bool reverse = false) {
  return {.limit = limit, .has_since = false, .reverse = reverse, .since_offset = 0, .since_epoch = {}};
}

TEST(HistoryQuery, LimitAndDirection) {
  Fixture f;
  EXPECT_EQ(f.select(all(0)), V{});
  EXPECT_EQ(f.select(all(-1)), (V{"3", "4", "5", "6", "7"}));
  EXPECT_EQ(f.select(all(2)), (V{"3", "4"}));
  EXPECT_EQ(f.select(all(2, true)), (V{"7", "6"}));
  EXPECT_EQ(f.select(all(-1), 3), (V{"3", "4", "5"}));  // the cap
  EXPECT_EQ(f.select(all(100, true), 2), (V{"7", "6"}));
}

TEST(HistoryQuery, Since) {
  Fixture f;
  EXPECT_EQ(f.select(f.since(5, -1)), (V{"6", "7"}));
  EXPECT_EQ(f.select(f.since(1, 2)), (V{"3", "4"}));  // from what is still kept
  EXPECT_EQ(f.select(f.since(7, -1)), V{});
  EXPECT_EQ(f.select(f.since(UINT64_MAX, -1)), V{});
  EXPECT_EQ(f.select(f.since(5, -1, true)), (V{"4", "3"}));
  EXPECT_EQ(f.select(f.since(100, 1, true)), (V{"7"}));
  EXPECT_EQ(f.select(f.since(3, -1, true)), V{});
  EXPECT_EQ(f.select(f.since(0, -1, true)), V{});
  HistoryQuery other = f.since(5, -1);
  other.since_epoch = "another";
  EXPECT_EQ(f.select(other, 300, false), V{});
}

TEST(HistoryQuery, AnEmptyStream) {
  History h;
  History::Handle st = h.open("e", {.size = 5, .ttl = 10s, .meta_ttl = 60s}, 0, true);
  std::vector<std::string_view> got{"stale"};
  EXPECT_TRUE(select_history(*st.stream, {.limit = -1, .has_since = true, .reverse = true, .since_offset = 0,
                                          .since_epoch = st->epoch()}, 300, got));
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace ringcast::engine
