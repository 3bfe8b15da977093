// Topics: stable ids from the registry (across threads), O(1) subscriber removal that
// reports which subscriber moved, per-shard lists by id.
#include "engine/pubsub/topic.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
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

// The moves a removal reports: (slot, new index) each.
using Moves = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
Moves remove_at(SubscriberList& list, std::uint32_t index) {
  Moves moves;
  list.remove(index, [&](const Subscriber& s, std::uint32_t to) { moves.emplace_back(s.slot, to); });
  return moves;
}

TEST(SubscriberList, RemoveSwapsLastIntoTheHole) {
  SubscriberList list;
  std::vector<std::uint32_t> index(5);
  for (std::uint32_t i = 0; i < 5; ++i) index[i] = list.add({i, 0});
  EXPECT_EQ(remove_at(list, index[1]), (Moves{{4, index[1]}}));  // the last one took index 1
  index[4] = index[1];
  EXPECT_EQ(remove_at(list, index[4]), (Moves{{3, index[4]}}));
  index[3] = index[4];
  EXPECT_EQ(list.size(), 3u);
  std::set<std::uint32_t> slots;
  for (const Subscriber& s : list.all()) slots.insert(s.slot);
  EXPECT_EQ(slots, (std::set<std::uint32_t>{0, 2, 3}));
  EXPECT_TRUE(remove_at(list, static_cast<std::uint32_t>(list.size() - 1)).empty());  // removing the last moves nobody
  EXPECT_TRUE(remove_at(list, 99).empty());
  EXPECT_EQ(list.size(), 2u);
}

TEST(SubscriberList, DeltaListsKeepEachSubscribersFormBesideIt) {
  SubscriberList list;
  list.set_options({.conflate = false, .min_interval_ms = 0, .delta = true});
  std::uint32_t a = list.add({0, 0}, true), b = list.add({1, 0}, false), c = list.add({2, 0}, true);
  ASSERT_EQ(list.forms().size(), 3u);
  EXPECT_EQ(list.forms()[a], Form::full);  // a new delta subscriber holds no previous publication
  EXPECT_EQ(list.forms()[b], Form::raw);
  list.forms()[c] = Form::delta;
  EXPECT_EQ(remove_at(list, a), (Moves{{2, a}}));  // the last moved into the hole, its form with it
  EXPECT_EQ(list.forms()[a], Form::delta);
  EXPECT_EQ(list.forms().size(), 2u);
  SubscriberList plain;
  (void)plain.add({0, 0}, true);
  EXPECT_TRUE(plain.forms().empty());  // no delta topic: no forms kept
}

TEST(SubscriberList, RateClassesKeepOneRunEachThroughAddsAndRemoves) {
  // A conflating max-frequency list: subscribers come and go in random classes; every move
  // is reported (so the caller's stored indices stay true), each class's run holds exactly
  // its subscribers, and a subscriber's queued entry travels with it.
  SubscriberList list;
  list.set_options({.conflate = true, .min_interval_ms = 100, .delta = false});
  std::mt19937 rng(7);
  std::map<std::uint32_t, std::uint32_t> at, cls;  // slot -> index, slot -> class
  auto moved = [&](const Subscriber& s, std::uint32_t to) { at[s.slot] = to; };
  std::uint32_t next = 0;
  for (int step = 0; step < 2000; ++step) {
    if (at.empty() || rng() % 3 != 0) {
      const std::uint32_t slot = next++;
      const auto k = static_cast<std::uint8_t>(rng() % 3 == 0 ? rng() % kRateClasses : rng() % 2);
      at[slot] = list.add({slot, 0}, false, k, moved);
      cls[slot] = k;
      list.queued()[at[slot]].messages = slot;  // a marker that must follow the subscriber
    } else {
      auto it = std::next(at.begin(), static_cast<long>(rng() % at.size()));
      const std::uint32_t slot = it->first, index = it->second;
      at.erase(it);
      cls.erase(slot);
      list.remove(index, moved);
    }
    ASSERT_EQ(list.size(), at.size());
    for (const auto& [slot, index] : at) {
      ASSERT_EQ(list.all()[index].slot, slot) << "step " << step;
      ASSERT_EQ(list.queued()[index].messages, slot);
      const SubscriberList::Run r = list.rate_class_run(cls[slot]);
      ASSERT_TRUE(index >= r.first && index < r.end) << "slot " << slot << " outside its class's run";
    }
  }
  EXPECT_EQ(list.rate_class_run(kRateClasses - 1).end, list.size());
}

TEST(RateClass, TheSmallestStepAtLeastWhatWasAsked) {
  EXPECT_EQ(rate_class(100, 0), 0);
  EXPECT_EQ(rate_class(100, 50), 0);   // faster than the namespace allows: its own rate
  EXPECT_EQ(rate_class(100, 100), 0);
  EXPECT_EQ(rate_class(100, 101), 1);  // 200 ms
  EXPECT_EQ(rate_class(100, 500), 2);  // 500 ms
  EXPECT_EQ(rate_class(100, 1000), 3);
  EXPECT_EQ(rate_class(100, 3600000), kRateClasses - 1);  // 20 s: the slowest there is
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
  (void)remove_at(*topics.find(3), i);
  topics.drop_if_empty(3);
  EXPECT_EQ(topics.find(3), nullptr);
  EXPECT_EQ(topics.size(), 0u);
}

}  // namespace
}  // namespace ringcast::engine
