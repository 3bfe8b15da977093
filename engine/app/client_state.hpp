// What the client protocol remembers about one connection beyond Session::app_state: who
// its token says it is, and when its credentials run out (the connection's and each
// subscription made with a token), and its rate limits. Only connections that sent a token
// or are rate limited have an entry with content; others cost a default-constructed slot.
//
// One table per shard thread, indexed by the connection's slot: the App object is shared
// by every shard, and a shard's connections are only ever touched on its own thread. An
// entry left by an earlier connection in the slot is told apart by the generation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ws/app.hpp"

namespace ringcast::engine {

// A subscription made with a subscription token.
struct ClientGrant {
  std::string channel;
  std::string chan_info;       // the token's `info` (raw JSON), "" when absent
  std::int64_t expire_at = 0;  // seconds since the epoch; 0: never
};

struct ClientState {
  std::uint32_t gen = 0;
  std::string user;            // the token's `sub`; "" for anonymous
  std::string conn_info;       // the token's `info` (raw JSON), "" when absent
  std::int64_t expire_at = 0;  // the connection's; 0: never
  std::vector<ClientGrant> grants;
  std::vector<std::string> presence;  // channels it is recorded in (engine/pubsub/presence.hpp)
  std::vector<std::string> server_side;  // channels its connect token subscribed it to
  std::vector<std::int64_t> rate_cells;  // its command rate limits' state (engine/app/rate_limit.hpp)

  [[nodiscard]] ClientGrant* grant(std::string_view channel) noexcept {
    for (ClientGrant& g : grants) {
      if (g.channel == channel) return &g;
    }
    return nullptr;
  }
  [[nodiscard]] const ClientGrant* grant(std::string_view channel) const noexcept {
    return const_cast<ClientState&>(*this).grant(channel);
  }
  void drop_grant(std::string_view channel) noexcept {
    std::erase_if(grants, [&](const ClientGrant& g) { return g.channel == channel; });
  }
};

// The calling shard's entry for `s`, made empty if it belonged to an earlier connection.
[[nodiscard]] ClientState& client_state(Session& s);
// The entry for `s` if it has one on this shard (nullptr: an anonymous connection so far).
[[nodiscard]] ClientState* find_client_state(Session& s) noexcept;
// Forgets `s` (on close), keeping the entry's capacity for the slot's next connection.
void forget_client_state(Session& s) noexcept;

}  // namespace ringcast::engine
