#include "engine/app/chat_room.hpp"

#include <cstdio>

namespace ringcast::engine {
namespace {

void notice(Session& s, std::uint32_t topic, const char* what) {
  char text[32];
  int n = std::snprintf(text, sizeof text, "ID%u %s", static_cast<unsigned>(s.peer_port()), what);
  s.publish(topic, protocol::Opcode::text, {}, {text, static_cast<std::size_t>(n)});
}

}  // namespace

void ChatRoom::on_open(Session& s, std::string_view room) {
  s.subscribe(room);
  if (announce_) notice(s, s.topic(), "joined");
}

void ChatRoom::on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  // Binary is relayed unchanged (no name prefix: it may not be text).
  char prefix[16];
  int n = op == protocol::Opcode::binary
              ? 0
              : std::snprintf(prefix, sizeof prefix, "ID%u: ", static_cast<unsigned>(s.peer_port()));
  s.publish(s.topic(), op, payload, {prefix, static_cast<std::size_t>(n)});
}

void ChatRoom::on_close(Session& s) noexcept {
  // Announced while still a member (with --broker the room's name goes to Redis only while
  // someone here is in it); the leaver, closing, hears nothing more.
  std::uint32_t room = s.topic();
  if (announce_) notice(s, room, "left");
  s.unsubscribe(room);
}

}  // namespace ringcast::engine
