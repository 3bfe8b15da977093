// A shard: the loop (engine/core/shard_loop.hpp) with the layers above it: plain HTTP and
// the WebSocket session (engine/ws/), the connection's app (engine/ws/app.hpp), and
// publish/fan-out with subscriptions and the mailboxes between shards (engine/pubsub/).
// Nothing here is shared with other shards except the mailboxes (SPSC, one per sender),
// the topic registry (under its own mutex, touched only on subscribe and unsubscribe)
// and read-only configuration.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/broker/broker.hpp"
#include "engine/config.hpp"
#include "engine/core/mailbox.hpp"
#include "engine/core/shard_loop.hpp"
#include "engine/core/thread_inbox.hpp"
#include "engine/metrics.hpp"
#include "engine/net/tls_context.hpp"
#include "engine/pubsub/fanout.hpp"
#include "engine/pubsub/history.hpp"
#include "engine/pubsub/presence.hpp"
#include "engine/pubsub/message.hpp"
#include "engine/pubsub/subscriptions.hpp"
#include "engine/pubsub/topic.hpp"
#include "engine/ws/app.hpp"
#include "engine/ws/http_app.hpp"
#include "engine/ws/routes.hpp"
#include "protocol/deflate_codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/handshake.hpp"

namespace ringcast::engine {

class Shard;

// What all shards share: read-only after start, except the stop flag.
struct ShardGroup {
  Config config;
  unsigned shard_count = 1;
  TopicRegistry topics;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  History history;    // channels' publication streams (the client protocol's history)
  Presence presence;  // who is in each channel that keeps presence
  TlsContextStore tls;  // the certificate wss connections start with (loaded when configured)
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<const ShardMetrics*> metrics;
  std::size_t prewarm_frames = 4096;  // small frames pooled per shard at init (x 160 B)
  // The app serving each WebSocket route (engine/app/builtin_apps.hpp installs them; a
  // route without one answers 404); shared by every shard.
  App* apps[static_cast<std::size_t>(Route::count_)] = {};
  HttpApp* http_api = nullptr;  // /api/<method>; none: 404
  // --broker (Config::broker not empty): the nodes' Redis, and what takes its messages.
  BrokerShared broker;
  BrokerSink* broker_sink = nullptr;
  std::atomic<bool> stopping{false};
};

class Shard final : public ShardLoop, private HttpHost, private BrokerQueries {
  friend class Session;  // what an app may do, on this shard (engine/ws/session.cpp)

 public:
  // `io` is this shard's backend (every shard of a group has the same kind).
  Shard(ShardGroup& group, unsigned id, ShardListeners listeners, std::unique_ptr<IoBackend> io);
  ~Shard();

  // After every shard's thread has returned: release what mailboxes still hold.
  void release_leftovers() noexcept;
  // Any thread: queue a frame (one holder of it is handed over) for `topic` and wake the shard.
  void post_external(Message m);
  [[nodiscard]] Mailbox<Message>& inbox_from(unsigned sender) noexcept { return *inbox_[sender]; }
  // Shard thread: deliver `frame` (encoded once) to `topic` on every shard.
  void publish(std::uint32_t topic, Frame* frame);
  // Shard thread, holding the lock that orders `m.topic` (engine/pubsub/history.hpp): a
  // publication (m.slot unset) for every shard, or a subscription of this shard's joining,
  // queued so each shard takes the topic's messages in the order of these calls.
  void publish_in_order(Message m);
  [[nodiscard]] FramePool& frames() noexcept { return frames_; }

 private:
  // The loop's hooks (engine/core/shard_loop.hpp).
  void on_accepted(Conn& c, std::uint32_t slot) override;                                // ws
  void on_input(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len) override;  // ws
  void on_deadline(Conn& c, std::uint32_t slot) override;                                // ws
  void on_stopping() override;                                                           // ws
  void on_ending(Conn& c, std::uint32_t slot) noexcept override;                         // shard.cpp
  void on_freed(Conn& c, std::uint32_t slot) noexcept override;                          // shard.cpp
  void before_flush(bool due) override;                                                  // pubsub
  void after_flush() override;                                                           // pubsub
  [[nodiscard]] bool broadcasts_pending() const noexcept override { return !pending_.empty(); }
  void on_started() override;                                                            // shard.cpp
  void on_broker(const Completion& c) override;                                          // shard.cpp

  // shard.cpp: the app's on_close, once per opened connection (deferred to the end of
  // the turn); then whatever the connection is still subscribed to is dropped.
  void close_app(Conn& c, std::uint32_t slot) noexcept;
  void unsubscribe_all(std::uint32_t slot) noexcept;
  [[nodiscard]] App& app_of(const Conn& c) const noexcept { return *group_.apps[c.app]; }

  // ws/shard_http.cpp: plain HTTP before an upgrade
  void on_handshake_bytes(Conn& c, std::uint32_t slot, const std::uint8_t* data, std::size_t len);
  // Answers one request (its body in hand); true when the connection stays open for the
  // next one (keep-alive).
  bool serve_http(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req, std::span<const std::uint8_t> body);
  // Sends a 200 (or other) answer with a body; false when the connection is gone.
  bool send_http_answer(Conn& c, std::uint32_t slot, int status, std::string_view type, std::string_view text,
                        bool keep, bool head_only);
  // HttpHost: what /api/<method> may do (ws/shard_http.cpp).
  [[nodiscard]] std::uint32_t find_topic(std::string_view topic) const override;
  bool publish_text(std::uint32_t topic, std::string_view text, bool in_order) override;
  bool publish_message(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload) override;
  bool publish_forms(std::uint32_t topic, std::string_view raw, std::string_view full, std::string_view delta) override;
  [[nodiscard]] History& history() noexcept override { return group_.history; }
  [[nodiscard]] Presence& presence() noexcept override { return group_.presence; }
  [[nodiscard]] const TopicRegistry& topics() const noexcept override { return group_.topics; }
  [[nodiscard]] Broker* broker() noexcept override { return broker_.get(); }
  void channel_ready(std::uint32_t topic) override;
  // Requests held until their channel is ready (Session::hold_until_ready).
  struct HoldRequest {
    std::string_view request;
    std::uint32_t tag;
    bool subscription;
  };
  struct Held {
    std::uint32_t slot, gen, topic;
    std::uint64_t until_ms;
    std::string request;
    std::uint32_t tag;
    bool subscription;
  };
  static constexpr std::size_t kMaxHeld = 65536;
  bool hold(Conn& c, std::uint32_t slot, std::string_view topic, std::string_view channel, const HoldRequest& r);
  // Runs the held requests of `topic` (kNoTopic: those past their time) again.
  void release_held(std::uint32_t topic, std::uint64_t now_ms);
  void drop_held(const Conn& c, std::uint32_t slot, std::uint32_t topic, std::vector<std::uint32_t>& dropped);
  std::vector<Held> held_, releasing_;
  std::uint64_t rerun_until_ms_ = 0;  // while a released request runs: its deadline
  std::uint64_t held_soonest_ms_ = UINT64_MAX;  // no entry of held_ is due before (may be early)
  struct HeldCount {
    std::uint32_t all = 0, subscriptions = 0;
  };
  std::unordered_map<std::uint64_t, HeldCount> held_by_conn_;  // {slot, gen} -> its requests in held_
  [[nodiscard]] static std::uint64_t conn_key(std::uint32_t slot, std::uint32_t gen) noexcept {
    return std::uint64_t{slot} << 32 | gen;
  }
  void unhold(const Held& h) noexcept;  // h leaves held_: no longer counted for its connection
  [[nodiscard]] std::uint32_t held(const Conn& c, std::uint32_t slot, bool subscriptions) const noexcept;
  // Broker queries waiting for Redis: for a WebSocket connection's app (slot, gen:
  // Session::query_broker), for `app` itself (slot kNoSlot: HttpHost::query_broker), or
  // for an HTTP connection's answer (`http`: HttpHost::defer_answer).
  struct Query {
    std::uint32_t slot, gen;
    App* app;
    std::string request;
    bool http = false, keep = false;  // http: the connection stays open after the answer
  };
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  bool query(std::uint32_t slot, std::uint32_t gen, App& app, BrokerQuery q, std::string_view channel,
             std::string_view request);
  bool query_broker(App& app, BrokerQuery q, std::string_view channel, std::string_view request) override;
  void on_query_reply(std::uint64_t tag, const protocol::resp::Reply* reply) override;
  [[nodiscard]] std::uint64_t defer_answer(std::string_view request) override;
  void undefer(std::uint64_t tag) noexcept override;
  // The HTTP request serve_http hands to the API now (defer_answer's), slot kNoSlot if none.
  struct Serving {
    std::uint32_t slot = kNoSlot, gen = 0;
    bool keep = false;
  } serving_;
  // Sends `a`, the deferred answer of connection `slot`, and reads its next request.
  void send_deferred(Conn& c, std::uint32_t slot, const HttpApp::Answer& a, bool keep);
  std::unordered_map<std::uint64_t, Query> queries_;       // tag -> the query
  std::unordered_map<std::uint64_t, std::uint32_t> queries_by_conn_;  // {slot, gen} -> its queries
  std::uint64_t next_query_ = 1;
  [[nodiscard]] std::uint32_t queries(const Conn& c, std::uint32_t slot) const noexcept;
  bool command_all(Route route, std::span<const std::uint8_t> command) override;
  bool command_subscribers(std::uint32_t topic, Route route, std::span<const std::uint8_t> command) override;
  // `command` in a frame with one holder per shard (nullptr: out of memory).
  [[nodiscard]] Frame* command_frame(std::span<const std::uint8_t> command);
  // Queues `m` on every shard's in_order_ (this one's included) and wakes the others.
  void to_every_shard(const Message& m);
  // An app command from in_order_: its app's on_command for each of its open connections
  // (kAppCommand), or, at its place in the topic's order, for each subscriber of the topic
  // (kTopicCommand).
  void run_command(const Message& m);
  void run_topic_command(const Message& m);
  std::vector<Subscriber> commanded_;  // scratch: run_topic_command's subscribers
  [[nodiscard]] std::uint64_t connections() const noexcept override;
  [[nodiscard]] std::uint64_t uptime_seconds() const noexcept override;
  [[nodiscard]] ShardMetrics& counters() noexcept override { return metrics_; }
  void fail_handshake(Conn& c, std::uint32_t slot, int status, HandshakeFailure why);
  // An HTTP error answer (without its body for HEAD); then close, unless `keep_alive` (the
  // request stream is intact).
  void respond_error(Conn& c, std::uint32_t slot, int status, bool keep_alive, bool head_only,
                     std::string_view allow = "GET, HEAD");
  // Makes the spill buffer hold exactly `rest` (bytes not parsed yet). False: out of memory
  // (the connection is torn down).
  bool hold_unparsed(Conn& c, std::uint32_t slot, std::span<const char> rest);

  // ws/shard_ws.cpp: the WebSocket session
  // A valid upgrade request; `in` starts with its head of `head_len` bytes.
  void upgrade(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req, std::span<const char> in,
               std::size_t head_len);
  void on_frames(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len);
  void on_message(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // A whole data message: on_compressed with RSV1 (permessage-deflate), else on_message.
  void on_data(Conn& c, std::uint32_t slot, protocol::Opcode op, std::uint8_t rsv, std::span<const std::uint8_t> payload);
  // A compressed message (RSV1): inflated within --max-message, text checked as UTF-8,
  // then on_message; a violation closes the connection with the RFC's code.
  void on_compressed(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // One frame of `payload` for `c` alone: compressed when it negotiated permessage-deflate
  // and the payload is long enough (nullptr: out of memory).
  [[nodiscard]] Frame* encode_for(const Conn& c, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // Whether compressing `payload` pays: at least --deflate-min-size and smaller once
  // compressed (random bytes are not); then deflated_ holds it.
  [[nodiscard]] bool deflate_pays(std::span<const std::uint8_t> payload);
  void send_close(Conn& c, std::uint32_t slot, std::uint16_t code, std::string_view reason);
  void send_control(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // Queues `frame` (len set, holders 0; nullptr: out of memory) for this connection only.
  bool send_own(Conn& c, std::uint32_t slot, Frame* frame);

  // pubsub/shard_fanout.cpp: publish and fan-out
  // Queues a delivery for this turn's fan-out (publish, mailboxes, outside threads).
  void defer(Message m);
  // Fans out every deferred delivery, topic by topic in arrival order; runs of small frames
  // for one topic are first copied back to back into one frame (one copy per message per
  // shard), so each subscriber gets one queue entry and one iovec for the run.
  void fanout_pending();
  // `messages`: how many messages the frame carries (a combined run counts each);
  // `latest`: a conflating topic's run's last message alone (one holder, taken over).
  // `rate_class`: a max-frequency topic's throttle sends to that class's subscribers only.
  static constexpr std::uint8_t kEveryRate = 0xFF;
  void fanout(std::uint32_t topic, Frame* frame, std::uint32_t messages = 1, Frame* latest = nullptr,
              std::uint8_t rate_class = kEveryRate);
  // permessage-deflate: `frame`'s compressed variant (made once, shared by every shard;
  // nullptr: not one message of at least --deflate-min-size, or no memory), and a lease of
  // it holding this shard's holder.
  [[nodiscard]] Frame* deflated_of(Frame* frame);
  [[nodiscard]] Frame* make_deflated(Frame* frame);  // the variant or kNotDeflated, set on `frame`
  [[nodiscard]] Lease* deflated_lease(Frame* frame);
  // Sets the compressed variant of `combined`, a copy of `run` (keys of order_) back to back.
  void combine_deflated(Frame* combined, std::span<const std::uint64_t> run);
  static void append(Frame& to, const Frame& from) noexcept {  // room made by the caller
    std::memcpy(to.bytes() + to.len, from.bytes(), from.len);
    to.len += from.len;
  }
  // A codec buffer that one big message grew: given back past 256 KiB.
  static void trim_scratch(std::vector<std::uint8_t>& buf) noexcept {
    if (buf.capacity() > (256u << 10)) std::vector<std::uint8_t>().swap(buf);
  }
  // A publication in its three forms (Message::full) to a topic whose list takes them.
  void fanout_forms(std::uint32_t topic, const Message& m);
  // Gives back the full and delta forms `m` carries, where only the raw one can go out.
  void drop_forms(Message& m) noexcept;
  void enqueue(Conn& c, std::uint32_t slot, Lease* lease) noexcept;
  // A subscription joining at its place in the topic's order: subscribed, then its reply.
  void join(const Message& m);
  // `policy`: the topic's (a reply's: --slow-policy); `messages`: how many the refused
  // frame carries (counted when the policy drops).
  void refuse(Conn& c, std::uint32_t slot, Refusal why, SlowPolicy policy, std::uint32_t messages = 1) noexcept;
  void slow_close(Conn& c, std::uint32_t slot) noexcept;
  void drain_mailboxes();
  void post_wakeups();

  ShardGroup& group_;
  std::unique_ptr<Broker> broker_;  // --broker only
  ShardTopics topics_;
  Subscriptions subs_{conns_, topics_};
  std::vector<Subscriber> closing_;  // {slot, gen} whose app's on_close is owed
  std::vector<Message> pending_;        // this turn's deliveries, fanned out at its end
  std::vector<std::uint64_t> order_;    // scratch: pending_ sorted by (topic, arrival)
  // Max-frequency topics (TopicOptions::min_interval_ms): per (topic, rate class), the
  // publication held for that class's next slot, and when the slot opens (IoBackend::now_ms).
  struct Throttle {
    Frame* held = nullptr;
    std::uint64_t next_ms = 0;
    std::uint32_t interval_ms = 0;
  };
  // Key topic << 8 | class; an entry stays until a sweep finds it idle.
  std::unordered_map<std::uint64_t, Throttle> throttles_;
  std::size_t throttled_held_ = 0;  // throttles_ entries holding a frame
  std::uint64_t throttle_soonest_ms_ = UINT64_MAX;  // the first held one's slot
  std::uint64_t throttles_swept_ms_ = 0;
  // The newest of a pass's `count` publications of a max-frequency topic, for one rate
  // class's subscribers: out now if its slot is open, else held (replacing what was)
  // until it opens.
  void throttle(std::uint32_t topic, std::uint8_t rate_class, std::uint32_t interval_ms, Frame* newest,
                std::uint32_t count);
  // Sends the held publications whose slot has opened; arms the timer for the next.
  void release_throttled();
  std::vector<std::unique_ptr<Mailbox<Message>>> inbox_;  // [sender]
  std::vector<std::vector<Message>> overflow_;             // [target] when its mailbox was full
  std::vector<bool> wake_target_;                          // [target] posted this turn
  ThreadInbox<Message> external_;                          // from threads outside the server
  ThreadInbox<Message> in_order_;                          // publish_in_order, from every shard
  // permessage-deflate: one codec each for all the shard's connections (no context
  // takeover: every message stands alone), and their output, kept between messages.
  protocol::Inflater inflater_;
  protocol::Deflater deflater_;
  std::vector<std::uint8_t> inflated_, deflated_;
  std::int64_t history_swept_ms_ = 0;
  std::int64_t apps_ticked_ms_ = 0;  // shard 0: App::on_second's last call                      // shard 0: the streams' last sweep step
};

}  // namespace ringcast::engine
