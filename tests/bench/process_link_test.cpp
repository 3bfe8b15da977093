// The pipe protocol between a --processes child and its parent, and the tallies it carries:
// framing, tags, a dead peer, and merging what processes counted.
#include "bench/load/process_link.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "bench/load/report.hpp"

namespace ringcast::load {
namespace {

TEST(Link, MessagesArriveWholeAndInOrder) {
  Link a, b;
  ASSERT_TRUE(Link::pair(a, b));
  const std::vector<std::uint8_t> big(200'000, 0x5a);  // larger than a pipe's buffer: a reader must drain it
  std::thread writer([&] {
    EXPECT_TRUE(a.send('C'));
    EXPECT_TRUE(a.send('P', big));
    EXPECT_TRUE(a.send_value('T', std::uint64_t{0x0102030405060708}));
  });
  std::vector<std::uint8_t> body{1, 2, 3};
  EXPECT_TRUE(b.recv('C', body));
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(b.recv('P', body));
  EXPECT_EQ(body, big);
  std::uint64_t v = 0;
  EXPECT_TRUE(b.recv_value('T', v));
  EXPECT_EQ(v, 0x0102030405060708u);
  writer.join();
  // And the other way.
  EXPECT_TRUE(b.send('G'));
  EXPECT_TRUE(a.recv('G', body));
}

TEST(Link, WrongTagOrSizeIsAnError) {
  Link a, b;
  ASSERT_TRUE(Link::pair(a, b));
  std::vector<std::uint8_t> body;
  ASSERT_TRUE(a.send('D'));
  EXPECT_FALSE(b.recv('Q', body));
  ASSERT_TRUE(a.send_value('T', std::uint32_t{7}));
  std::uint64_t wide = 0;
  EXPECT_FALSE(b.recv_value('T', wide));
}

TEST(Link, ADeadPeerIsAnErrorNotAHang) {
  (void)::signal(SIGPIPE, SIG_IGN);  // as ringcast-load does before forking
  Link a, b;
  ASSERT_TRUE(Link::pair(a, b));
  b.close();
  std::vector<std::uint8_t> body;
  EXPECT_FALSE(a.recv('C', body));
  EXPECT_FALSE(a.send('S'));
  Link closed;
  EXPECT_FALSE(closed.send('S'));
  EXPECT_FALSE(closed.recv('S', body));
}

TEST(Tally, ProcessesAddUp) {
  Tally a, b;
  a.opened = 12'000;
  a.connect_failures = 1;
  a.sent = 2;
  a.deliveries = 24'000;
  a.lost = 3;
  a.other_messages = 10;
  a.handshake.record(1000);
  a.latency.record(50);
  b.opened = 11'999;
  b.sent = 1;
  b.deliveries = 23'998;
  b.out_of_order = 4;
  b.handshake.record(3000);
  b.handshake.record(2000);
  b.latency.record(70'000);
  a.add(b);
  EXPECT_EQ(a.opened, 23'999u);
  EXPECT_EQ(a.connect_failures, 1u);
  EXPECT_EQ(a.sent, 3u);
  EXPECT_EQ(a.deliveries, 47'998u);
  EXPECT_EQ(a.lost, 3u);
  EXPECT_EQ(a.out_of_order, 4u);
  EXPECT_EQ(a.other_messages, 10u);
  EXPECT_EQ(a.handshake.count(), 3u);
  EXPECT_EQ(a.handshake.max(), 3000u);
  EXPECT_EQ(a.handshake.percentile(50), 2015u);  // 2000 in [1984, 2015]
  EXPECT_EQ(a.latency.count(), 2u);
  EXPECT_EQ(a.latency.max(), 70'000u);
}

TEST(Tally, CrossesAPipeAsBytes) {
  Link a, b;
  ASSERT_TRUE(Link::pair(a, b));
  Tally t;
  t.opened = 5;
  t.deliveries = 9;
  for (std::uint64_t v = 1; v <= 1000; ++v) t.latency.record(v * 1000);
  std::thread writer([&] { EXPECT_TRUE(a.send_value('T', t)); });
  Tally got;
  EXPECT_TRUE(b.recv_value('T', got));
  writer.join();
  EXPECT_EQ(got.opened, 5u);
  EXPECT_EQ(got.deliveries, 9u);
  EXPECT_EQ(got.latency.count(), 1000u);
  EXPECT_EQ(got.latency.percentile(99.9), t.latency.percentile(99.9));
  EXPECT_EQ(got.latency.mean(), t.latency.mean());
}

}  // namespace
}  // namespace ringcast::load
