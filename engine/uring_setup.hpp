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

// A provided buffer ring (IORING_REGISTER_PBUF_RING) of `count` buffers of `size` bytes.
class BufferRing {
 public:
  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  // Returns -errno.
  [[nodiscard]] int setup(io_uring& ring, std::uint16_t group, unsigned count, unsigned size) noexcept;
  void teardown(io_uring& ring) noexcept;

  [[nodiscard]] std::uint8_t* buffer(unsigned id) const noexcept { return base_ + std::size_t{id} * size_; }
  // Hands buffer `id` back to the kernel.
  void recycle(unsigned id) noexcept {
    io_uring_buf_ring_add(ring_, buffer(id), size_, static_cast<unsigned short>(id), mask_, 0);
    io_uring_buf_ring_advance(ring_, 1);
  }
  [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
  [[nodiscard]] unsigned size() const noexcept { return size_; }

 private:
  io_uring_buf_ring* ring_ = nullptr;
  std::uint8_t* base_ = nullptr;
  std::size_t ring_bytes_ = 0, base_bytes_ = 0;
  unsigned count_ = 0, size_ = 0;
  int mask_ = 0;
  std::uint16_t group_ = 0;
  bool registered_ = false;
};

}  // namespace ringcast::engine
