// Topics: a process-wide registry maps a topic name to an id (under a mutex, only when a
// connection joins or leaves) and counts subscribers over all shards, forgetting a name
// once nobody is subscribed, so unused room names cannot pile up. Ids are never reused:
// a delivery still in flight for a forgotten id simply finds no subscribers. Each shard
// keeps, per id, its own subscribers as {slot, generation}; removal is O(1) because the
// subscriber remembers its index (O(rate classes) where subscribers of a max-frequency
// topic asked for several rates).
#pragma once
#include <cassert>
#include <cstdint>
#include <functional>
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
  // The name of `id` into `out`; false once it is forgotten (nobody subscribed any more).
  [[nodiscard]] bool name_of(std::uint32_t id, std::string& out) const;
  [[nodiscard]] std::size_t size() const;
  // Before any subscriber: f(name) whenever a topic whose name starts with `prefix` got its
  // first subscriber or lost its last, called after the change, outside the registry's lock
  // (so f sees the registry as it is by then: --broker posts the name to shard 0, which
  // looks the name up again when it acts).
  void watch(std::string_view prefix, std::function<void(std::string_view)> f) {
    watch_prefix_ = std::string(prefix);
    watcher_ = std::move(f);
  }
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
  std::string watch_prefix_;
  std::function<void(std::string_view)> watcher_;
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
  // Subscribers that negotiated permessage-deflate (Subscriptions keeps it): fan-out makes
  // the compressed variant of a publication only when there is one.
  std::uint32_t deflate_subscribers = 0;

  void set_options(const TopicOptions& o) noexcept { options_ = o; }
  [[nodiscard]] const TopicOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool conflate() const noexcept { return options_.conflate; }

  // Returns the index to hand back to remove(). `deltas`: in a delta topic, it takes the
  // full and delta forms (it starts on full). `rate_class`: in a max-frequency topic, its
  // rate class (config.hpp's rate_class). Subscribers sit in one run per class, so a
  // subscriber of another class may move: moved(subscriber, its new index) for each.
  template <typename Moved>
  std::uint32_t add(Subscriber s, bool deltas, std::uint8_t rate_class, Moved&& moved);
  std::uint32_t add(Subscriber s, bool deltas = false) {
    return add(s, deltas, 0, [](const Subscriber&, std::uint32_t) {});
  }
  // Removes the entry at `index`; moved(subscriber, its new index) for each that moved
  // to fill the hole (the class's last; in a list of several classes, one per later class).
  template <typename Moved>
  void remove(std::uint32_t index, Moved&& moved) noexcept;
  [[nodiscard]] const std::vector<Subscriber>& all() const noexcept { return subs_; }
  [[nodiscard]] std::size_t size() const noexcept { return subs_.size(); }
  // Max frequency: the subscribers of one rate class, [first, end) of all().
  struct Run {
    std::uint32_t first, end;
  };
  [[nodiscard]] Run rate_class_run(std::uint8_t k) const noexcept {
    assert(k < kRateClasses);
    return {k == 0 ? 0 : ends_[k - 1], ends_[k]};
  }
  // Conflating lists: [index] beside all().
  [[nodiscard]] std::vector<Queued>& queued() noexcept { return queued_; }
  // Delta lists: [index] beside all().
  [[nodiscard]] std::vector<Form>& forms() noexcept { return forms_; }

 private:
  std::vector<Subscriber> subs_;
  std::vector<Queued> queued_;
  std::vector<Form> forms_;
  std::uint32_t ends_[kRateClasses] = {};  // [k]: the end of rate class k's run in subs_
  TopicOptions options_;

  void move_entry(std::uint32_t from, std::uint32_t to) noexcept;
};

template <typename Moved>
std::uint32_t SubscriberList::add(Subscriber s, bool deltas, std::uint8_t rate_class, Moved&& moved) {
  assert(rate_class < kRateClasses);
  // The side vectors grow first: all grow, or none. The new entry is written once its
  // place is known.
  if (options_.conflate) queued_.reserve(subs_.size() + 1);
  if (options_.delta) forms_.reserve(subs_.size() + 1);
  subs_.push_back(s);
  if (options_.conflate) queued_.emplace_back();
  if (options_.delta) forms_.emplace_back();
  // The free place walks down to the end of its class's run: each later class's first
  // subscriber moves to that class's end.
  auto free = static_cast<std::uint32_t>(subs_.size() - 1);
  for (std::size_t c = kRateClasses - 1; c > rate_class; --c) {
    const std::uint32_t first = ends_[c - 1];
    if (first != free) {
      move_entry(first, free);
      moved(subs_[free], free);
    }
    free = first;
    ++ends_[c];
  }
  ++ends_[rate_class];
  subs_[free] = s;
  if (options_.conflate) queued_[free] = Queued{};
  if (options_.delta) forms_[free] = deltas ? Form::full : Form::raw;
  return free;
}

template <typename Moved>
void SubscriberList::remove(std::uint32_t index, Moved&& moved) noexcept {
  if (index >= subs_.size()) return;
  std::size_t k = 0;
  while (index >= ends_[k]) ++k;
  // The class's last fills the hole; then each later class's last fills the place its run
  // gains at the front (an empty class moves nothing).
  std::uint32_t free = index;
  for (std::size_t c = k; c < kRateClasses; ++c) {
    const std::uint32_t last = ends_[c] - 1;
    if (last != free) {
      move_entry(last, free);
      moved(subs_[free], free);
    }
    free = last;
    --ends_[c];
  }
  subs_.pop_back();
  if (options_.conflate) queued_.pop_back();
  if (options_.delta) forms_.pop_back();
}

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
