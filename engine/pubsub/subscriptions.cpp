#include "engine/pubsub/subscriptions.hpp"

#include <algorithm>

namespace ringcast::engine {

Subscription* Subscriptions::find(Conn& c, std::uint32_t topic) noexcept {
  if (c.sub.topic == topic) return &c.sub;
  if (std::vector<Subscription>* more = extra(c)) {
    for (Subscription& s : *more) {
      if (s.topic == topic) return &s;
    }
  }
  return nullptr;
}

bool Subscriptions::contains(std::uint32_t slot, std::uint32_t topic) noexcept {
  return topic != kNoTopic && find(conns_[slot], topic) != nullptr;
}

std::size_t Subscriptions::count(std::uint32_t slot) const noexcept {
  const Conn& c = conns_[slot];
  if (c.sub.topic == kNoTopic) return 0;
  return 1 + (c.extra_row == 0 ? 0 : extra_[c.extra_row - 1].size());
}

bool Subscriptions::reserve(Conn& c, std::uint32_t topic) {
  if (topic == kNoTopic || find(c, topic) != nullptr) return false;
  // Room in this record first: if anything throws, the topic's list is still untouched
  // (a list entry the record did not know would deliver to the slot's next connection).
  if (c.sub.topic != kNoTopic) {
    if (c.extra_row == 0) {
      if (free_rows_.empty()) {
        extra_.emplace_back();
        free_rows_.reserve(extra_.size());  // remove() gives rows back without allocating
        free_rows_.push_back(static_cast<std::uint32_t>(extra_.size() - 1));
      }
      c.extra_row = free_rows_.back() + 1;
      free_rows_.pop_back();
    }
    std::vector<Subscription>& row = extra_[c.extra_row - 1];
    row.reserve(row.size() + 1);
  }
  return true;
}

void Subscriptions::record(Conn& c, Subscription s) noexcept {
  if (c.sub.topic == kNoTopic) {
    c.sub = s;
  } else {
    extra_[c.extra_row - 1].push_back(s);  // reserved
  }
}

bool Subscriptions::add(std::uint32_t slot, std::uint32_t topic, SlowPolicy policy, const TopicOptions& options,
                        bool deltas, std::uint8_t rate_class) {
  Conn& c = conns_[slot];
  if (!reserve(c, topic)) return false;
  SubscriberList& list = lists_.get_or_create(topic);
  if (list.size() == 0) {
    list.policy = policy;
    list.set_options(options);
  }
  if (list.options().min_interval_ms == 0) rate_class = 0;
  record(c, Subscription{topic, list.add(Subscriber{slot, c.gen}, deltas, rate_class, moved_in(topic))});
  list.deflate_subscribers += c.deflate ? 1 : 0;
  return true;
}

std::optional<std::uint32_t> Subscriptions::add_unjoined(std::uint32_t slot, std::uint32_t topic) {
  Conn& c = conns_[slot];
  if (!reserve(c, topic)) return std::nullopt;
  std::uint32_t ticket = next_ticket_++ & ~kNotJoined;
  record(c, Subscription{topic, kNotJoined | ticket});
  return ticket;
}

bool Subscriptions::attach(std::uint32_t slot, std::uint32_t topic, std::uint32_t ticket, SlowPolicy policy,
                           const TopicOptions& options, bool deltas) {
  Conn& c = conns_[slot];
  Subscription* s = topic == kNoTopic ? nullptr : find(c, topic);
  if (s == nullptr || s->index != (kNotJoined | ticket)) return false;
  SubscriberList& list = lists_.get_or_create(topic);
  // A subscription that counts offsets must never be skipped: it tightens a list a plain
  // subscriber made (its other subscribers are closed instead of skipped too).
  if (list.size() == 0 || policy == SlowPolicy::insufficient_state) list.policy = policy;
  if (list.size() == 0) list.set_options(options);
  s->index = list.add(Subscriber{slot, c.gen}, deltas, 0, moved_in(topic));
  list.deflate_subscribers += c.deflate ? 1 : 0;
  return true;
}

bool Subscriptions::remove(std::uint32_t slot, std::uint32_t topic) noexcept {
  Conn& c = conns_[slot];
  Subscription* s = topic == kNoTopic ? nullptr : find(c, topic);
  if (s == nullptr) return false;
  SubscriberList* list = (s->index & kNotJoined) != 0 ? nullptr : lists_.find(topic);
  if (list != nullptr) {
    list->remove(s->index, moved_in(topic));
    list->deflate_subscribers -= c.deflate ? 1 : 0;
    lists_.drop_if_empty(topic);
  }
  // The hole in this record is filled from its end: the extra table's last, if any.
  std::vector<Subscription>* more = extra(c);
  if (more != nullptr && !more->empty()) {
    *s = more->back();
    more->pop_back();
  } else {
    *s = Subscription{};
  }
  if (more != nullptr && more->empty()) {
    free_rows_.push_back(c.extra_row - 1);  // its capacity is kept for the next user
    c.extra_row = 0;
  }
  return true;
}

}  // namespace ringcast::engine
