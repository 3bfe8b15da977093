// The seed's chat room: ws://HOST:PORT/<room>. Each client is named ID<its remote port>;
// its text messages reach the whole room (itself included) as "ID<port>: <text>", binary
// messages are relayed unchanged, and joins and leaves are announced ("ID<port> joined" /
// "ID<port> left") unless the server runs with --announce off.
#pragma once
#include "engine/ws/app.hpp"

namespace ringcast::engine {

class ChatRoom final : public App {
 public:
  explicit ChatRoom(bool announce) noexcept : announce_(announce) {}
  void on_open(Session& s, std::string_view room) override;
  void on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) override;
  void on_close(Session& s) noexcept override;

 private:
  bool announce_;
};

}  // namespace ringcast::engine
