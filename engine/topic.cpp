#include "engine/topic.hpp"

namespace ringcast::engine {

std::uint32_t TopicRegistry::intern(std::string_view name) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = ids_.try_emplace(std::string(name), static_cast<std::uint32_t>(ids_.size()));
  return it->second;
}

std::uint32_t TopicRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = ids_.find(std::string(name));
  return it == ids_.end() ? kNoTopic : it->second;
}

std::size_t TopicRegistry::size() const {
  std::lock_guard lock(mu_);
  return ids_.size();
}

std::uint32_t SubscriberList::add(Subscriber s) {
  subs_.push_back(s);
  return static_cast<std::uint32_t>(subs_.size() - 1);
}

const Subscriber* SubscriberList::remove(std::uint32_t index) noexcept {
  if (index >= subs_.size()) return nullptr;
  bool moved = index + 1 != subs_.size();
  subs_[index] = subs_.back();
  subs_.pop_back();
  return moved ? &subs_[index] : nullptr;
}

SubscriberList& ShardTopics::get_or_create(std::uint32_t id) {
  if (id >= lists_.size()) lists_.resize(id + 1);
  return lists_[id];
}

}  // namespace ringcast::engine
