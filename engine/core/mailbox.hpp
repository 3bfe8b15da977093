// A bounded single-producer single-consumer ring between two shards, preallocated.
// Producer and consumer indices live on separate cache lines; each side caches the other's
// index so the common case touches only its own line. try_push fails when full (the
// producer keeps the item and retries next turn); pop_batch drains in one pass.
#pragma once
#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>

namespace ringcast::engine {

template <typename T>
class Mailbox {
 public:
  explicit Mailbox(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1), slots_(new T[mask_ + 1]) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Producer thread only.
  [[nodiscard]] bool try_push(const T& item) noexcept {
    std::size_t tail = prod_.tail.load(std::memory_order_relaxed);
    if (tail - prod_.cached_head > mask_) {
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      if (tail - prod_.cached_head > mask_) return false;
    }
    slots_[tail & mask_] = item;
    prod_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only: calls f(item) for everything available; returns the count.
  template <typename F>
  std::size_t pop_batch(F&& f) {
    std::size_t head = cons_.head.load(std::memory_order_relaxed);
    std::size_t tail = prod_.tail.load(std::memory_order_acquire);
    std::size_t n = tail - head;
    for (std::size_t i = head; i != tail; ++i) f(slots_[i & mask_]);
    cons_.head.store(tail, std::memory_order_release);
    return n;
  }

  [[nodiscard]] bool empty() const noexcept {
    return cons_.head.load(std::memory_order_acquire) == prod_.tail.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  struct alignas(64) Producer {
    std::atomic<std::size_t> tail{0};
    std::size_t cached_head = 0;
  };
  struct alignas(64) Consumer {
    std::atomic<std::size_t> head{0};
  };
  std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  Producer prod_;
  Consumer cons_;
};

}  // namespace ringcast::engine
