#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

std::uint32_t TopicRegistry::acquire(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    it = by_name_.emplace(std::string(name), Entry{next_id_, 0}).first;
    by_id_.emplace(next_id_, &it->first);
    ++next_id_;
  }
  ++it->second.subscribers;
  return it->second.id;
}

void TopicRegistry::release(std::uint32_t id) {
  std::lock_guard lock(mu_);
  auto idit = by_id_.find(id);
  if (idit == by_id_.end()) return;
  auto it = by_name_.find(*idit->second);
  if (--it->second.subscribers == 0) {
    by_id_.erase(idit);
    by_name_.erase(it);
  }
}

std::uint32_t TopicRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoTopic : it->second.id;
}

std::size_t TopicRegistry::size() const {
  std::lock_guard lock(mu_);
  return by_name_.size();
}

std::uint32_t SubscriberList::add(Subscriber s, bool deltas) {
  // The side vectors grow first: all grow, or none.
  if (options_.conflate) queued_.reserve(subs_.size() + 1);
  if (options_.delta) forms_.reserve(subs_.size() + 1);
  subs_.push_back(s);
  if (options_.conflate) queued_.emplace_back();
  if (options_.delta) forms_.push_back(deltas ? Form::full : Form::raw);
  return static_cast<std::uint32_t>(subs_.size() - 1);
}

const Subscriber* SubscriberList::remove(std::uint32_t index) noexcept {
  if (index >= subs_.size()) return nullptr;
  bool moved = index + 1 != subs_.size();
  subs_[index] = subs_.back();
  subs_.pop_back();
  if (options_.conflate) {
    queued_[index] = queued_.back();
    queued_.pop_back();
  }
  if (options_.delta) {
    forms_[index] = forms_.back();
    forms_.pop_back();
  }
  return moved ? &subs_[index] : nullptr;
}

}  // namespace ringcast::engine
