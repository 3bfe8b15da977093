// Topics: a process-wide registry maps a topic name to a small stable id (taken under a
// mutex, only when a connection joins), and each shard keeps, per id, the list of its own
// subscribers as {slot, generation}. Removal is O(1): the subscriber remembers its index.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringcast::engine {

inline constexpr std::uint32_t kNoTopic = UINT32_MAX;

class TopicRegistry {
 public:
  // The id for `name`, creating it on first use.
  [[nodiscard]] std::uint32_t intern(std::string_view name);
  // The id for `name`, or kNoTopic.
  [[nodiscard]] std::uint32_t find(std::string_view name) const;
  [[nodiscard]] std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::uint32_t> ids_;
};

struct Subscriber {
  std::uint32_t slot;
  std::uint32_t gen;
};

class SubscriberList {
 public:
  // Returns the index to hand back to remove().
  [[nodiscard]] std::uint32_t add(Subscriber s);
  // Removes the entry at `index`; returns the subscriber that moved into it (to update
  // its stored index), or nullptr when none moved.
  const Subscriber* remove(std::uint32_t index) noexcept;
  [[nodiscard]] const std::vector<Subscriber>& all() const noexcept { return subs_; }
  [[nodiscard]] std::size_t size() const noexcept { return subs_.size(); }

 private:
  std::vector<Subscriber> subs_;
};

// A shard's subscriber lists, indexed by topic id.
class ShardTopics {
 public:
  [[nodiscard]] SubscriberList& get_or_create(std::uint32_t id);
  // nullptr when this shard has never had a subscriber for `id`.
  [[nodiscard]] SubscriberList* find(std::uint32_t id) noexcept {
    return id < lists_.size() ? &lists_[id] : nullptr;
  }

 private:
  std::vector<SubscriberList> lists_;
};

}  // namespace ringcast::engine
