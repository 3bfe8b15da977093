#include "bench/load/uring.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace ringcast::load {

Ring::~Ring() {
  if (live_) io_uring_queue_exit(&ring_);
}

int Ring::init(unsigned entries) noexcept {
  io_uring_params p{};
  // CQ 8x the SQ: one multishot recv per connection can post many CQEs per submit.
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 8;
  // SINGLE_ISSUER + DEFER_TASKRUN: only this thread submits, and completions run when it
  // waits, not as interrupts in the middle of its work (6.1+); fall back step by step.
  const unsigned extra[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
  int rc = -EINVAL;
  for (unsigned flags : extra) {
    io_uring_params q = p;
    q.flags |= flags;
    rc = io_uring_queue_init_params(entries, &ring_, &q);
    if (rc == 0) break;
    if (rc != -EINVAL) return rc;
  }
  live_ = rc == 0;
  return rc;
}

io_uring_sqe* Ring::sqe() noexcept {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    (void)io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

BufRing::~BufRing() {
  if (br_ != nullptr) {
    (void)io_uring_unregister_buf_ring(ring_, bgid_);
    munmap(br_, sizeof(io_uring_buf) * count_);
  }
  if (base_ != nullptr) munmap(base_, map_len_);
}

int BufRing::init(io_uring* ring, std::uint16_t bgid, unsigned count, unsigned size) noexcept {
  ring_ = ring;
  bgid_ = bgid;
  count_ = count;  // a power of two, as the kernel requires
  size_ = size;
  void* ring_mem = mmap(nullptr, sizeof(io_uring_buf) * count, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) return -errno;
  br_ = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = bgid;
  const int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc != 0) {
    munmap(br_, sizeof(io_uring_buf) * count);
    br_ = nullptr;
    return rc;
  }
  io_uring_buf_ring_init(br_);
  map_len_ = std::size_t{count} * size;
  void* mem = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  base_ = static_cast<std::uint8_t*>(mem);
  for (unsigned i = 0; i < count; ++i) recycle(static_cast<std::uint16_t>(i));
  publish();
  return 0;
}

}  // namespace ringcast::load
