#include "engine/net/frame_pool.hpp"

#include <bit>
#include <new>

namespace ringcast::engine {
namespace {

constexpr std::size_t kLeaseBlock = 1024;
// Big classes keep only a few spare frames so one burst of huge messages is not held forever.
constexpr std::size_t kRetainBytesPerClass = 16u << 20;

Frame* allocate_frame(std::size_t capacity, std::uint8_t size_class, FramePool* pool) noexcept {
  void* mem = ::operator new(sizeof(Frame) + capacity, std::nothrow);
  if (mem == nullptr) return nullptr;
  Frame* f = new (mem) Frame{};
  f->capacity = static_cast<std::uint32_t>(capacity);
  f->size_class = size_class;
  f->pool = pool;
  return f;
}

void free_frame(Frame* f) noexcept {
  f->~Frame();
  ::operator delete(static_cast<void*>(f));
}

}  // namespace

Frame kNotDeflated;

Frame* make_heap_frame(std::size_t capacity) { return allocate_frame(capacity, 0xFF, nullptr); }

void release_holder(Frame* frame, FramePool* here) noexcept {
  if (frame->holders.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (Frame* variant = frame->deflated.exchange(nullptr, std::memory_order_acquire); variant != nullptr && variant != &kNotDeflated) {
    release_holder(variant, here);
  }
  if (frame->pool == nullptr) {
    free_frame(frame);
  } else if (frame->pool == here) {
    here->recycle(frame);
  } else {
    frame->pool->recycle_remote(frame);
  }
}

FramePool::~FramePool() {
  drain_remote();
  for (auto& head : free_) {
    while (head != nullptr) {
      Frame* next = head->next_free;
      free_frame(head);
      head = next;
    }
  }
}

Frame* FramePool::acquire(std::size_t size) noexcept {
  std::size_t need = size < (std::size_t{1} << kMinShift) ? (std::size_t{1} << kMinShift) : size;
  if (need > (std::size_t{1} << kMaxShift)) {
    Frame* f = allocate_frame(size, 0xFF, this);
    if (f != nullptr) ++allocated_;
    return f;
  }
  unsigned shift = static_cast<unsigned>(std::bit_width(need - 1));
  unsigned cls = shift - kMinShift;
  if (Frame* f = free_[cls]; f != nullptr) {
    free_[cls] = f->next_free;
    --free_count_[cls];
    f->next_free = nullptr;
    f->len = 0;
    return f;
  }
  Frame* f = allocate_frame(std::size_t{1} << shift, static_cast<std::uint8_t>(cls), this);
  if (f != nullptr) ++allocated_;
  return f;
}

bool FramePool::reserve(std::size_t size, std::size_t count) noexcept {
  std::vector<Frame*> taken;
  taken.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Frame* f = acquire(size);
    if (f == nullptr) break;
    taken.push_back(f);
  }
  // Straight onto the free list (recycle's retention cap would drop some).
  for (Frame* f : taken) {
    if (f->size_class >= kClasses) {
      --allocated_;
      free_frame(f);
      continue;
    }
    f->next_free = free_[f->size_class];
    free_[f->size_class] = f;
    ++free_count_[f->size_class];
  }
  return taken.size() == count;
}

void FramePool::recycle(Frame* frame) noexcept {
  if (frame->size_class >= kClasses) {
    --allocated_;
    free_frame(frame);
    return;
  }
  unsigned cls = frame->size_class;
  std::size_t limit = kRetainBytesPerClass >> (cls + kMinShift);
  if (limit < 1) limit = 1;
  if (free_count_[cls] >= limit) {
    --allocated_;
    free_frame(frame);
    return;
  }
  frame->next_free = free_[cls];
  free_[cls] = frame;
  ++free_count_[cls];
}

void FramePool::recycle_remote(Frame* frame) noexcept {
  Frame* head = remote_.load(std::memory_order_relaxed);
  do {
    frame->next_free = head;
  } while (!remote_.compare_exchange_weak(head, frame, std::memory_order_release, std::memory_order_relaxed));
}

void FramePool::drain_remote() noexcept {
  // Taking the whole list at once avoids ABA: only pushes race with this exchange.
  Frame* f = remote_.exchange(nullptr, std::memory_order_acquire);
  while (f != nullptr) {
    Frame* next = f->next_free;
    recycle(f);
    f = next;
  }
}

bool LeasePool::grow() noexcept {
  auto block = std::unique_ptr<Lease[]>(new (std::nothrow) Lease[kLeaseBlock]);
  if (!block) return false;
  for (std::size_t i = 0; i < kLeaseBlock; ++i) {
    block[i].next_free = free_;
    free_ = &block[i];
  }
  blocks_.push_back(std::move(block));
  capacity_ += kLeaseBlock;
  return true;
}

bool LeasePool::reserve(std::size_t count) noexcept {
  while (capacity_ < count) {
    if (!grow()) return false;
  }
  return true;
}

Lease* LeasePool::lease(Frame* frame) noexcept {
  if (free_ == nullptr && !grow()) return nullptr;
  Lease* l = free_;
  free_ = l->next_free;
  l->frame = frame;
  l->refs = 0;
  ++outstanding_;
  return l;
}

void LeasePool::retire(Lease* lease) noexcept {
  release_holder(lease->frame, &frames_);
  lease->frame = nullptr;
  lease->next_free = free_;
  free_ = lease;
  --outstanding_;
}

}  // namespace ringcast::engine
