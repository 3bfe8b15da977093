// Timer wheel: expiry at the right tick, cancel, reschedule (also from inside the
// callback), deadlines beyond one revolution, and skipping idle time cheaply.
#include "engine/core/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ringcast::engine {
namespace {

std::vector<std::uint32_t> advance(TimerWheel& w, std::uint64_t now) {
  std::vector<std::uint32_t> fired;
  w.advance(now, [&](std::uint32_t id) { fired.push_back(id); });
  return fired;
}

TEST(TimerWheel, FiresAtItsTickNotBefore) {
  TimerWheel w(16, 100);
  TimerNode a{}, b{};
  a.id = 1;
  b.id = 2;
  w.schedule(a, 105);
  w.schedule(b, 103);
  EXPECT_TRUE(advance(w, 102).empty());
  EXPECT_EQ(advance(w, 103), std::vector<std::uint32_t>{2});
  EXPECT_TRUE(advance(w, 104).empty());
  EXPECT_EQ(advance(w, 110), std::vector<std::uint32_t>{1});
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(a.armed());
}

TEST(TimerWheel, CancelAndRescheduleMoveTheDeadline) {
  TimerWheel w(16, 0);
  TimerNode a{}, b{};
  a.id = 1;
  b.id = 2;
  w.schedule(a, 5);
  w.schedule(b, 5);
  w.cancel(a);
  w.schedule(b, 8);  // moved later
  EXPECT_TRUE(advance(w, 7).empty());
  EXPECT_EQ(advance(w, 8), std::vector<std::uint32_t>{2});
  w.cancel(a);  // cancelling an unarmed node is harmless
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, DeadlinesBeyondOneRevolutionWaitTheirTurn) {
  TimerWheel w(8, 0);
  TimerNode a{};
  a.id = 7;
  w.schedule(a, 20);  // bucket 4, passed at ticks 4 and 12 first
  EXPECT_TRUE(advance(w, 19).empty());
  EXPECT_EQ(advance(w, 20), std::vector<std::uint32_t>{7});
}

TEST(TimerWheel, PastDeadlineFiresOnNextTick) {
  TimerWheel w(8, 50);
  TimerNode a{};
  a.id = 3;
  w.schedule(a, 10);
  EXPECT_EQ(advance(w, 51), std::vector<std::uint32_t>{3});
}

TEST(TimerWheel, CallbackMayRescheduleAndCancelOthers) {
  TimerWheel w(8, 0);
  std::vector<TimerNode> nodes(4);
  for (std::uint32_t i = 0; i < 4; ++i) {
    nodes[i].id = i;
    w.schedule(nodes[i], 3);
  }
  std::vector<std::uint32_t> fired;
  w.advance(3, [&](std::uint32_t id) {
    fired.push_back(id);
    if (id == 0) {
      w.cancel(nodes[1]);           // a sibling in the same bucket
      w.schedule(nodes[0], 3 + 8);  // itself, a full revolution later (same bucket)
    }
  });
  EXPECT_EQ(fired, (std::vector<std::uint32_t>{0, 2, 3}));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(advance(w, 11), std::vector<std::uint32_t>{0});
}

TEST(TimerWheel, ManyTimersAllFireExactlyOnce) {
  TimerWheel w(64, 0);
  std::vector<TimerNode> nodes(1000);
  for (std::uint32_t i = 0; i < nodes.size(); ++i) {
    nodes[i].id = i;
    w.schedule(nodes[i], 1 + (i * 7919) % 500);
  }
  std::vector<int> count(nodes.size(), 0);
  std::uint64_t last_deadline_ok = 0;
  for (std::uint64_t t = 1; t <= 500; ++t) {
    w.advance(t, [&](std::uint32_t id) {
      ++count[id];
      if (nodes[id].deadline != t) ++last_deadline_ok;  // fired at the wrong tick
    });
  }
  EXPECT_EQ(last_deadline_ok, 0u);
  for (int c : count) EXPECT_EQ(c, 1);
}

}  // namespace
}  // namespace ringcast::engine
