// A channel's presence copied out of its lock, as the replies write it: the client
// protocol's `presence` and the server API's. One per thread; it keeps its capacity.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/pubsub/presence.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {

class PresenceCopy {
 public:
  // Valid until the next read.
  std::span<const protocol::client::ClientInfo> read(const Presence& p, std::string_view channel) {
    ids_.clear();
    clients_.clear();
    p.for_each(channel, [&](std::string_view id, const Presence::Client& c) {
      ids_.emplace_back(id);
      clients_.push_back(c);
    });
    infos_.clear();
    for (std::size_t i = 0; i < ids_.size(); ++i) {
      infos_.push_back({.user = clients_[i].user,
                        .client = ids_[i],
                        .conn_info = clients_[i].conn_info,
                        .chan_info = clients_[i].chan_info});
    }
    return infos_;
  }

 private:
  std::vector<std::string> ids_;
  std::vector<Presence::Client> clients_;
  std::vector<protocol::client::ClientInfo> infos_;
};

}  // namespace ringcast::engine
