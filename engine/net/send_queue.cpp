#include "engine/net/send_queue.hpp"

#include <bit>
#include <new>

namespace ringcast::engine {

bool SendQueue::reserve(std::size_t entries) noexcept {
  constexpr std::size_t kMaxEntries = std::size_t{1} << 31;  // 32-bit indices wrap cleanly
  if (entries > kMaxEntries) return false;
  std::size_t cap = std::bit_ceil(entries < kInitialEntries ? kInitialEntries : entries);
  if (cap <= capacity()) return true;
  auto fresh = std::unique_ptr<Lease*[]>(new (std::nothrow) Lease*[cap]);
  if (!fresh) return false;
  // Entries keep their positions (conflation remembers them): the capacity divides 2^32.
  auto mask = static_cast<std::uint32_t>(cap - 1);
  for (std::uint32_t i = head_; i != tail_; ++i) fresh[i & mask] = at(i);
  ring_ = std::move(fresh);
  mask_ = mask;
  return true;
}

bool SendQueue::holds_unsent(std::uint32_t pos, const Lease* lease, std::uint32_t in_flight) const noexcept {
  std::uint32_t from_head = pos - head_;
  if (from_head >= size() || from_head < in_flight) return false;
  if (from_head == 0 && head_offset_ > 0) return false;  // partly sent
  return at(pos) == lease;
}

void SendQueue::replace(std::uint32_t pos, Lease* lease, LeasePool& leases) noexcept {
  Lease* old = at(pos);
  ring_[pos & mask_] = lease;
  bytes_ = bytes_ - old->frame->len + lease->frame->len;
  leases.unref(old);
}

bool SendQueue::push(Lease* lease) noexcept {
  if (!ring_ || size() == capacity()) {
    if (!reserve(ring_ ? capacity() * 2 : kInitialEntries)) return false;
  }
  ring_[tail_ & mask_] = lease;
  ++tail_;
  bytes_ += lease->frame->len;
  return true;
}

std::size_t SendQueue::fill(iovec* iov, std::size_t max) const noexcept {
  std::size_t n = 0;
  for (std::uint32_t i = head_; i != tail_ && n < max; ++i, ++n) {
    Frame* f = at(i)->frame;
    std::size_t skip = (i == head_) ? head_offset_ : 0;
    iov[n].iov_base = f->bytes() + skip;
    iov[n].iov_len = f->len - skip;
  }
  return n;
}

void SendQueue::complete(std::size_t bytes, LeasePool& leases) noexcept {
  bytes_ -= bytes;
  while (bytes > 0 && head_ != tail_) {
    Lease* l = at(head_);
    std::size_t left = l->frame->len - head_offset_;
    if (bytes < left) {
      head_offset_ += static_cast<std::uint32_t>(bytes);
      return;
    }
    bytes -= left;
    head_offset_ = 0;
    ++head_;
    leases.unref(l);
  }
}

void SendQueue::drop_unsent(LeasePool& leases, std::size_t in_flight) noexcept {
  std::size_t keep = (in_flight == 0 && head_offset_ > 0) ? 1 : in_flight;
  while (size() > keep) {
    --tail_;
    Lease* l = at(tail_);
    bytes_ -= l->frame->len;
    leases.unref(l);
  }
}

void SendQueue::clear(LeasePool& leases) noexcept {
  while (head_ != tail_) {
    Lease* l = at(head_);
    ++head_;
    leases.unref(l);
  }
  head_offset_ = 0;
  bytes_ = 0;
}

}  // namespace ringcast::engine
