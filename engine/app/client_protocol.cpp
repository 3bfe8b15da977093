#include "engine/app/client_protocol.hpp"

#include <sys/random.h>

#include <string>

#include "engine/log.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/pubsub/topic.hpp"
#include "protocol/client_command.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {
namespace {

namespace client = protocol::client;
using client::ErrorCode;
using client::Method;

// Session::app_state bits.
constexpr std::uint8_t kConnected = 1;

LogLimiter g_bad_input_log;

// One frame's commands, answered into one reply frame. Thread-local: the App object is
// shared by every shard, and these buffers keep their capacity from frame to frame.
class FrameHandler final : public client::CommandSink {
 public:
  void run(const ClientProtocol& app, Session& s, std::string_view frame) {
    app_ = &app;
    s_ = &s;
    replies_.clear();
    disconnect_ = {};
    why_ = "";
    client::CommandParser::Result r = parser_.parse(frame, *this);
    if (r.error != client::ParseError::none && disconnect_.code == 0) {
      disconnect_ = client::kBadRequest;
      why_ = r.what;
    }
    if (!replies_.empty()) s.reply(protocol::Opcode::text, as_bytes(replies_));
    if (disconnect_.code != 0) {
      g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u closed %u (%.*s): %s",
                          static_cast<unsigned>(s.peer_port()), static_cast<unsigned>(disconnect_.code),
                          static_cast<int>(disconnect_.reason.size()), disconnect_.reason.data(), why_);
      s.close(disconnect_.code, disconnect_.reason);
    }
  }

  bool on_command(const client::Command& cmd) override {
    bool connected = (s_->app_state() & kConnected) != 0;
    if (cmd.method == Method::none) {  // `{}` is a pong (it was heard); with an id, a method we do not know
      return cmd.id == 0 || error(cmd, ErrorCode::method_not_found);
    }
    if (cmd.method == Method::connect) {
      if (connected) return disconnect(client::kBadRequest, "a second connect");
      return connect(cmd);
    }
    if (!connected) return disconnect(client::kBadRequest, "a command before connect");
    switch (cmd.method) {
      case Method::subscribe: return subscribe(cmd);
      case Method::unsubscribe: return unsubscribe(cmd);
      case Method::publish: return publish(cmd);
      case Method::ping: return result(cmd);
      case Method::send: return true;  // asynchronous and unanswered: no handler takes it yet
      case Method::rpc: return error(cmd, ErrorCode::method_not_found);
      case Method::presence:
      case Method::presence_stats:
      case Method::history:
      case Method::refresh:
      case Method::sub_refresh: return error(cmd, ErrorCode::not_available);
      case Method::none:
      case Method::connect: break;
    }
    return true;
  }

 private:
  bool connect(const client::Command& cmd) {
    if (!cmd.token.empty()) return disconnect(client::kInvalidToken, "connection tokens are not verified yet");
    if (!app_->config().allow_anonymous_connect_without_token) {
      return disconnect(client::kBadRequest, "no token, and client.allow_anonymous_connect_without_token is off");
    }
    s_->app_state() |= kConnected;
    char id[37];
    app_->format_client_id(s_->id(), id);
    client::ConnectResult r;
    r.client = {id, 36};
    r.version = app_->version();
    r.ping_seconds = static_cast<std::uint32_t>((app_->config().ping_interval.count() + 999) / 1000);
    r.pong = true;
    next_line();
    client::append_connect_result(replies_, cmd.id, r);
    return true;
  }

  // The options of a channel a command names, or nullptr after answering why not.
  const ChannelOptions* channel_options(const client::Command& cmd) {
    if (cmd.channel.empty()) {
      disconnect(client::kBadRequest, "a command without a channel");
      return nullptr;
    }
    if (cmd.channel.size() > app_->config().channel_max_length) {
      error(cmd, ErrorCode::limit_exceeded);
      return nullptr;
    }
    const ChannelOptions* o = app_->config().options_for(cmd.channel);
    if (o == nullptr) error(cmd, ErrorCode::unknown_channel);
    return o;
  }

  std::string_view topic_key(std::string_view channel) {
    key_.assign(1, '\x01');
    key_.append(channel);
    return key_;
  }

  bool subscribe(const client::Command& cmd) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    // Connections are anonymous until tokens are verified: both switches must be on.
    bool allowed = !cmd.channel.starts_with('$') && o->allow_subscribe_for_client && o->allow_subscribe_for_anonymous;
    if (!allowed) return error(cmd, ErrorCode::permission_denied);
    if (s_->subscriptions() >= app_->config().channel_limit) return error(cmd, ErrorCode::limit_exceeded);
    if (!s_->subscribe(topic_key(cmd.channel))) return error(cmd, ErrorCode::already_subscribed);
    return result(cmd);
  }

  bool unsubscribe(const client::Command& cmd) {
    if (cmd.channel.empty()) return disconnect(client::kBadRequest, "unsubscribe without a channel");
    if (std::uint32_t topic = s_->find_topic(topic_key(cmd.channel)); topic != kNoTopic) s_->unsubscribe(topic);
    return result(cmd);  // not subscribed: nothing to undo, the same answer
  }

  bool publish(const client::Command& cmd) {
    const ChannelOptions* o = channel_options(cmd);
    if (o == nullptr) return disconnect_.code == 0;
    if (cmd.data.empty()) return disconnect(client::kBadRequest, "publish without data");
    std::uint32_t topic = s_->find_topic(topic_key(cmd.channel));
    bool subscriber = topic != kNoTopic && s_->subscribed(topic);
    bool allowed = (o->allow_publish_for_client || (o->allow_publish_for_subscriber && subscriber)) &&
                   o->allow_publish_for_anonymous;
    if (!allowed) return error(cmd, ErrorCode::permission_denied);
    if (topic != kNoTopic) {  // else nobody listens
      push_.clear();
      client::append_publication_push(push_, cmd.channel, {cmd.data, 0});
      s_->publish(topic, protocol::Opcode::text, as_bytes(push_));
    }
    return result(cmd);
  }

  void next_line() {
    if (!replies_.empty()) replies_ += '\n';
  }
  bool result(const client::Command& cmd) {
    if (cmd.id == 0) return true;
    next_line();
    client::append_empty_result(replies_, cmd.id, cmd.method);
    return true;
  }
  bool error(const client::Command& cmd, ErrorCode code) {
    if (cmd.id == 0) return true;
    next_line();
    client::append_error(replies_, cmd.id, code);
    return true;
  }
  bool disconnect(client::Disconnect d, const char* why) {
    disconnect_ = d;
    why_ = why;
    return false;
  }

  client::CommandParser parser_;
  const ClientProtocol* app_ = nullptr;
  Session* s_ = nullptr;
  std::string replies_, key_, push_;
  client::Disconnect disconnect_{};
  const char* why_ = "";
};

thread_local FrameHandler t_handler;

}  // namespace

ClientProtocol::ClientProtocol(const ClientProtocolConfig& cfg, std::string_view version)
    : cfg_(cfg), version_(version) {
  // Not secret, only distinct across restarts: a short read leaves zeros, still valid ids.
  if (getrandom(process_random_.data(), process_random_.size(), 0) < 0) process_random_ = {};
}

void ClientProtocol::format_client_id(const Session::Id& id, char (&out)[37]) const noexcept {
  std::uint8_t b[16];
  for (std::size_t i = 0; i < 6; ++i) b[i] = process_random_[i];
  b[6] = static_cast<std::uint8_t>(id.shard >> 8);
  b[7] = static_cast<std::uint8_t>(id.shard);
  for (std::size_t i = 0; i < 4; ++i) {
    b[8 + i] = static_cast<std::uint8_t>(id.slot >> (24 - 8 * i));
    b[12 + i] = static_cast<std::uint8_t>(id.gen >> (24 - 8 * i));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t o = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 15];
  }
  out[o] = '\0';
}

void ClientProtocol::on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  if (op != protocol::Opcode::text) {
    s.close(client::kBadRequest.code, client::kBadRequest.reason);  // the JSON protocol travels as text
    return;
  }
  t_handler.run(*this, s, {reinterpret_cast<const char*>(payload.data()), payload.size()});
}

void ClientProtocol::on_keepalive(Session& s, bool heard) {
  bool connected = (s.app_state() & kConnected) != 0;
  if (!connected || !heard) {
    client::Disconnect d = connected ? client::kNoPong : client::kStale;
    g_bad_input_log.log(LogLevel::debug, "client protocol: ID%u closed %u (%.*s)", static_cast<unsigned>(s.peer_port()),
                        static_cast<unsigned>(d.code), static_cast<int>(d.reason.size()), d.reason.data());
    s.close(d.code, d.reason);
  } else {
    s.reply(protocol::Opcode::text, as_bytes(client::kPing));
  }
}

}  // namespace ringcast::engine
