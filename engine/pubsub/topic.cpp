#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

std::uint32_t TopicRegistry::acquire(std::string_view name) {
  std::uint32_t id;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      it = by_name_.emplace(std::string(name), Entry{next_id_, 0}).first;
      by_id_.emplace(next_id_, &it->first);
      ++next_id_;
      first = true;
    }
    ++it->second.subscribers;
    id = it->second.id;
  }
  // Outside the lock: the watcher reads the registry again when it acts on the change.
  if (first && watcher_ && name.starts_with(watch_prefix_)) watcher_(name);
  return id;
}

void TopicRegistry::release(std::uint32_t id) {
  std::string last;  // a watched name that lost its last subscriber
  {
    std::lock_guard lock(mu_);
    auto idit = by_id_.find(id);
    if (idit == by_id_.end()) return;
    auto it = by_name_.find(*idit->second);
    if (--it->second.subscribers != 0) return;
    if (watcher_ && std::string_view(it->first).starts_with(watch_prefix_)) last = it->first;
    by_id_.erase(idit);
    by_name_.erase(it);
  }
  if (!last.empty()) watcher_(last);
}

std::uint32_t TopicRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoTopic : it->second.id;
}

bool TopicRegistry::name_of(std::uint32_t id, std::string& out) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  out = *it->second;
  return true;
}

std::size_t TopicRegistry::size() const {
  std::lock_guard lock(mu_);
  return by_name_.size();
}

void SubscriberList::move_entry(std::uint32_t from, std::uint32_t to) noexcept {
  subs_[to] = subs_[from];
  if (options_.conflate) queued_[to] = queued_[from];
  if (options_.delta) forms_[to] = forms_[from];
}

}  // namespace ringcast::engine
