// SPSC mailbox: FIFO, bounded (push fails when full, never overwrites), and a threaded
// producer/consumer run that checks order and completeness.
#include "engine/core/mailbox.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

TEST(Mailbox, FifoAndBounded) {
  Mailbox<int> box(4);
  EXPECT_EQ(box.capacity(), 4u);
  EXPECT_TRUE(box.empty());
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(box.try_push(i));
  EXPECT_FALSE(box.try_push(99));
  std::vector<int> got;
  EXPECT_EQ(box.pop_batch([&](int v) { got.push_back(v); }), 4u);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(box.try_push(4));  // space again after the drain
  got.clear();
  (void)box.pop_batch([&](int v) { got.push_back(v); });
  EXPECT_EQ(got, std::vector<int>{4});
}

TEST(Mailbox, CapacityRoundsUpToPowerOfTwo) {
  Mailbox<int> box(5);
  EXPECT_EQ(box.capacity(), 8u);
}

TEST(Mailbox, ThreadedProducerConsumerKeepsOrder) {
  constexpr int kItems = 200000;
  Mailbox<int> box(64);
  std::thread producer([&] {
    for (int i = 0; i < kItems;) {
      if (box.try_push(i)) {
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
  });
  int expected = 0;
  bool in_order = true;
  while (expected < kItems) {
    std::size_t n = box.pop_batch([&](int v) {
      in_order = in_order && v == expected;
      ++expected;
    });
    if (n == 0) std::this_thread::yield();
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, kItems);
  EXPECT_TRUE(box.empty());
}

}  // namespace
}  // namespace ringcast::engine
