// What a plain-HTTP endpoint with a body implements (the server API on /api/<method>), and
// the shard services it acts through. The shard hands over a whole request (head and its
// Content-Length body, already bounded by --max-http-body) and sends the one answer back.
// One object serves every shard at once, on each shard's thread.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/broker/broker_query.hpp"
#include "engine/metrics.hpp"
#include "engine/ws/routes.hpp"
#include "protocol/frame.hpp"
#include "protocol/handshake.hpp"

namespace ringcast::protocol::resp {
class Reply;
}  // namespace ringcast::protocol::resp

namespace ringcast::engine {

class App;
class Broker;
class History;
class Presence;
class TopicRegistry;

// The shard, as an HTTP endpoint sees it during a call.
class HttpHost {
 public:
  // The id of `topic`, or kNoTopic when nobody on any shard is subscribed to it.
  [[nodiscard]] virtual std::uint32_t find_topic(std::string_view topic) const = 0;
  // Encodes `text` once as a text frame and delivers it to every subscriber of `topic` on
  // every shard; false when memory for the frame ran out. `in_order`: Session::publish_text's.
  virtual bool publish_text(std::uint32_t topic, std::string_view text, bool in_order) = 0;
  // Encodes `payload` once as one `op` frame for every subscriber of `topic` on every shard
  // of this node; false when memory ran out.
  virtual bool publish_message(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload) = 0;
  // Session::publish_forms's.
  virtual bool publish_forms(std::uint32_t topic, std::string_view raw, std::string_view full, std::string_view delta) = 0;
  // Hands `command` to `route`'s app for each of its open connections, on every shard
  // (App::on_command), after this call returns; false when memory for it ran out.
  virtual bool command_all(Route route, std::span<const std::uint8_t> command) = 0;
  // Holding the lock that orders `topic` (engine/pubsub/history.hpp): hands `command` to
  // `route`'s app for each connection subscribed to `topic` at this point of its order, on
  // every shard: a subscription whose join was queued before it is one (joined first, its
  // reply sent), one that joins after it is not; publications before it reached them.
  // False when memory for it ran out.
  virtual bool command_subscribers(std::uint32_t topic, Route route, std::span<const std::uint8_t> command) = 0;
  // The channels' publication streams and presence (shared by every shard).
  [[nodiscard]] virtual History& history() noexcept = 0;
  [[nodiscard]] virtual Presence& presence() noexcept = 0;
  // --broker, shard 0 (holding the lock of `topic`'s stream where it has one): tells every
  // shard this node is ready to serve the topic, in order with its publications (held
  // subscribes run again).
  virtual void channel_ready(std::uint32_t topic) = 0;
  // This shard's side of the nodes' Redis broker; nullptr without --broker.
  [[nodiscard]] virtual Broker* broker() noexcept = 0;
  // --broker: reads every node's presence in `channel` from Redis (Broker::query); the
  // reply goes to app.on_node_query_reply with `request` (the app's bytes), on this
  // shard's thread. False (nothing sent) without --broker or when the link is down or full.
  virtual bool query_broker(App& app, BrokerQuery q, std::string_view channel, std::string_view request) = 0;
  // --broker, during HttpApp::on_request: this request's answer waits for a Redis reply.
  // Returns the tag to send the Broker command with (Broker::query, publish), whose reply
  // goes to HttpApp::on_query_reply with `request` (the app's bytes); then on_request
  // returns Answer::later(). A command that could not be sent takes its tag back with
  // undefer(). 0: no broker, or not during a request.
  [[nodiscard]] virtual std::uint64_t defer_answer(std::string_view request) = 0;
  virtual void undefer(std::uint64_t tag) noexcept = 0;
  // This shard's counters.
  [[nodiscard]] virtual ShardMetrics& counters() noexcept = 0;
  // Every shard's topics (the registry they share).
  [[nodiscard]] virtual const TopicRegistry& topics() const noexcept = 0;
  // WebSocket connections open on every shard, and seconds since the server started.
  [[nodiscard]] virtual std::uint64_t connections() const noexcept = 0;
  [[nodiscard]] virtual std::uint64_t uptime_seconds() const noexcept = 0;

 protected:
  ~HttpHost() = default;
};

class HttpApp {
 public:
  virtual ~HttpApp() = default;
  struct Answer {
    int status = 200;
    std::string_view content_type;  // "" for the status's own text body
    std::string_view body;          // valid until the next call on this thread
    // The answer comes later, from on_query_reply (HttpHost::defer_answer).
    [[nodiscard]] static Answer later() noexcept { return {.status = 0, .content_type = {}, .body = {}}; }
  };
  // `name`: what the route matched after its prefix (the API method).
  virtual Answer on_request(const protocol::HttpRequest& req, std::string_view name, std::span<const std::uint8_t> body,
                            HttpHost& host) = 0;
  // The answer to a deferred request (HttpHost::defer_answer), from its Redis reply
  // (nullptr: none came, the link was lost), on the shard that took the request; the
  // connection's next pipelined request is read after it.
  virtual Answer on_query_reply(HttpHost& /*host*/, std::span<const std::uint8_t> /*request*/,
                                const protocol::resp::Reply* /*reply*/) {
    return {.status = 503, .content_type = {}, .body = {}};
  }
};

}  // namespace ringcast::engine
