// The provided receive-buffer ring grows with use: setup reserves every buffer but touches
// none and provides a first batch; receives rotate through the provided buffers only (so
// only their pages become resident); a recv that finds the ring empty (-ENOBUFS) makes
// UringBackend double the provided set once per batch, up to the capacity; at capacity
// the ring still recycles correctly (ids stay below it, every byte arrives intact).
// Needs io_uring; skips where it is unavailable.
#include "engine/io/uring_setup.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <set>
#include <vector>

#include "engine/io/uring_backend.hpp"

namespace ringcast::engine {
namespace {

constexpr unsigned kSize = 4096;

// Resident pages of [p, p + len) (page-aligned p).
std::size_t resident_pages(const std::uint8_t* p, std::size_t len) {
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((len + page - 1) / page);
  if (mincore(const_cast<std::uint8_t*>(p), len, vec.data()) != 0) return SIZE_MAX;
  return static_cast<std::size_t>(std::count_if(vec.begin(), vec.end(), [](unsigned char v) { return (v & 1) != 0; }));
}

class RawRing : public ::testing::Test {
 protected:
  void SetUp() override {
    int rc = io_uring_queue_init(64, &ring, 0);
    if (rc < 0) GTEST_SKIP() << "io_uring unavailable: " << -rc;
    ready = true;
  }
  void TearDown() override {
    if (ready) {
      bufs.teardown(ring);
      io_uring_queue_exit(&ring);
    }
  }
  io_uring ring{};
  bool ready = false;
  BufferRing bufs;
};

TEST_F(RawRing, ReservesTheCapacityProvidesTheFirstBatchTouchesNothing) {
  ASSERT_EQ(bufs.setup(ring, 3, 2048, kSize), 0);
  EXPECT_EQ(bufs.capacity(), 2048u);
  EXPECT_EQ(bufs.provided(), BufferRing::kFirstBatch);
  EXPECT_EQ(bufs.buffer(2047), bufs.buffer(0) + std::size_t{2047} * kSize);
  EXPECT_EQ(resident_pages(bufs.buffer(0), std::size_t{2048} * kSize), 0u);
  // Doubling, clamped at the capacity, then nothing more.
  std::vector<unsigned> seen, want;
  while (bufs.grow() > 0) seen.push_back(bufs.provided());
  for (unsigned n = BufferRing::kFirstBatch * 2; n <= 2048; n *= 2) want.push_back(n);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(bufs.grow(), 0u);
  EXPECT_EQ(resident_pages(bufs.buffer(0), std::size_t{2048} * kSize), 0u);  // providing is not touching
}

TEST_F(RawRing, ASmallCapacityProvidesAtMostItself) {
  ASSERT_EQ(bufs.setup(ring, 0, 8, kSize), 0);  // probe_uring's ring
  EXPECT_EQ(bufs.provided(), 8u);
  EXPECT_EQ(bufs.grow(), 0u);
}

TEST_F(RawRing, ReceivesRotateThroughTheProvidedBuffersOnly) {
  ASSERT_EQ(bufs.setup(ring, 5, 2048, kSize, 16), 0);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto arm = [&] {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_recv_multishot(s, sv[0], nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = bufs.group();
    io_uring_sqe_set_data64(s, 1);
    ASSERT_EQ(io_uring_submit(&ring), 1);
  };
  arm();
  std::set<unsigned> ids;
  for (int i = 0; i < 1000; ++i) {
    unsigned char out[100];
    std::fill(std::begin(out), std::end(out), static_cast<unsigned char>(i));
    ASSERT_EQ(write(sv[1], out, sizeof out), static_cast<ssize_t>(sizeof out));
    io_uring_cqe* cqe = nullptr;
    ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
    ASSERT_EQ(cqe->res, 100) << "receive " << i;
    ASSERT_TRUE(cqe->flags & IORING_CQE_F_BUFFER);
    unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    io_uring_cqe_seen(&ring, cqe);
    ASSERT_LT(id, 16u);
    EXPECT_EQ(bufs.buffer(id)[0], static_cast<unsigned char>(i));
    EXPECT_EQ(bufs.buffer(id)[99], static_cast<unsigned char>(i));
    ids.insert(id);
    bufs.recycle(id);
    if (!more) arm();
  }
  EXPECT_EQ(ids.size(), 16u);  // ring order: every provided buffer in turn
  EXPECT_EQ(resident_pages(bufs.buffer(0), std::size_t{2048} * kSize), 16u);
  close(sv[0]);
  close(sv[1]);
}

// Many sockets with data at once: each multishot recv takes a buffer as it is armed, so
// one batch needs one buffer per socket.
class Burst : public ::testing::Test, public CompletionSink {
 protected:
  static constexpr std::uint64_t kTick = ~std::uint64_t{0};

  void start(unsigned capacity, unsigned sockets) {
    BackendLimits limits;
    limits.entries = 4096;
    limits.recv_buffers = capacity;
    limits.recv_buffer_size = kSize;
    // Two descriptors per socket: past the usual soft limit of 1,024.
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 2 * sockets + 64) {
      if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < 2 * sockets + 64) GTEST_SKIP() << "RLIMIT_NOFILE";
      nofile.rlim_cur = 2 * sockets + 64;
      ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
    }
    std::string err = backend.init(limits);
    if (err.find("io_uring") != std::string::npos && err.find("set up") != std::string::npos) GTEST_SKIP() << err;
    ASSERT_EQ(err, "");
    for (unsigned i = 0; i < sockets; ++i) {
      int sv[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
      peers.push_back({sv[0], sv[1]});
    }
    for (unsigned i = 0; i < sockets; ++i) backend.recv_multishot(peers[i].ours, UINT32_MAX, i);
  }
  void TearDown() override {
    backend.close();
    for (Peer& p : peers) {
      close(p.ours);
      close(p.theirs);
    }
  }

  void on_completion(const Completion& c) override {
    if (c.tag == kTick) {
      tick_armed = false;
      return;
    }
    Peer& p = peers[c.tag];
    if (c.res > 0 && c.has_buffer) {
      max_id = std::max<unsigned>(max_id, c.buffer);
      EXPECT_LT(c.buffer, backend.recv_buffers_provided());
      const std::uint8_t* b = backend.buffer(c.buffer);
      for (int i = 0; i < c.res; ++i) EXPECT_EQ(b[i], p.expect) << "socket " << c.tag;
      p.received += static_cast<unsigned>(c.res);
      backend.recycle(c.buffer);
    } else if (c.res == -ENOBUFS) {
      ++enobufs;
    } else {
      ADD_FAILURE() << "socket " << c.tag << ": res " << c.res;
    }
    if (!c.more) rearm.push_back(static_cast<std::uint32_t>(c.tag));
  }

  // One byte to every socket, then turns until each has it; returns the turns taken.
  int round(std::uint8_t value) {
    for (Peer& p : peers) {
      p.expect = value;
      p.received = 0;
      EXPECT_EQ(write(p.theirs, &value, 1), 1);
    }
    for (int turn = 1; turn <= 1000; ++turn) {
      if (!tick_armed) {
        backend.timeout(&tick, kTick);
        tick_armed = true;
      }
      backend.run_once(*this);
      for (std::uint32_t i : rearm) backend.recv_multishot(peers[i].ours, UINT32_MAX, i);
      rearm.clear();
      if (std::all_of(peers.begin(), peers.end(), [](const Peer& p) { return p.received == 1; })) return turn;
    }
    ADD_FAILURE() << "round " << int{value} << " did not finish";
    return -1;
  }

  struct Peer {
    int ours, theirs;
    std::uint8_t expect = 0;
    unsigned received = 0;
  };
  UringBackend backend;
  std::vector<Peer> peers;
  std::vector<std::uint32_t> rearm;
  __kernel_timespec tick{0, 50'000'000};
  bool tick_armed = false;
  unsigned max_id = 0, enobufs = 0;
};

TEST_F(Burst, TheRingGrowsOncePerBatchUntilTheBurstFits) {
  constexpr unsigned kFirst = BufferRing::kFirstBatch;
  constexpr unsigned kSockets = kFirst * 3 + kFirst / 3;  // needs two doublings
  start(2048, kSockets);
  EXPECT_EQ(backend.recv_buffers_provided(), kFirst);
  // Every recv is issued at submit with its byte waiting: the first kFirst receive and the
  // rest end with -ENOBUFS, which doubles the set once in that batch (not once per
  // -ENOBUFS); the re-armed ones find every provided buffer back the next turn.
  int turns = 0;
  unsigned provided = kFirst, left = kSockets, dry = 0;
  while (left > 0) {
    ++turns;
    unsigned got = std::min(left, provided);
    if (got < left) {
      dry += left - got;
      provided = std::min(provided * 2, 2048u);
    }
    left -= got;
  }
  ASSERT_EQ(provided, kFirst * 4);
  EXPECT_EQ(round('a'), turns);
  EXPECT_EQ(enobufs, dry);
  EXPECT_EQ(backend.recv_buffers_provided(), kFirst * 4);
  // Now every burst fits: no more -ENOBUFS, no more growth, and the receives rotate
  // through every provided buffer.
  for (std::uint8_t i = 1; i < 20; ++i) round(static_cast<std::uint8_t>('a' + i));
  EXPECT_EQ(enobufs, dry);
  EXPECT_EQ(backend.recv_buffers_provided(), kFirst * 4);
  EXPECT_EQ(max_id, kFirst * 4 - 1);
}

TEST_F(Burst, AtCapacityTheRingKeepsRecyclingAndENOBUFSIsBackPressure) {
  constexpr unsigned kCapacity = BufferRing::kFirstBatch * 2;
  start(kCapacity, kCapacity + kCapacity / 2);
  for (std::uint8_t i = 0; i < 30; ++i) round(static_cast<std::uint8_t>(i * 7));
  EXPECT_GT(enobufs, 0u);
  EXPECT_EQ(backend.recv_buffers_provided(), kCapacity);
  EXPECT_EQ(max_id, kCapacity - 1);  // every id in use, none past the capacity
}

}  // namespace
}  // namespace ringcast::engine
