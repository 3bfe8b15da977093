// libFuzzer target for what another node (or anyone with Redis) puts in front of ringcast
// (engine/broker/broker_wire.hpp, engine/app/broker_presence.hpp): the input is one feed
// payload and, as RESP, a presence script's reply. Invariants: whatever parses writes back
// to bytes that parse to the same fields (envelopes, room messages, load markers, presence
// values); every presence entry read points into the reply; nothing crashes or leaks.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/app/broker_presence.hpp"
#include "engine/broker/broker_wire.hpp"
#include "protocol/resp.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace broker = ringcast::engine::broker;
namespace resp = ringcast::protocol::resp;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void payload(std::string_view in) {
  std::string out;
  broker::Envelope e;
  if (broker::parse_envelope(in, e)) {
    broker::write_envelope(out, e.offset, e.epoch, e.record, e.delta);
    broker::Envelope again;
    FUZZ_CHECK(broker::parse_envelope(out, again));
    FUZZ_CHECK(again.offset == e.offset && again.epoch == e.epoch && again.record == e.record && again.delta == e.delta);
  }
  broker::RoomMessage m;
  if (broker::parse_room_message(in, m)) {
    broker::write_room_message(out, m.node, m.binary, {}, m.bytes);
    broker::RoomMessage again;
    FUZZ_CHECK(broker::parse_room_message(out, again));
    FUZZ_CHECK(again.node == m.node && again.binary == m.binary && again.bytes == m.bytes);
  }
  std::string_view node;
  std::uint64_t tag = 0;
  if (broker::parse_load_marker(in, node, tag) && node.find(':') == std::string_view::npos) {
    broker::write_load_marker(out, node, tag);
    std::string_view node2;
    std::uint64_t tag2 = 0;
    FUZZ_CHECK(broker::parse_load_marker(out, node2, tag2) && node2 == node && tag2 == tag);
  }
  broker::PresenceValue v;
  if (broker::parse_presence_value(in, v)) {
    FUZZ_CHECK(inside(v.user, in) && inside(v.conn_info, in) && inside(v.chan_info, in));
    broker::write_presence_value(out, v.user, v.conn_info, v.chan_info);
    broker::PresenceValue again;
    FUZZ_CHECK(broker::parse_presence_value(out, again));
    FUZZ_CHECK(again.user == v.user && again.conn_info == v.conn_info && again.chan_info == v.chan_info);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  payload(in);
  resp::Reply reply;
  if (resp::parse_reply(std::span(data, size), reply).status == resp::Status::ok) {
    std::vector<ringcast::protocol::client::ClientInfo> infos;
    if (ringcast::engine::read_broker_presence(reply, infos)) {
      FUZZ_CHECK(infos.size() * 2 <= static_cast<std::size_t>(reply.root().integer));
      for (const auto& i : infos) {
        FUZZ_CHECK(inside(i.user, in) && inside(i.client, in) && inside(i.conn_info, in) && inside(i.chan_info, in));
      }
    }
    ringcast::engine::PresenceCounts counts;
    (void)ringcast::engine::read_broker_presence_stats(reply, counts);
  }
  return 0;
}
