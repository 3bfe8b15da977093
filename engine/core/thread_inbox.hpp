// Items posted to a shard by threads outside the server (Server::publish from a feed
// handler) and, where one order across senders matters (a channel's numbered
// publications, app commands), by every shard: a mutex-guarded vector, swapped out whole
// by the owner once per turn, so the lock is held for a push or a swap, never while items
// are processed. Other shard-to-shard traffic uses the lock-free mailboxes
// (engine/core/mailbox.hpp).
#pragma once
#include <cstddef>
#include <mutex>
#include <vector>

namespace ringcast::engine {

template <typename T>
class ThreadInbox {
 public:
  explicit ThreadInbox(std::size_t reserve = 1024) {
    items_.reserve(reserve);
    spare_.reserve(reserve);
  }

  // Any thread. True when the inbox was empty: the owner needs a wake-up.
  bool push(const T& item) {
    std::lock_guard lock(mu_);
    items_.push_back(item);
    return items_.size() == 1;
  }

  // Owner thread: hands every item posted so far to f, in order.
  template <typename F>
  void drain(F&& f) {
    {
      std::lock_guard lock(mu_);
      if (items_.empty()) return;
      items_.swap(spare_);
    }
    for (const T& item : spare_) f(item);
    spare_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;
  std::vector<T> spare_;  // the owner's side of the swap (keeps its capacity)
};

}  // namespace ringcast::engine
