// The io_uring pieces one generator thread needs: a ring set up for a single issuer, and a
// provided-buffer ring for multishot receives (liburing 2.3 has no setup helper for it).
#pragma once
#include <liburing.h>

#include <cstddef>
#include <cstdint>

namespace ringcast::load {

class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Returns 0 or -errno.
  [[nodiscard]] int init(unsigned entries) noexcept;
  // A free SQE; a full SQ is submitted first and retried, so this never returns null.
  [[nodiscard]] io_uring_sqe* sqe() noexcept;
  [[nodiscard]] io_uring* get() noexcept { return &ring_; }

 private:
  io_uring ring_{};
  bool live_ = false;
};

// `count` buffers of `size` bytes registered as buffer group `bgid`. A buffer goes back to
// the kernel with recycle(); publish() makes a batch of recycles visible at once.
class BufRing {
 public:
  BufRing() = default;
  ~BufRing();
  BufRing(const BufRing&) = delete;
  BufRing& operator=(const BufRing&) = delete;

  [[nodiscard]] int init(io_uring* ring, std::uint16_t bgid, unsigned count, unsigned size) noexcept;
  [[nodiscard]] std::uint8_t* buffer(std::uint16_t bid) noexcept { return base_ + std::size_t{bid} * size_; }
  void recycle(std::uint16_t bid) noexcept {
    io_uring_buf_ring_add(br_, buffer(bid), size_, bid, io_uring_buf_ring_mask(count_), pending_++);
  }
  void publish() noexcept {
    if (pending_ != 0) io_uring_buf_ring_advance(br_, pending_);
    pending_ = 0;
  }
  [[nodiscard]] std::uint16_t group() const noexcept { return bgid_; }

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  std::uint8_t* base_ = nullptr;
  std::size_t map_len_ = 0;
  unsigned count_ = 0, size_ = 0;
  int pending_ = 0;
  std::uint16_t bgid_ = 0;
};

}  // namespace ringcast::load
