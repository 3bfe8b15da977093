#include "engine/core/timer_wheel.hpp"

#include <bit>

namespace ringcast::engine {

TimerWheel::TimerWheel(std::size_t buckets, std::uint64_t now)
    : buckets_(std::bit_ceil(buckets < 2 ? std::size_t{2} : buckets)), mask_(buckets_.size() - 1), current_(now) {
  for (TimerNode& b : buckets_) b.prev = b.next = &b;
}

void TimerWheel::unlink(TimerNode& n) noexcept {
  n.prev->next = n.next;
  n.next->prev = n.prev;
  n.prev = n.next = nullptr;
}

void TimerWheel::schedule(TimerNode& node, std::uint64_t deadline) noexcept {
  if (node.armed()) {
    unlink(node);
    --size_;
  }
  node.deadline = deadline <= current_ ? current_ + 1 : deadline;
  TimerNode& head = buckets_[node.deadline & mask_];
  node.next = &head;
  node.prev = head.prev;
  head.prev->next = &node;
  head.prev = &node;
  ++size_;
}

void TimerWheel::cancel(TimerNode& node) noexcept {
  if (!node.armed()) return;
  unlink(node);
  --size_;
}

}  // namespace ringcast::engine
