// ws://HOST:PORT/connection/websocket: the Centrifugo bidirectional client protocol (JSON),
// so the centrifuge SDKs (npm `centrifuge`, Go, Dart, Swift, Java, Python) work unchanged.
// A connection must send `connect` first (before --handshake-timeout: else 3502 stale):
// anonymous where client.allow_anonymous_connect_without_token, else with an HMAC JWT
// (client.token; protocol/jwt.hpp) whose `sub` is the user, `info` its conn_info and
// `channels` its server-side subscriptions (in the reply's `subs`). Then
// it may subscribe to many channels (up to client.channel_limit), publish where the
// channel's namespace allows it (anonymous connections need the *_for_anonymous switches
// too), unsubscribe, and renew its tokens (`refresh`, `sub_refresh`). A subscription token
// (client.subscription_token, else client.token) grants its channel, `$` private ones
// included, whatever the namespace allows. The server pings with `{}` every
// client.ping_interval; a client silent for a whole interval after a ping is closed 3012,
// and at a ping what outlived its token by more than client.expired_close_delay ends:
// the connection with 3005, a subscription with the 2501 unsubscribe push (the SDK renews
// and comes back).
// Where the namespace keeps history (engine/pubsub/history.hpp), publications are numbered
// and a recoverable or positioned subscribe joins the channel's stream in order
// (Session::subscribe_in_order), its reply carrying what a `recover` missed (server-side
// subscriptions: the connect reply, for what connect's `subs` recover); `history`
// reads the stream (engine/app/history_query.hpp). Where it keeps presence, subscriptions
// are recorded (engine/pubsub/presence.hpp) for `presence` and `presence_stats` (--broker:
// in Redis too, for every node's, engine/app/broker_presence.hpp).
// Bad input gets the protocol's answer: an error reply for a refused command (102 unknown
// namespace, 103 denied, 105 already subscribed, 106 channel limit, 108 not available
// yet, 109 token expired: the SDK fetches a new one, 112 a position in another epoch),
// the 3500 disconnect for a token that is forged, malformed or for another user or
// channel (logged with the cause), the 3501 disconnect for a frame that is not commands,
// and never a crash.
//
// A channel is the pub/sub topic "\x01<channel>": no request path can hold that byte, so
// channels never meet the chat rooms. A publication's push, with its publisher's info, is
// encoded once and fanned out.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "engine/config.hpp"
#include "engine/ws/app.hpp"

namespace ringcast::engine {

class ClientProtocol final : public App {
 public:
  ClientProtocol(const ClientProtocolConfig& cfg, std::string_view version);
  void on_open(Session&, std::string_view) override {}
  void on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) override;
  void on_close(Session& s) noexcept override;
  [[nodiscard]] std::chrono::milliseconds keepalive_period() const noexcept override { return cfg_.ping_interval; }
  void on_keepalive(Session& s, bool heard) override;
  // The server API's disconnect and unsubscribe (engine/app/user_command.hpp).
  void on_command(Session& s, std::span<const std::uint8_t> command) override;
  // --broker: a subscribe held until its channel's stream loaded runs again.
  void on_released(Session& s, std::span<const std::uint8_t> request, bool loaded) override;
  // --broker: a presence read's reply from Redis answers its command.
  void on_query_reply(Session& s, std::span<const std::uint8_t> request, const protocol::resp::Reply* reply) override;
  // Namespaces with online_push_interval: each channel's count, one shared publication
  // (--broker: every node's count, read from Redis and pushed by on_node_query_reply).
  void on_second(HttpHost& host) override;
  void on_node_query_reply(HttpHost& host, std::span<const std::uint8_t> request,
                           const protocol::resp::Reply* reply) override;

  [[nodiscard]] const ClientProtocolConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] std::string_view version() const noexcept { return version_; }
  // The connection's id in the connect reply: a UUID-shaped string (36 characters).
  void format_client_id(const Session::Id& id, char (&out)[37]) const noexcept;

 private:
  static void push_online(HttpHost& host, std::string_view channel, std::size_t clients, std::size_t users);
  const ClientProtocolConfig cfg_;  // a copy: the server moves its Config after the apps are made
  std::string_view version_;
  std::array<std::uint8_t, 6> process_random_{};  // tells this process's ids from a restart's
  // on_second's (shard 0's thread only): when each namespace last pushed its counts, by
  // namespace (without_namespace last).
  std::vector<std::int64_t> online_pushed_ms_;
};

}  // namespace ringcast::engine
