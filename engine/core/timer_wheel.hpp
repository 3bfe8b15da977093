// A coarse hashed timer wheel (one per shard). Deadlines are in ticks; nodes are
// intrusive (embedded in the connection), so scheduling never allocates. Deadlines
// beyond one revolution stay in their bucket and are re-checked each time it comes round.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringcast::engine {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  std::uint64_t deadline = 0;  // absolute tick
  std::uint32_t id = 0;        // owner's identifier, handed back on expiry
  [[nodiscard]] bool armed() const noexcept { return prev != nullptr; }
};

class TimerWheel {
 public:
  explicit TimerWheel(std::size_t buckets = 1024, std::uint64_t now = 0);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules `node` at absolute tick `deadline` (a past deadline fires on the next advance).
  void schedule(TimerNode& node, std::uint64_t deadline) noexcept;
  void cancel(TimerNode& node) noexcept;

  // Moves time to `now`, calling on_expire(id) for every node whose deadline <= now.
  // Each node is unlinked before its callback, which may schedule it again.
  template <typename F>
  void advance(std::uint64_t now, F&& on_expire) {
    while (current_ < now) {
      ++current_;
      TimerNode& head = buckets_[current_ & mask_];
      TimerNode* n = head.next;
      while (n != &head) {
        TimerNode* next = n->next;
        if (n->deadline <= current_) {
          unlink(*n);
          --size_;
          on_expire(n->id);
          // The callback may have scheduled other nodes: re-read the successor.
          next = (next->prev != nullptr) ? next : head.next;
        }
        n = next;
      }
      if (size_ == 0) current_ = now;  // nothing left: skip empty ticks
    }
  }

  // Sets the current tick of an empty wheel (start-up).
  void reset(std::uint64_t now) noexcept {
    if (size_ == 0) current_ = now;
  }
  [[nodiscard]] std::uint64_t now() const noexcept { return current_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  static void unlink(TimerNode& n) noexcept;
  std::vector<TimerNode> buckets_;  // sentinels of circular lists
  std::size_t mask_;
  std::uint64_t current_;
  std::size_t size_ = 0;
};

}  // namespace ringcast::engine
