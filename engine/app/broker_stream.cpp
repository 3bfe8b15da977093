#include "engine/app/broker_stream.hpp"

#include <charconv>

#include "engine/broker/broker_wire.hpp"
#include "engine/pubsub/history.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

bool read_stream(const resp::Reply& reply, StreamRead& out) {
  // {epoch, top, [[id, ["d", record]], ...] newest first}
  const resp::Value& root = reply.root();
  if (root.type != resp::Type::array || root.integer != 3) return false;
  const resp::Value& epoch = reply.at(reply.element(0, 0));
  const resp::Value& top_v = reply.at(reply.element(0, 1));
  const std::uint32_t list = reply.element(0, 2);
  const resp::Value& entries = reply.at(list);
  std::uint64_t top = 0;
  if (epoch.type != resp::Type::bulk || epoch.str.size() != Stream::kEpochLength || top_v.type != resp::Type::bulk ||
      std::from_chars(top_v.str.data(), top_v.str.data() + top_v.str.size(), top).ec != std::errc{} ||
      entries.type != resp::Type::array) {
    return false;
  }
  out.epoch_name = epoch.str;
  out.last = top;
  out.entries.clear();
  for (std::int64_t k = entries.integer - 1; k >= 0; --k) {  // oldest first
    const std::uint32_t entry = reply.element(list, static_cast<std::uint32_t>(k));
    if (reply.at(entry).type != resp::Type::array || reply.at(entry).integer != 2) return false;
    const resp::Value& id = reply.at(reply.element(entry, 0));
    const std::uint32_t fields = reply.element(entry, 1);
    if (reply.at(fields).type != resp::Type::array || reply.at(fields).integer != 2) return false;
    const resp::Value& data = reply.at(reply.element(fields, 1));
    const std::uint64_t offset = broker::entry_offset(id.str);
    // Contiguous up to top (the stream is trimmed from its oldest end only).
    if (offset == 0 || data.type != resp::Type::bulk ||
        (!out.entries.empty() && offset != out.entries.back().offset + 1)) {
      return false;
    }
    out.entries.push_back({offset, data.str});
  }
  return out.entries.empty() || out.entries.back().offset == top;
}

}  // namespace ringcast::engine
