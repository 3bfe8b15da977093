#include "engine/app/broker_presence.hpp"

#include <algorithm>

#include "engine/broker/broker.hpp"
#include "engine/broker/broker_wire.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

std::uint32_t presence_ttl_s(const ClientProtocolConfig& cfg) noexcept {
  const auto ping_s = static_cast<std::uint64_t>((cfg.ping_interval.count() + 999) / 1000);
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(3 * ping_s, 60, UINT32_MAX));
}

void add_broker_presence(Broker& b, const ClientProtocolConfig& cfg, std::string_view channel,
                         std::string_view client, std::string_view user, std::string_view conn_info,
                         std::string_view chan_info, std::string& value) {
  broker::write_presence_value(value, user, conn_info, chan_info);
  (void)b.presence_add(channel, client, value, presence_ttl_s(cfg));  // refused: logged, the next keepalive adds it
}

bool read_broker_presence(const resp::Reply& reply, std::vector<protocol::client::ClientInfo>& out) {
  out.clear();
  const resp::Value& root = reply.root();
  if (root.type != resp::Type::array || root.integer % 2 != 0) return false;
  std::uint32_t i = 1;  // the first element follows its array
  for (std::int64_t k = 0; k < root.integer; k += 2) {
    const resp::Value& id = reply.at(i);
    const resp::Value& value = reply.at(id.next);
    i = value.next;
    broker::PresenceValue v;
    if (id.type != resp::Type::bulk || value.type != resp::Type::bulk || !broker::parse_presence_value(value.str, v)) {
      continue;
    }
    out.push_back({.user = v.user, .client = id.str, .conn_info = v.conn_info, .chan_info = v.chan_info});
  }
  return true;
}

bool read_broker_presence_stats(const resp::Reply& reply, PresenceCounts& out) {
  const resp::Value& root = reply.root();
  if (root.type != resp::Type::array || root.integer != 2) return false;
  const resp::Value& clients = reply.at(1);
  const resp::Value& users = reply.at(clients.next);
  if (clients.type != resp::Type::integer || users.type != resp::Type::integer || clients.integer < 0 ||
      users.integer < 0) {
    return false;
  }
  out = {static_cast<std::size_t>(clients.integer), static_cast<std::size_t>(users.integer)};
  return true;
}

}  // namespace ringcast::engine
