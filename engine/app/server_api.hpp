// POST /api/<method>: the server HTTP API in Centrifugo's shape, for a backend to publish
// into the client protocol's channels. Every call needs `X-API-Key: <http_api.key>`
// (compared in constant time; missing or wrong: 401) unless http_api.insecure. Methods:
// `publish` {"channel","data"} and `broadcast` {"channels":[...],"data"}: each channel's
// push is encoded once and fanned out to its subscribers on every shard, the same bytes a
// client's publish makes (without the publisher's info). The answer is {"result":{}}, with
// the publication's offset and epoch where the channel keeps history; a broadcast's holds
// one response per channel, in order. `history` {"channel","limit","since","reverse"}
// answers publications (up to the namespace's history_size) with the stream's epoch and
// offset, `history_remove` {"channel"} drops them (108 where the channel keeps none);
// `presence` and `presence_stats` {"channel"} answer who is subscribed, or how many
// clients and users (108 where the namespace keeps no presence); `channels` {"pattern"}
// lists the channels with subscribers and `info` describes the node. A body that is not a
// JSON object or has a field of the wrong type is 400; a missing channel or data is error
// 107, an unknown namespace 102 (in a 200 answer, as Centrifugo does); an unknown method
// is 404, one ringcast does not serve yet error 108. Counted in
// ringcast_api_calls_total{method,status} and ringcast_publications_total{source="api"}.
// Bodies are bounded by --max-http-body (413) and slow requests by --handshake-timeout.
// --broker: a `publish` alone is answered once Redis took it (its offset and epoch are
// Redis's), and `presence` and `presence_stats` are every node's, read from Redis
// (engine/app/broker_presence.hpp): the answer waits for the reply (HttpHost::defer_answer;
// 100 when the link is down or lost), and so is `history` on a node that holds no copy of
// the channel's stream (read from Redis), and `history_remove` (Redis's stream, and every
// node's copy). A batch cannot wait: its publishes and history_removes are answered when
// queued, its presence calls get 108, and its history calls too where no copy is here.
#pragma once
#include <string>
#include <string_view>

#include "engine/config.hpp"
#include "engine/ws/http_app.hpp"
#include "protocol/api_json.hpp"

namespace ringcast::engine {

class ServerApi final : public HttpApp {
 public:
  ServerApi(const ClientProtocolConfig& cfg, std::string_view version);
  Answer on_request(const protocol::HttpRequest& req, std::string_view method, std::span<const std::uint8_t> body,
                    HttpHost& host) override;
  // --broker: a publish or presence call's answer from Redis's reply.
  Answer on_query_reply(HttpHost& host, std::span<const std::uint8_t> request,
                        const protocol::resp::Reply* reply) override;

 private:
  [[nodiscard]] bool authorized(const protocol::HttpRequest& req) const noexcept;
  Answer answer(const protocol::HttpRequest& req, protocol::api::Method m, std::string_view method,
                std::span<const std::uint8_t> body, HttpHost& host);
  // One method's call: its parameters parsed with `parser`, its answer into `out` (a
  // parse error is returned, nothing written).
  protocol::api::RequestParser::Result call(protocol::api::Method m, std::string_view params,
                                            protocol::api::RequestParser& parser, HttpHost& host, std::string& out);
  protocol::api::RequestParser::Result batch(std::string_view body, HttpHost& host, std::string& out);
  void publish(bool broadcast, const protocol::api::Request& rq, HttpHost& host, std::string& out);
  void history(bool remove, const protocol::api::Request& rq, HttpHost& host, std::string& out);
  void presence(bool stats, const protocol::api::Request& rq, HttpHost& host, std::string& out);
  void channels(const protocol::api::Request& rq, HttpHost& host, std::string& out);
  void info(HttpHost& host, std::string& out);
  void user_command(bool disconnect, const protocol::api::Request& rq, HttpHost& host, std::string& out);
  [[nodiscard]] const ChannelOptions* channel_options(std::string_view channel, std::string& answer) const;
  [[nodiscard]] const ChannelOptions* the_channel(const protocol::api::Request& rq, std::string& out) const;
  // --broker: makes this call's answer wait for Redis (a call alone: not in a batch), for
  // a command about `channel` of `kind`; false (tag 0) when it cannot wait.
  // `what`: the channel (a publish, presence) or the call's params (history).
  static constexpr char kPublish = 'u', kPresence = 'p', kPresenceStats = 's', kHistory = 'h', kRemove = 'r';
  [[nodiscard]] static bool defer(HttpHost& host, char kind, std::string_view what, std::uint64_t& tag);
  [[nodiscard]] bool history_from(const protocol::resp::Reply& reply, std::string_view params);
  // The deferred call's command was `sent` with `tag`; if not, error 100 now.
  static void deferred(HttpHost& host, std::uint64_t tag, bool sent, std::string& out);
  const ClientProtocolConfig cfg_;  // a copy: the server moves its Config after the apps are made
  std::string_view version_;
  std::string uid_, name_;  // the node's, for `info`: random per process; the host name
};

}  // namespace ringcast::engine
