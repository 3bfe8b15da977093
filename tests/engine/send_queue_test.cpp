// Send queue: iovec batching from the head, partial sends resuming mid-frame, releases
// exactly what was sent, byte accounting for the backlog budget, dropping unsent frames,
// a ring that starts small and only grows.
#include "engine/net/send_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ringcast::engine {
namespace {

class SendQueueTest : public ::testing::Test {
 protected:
  Lease* make(std::string_view bytes) {
    Frame* f = pool.acquire(bytes.size());
    std::memcpy(f->bytes(), bytes.data(), bytes.size());
    f->len = static_cast<std::uint32_t>(bytes.size());
    f->holders.store(1);
    Lease* l = leases.lease(f);
    return l;
  }
  void push(SendQueue& q, Lease* l) {
    ASSERT_TRUE(q.push(l));
    leases.ref(l);
  }
  static std::string gather(const iovec* iov, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
  }
  FramePool pool;
  LeasePool leases{pool};
};

TEST_F(SendQueueTest, FillCoversQueuedFramesInOrder) {
  SendQueue q;
  push(q, make("aaa"));
  push(q, make("bb"));
  push(q, make("cccc"));
  EXPECT_EQ(q.queued_bytes(), 9u);
  iovec iov[8];
  std::size_t n = q.fill(iov, 8);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(gather(iov, n), "aaabbcccc");
  n = q.fill(iov, 2);  // capped by the iovec count
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(gather(iov, n), "aaabb");
  q.clear(leases);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, PartialSendResumesInsideAFrame) {
  SendQueue q;
  push(q, make("hello"));
  push(q, make("world"));
  q.complete(3, leases);  // "hel"
  EXPECT_EQ(q.queued_bytes(), 7u);
  EXPECT_EQ(q.head_offset(), 3u);
  EXPECT_EQ(leases.outstanding(), 2u);
  iovec iov[4];
  EXPECT_EQ(gather(iov, q.fill(iov, 4)), "loworld");
  q.complete(4, leases);  // "lo" + "wo": first frame released
  EXPECT_EQ(leases.outstanding(), 1u);
  EXPECT_EQ(gather(iov, q.fill(iov, 4)), "rld");
  q.complete(3, leases);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, SharedFrameReleasedOnlyAfterEveryQueueSentIt) {
  SendQueue a, b;
  Lease* l = make("shared");
  push(a, l);
  push(b, l);
  a.complete(6, leases);
  EXPECT_EQ(leases.outstanding(), 1u);
  EXPECT_EQ(l->refs, 1u);
  b.complete(6, leases);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, RingIsAllocatedSmallByTheFirstPushAndDoublesWhenFull) {
  // An idle connection holds only the ring its handshake answer needed: 4 pointers.
  SendQueue q;
  EXPECT_EQ(q.capacity(), 0u);
  EXPECT_EQ(q.next_slot(), nullptr);
  push(q, make("101"));
  EXPECT_EQ(q.capacity(), SendQueue::kInitialEntries);
  EXPECT_NE(q.next_slot(), nullptr);
  q.complete(3, leases);
  std::string want;
  for (int i = 0; i < 9; ++i) {
    std::string s(1, static_cast<char>('a' + i));
    want += s;
    push(q, make(s));
  }
  EXPECT_EQ(q.capacity(), 16u);  // 4 -> 8 -> 16, the queued frames moved along in order
  iovec iov[16];
  std::size_t n = q.fill(iov, 16);
  EXPECT_EQ(gather(iov, n), want);
  q.complete(want.size(), leases);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 16u) << "the ring never shrinks: steady state does not reallocate";
  EXPECT_TRUE(q.reserve(3));
  EXPECT_EQ(q.capacity(), 16u);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, GrowsPastInitialCapacityKeepingOrder) {
  SendQueue q;
  ASSERT_TRUE(q.reserve(4));
  std::string want;
  for (int i = 0; i < 100; ++i) {
    std::string s(1, static_cast<char>('A' + i % 26));
    want += s;
    push(q, make(s));
  }
  EXPECT_GE(q.capacity(), 100u);
  q.complete(10, leases);  // move the head so the ring wraps when refilled
  want.erase(0, 10);
  std::string got;
  while (!q.empty()) {
    iovec iov[7];
    std::size_t n = q.fill(iov, 7);
    std::string part = gather(iov, n);
    got += part;
    q.complete(part.size(), leases);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, DropUnsentKeepsInFlightAndPartialHead) {
  SendQueue q;
  push(q, make("1111"));
  push(q, make("2222"));
  push(q, make("3333"));
  push(q, make("4444"));
  q.drop_unsent(leases, 2);  // two entries are in a send the kernel still reads
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.queued_bytes(), 8u);
  q.complete(6, leases);      // partial: the head is now "22" from the second frame
  q.drop_unsent(leases, 0);   // nothing in flight, but the head is partly sent: keep it
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.queued_bytes(), 2u);
  q.complete(2, leases);
  q.drop_unsent(leases, 0);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST_F(SendQueueTest, QueuedBytesTracksTheBudgetMeasure) {
  SendQueue q;
  std::size_t total = 0;
  for (int i = 1; i <= 20; ++i) {
    std::string s(static_cast<std::size_t>(i), 'x');
    push(q, make(s));
    total += s.size();
    EXPECT_EQ(q.queued_bytes(), total);
  }
  q.complete(50, leases);
  EXPECT_EQ(q.queued_bytes(), total - 50);
  q.clear(leases);
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST_F(SendQueueTest, PositionsSurviveGrowthAndOnlyUnsentEntriesAreReplaced) {
  SendQueue q;
  Lease* first = make("1111");
  push(q, first);
  q.complete(2, leases);  // the head is partly sent
  std::vector<std::uint32_t> pos;
  std::vector<Lease*> pushed;
  for (int i = 0; i < 10; ++i) {  // grows 4 -> 8 -> 16
    pos.push_back(q.tail_pos());
    pushed.push_back(make(std::string(1, static_cast<char>('a' + i))));
    push(q, pushed.back());
  }
  EXPECT_FALSE(q.holds_unsent(0, first, 0)) << "partly sent";
  EXPECT_FALSE(q.holds_unsent(pos[0], pushed[0], 2)) << "covered by the send in flight";
  EXPECT_TRUE(q.holds_unsent(pos[5], pushed[5], 2));
  EXPECT_FALSE(q.holds_unsent(pos[5], pushed[4], 2)) << "another entry";
  EXPECT_FALSE(q.holds_unsent(q.tail_pos(), pushed[9], 0)) << "past the tail";
  Lease* latest = make("ZZZ");
  leases.ref(latest);
  q.replace(pos[5], latest, leases);
  EXPECT_EQ(q.queued_bytes(), 2u + 10u - 1u + 3u);
  EXPECT_TRUE(q.holds_unsent(pos[5], latest, 2));
  iovec iov[16];
  std::size_t n = q.fill(iov, 16);
  EXPECT_EQ(gather(iov, n), "11abcdeZZZghij");
  q.complete(q.queued_bytes(), leases);
  EXPECT_FALSE(q.holds_unsent(pos[5], latest, 0)) << "sent";
  EXPECT_EQ(leases.outstanding(), 0u);
}

}  // namespace
}  // namespace ringcast::engine
