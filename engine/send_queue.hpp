// A connection's queue of frames waiting to be sent, and the one send in flight.
//
// Entries are leases on shared frames (no copy). fill() describes the unsent bytes as
// iovecs starting at the head (resuming inside a partially sent frame); complete(n)
// releases exactly the frames the kernel took and remembers where a partial send stopped.
// queued_bytes() is the backpressure measure: everything appended and not yet sent.
// Storage is a power-of-two ring that only grows (during warm-up), never per message.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/frame_pool.hpp"

namespace ringcast::engine {

class SendQueue {
 public:
  SendQueue() = default;
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Appends one reference (the caller has counted it in the lease). False only when
  // growing the ring failed.
  [[nodiscard]] bool push(Lease* lease) noexcept;

  // Fills up to `max` iovecs with the unsent bytes from the head; returns the count.
  [[nodiscard]] std::size_t fill(iovec* iov, std::size_t max) const noexcept;

  // The kernel sent `bytes` from the head: unref fully sent frames, keep the offset.
  void complete(std::size_t bytes, LeasePool& leases) noexcept;

  // Drops queued frames from the tail, keeping the first `in_flight` entries (the kernel
  // still reads them) and a partially sent head (the byte stream must stay a valid frame
  // sequence).
  void drop_unsent(LeasePool& leases, std::size_t in_flight) noexcept;
  void clear(LeasePool& leases) noexcept;

  [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }
  [[nodiscard]] std::size_t size() const noexcept { return tail_ - head_; }
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t head_offset() const noexcept { return head_offset_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

  // Where the next push writes (for prefetching); nullptr before the first reserve.
  [[nodiscard]] const void* next_slot() const noexcept { return ring_ ? &ring_[tail_ & mask_] : nullptr; }

  // Pre-sizes the ring (connection setup) so steady state never grows it.
  [[nodiscard]] bool reserve(std::size_t entries) noexcept;

 private:
  [[nodiscard]] Lease* at(std::size_t i) const noexcept { return ring_[i & mask_]; }
  std::unique_ptr<Lease*[]> ring_;
  std::size_t mask_ = static_cast<std::size_t>(-1);  // capacity - 1; capacity 0 before first reserve
  std::size_t head_ = 0, tail_ = 0;
  std::size_t head_offset_ = 0;  // bytes of the head frame already sent
  std::size_t bytes_ = 0;        // unsent bytes, including the head's remainder
};

}  // namespace ringcast::engine
