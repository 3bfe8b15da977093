#include "engine/pubsub/subscriptions.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace ringcast::engine {
namespace {

struct Fixture {
  ConnTable conns{64};
  ShardTopics lists;
  Subscriptions subs{conns, lists};
  std::vector<std::uint32_t> slots;

  explicit Fixture(int n) {
    for (int i = 0; i < n; ++i) slots.push_back(*conns.take());
  }
  // Who the topic's subscriber list names, as a set of slots.
  std::set<std::uint32_t> members(std::uint32_t topic) {
    std::set<std::uint32_t> out;
    if (SubscriberList* l = lists.find(topic)) {
      for (const Subscriber& s : l->all()) EXPECT_TRUE(out.insert(s.slot).second) << "listed twice";
    }
    return out;
  }
};

TEST(Subscriptions, OneConnectionHoldsMany) {
  Fixture f(2);
  std::uint32_t a = f.slots[0], b = f.slots[1];
  for (std::uint32_t t = 0; t < 10; ++t) EXPECT_TRUE(f.subs.add(a, t));
  EXPECT_FALSE(f.subs.add(a, 3));  // already
  EXPECT_TRUE(f.subs.add(b, 3));
  EXPECT_EQ(f.subs.count(a), 10u);
  EXPECT_EQ(f.subs.first(a), 0u);
  EXPECT_EQ(f.members(3), (std::set<std::uint32_t>{a, b}));
  EXPECT_TRUE(f.subs.remove(a, 3));
  EXPECT_FALSE(f.subs.remove(a, 3));
  EXPECT_FALSE(f.subs.contains(a, 3));
  EXPECT_EQ(f.members(3), (std::set<std::uint32_t>{b}));
  EXPECT_EQ(f.subs.count(a), 9u);
  EXPECT_TRUE(f.subs.remove(a, 0));  // the inline one: refilled from the side table
  EXPECT_NE(f.subs.first(a), kNoTopic);
  EXPECT_EQ(f.subs.count(a), 8u);
}

TEST(Subscriptions, UnjoinedCountsAsSubscribedButIsNotListedUntilAttached) {
  Fixture f(2);
  std::uint32_t a = f.slots[0], b = f.slots[1];
  ASSERT_TRUE(f.subs.add(b, 7));
  ASSERT_TRUE(f.subs.add(a, 1));
  std::optional<std::uint32_t> t = f.subs.add_unjoined(a, 7);
  ASSERT_TRUE(t);
  EXPECT_FALSE(f.subs.add_unjoined(a, 7));  // already
  EXPECT_FALSE(f.subs.add(a, 7));
  EXPECT_TRUE(f.subs.contains(a, 7));
  EXPECT_EQ(f.subs.count(a), 2u);
  EXPECT_EQ(f.members(7), (std::set<std::uint32_t>{b}));
  EXPECT_FALSE(f.subs.attach(a, 7, *t + 1, SlowPolicy::close));  // another ticket
  EXPECT_TRUE(f.subs.attach(a, 7, *t, SlowPolicy::close));
  EXPECT_FALSE(f.subs.attach(a, 7, *t, SlowPolicy::close));  // joined once
  EXPECT_EQ(f.members(7), (std::set<std::uint32_t>{a, b}));
  EXPECT_FALSE(f.subs.attach(a, 9, *t, SlowPolicy::close));  // never recorded
}

TEST(Subscriptions, RemovingAnUnjoinedOneLeavesTheListAlone) {
  Fixture f(2);
  std::uint32_t a = f.slots[0], b = f.slots[1];
  ASSERT_TRUE(f.subs.add(b, 4));
  std::optional<std::uint32_t> first = f.subs.add_unjoined(a, 4);
  ASSERT_TRUE(first);
  EXPECT_TRUE(f.subs.remove(a, 4));
  EXPECT_EQ(f.members(4), (std::set<std::uint32_t>{b}));
  EXPECT_FALSE(f.subs.attach(a, 4, *first, SlowPolicy::close));  // unsubscribed before it joined
  std::optional<std::uint32_t> again = f.subs.add_unjoined(a, 4);  // and subscribed again
  ASSERT_TRUE(again);
  EXPECT_FALSE(f.subs.attach(a, 4, *first, SlowPolicy::close));  // the stale join is not this one's
  EXPECT_TRUE(f.subs.attach(a, 4, *again, SlowPolicy::close));
  std::optional<std::uint32_t> t5 = f.subs.add_unjoined(a, 5);  // the first on a new list sets its policy
  ASSERT_TRUE(t5);
  ASSERT_TRUE(f.subs.attach(a, 5, *t5, SlowPolicy::insufficient_state));
  EXPECT_EQ(f.lists.find(5)->policy, SlowPolicy::insufficient_state);
  f.subs.clear(a, [](std::uint32_t) {});
  EXPECT_EQ(f.lists.find(5), nullptr);
  ASSERT_TRUE(f.subs.add(b, 6, SlowPolicy::drop));  // a plain subscriber made the list
  std::optional<std::uint32_t> t6 = f.subs.add_unjoined(a, 6);
  ASSERT_TRUE(t6);
  ASSERT_TRUE(f.subs.attach(a, 6, *t6, SlowPolicy::insufficient_state));
  EXPECT_EQ(f.lists.find(6)->policy, SlowPolicy::insufficient_state);  // never skipped
}

TEST(Subscriptions, ClearDropsEveryListEntryAndReportsEachTopic) {
  Fixture f(3);
  for (std::uint32_t s : f.slots) {
    for (std::uint32_t t = 0; t < 5; ++t) ASSERT_TRUE(f.subs.add(s, t));
  }
  std::vector<std::uint32_t> seen;
  f.subs.clear(f.slots[1], [&](std::uint32_t t) { seen.push_back(t); });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(f.subs.count(f.slots[1]), 0u);
  for (std::uint32_t t = 0; t < 5; ++t) EXPECT_EQ(f.members(t), (std::set<std::uint32_t>{f.slots[0], f.slots[2]}));
  for (std::uint32_t s : {f.slots[0], f.slots[2]}) f.subs.clear(s, [](std::uint32_t) {});
  EXPECT_EQ(f.lists.size(), 0u);  // empty lists are dropped
}

// Random subscribes and unsubscribes against a model: the lists always name exactly the
// subscribed connections (removal moves entries, whose recorded indexes must follow).
TEST(Subscriptions, MatchesAModelUnderRandomChurn) {
  Fixture f(16);
  std::set<std::pair<std::uint32_t, std::uint32_t>> model;  // {slot, topic}
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    std::uint32_t slot = f.slots[rng() % f.slots.size()];
    std::uint32_t topic = rng() % 12;
    bool in = model.count({slot, topic}) != 0;
    if (rng() % 2 == 0) {
      EXPECT_EQ(f.subs.add(slot, topic), !in);
      model.insert({slot, topic});
    } else {
      EXPECT_EQ(f.subs.remove(slot, topic), in);
      model.erase({slot, topic});
    }
    if (step % 97 == 0) {
      for (std::uint32_t t = 0; t < 12; ++t) {
        std::set<std::uint32_t> want;
        for (auto [s, tt] : model) {
          if (tt == t) want.insert(s);
        }
        ASSERT_EQ(f.members(t), want) << "topic " << t << " at step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace ringcast::engine
