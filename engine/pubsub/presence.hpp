// Who is subscribed to each channel whose namespace keeps presence: one entry per
// connection (its client id, user and the infos its tokens gave), kept as it subscribes,
// unsubscribes and closes, counted per user. Process-wide: any shard adds and reads under
// the lock of the bucket its channel hashes to; a channel's record goes with its last
// client, so memory follows the subscriptions.
#pragma once
#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/core/string_map.hpp"

namespace ringcast::engine {

class Presence {
 public:
  struct Client {
    std::string user, conn_info, chan_info;  // the infos are raw JSON, "" when absent
  };
  struct Stats {
    std::size_t clients = 0, users = 0;  // connections, and distinct users among them ("" is one)
  };

  // Records `client` in `channel` (replacing what it had there).
  void add(std::string_view channel, std::string_view client, Client info);
  void remove(std::string_view channel, std::string_view client) noexcept;
  [[nodiscard]] Stats stats(std::string_view channel) const;
  // f(channel, Stats) for every channel with a client, a bucket's lock at a time: f must
  // not call back into presence.
  template <typename F>
  void for_each_channel(F&& f) const {
    for (const Bucket& b : buckets_) {
      std::lock_guard lock(b.mu);
      for (const auto& [name, ch] : b.channels) f(std::string_view(name), Stats{.clients = ch.clients.size(), .users = ch.users.size()});
    }
  }
  // f(client id, const Client&) for each client of `channel`, under its bucket's lock.
  template <typename F>
  void for_each(std::string_view channel, F&& f) const {
    const Bucket& b = bucket(channel);
    std::lock_guard lock(b.mu);
    auto it = b.channels.find(channel);
    if (it == b.channels.end()) return;
    for (const auto& [id, c] : it->second.clients) f(std::string_view(id), c);
  }

 private:
  template <typename V>
  using Map = StringMap<V>;
  struct Channel {
    Map<Client> clients;
    Map<std::size_t> users;  // clients per user
  };
  struct alignas(64) Bucket {
    mutable std::mutex mu;
    Map<Channel> channels;
  };
  static constexpr std::size_t kBuckets = 64;
  [[nodiscard]] const Bucket& bucket(std::string_view channel) const noexcept {
    return buckets_[std::hash<std::string_view>{}(channel) % kBuckets];
  }
  [[nodiscard]] Bucket& bucket(std::string_view channel) noexcept {
    return buckets_[std::hash<std::string_view>{}(channel) % kBuckets];
  }
  std::array<Bucket, kBuckets> buckets_;
};

}  // namespace ringcast::engine
