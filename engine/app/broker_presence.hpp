// --broker: presence kept in Redis for every node (engine/broker/broker_wire.hpp's presence
// keys), as the client protocol and the server API write and read it. A node adds its
// client where it records local presence, refreshes it every keepalive and removes it on
// leave; an entry not refreshed within presence_ttl_s expires, so a node that died leaves
// no ghosts past it. Reads are Broker queries; these turn their replies into answers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"
#include "protocol/client_reply.hpp"
#include "protocol/resp.hpp"

namespace ringcast::engine {

class Broker;

// How long an entry lives without a refresh: three keepalives, and at least Centrifugo's
// 60 s.
[[nodiscard]] std::uint32_t presence_ttl_s(const ClientProtocolConfig& cfg) noexcept;

// Adds (or refreshes) `client` in `channel`; `value` is scratch.
void add_broker_presence(Broker& b, const ClientProtocolConfig& cfg, std::string_view channel,
                         std::string_view client, std::string_view user, std::string_view conn_info,
                         std::string_view chan_info, std::string& value);

// The presence script's reply as the replies write it (views into `reply`); entries that
// are not ours are skipped. False when the reply is not the script's (an error).
[[nodiscard]] bool read_broker_presence(const protocol::resp::Reply& reply,
                                        std::vector<protocol::client::ClientInfo>& out);
// The stats script's {clients, users}.
struct PresenceCounts {
  std::size_t clients = 0, users = 0;
};
[[nodiscard]] bool read_broker_presence_stats(const protocol::resp::Reply& reply, PresenceCounts& out);

}  // namespace ringcast::engine
