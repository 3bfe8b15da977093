// What a WebSocket endpoint implements (the chat room, echo; next, the client protocol),
// and the Session through which it acts. The shard calls an app once per event of one
// connection (open, each whole message, close), never per subscriber: fan-out stays in
// pubsub. One App object serves every shard at once, so an app keeps no mutable state of
// its own: what belongs to a connection lives in its session (its subscription).
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/broker/broker_query.hpp"
#include "engine/config.hpp"
#include "engine/metrics.hpp"
#include "protocol/frame.hpp"

namespace ringcast::protocol::resp {
class Reply;
}  // namespace ringcast::protocol::resp

namespace ringcast::engine {

class Broker;
class History;
class HttpHost;
class Presence;
class Shard;
struct Conn;

// One connection, as an app sees it during a call. Valid only for that call.
class Session {
 public:
  [[nodiscard]] std::uint16_t peer_port() const noexcept;
  // Encodes one frame and queues it for this client only, counted against its backlog
  // like a broadcast (past it, the slow-client policy applies).
  void reply(protocol::Opcode op, std::span<const std::uint8_t> payload);
  // Subscribes this connection to `topic` (a connection may hold many); false when it
  // already was. Whatever it holds when it closes is dropped after on_close. `policy`:
  // what happens to the topic's subscribers past --max-backlog (the first subscriber on a
  // shard sets it for that shard; the default is --slow-policy). `options`: conflation and
  // max frequency (engine/pubsub/topic.hpp; set, like policy, by the shard's first
  // subscriber). `deltas`: this subscription takes the full and delta forms of a topic
  // published with publish_forms. `rate_class`: in a max-frequency topic, this
  // subscription's slower rate (config.hpp's rate_class; 0: the topic's own).
  bool subscribe(std::string_view topic, const TopicOptions& options = {}, bool deltas = false, std::uint8_t rate_class = 0);
  bool subscribe(std::string_view topic, SlowPolicy policy, const TopicOptions& options = {}, bool deltas = false,
                 std::uint8_t rate_class = 0);
  // Subscribes in the order of the topic's publish_in_order calls, holding the lock that
  // orders them (engine/pubsub/history.hpp): `reply` goes to this connection first, then
  // every publication published in order after this call and none before. Until then it
  // counts as subscribed (subscribed(), subscriptions()) without receiving. An empty reply
  // sends nothing. Such a subscription counts offsets: past --max-backlog it is closed
  // (3010 where --slow-policy drop would skip). `options` and `deltas` as for subscribe.
  // False when it already was subscribed, or memory for the reply ran out.
  bool subscribe_in_order(std::string_view topic, std::span<const std::uint8_t> reply, const TopicOptions& options = {},
                          bool deltas = false);
  // --broker: holds `request` (the app's bytes: a command to run again; empty: nothing,
  // the channel is only kept ready a while) until this node is ready to serve `channel`
  // (its feed subscribed to it in Redis and, where it keeps history, loaded its stream),
  // or for at most kHoldMs (under the SDKs' 5 s command timeout); then App::on_released.
  // Meanwhile `topic` counts one more subscriber on this node, so the feed subscribes.
  // `tag`: the app's (drop_held hands it back); a `subscription` hold is a subscribe,
  // counted apart (held(true)). False (nothing held) when the shard holds too many.
  static constexpr std::uint64_t kHoldMs = 3000;
  [[nodiscard]] bool hold_until_ready(std::string_view topic, std::string_view channel, std::string_view request,
                                      std::uint32_t tag, bool subscription);
  // --broker: reads every node's presence in `channel` from Redis (Broker::query); the
  // reply, or nullptr when none came (the link was lost: within its reply timeout), goes
  // to App::on_query_reply with `request` (the app's bytes) if this connection is still
  // open. False (nothing sent) without --broker, or when the link is down or full.
  [[nodiscard]] bool query_broker(BrokerQuery q, std::string_view channel, std::string_view request);
  // Its queries waiting for Redis now.
  [[nodiscard]] std::uint32_t queries() const noexcept;
  // Drops this connection's subscription holds for the topic with id `topic` (it
  // unsubscribed before its subscribe could run): they never run; their tags are
  // appended to `dropped`.
  void drop_held(std::uint32_t topic, std::vector<std::uint32_t>& dropped);
  // How many of its requests are held now (`subscriptions`: of those, the subscribes).
  [[nodiscard]] std::uint32_t held(bool subscriptions) const noexcept;
  // False when it was not subscribed to the topic with id `topic`. The id stays valid for
  // publishing (a farewell to the others).
  bool unsubscribe(std::uint32_t topic) noexcept;
  // The id of its first subscription (kNoTopic when none).
  [[nodiscard]] std::uint32_t topic() const noexcept;
  // Encodes `prefix` + `payload` once and delivers it to every subscriber of `topic` on
  // every shard (this connection included, if subscribed). --broker: the other nodes'
  // subscribers get it through Redis (the topic's room channel, while someone on this node
  // subscribes to it), from their node's feed.
  void publish(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload,
               std::string_view prefix = {});
  // Encodes `text` once as a text frame for every subscriber of `topic`; `in_order`: while
  // holding the lock that orders the topic (engine/pubsub/history.hpp), so every shard
  // delivers its publications in the order of these calls. False when memory ran out.
  bool publish_text(std::uint32_t topic, std::string_view text, bool in_order);
  // In order, as publish_text: one publication in three forms for a topic whose
  // subscribers may take deltas (TopicOptions::delta): `raw` for subscribers that did not
  // ask for them, `delta` (empty: none) for those holding the topic's previous publication,
  // `full` for the others. False when memory ran out.
  bool publish_forms(std::uint32_t topic, std::string_view raw, std::string_view full, std::string_view delta);
  // The channels' publication streams and presence (shared by every shard).
  [[nodiscard]] History& history() noexcept;
  // This shard's side of the nodes' Redis broker; nullptr without --broker.
  [[nodiscard]] Broker* broker() noexcept;
  [[nodiscard]] Presence& presence() noexcept;
  // The id of `topic`, or kNoTopic when nobody on any shard is subscribed to it.
  [[nodiscard]] std::uint32_t find_topic(std::string_view topic) const;
  [[nodiscard]] bool subscribed(std::uint32_t topic) const noexcept;
  [[nodiscard]] std::size_t subscriptions() const noexcept;
  // Ends the connection with a close frame after what is already queued for it.
  void close(std::uint16_t code, std::string_view reason);
  // One byte of per-connection state the app owns (0 at open): what one App object serving
  // every shard cannot keep itself.
  [[nodiscard]] std::uint8_t& app_state() noexcept;
  // This shard's counters (engine/metrics.hpp), for what the app counts itself.
  [[nodiscard]] ShardMetrics& metrics() noexcept;
  // Unique among the server's live connections: {shard, slot, generation}.
  struct Id {
    std::uint32_t shard, slot, gen;
  };
  [[nodiscard]] Id id() const noexcept;

 private:
  friend class Shard;
  Session(Shard& shard, Conn& conn, std::uint32_t slot) noexcept : shard_(shard), conn_(conn), slot_(slot) {}
  Shard& shard_;
  Conn& conn_;
  std::uint32_t slot_;
};

class App {
 public:
  virtual ~App() = default;
  // The upgrade was answered. `target`: what the route matched in the path (a room name).
  virtual void on_open(Session& s, std::string_view target) = 0;
  // A whole text or binary message (text is valid UTF-8).
  virtual void on_message(Session& s, protocol::Opcode op, std::span<const std::uint8_t> payload) = 0;
  // The connection closes or is gone: once, at the end of the turn in which it ended.
  virtual void on_close(Session& s) noexcept = 0;
  // An app whose protocol keeps connections alive itself (the client protocol's `{}`
  // pings) returns its period: the shard then calls on_keepalive every period (the first
  // after --handshake-timeout if that is shorter) instead of sending WebSocket pings and
  // closing idle connections. 0: the engine's pings and --idle-timeout.
  [[nodiscard]] virtual std::chrono::milliseconds keepalive_period() const noexcept { return {}; }
  // `heard`: the client sent something since the previous call (or since the open).
  virtual void on_keepalive(Session&, bool /*heard*/) {}
  // A command sent to every shard for this app's connections (HttpHost::command_all: the
  // server API's disconnect and unsubscribe), once per open connection of the app, on its
  // shard's thread. The bytes are the sender's, in a format the two agree on.
  virtual void on_command(Session&, std::span<const std::uint8_t> /*command*/) {}
  // A request Session::hold_until_ready held: `ready` its channel now is, else the hold
  // timed out (the connection is still open; one that closed meanwhile gets no call).
  virtual void on_released(Session&, std::span<const std::uint8_t> /*request*/, bool /*ready*/) {}
  // The reply to Session::query_broker (nullptr: none came), on the connection's shard.
  virtual void on_query_reply(Session&, std::span<const std::uint8_t> /*request*/,
                              const protocol::resp::Reply* /*reply*/) {}
  // The reply to HttpHost::query_broker, on the shard that asked.
  virtual void on_node_query_reply(HttpHost&, std::span<const std::uint8_t> /*request*/,
                                   const protocol::resp::Reply* /*reply*/) {}
  // Once a second, on the first shard's thread only: the app's own periodic work across
  // every shard (the client protocol's online counts), publishing through `host`.
  virtual void on_second(HttpHost& /*host*/) {}
};

}  // namespace ringcast::engine
