// Frame pool and leases: size classes, reuse without allocation, holder/refcount release,
// remote frees from another thread.
#include "engine/net/frame_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

TEST(FramePool, AcquireGivesEnoughCapacityPerClass) {
  FramePool pool;
  for (std::size_t size : {0u, 1u, 127u, 128u, 129u, 4096u, 70000u}) {
    Frame* f = pool.acquire(size);
    ASSERT_NE(f, nullptr);
    EXPECT_GE(f->capacity, size);
    EXPECT_EQ(f->len, 0u);
    EXPECT_EQ(f->pool, &pool);
    f->holders.store(1);
    release_holder(f, &pool);
  }
}

TEST(FramePool, ReleasedFrameIsReusedWithoutNewAllocation) {
  FramePool pool;
  Frame* a = pool.acquire(100);
  a->holders.store(1);
  std::size_t allocated = pool.allocated();
  release_holder(a, &pool);
  Frame* b = pool.acquire(120);  // same 128-byte class
  EXPECT_EQ(a, b);
  EXPECT_EQ(pool.allocated(), allocated);
  Frame* c = pool.acquire(120);  // free list empty now: a new frame
  EXPECT_NE(c, b);
  EXPECT_EQ(pool.allocated(), allocated + 1);
  b->holders.store(1);
  c->holders.store(1);
  release_holder(b, &pool);
  release_holder(c, &pool);
}

TEST(FramePool, OnlyTheLastHolderFrees) {
  FramePool pool;
  Frame* f = pool.acquire(64);
  f->holders.store(3);
  release_holder(f, &pool);
  release_holder(f, &pool);
  EXPECT_EQ(f->holders.load(), 1u);
  Frame* other = pool.acquire(64);
  EXPECT_NE(other, f);  // still held: not on the free list
  release_holder(f, &pool);
  Frame* again = pool.acquire(64);
  EXPECT_EQ(again, f);
  for (Frame* x : {other, again}) {
    x->holders.store(1);
    release_holder(x, &pool);
  }
}

TEST(FramePool, OversizeFramesBypassTheFreeLists) {
  FramePool pool;
  std::size_t big = (std::size_t{1} << FramePool::kMaxShift) + 1;
  Frame* f = pool.acquire(big);
  ASSERT_NE(f, nullptr);
  EXPECT_GE(f->capacity, big);
  std::size_t before = pool.allocated();
  f->holders.store(1);
  release_holder(f, &pool);
  EXPECT_EQ(pool.allocated(), before - 1);
}

TEST(FramePool, RemoteReleaseReturnsToOwnerAfterDrain) {
  FramePool owner;
  FramePool other;
  std::vector<Frame*> frames;
  for (int i = 0; i < 100; ++i) {
    Frame* f = owner.acquire(200);
    f->holders.store(1);
    frames.push_back(f);
  }
  std::thread t([&] {
    for (Frame* f : frames) release_holder(f, &other);  // foreign thread, foreign pool
  });
  t.join();
  std::size_t allocated = owner.allocated();
  owner.drain_remote();
  for (int i = 0; i < 100; ++i) {
    Frame* f = owner.acquire(200);
    EXPECT_NE(std::find(frames.begin(), frames.end(), f), frames.end());
    f->holders.store(1);
  }
  EXPECT_EQ(owner.allocated(), allocated);
  for (Frame* f : frames) release_holder(f, &owner);
}

TEST(FramePool, HeapFrameIsDeletedByLastHolder) {
  Frame* f = make_heap_frame(32);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->pool, nullptr);
  f->holders.store(2);
  release_holder(f, nullptr);
  release_holder(f, nullptr);  // frees; ASan reports a leak or double free if wrong
}

TEST(FramePool, ReserveFillsTheFreeListSoBurstsDoNotAllocate) {
  FramePool pool;
  ASSERT_TRUE(pool.reserve(100, 10));
  EXPECT_EQ(pool.allocated(), 10u);
  std::vector<Frame*> live;
  for (int i = 0; i < 10; ++i) live.push_back(pool.acquire(120));
  EXPECT_EQ(pool.allocated(), 10u);  // all ten came from the reserve
  live.push_back(pool.acquire(120));
  EXPECT_EQ(pool.allocated(), 11u);
  for (Frame* f : live) {
    f->holders.store(1);
    release_holder(f, &pool);
  }
}

TEST(LeasePool, ReserveGrowsInBlocks) {
  FramePool pool;
  LeasePool leases(pool);
  ASSERT_TRUE(leases.reserve(1500));
  Frame* f = pool.acquire(64);
  f->holders.store(1500);
  std::vector<Lease*> taken;
  for (int i = 0; i < 1500; ++i) taken.push_back(leases.lease(f));
  EXPECT_EQ(leases.outstanding(), 1500u);
  for (Lease* l : taken) leases.drop_if_unused(l);
  EXPECT_EQ(leases.outstanding(), 0u);
}

TEST(LeasePool, LeaseDropsItsHolderWhenLastReferenceGoes) {
  FramePool pool;
  LeasePool leases(pool);
  Frame* f = pool.acquire(64);
  f->holders.store(2);  // this shard + one other
  Lease* l = leases.lease(f);
  ASSERT_NE(l, nullptr);
  leases.ref(l, 3);
  leases.unref(l);
  leases.unref(l);
  EXPECT_EQ(f->holders.load(), 2u);
  EXPECT_EQ(leases.outstanding(), 1u);
  leases.unref(l);
  EXPECT_EQ(f->holders.load(), 1u);
  EXPECT_EQ(leases.outstanding(), 0u);
  release_holder(f, &pool);
}

TEST(LeasePool, UnusedLeaseReleasesImmediately) {
  FramePool pool;
  LeasePool leases(pool);
  Frame* f = pool.acquire(64);
  f->holders.store(1);
  Lease* l = leases.lease(f);
  leases.drop_if_unused(l);
  EXPECT_EQ(leases.outstanding(), 0u);
  EXPECT_EQ(pool.acquire(64), f);  // back on the free list
  f->holders.store(1);
  release_holder(f, &pool);
}

}  // namespace
}  // namespace ringcast::engine
