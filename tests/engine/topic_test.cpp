// Topics: stable ids from the registry (across threads), O(1) subscriber removal that
// reports which subscriber moved, per-shard lists by id.
#include "engine/pubsub/topic.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

TEST(TopicRegistry, AcquireIsStableAndDistinct) {
  TopicRegistry r;
  std::uint32_t a = r.acquire("");
  std::uint32_t b = r.acquire("lobby");
  EXPECT_NE(a, b);
  EXPECT_EQ(r.acquire("lobby"), b);
  EXPECT_EQ(r.find(""), a);
  EXPECT_EQ(r.find("nope"), kNoTopic);
  EXPECT_EQ(r.size(), 2u);
}

TEST(TopicRegistry, LastReleaseForgetsTheNameAndIdsAreNotReused) {
  TopicRegistry r;
  std::uint32_t a = r.acquire("room");
  EXPECT_EQ(r.acquire("room"), a);
  r.release(a);
  EXPECT_EQ(r.find("room"), a);  // one subscriber left
  r.release(a);
  EXPECT_EQ(r.find("room"), kNoTopic);
  EXPECT_EQ(r.size(), 0u);
  std::uint32_t again = r.acquire("room");
  EXPECT_NE(again, a);  // a late delivery for the old id cannot reach the new room
  r.release(a);         // releasing a forgotten id is harmless
  EXPECT_EQ(r.find("room"), again);
}

TEST(TopicRegistry, ConcurrentAcquireAgreesOnIds) {
  TopicRegistry r;
  std::vector<std::vector<std::uint32_t>> seen(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        seen[static_cast<std::size_t>(t)].push_back(r.acquire("room" + std::to_string(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(seen[static_cast<std::size_t>(t)], seen[0]);
  EXPECT_EQ(std::set<std::uint32_t>(seen[0].begin(), seen[0].end()).size(), 200u);
}

TEST(SubscriberList, RemoveSwapsLastIntoTheHole) {
  SubscriberList list;
  std::vector<std::uint32_t> index(5);
  for (std::uint32_t i = 0; i < 5; ++i) index[i] = list.add({i, 0});
  const Subscriber* moved = list.remove(index[1]);
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(moved->slot, 4u);  // the last one took index 1
  index[4] = index[1];
  EXPECT_EQ(list.remove(index[4])->slot, 3u);
  index[3] = index[4];
  EXPECT_EQ(list.size(), 3u);
  std::set<std::uint32_t> slots;
  for (const Subscriber& s : list.all()) slots.insert(s.slot);
  EXPECT_EQ(slots, (std::set<std::uint32_t>{0, 2, 3}));
  EXPECT_EQ(list.remove(static_cast<std::uint32_t>(list.size() - 1)), nullptr);  // removing the last moves nobody
  EXPECT_EQ(list.remove(99), nullptr);
}

TEST(SubscriberList, DeltaListsKeepEachSubscribersFormBesideIt) {
  SubscriberList list;
  list.set_options({.conflate = false, .min_interval_ms = 0, .delta = true});
  std::uint32_t a = list.add({0, 0}, true), b = list.add({1, 0}, false), c = list.add({2, 0}, true);
  ASSERT_EQ(list.forms().size(), 3u);
  EXPECT_EQ(list.forms()[a], Form::full);  // a new delta subscriber holds no previous publication
  EXPECT_EQ(list.forms()[b], Form::raw);
  list.forms()[c] = Form::delta;
  EXPECT_EQ(list.remove(a)->slot, 2u);  // the last moved into the hole, its form with it
  EXPECT_EQ(list.forms()[a], Form::delta);
  EXPECT_EQ(list.forms().size(), 2u);
  SubscriberList plain;
  (void)plain.add({0, 0}, true);
  EXPECT_TRUE(plain.forms().empty());  // no delta topic: no forms kept
}

TEST(ShardTopics, ListsByIdCreatedOnDemandAndDroppedWhenEmpty) {
  ShardTopics topics;
  EXPECT_EQ(topics.find(3), nullptr);
  SubscriberList& l = topics.get_or_create(3);
  std::uint32_t i = l.add({1, 1});
  ASSERT_NE(topics.find(3), nullptr);
  EXPECT_EQ(topics.find(3)->size(), 1u);
  EXPECT_EQ(topics.find(0), nullptr);
  topics.drop_if_empty(3);
  EXPECT_NE(topics.find(3), nullptr);  // still has a subscriber
  (void)topics.find(3)->remove(i);
  topics.drop_if_empty(3);
  EXPECT_EQ(topics.find(3), nullptr);
  EXPECT_EQ(topics.size(), 0u);
}

}  // namespace
}  // namespace ringcast::engine
