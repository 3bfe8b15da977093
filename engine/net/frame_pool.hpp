// Encode-once frames: an immutable, pooled byte buffer (a whole server frame, header +
// payload) shared by every subscriber on every shard.
//
// Ownership has two levels so no counter is shared on the fan-out path:
//  - Frame::holders (atomic) counts *shards* (or other owners) holding the frame; it is
//    touched once per shard per message.
//  - Lease (non-atomic, shard-local) counts the references inside one shard: each queued
//    copy in a send queue is one reference. The last reference drops the shard's holder.
// The last holder returns the frame to its owner pool: directly when on the owner's
// thread, through a lock-free remote-free list otherwise. Frames with no pool (made by
// an outside thread) are deleted by the last holder.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringcast::engine {

class FramePool;

struct Frame {
  std::atomic<std::uint32_t> holders{0};
  std::uint32_t len = 0;       // bytes written
  std::uint32_t capacity = 0;  // bytes available after the header
  std::uint8_t size_class = 0;
  FramePool* pool = nullptr;   // owner; nullptr: heap frame, deleted by the last holder
  Frame* next_free = nullptr;
  // permessage-deflate: the same message compressed (RSV1), made by the first shard that
  // fans it out to a deflate subscriber and shared by the others. This frame holds one of
  // its holders (dropped when this frame is freed); each shard that queues it takes one
  // more while it still holds this frame.
  std::atomic<Frame*> deflated{nullptr};

  [[nodiscard]] std::uint8_t* bytes() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
  [[nodiscard]] const std::uint8_t* bytes() const noexcept {
    return reinterpret_cast<const std::uint8_t*>(this + 1);
  }
};

// Frame::deflated's mark for "compressing does not pay" (it would not be smaller, or it is
// not one message): no frame, never released.
extern Frame kNotDeflated;

// Allocates a frame on the heap with no pool (outside threads, tests).
[[nodiscard]] Frame* make_heap_frame(std::size_t capacity);

// Drops one holder; the last one frees the frame (to `here` if it owns it, else remotely).
void release_holder(Frame* frame, FramePool* here) noexcept;

class FramePool {
 public:
  static constexpr unsigned kMinShift = 7;   // 128 B
  static constexpr unsigned kMaxShift = 25;  // 32 MiB; larger frames bypass the pool
  static constexpr unsigned kClasses = kMaxShift - kMinShift + 1;

  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  ~FramePool();

  // A frame with capacity >= `size`, holders = 0, len = 0. Allocates only when the
  // class's free list is empty (warm-up); nullptr if the allocation fails.
  [[nodiscard]] Frame* acquire(std::size_t size) noexcept;
  // Puts `count` frames able to hold `size` bytes on the free list (start-up), so bursts
  // up to that many live frames never allocate. Returns false if memory ran out.
  [[nodiscard]] bool reserve(std::size_t size, std::size_t count) noexcept;
  // Owner thread only.
  void recycle(Frame* frame) noexcept;
  // Any thread.
  void recycle_remote(Frame* frame) noexcept;
  // Owner thread: moves frames freed by other threads to the local free lists.
  void drain_remote() noexcept;

  [[nodiscard]] std::size_t allocated() const noexcept { return allocated_; }

 private:
  Frame* free_[kClasses] = {};
  std::size_t free_count_[kClasses] = {};
  std::size_t allocated_ = 0;
  alignas(64) std::atomic<Frame*> remote_{nullptr};
};

// A shard's reference to a frame; refs counts queued copies inside this shard.
struct Lease {
  Frame* frame = nullptr;
  std::uint32_t refs = 0;
  Lease* next_free = nullptr;
};

// Per-shard free list of leases, grown in blocks (warm-up only).
class LeasePool {
 public:
  explicit LeasePool(FramePool& frames) noexcept : frames_(frames) {}
  LeasePool(const LeasePool&) = delete;
  LeasePool& operator=(const LeasePool&) = delete;

  // Takes over one holder of `frame`; refs starts at 0: call ref() per queued copy and
  // drop_if_unused() when none was queued.
  [[nodiscard]] Lease* lease(Frame* frame) noexcept;
  // Grows the free list to at least `count` leases (start-up). False if memory ran out.
  [[nodiscard]] bool reserve(std::size_t count) noexcept;
  void ref(Lease* lease, std::uint32_t n = 1) noexcept { lease->refs += n; }
  void unref(Lease* lease) noexcept {
    if (--lease->refs == 0) retire(lease);
  }
  void drop_if_unused(Lease* lease) noexcept {
    if (lease->refs == 0) retire(lease);
  }
  [[nodiscard]] FramePool& frames() noexcept { return frames_; }
  [[nodiscard]] std::size_t outstanding() const noexcept { return outstanding_; }

 private:
  void retire(Lease* lease) noexcept;
  FramePool& frames_;
  Lease* free_ = nullptr;
  [[nodiscard]] bool grow() noexcept;
  std::size_t outstanding_ = 0;
  std::size_t capacity_ = 0;
  std::vector<std::unique_ptr<Lease[]>> blocks_;
};

}  // namespace ringcast::engine
