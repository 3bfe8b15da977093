// A connection's queue of frames waiting to be sent, and the one send in flight.
//
// Entries are leases on shared frames (no copy). fill() describes the unsent bytes as
// iovecs starting at the head (resuming inside a partially sent frame); complete(n)
// releases exactly the frames the kernel took and remembers where a partial send stopped.
// queued_bytes() is the backpressure measure: everything appended and not yet sent.
//
// Storage is a power-of-two ring allocated by the first push at kInitialEntries (4
// pointers: an idle connection holds 32 bytes) and doubled whenever a push finds it full.
// It never shrinks, so it only grows while a connection meets deeper bursts than before
// (warm-up), never per message in steady state. A fresh connection's first deep burst pays
// log2(depth / 4) reallocations, each copying the queued pointers.
// 32 bytes: indices are 32-bit and wrap (the capacity divides 2^32, at most 2^31 entries).
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/net/frame_pool.hpp"

namespace ringcast::engine {

class SendQueue {
 public:
  static constexpr std::size_t kInitialEntries = 4;

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
  [[nodiscard]] std::size_t capacity() const noexcept { return ring_ ? std::size_t{mask_} + 1 : 0; }

  // Positions: every entry keeps the one it was pushed at (push n is at tail_pos() before
  // it), through growth, until it is sent or dropped.
  [[nodiscard]] std::uint32_t tail_pos() const noexcept { return tail_; }
  // True when the entry at `pos` is `lease`, still queued and not yet sent or being sent
  // (the first `in_flight` entries are the send in flight's).
  [[nodiscard]] bool holds_unsent(std::uint32_t pos, const Lease* lease, std::uint32_t in_flight) const noexcept;
  // Puts `lease` (one reference, counted by the caller) where holds_unsent() found
  // another, and releases that one's reference.
  void replace(std::uint32_t pos, Lease* lease, LeasePool& leases) noexcept;

  // Where the next push writes (for prefetching); nullptr before the first push.
  [[nodiscard]] const void* next_slot() const noexcept { return ring_ ? &ring_[tail_ & mask_] : nullptr; }

  // Grows the ring to at least `entries` (rounded up to a power of two) ahead of a known
  // burst; push() grows it on demand anyway.
  [[nodiscard]] bool reserve(std::size_t entries) noexcept;

 private:
  [[nodiscard]] Lease* at(std::uint32_t i) const noexcept { return ring_[i & mask_]; }
  std::unique_ptr<Lease*[]> ring_;
  std::uint32_t mask_ = 0;         // capacity - 1 once the ring exists
  std::uint32_t head_ = 0, tail_ = 0;
  std::uint32_t head_offset_ = 0;  // bytes of the head frame already sent (< its length)
  std::size_t bytes_ = 0;          // unsent bytes, including the head's remainder
};

static_assert(sizeof(SendQueue) == 32, "SendQueue sits in the connection's hot cache line");

}  // namespace ringcast::engine
