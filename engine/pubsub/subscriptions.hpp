// A shard's record of which connection is subscribed to what. A connection's first
// subscription sits in its slot (most hold one: a chat room, a stream's comments); more
// (market data: many symbols on one connection) go to a side table here, so the slot
// stays small. Subscribing adds the connection to the topic's subscriber list, which is
// all fan-out reads; this record is for unsubscribing and for closing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/core/conn_table.hpp"
#include "engine/pubsub/subscription.hpp"
#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

class Subscriptions {
 public:
  Subscriptions(ConnTable& conns, ShardTopics& lists) noexcept : conns_(conns), lists_(lists) {}

  // Subscribes slot `slot` to `topic`; false when it already is. `policy` and `options`
  // become the topic's on this shard when this is its first subscriber here.
  // `deltas`, `rate_class`: SubscriberList::add's (the class only in a max-frequency topic).
  bool add(std::uint32_t slot, std::uint32_t topic, SlowPolicy policy = SlowPolicy::close, const TopicOptions& options = {},
           bool deltas = false, std::uint8_t rate_class = 0);
  // Records the subscription without joining the topic's list (nothing is delivered to it
  // yet); nullopt when it already is subscribed, else the ticket attach() wants.
  std::optional<std::uint32_t> add_unjoined(std::uint32_t slot, std::uint32_t topic);
  // Joins the subscription add_unjoined recorded with `ticket`; false when there is none
  // (unsubscribed since, perhaps subscribed again under another ticket). `policy` is the
  // list's if it is the first, or if it is insufficient_state.
  bool attach(std::uint32_t slot, std::uint32_t topic, std::uint32_t ticket, SlowPolicy policy,
              const TopicOptions& options = {}, bool deltas = false);
  // False when `slot` was not subscribed to `topic`.
  bool remove(std::uint32_t slot, std::uint32_t topic) noexcept;
  [[nodiscard]] bool contains(std::uint32_t slot, std::uint32_t topic) noexcept;
  [[nodiscard]] std::size_t count(std::uint32_t slot) const noexcept;
  // The first subscription's topic (kNoTopic when none).
  [[nodiscard]] std::uint32_t first(std::uint32_t slot) const noexcept { return conns_[slot].sub.topic; }
  // Removes every subscription of `slot`, calling f(topic) for each after its removal.
  template <typename F>
  void clear(std::uint32_t slot, F&& f) noexcept {
    while (conns_[slot].sub.topic != kNoTopic) {
      std::uint32_t t = conns_[slot].sub.topic;
      remove(slot, t);
      f(t);
    }
  }

 private:
  [[nodiscard]] Subscription* find(Conn& c, std::uint32_t topic) noexcept;
  // For SubscriberList::add and remove: a subscriber that moved in `topic`'s list, its
  // record learns the new index.
  [[nodiscard]] auto moved_in(std::uint32_t topic) noexcept {
    return [this, topic](const Subscriber& s, std::uint32_t index) {
      if (Subscription* m = find(conns_[s.slot], topic)) m->index = index;
    };
  }
  // Makes room for one more in slot's record; false when it already holds `topic`.
  bool reserve(Conn& c, std::uint32_t topic);
  void record(Conn& c, Subscription s) noexcept;
  [[nodiscard]] std::vector<Subscription>* extra(const Conn& c) noexcept {
    return c.extra_row == 0 ? nullptr : &extra_[c.extra_row - 1];
  }
  ConnTable& conns_;
  ShardTopics& lists_;
  std::vector<std::vector<Subscription>> extra_;  // rows: [Conn::extra_row - 1]
  std::vector<std::uint32_t> free_rows_;          // rows of extra_ not in use
  std::uint32_t next_ticket_ = 0;
};

}  // namespace ringcast::engine
