// ws://HOST:PORT/echo: every message comes back to its sender as it was (text stays text,
// binary stays binary). The RFC 6455 conformance suite runs against it.
#pragma once
#include "engine/ws/app.hpp"

namespace ringcast::engine {

class Echo final : public App {
 public:
  void on_open(Session&, std::string_view) override {}
  void on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) override {
    s.reply(op, payload);
  }
  void on_close(Session&) noexcept override {}
};

}  // namespace ringcast::engine
