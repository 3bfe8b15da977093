#include "engine/pubsub/presence.hpp"

namespace ringcast::engine {

void Presence::add(std::string_view channel, std::string_view client, Client info) {
  Bucket& b = bucket(channel);
  std::lock_guard lock(b.mu);
  auto ch = b.channels.find(channel);
  if (ch == b.channels.end()) ch = b.channels.emplace(std::string(channel), Channel{}).first;
  Channel& c = ch->second;
  auto it = c.clients.find(client);
  if (it != c.clients.end()) {
    if (it->second.user != info.user) {
      auto u = c.users.find(it->second.user);
      if (--u->second == 0) c.users.erase(u);
      ++c.users[info.user];
    }
    it->second = std::move(info);
    return;
  }
  ++c.users[info.user];
  c.clients.emplace(std::string(client), std::move(info));
}

void Presence::remove(std::string_view channel, std::string_view client) noexcept {
  Bucket& b = bucket(channel);
  std::lock_guard lock(b.mu);
  auto ch = b.channels.find(channel);
  if (ch == b.channels.end()) return;
  Channel& c = ch->second;
  auto it = c.clients.find(client);
  if (it == c.clients.end()) return;
  auto u = c.users.find(it->second.user);
  if (--u->second == 0) c.users.erase(u);
  c.clients.erase(it);
  if (c.clients.empty()) b.channels.erase(ch);
}

Presence::Stats Presence::stats(std::string_view channel) const {
  const Bucket& b = bucket(channel);
  std::lock_guard lock(b.mu);
  auto ch = b.channels.find(channel);
  if (ch == b.channels.end()) return {};
  return {.clients = ch->second.clients.size(), .users = ch->second.users.size()};
}

}  // namespace ringcast::engine
