// io_uring start-up: the one-time capability probe (with a message naming the cause when
// io_uring is unusable) and the per-shard ring and provided-buffer-ring setup.
// Constants newer than Debian's liburing 2.3 live here too.
#pragma once
#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringcast::engine {

// Probes a small ring: setup allowed, required opcodes, buffer ring registration.
// Returns an empty string when usable, else one line naming the cause.
[[nodiscard]] std::string probe_uring();

// True when the running kernel is at least major.minor (from uname; false if unreadable).
[[nodiscard]] bool kernel_at_least(unsigned major, unsigned minor) noexcept;

// Sets up `ring` for a shard thread: SQ of `entries`, CQ four times larger. Returns -errno.
[[nodiscard]] int setup_shard_ring(io_uring& ring, unsigned entries) noexcept;

// A provided buffer ring (IORING_REGISTER_PBUF_RING) with room for `capacity` buffers of
// `size` bytes that provides only as many as the shard has needed so far. The ring (its
// entry array) is registered at full capacity, since its size is fixed then; the buffer
// memory for all of them is one reservation that costs nothing until the kernel writes
// into it. setup() provides the first batch, ids 0..first-1; grow() doubles the provided
// set, up to the capacity. The kernel takes buffers in ring order and recycle() puts each
// back at the tail, so every provided buffer is touched in time: resident memory follows
// the provided count (what the busiest turn needed), not the capacity.
//
// Ids handed out are < provided() <= capacity(), and buffer(id) is base + id * size. The
// ring's mask is the capacity's: each provided buffer is in the ring, in a completion or
// with the shard, and goes back once (recycle), so the ring never holds more than
// provided() <= capacity() entries and the tail cannot lap the kernel's head.
class BufferRing {
 public:
  // The first batch: 1 MiB of 4 KiB buffers, what a turn needs when ~256 connections
  // send at once (a handshake storm: ringcast-load's 256 handshakes in flight, the
  // memory test's batches of 250). Starting from 64, such storms grew the ring at a
  // random moment, so the same run ended at 256 KiB or 1 MiB. A shard that receives more
  // in one turn sees -ENOBUFS and grows (UringBackend::run_once); one that never does
  // stays here.
  static constexpr unsigned kFirstBatch = 256;

  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  // `capacity`: a power of two (the ring's size); provides min(first, capacity) buffers.
  // Returns -errno.
  [[nodiscard]] int setup(io_uring& ring, std::uint16_t group, unsigned capacity, unsigned size,
                          unsigned first = kFirstBatch) noexcept;
  void teardown(io_uring& ring) noexcept;

  [[nodiscard]] std::uint8_t* buffer(unsigned id) const noexcept { return base_ + std::size_t{id} * size_; }
  // Hands buffer `id` (one a completion named) back to the kernel.
  void recycle(unsigned id) noexcept {
    io_uring_buf_ring_add(ring_, buffer(id), size_, static_cast<unsigned short>(id), mask_, 0);
    io_uring_buf_ring_advance(ring_, 1);
  }
  // Provides the next buffers, doubling the provided set up to the capacity. Returns how
  // many were added (0 at capacity).
  unsigned grow() noexcept;
  [[nodiscard]] unsigned provided() const noexcept { return provided_; }
  [[nodiscard]] unsigned capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
  [[nodiscard]] unsigned size() const noexcept { return size_; }

 private:
  void provide(unsigned from, unsigned to) noexcept;  // ids [from, to) into the ring

  io_uring_buf_ring* ring_ = nullptr;
  std::uint8_t* base_ = nullptr;
  std::size_t ring_bytes_ = 0, base_bytes_ = 0;
  unsigned capacity_ = 0, provided_ = 0, size_ = 0;
  int mask_ = 0;
  std::uint16_t group_ = 0;
  bool registered_ = false;
};

}  // namespace ringcast::engine
