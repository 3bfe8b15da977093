// Topics: a process-wide registry maps a topic name to an id (under a mutex, only when a
// connection joins or leaves) and counts subscribers over all shards, forgetting a name
// once nobody is subscribed, so unused room names cannot pile up. Ids are never reused:
// a delivery still in flight for a forgotten id simply finds no subscribers. Each shard
// keeps, per id, its own subscribers as {slot, generation}; removal is O(1) because the
// subscriber remembers its index.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/config.hpp"
#include "engine/core/string_map.hpp"

namespace ringcast::engine {

inline constexpr std::uint32_t kNoTopic = UINT32_MAX;

class TopicRegistry {
 public:
  // The id for `name` (created on first use), counting one more subscriber.
  [[nodiscard]] std::uint32_t acquire(std::string_view name);
  // One subscriber fewer; the last one forgets the name.
  void release(std::uint32_t id);
  // The id for `name`, or kNoTopic when nobody is subscribed to it.
  [[nodiscard]] std::uint32_t find(std::string_view name) const;
  [[nodiscard]] std::size_t size() const;
  // f(name, subscribers) for every topic whose name starts with `prefix`, under the lock:
  // f must not call back into the registry.
  template <typename F>
  void for_each(std::string_view prefix, F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : by_name_) {
      if (std::string_view(name).starts_with(prefix)) f(std::string_view(name), e.subscribers);
    }
  }

 private:
  struct Entry {
    std::uint32_t id;
    std::uint64_t subscribers;
  };
  mutable std::mutex mu_;
  StringMap<Entry> by_name_;
  std::unordered_map<std::uint32_t, const std::string*> by_id_;  // keys of by_name_ (node-stable)
  std::uint32_t next_id_ = 0;
};

struct Subscriber {
  std::uint32_t slot;
  std::uint32_t gen;
};

struct Lease;

// Conflation: a subscriber's last queued entry of the topic, where it sits in its send
// queue (SendQueue positions), the shard's flush count when it was queued and how many
// publications it holds.
struct Queued {
  Lease* lease = nullptr;
  std::uint32_t pos = 0;
  std::uint32_t flush = 0;
  std::uint32_t messages = 0;
};

// Which form of a publication a subscriber of a delta topic (TopicOptions::delta) takes
// next: raw (it did not ask for deltas), full (it holds no previous publication: just
// joined, or it missed one) or delta.
enum class Form : std::uint8_t { raw, full, delta };

class SubscriberList {
 public:
  // What fan-out does to a subscriber past its backlog on this topic: set when the list is
  // created on a shard (its first subscriber there), from the subscribing app.
  SlowPolicy policy = SlowPolicy::close;

  void set_options(const TopicOptions& o) noexcept { options_ = o; }
  [[nodiscard]] const TopicOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool conflate() const noexcept { return options_.conflate; }

  // Returns the index to hand back to remove(). `deltas`: in a delta topic, it takes the
  // full and delta forms (it starts on full).
  [[nodiscard]] std::uint32_t add(Subscriber s, bool deltas = false);
  // Removes the entry at `index`; returns the subscriber that moved into it (to update
  // its stored index), or nullptr when none moved.
  const Subscriber* remove(std::uint32_t index) noexcept;
  [[nodiscard]] const std::vector<Subscriber>& all() const noexcept { return subs_; }
  [[nodiscard]] std::size_t size() const noexcept { return subs_.size(); }
  // Conflating lists: [index] beside all().
  [[nodiscard]] std::vector<Queued>& queued() noexcept { return queued_; }
  // Delta lists: [index] beside all().
  [[nodiscard]] std::vector<Form>& forms() noexcept { return forms_; }

 private:
  std::vector<Subscriber> subs_;
  std::vector<Queued> queued_;
  std::vector<Form> forms_;
  TopicOptions options_;
};

// A shard's subscriber lists by topic id; a list is dropped when its last subscriber goes.
class ShardTopics {
 public:
  [[nodiscard]] SubscriberList& get_or_create(std::uint32_t id) { return lists_[id]; }
  // nullptr when this shard has no subscriber for `id`.
  [[nodiscard]] SubscriberList* find(std::uint32_t id) noexcept {
    auto it = lists_.find(id);
    return it == lists_.end() ? nullptr : &it->second;
  }
  void drop_if_empty(std::uint32_t id) {
    auto it = lists_.find(id);
    if (it != lists_.end() && it->second.size() == 0) lists_.erase(it);
  }
  [[nodiscard]] std::size_t size() const noexcept { return lists_.size(); }

 private:
  std::unordered_map<std::uint32_t, SubscriberList> lists_;
};

}  // namespace ringcast::engine
