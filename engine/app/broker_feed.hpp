// What a node does with what its feed brings (--broker; shard 0's thread). A channel
// without history: the envelope's record becomes the channel's push, encoded once and
// fanned out to this node's subscribers on every shard. A channel with history: this
// node's stream of it (engine/pubsub/history.hpp) is a copy of the stream in Redis, which
// the node loads (broker_wire's load script) once the feed's SUBSCRIBE is confirmed: what
// the feed brings before the load's marker is in its snapshot, what comes after is not, so
// nothing is missed or kept twice whichever of the reply and the marker comes first. The
// feed keeps it up to date: a publication at the next offset is delivered in order and
// kept, one already held is dropped (nothing twice), and a gap or another epoch loads the
// stream again. A load that finds what local subscribers missed still in Redis delivers it
// to them in order (a feed lost and back: nobody notices); one that cannot (trimmed, or a
// new epoch: Redis lost it) unsubscribes them with 2500 "insufficient state", and the SDK
// subscribes again and recovers, or is told it could not (a server-side subscription: its
// connection is closed with 3010, and the SDK reconnects and recovers). Until a channel is
// loaded, a subscribe that counts offsets, or a history read, waits for it
// (Session::hold_until_ready); loading it tells every shard (HttpHost::channel_ready), in
// order with the channel's publications.
// Where the namespace allows deltas, each publication goes in its three forms, the delta
// made from this copy's previous record where the envelope (or delta_publish) asks for one.
// A history_remove made on any node clears the copy (a clear marker, in the channel's order).
// A payload that is not ringcast's (an envelope, a room message, a load's marker, a clear
// marker) is dropped with a log line; other nodes' load markers are ignored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/broker/broker.hpp"
#include "engine/config.hpp"
#include "engine/app/publication_forms.hpp"

namespace ringcast::engine {

class Stream;

class BrokerFeed final : public BrokerSink {
 public:
  explicit BrokerFeed(const ClientProtocolConfig& cfg) : cfg_(cfg) {}

  void on_broker_message(HttpHost& host, std::string_view channel, std::string_view payload) override;
  // A room's message: to this node's members, encoded once (at most once, as a channel
  // without history: what Redis sent while the feed was down is gone).
  void on_room_message(HttpHost& host, std::string_view topic, std::string_view payload) override;
  void on_feed_subscribed(HttpHost& host, std::string_view channel) override;
  void on_feed_unsubscribed(HttpHost& host, std::string_view channel) override;
  void on_feed_lost(HttpHost& host, std::uint32_t a, std::uint32_t n) override;
  void on_load_reply(HttpHost& host, std::uint64_t tag, const protocol::resp::Reply* reply) override;
  void on_wanted(HttpHost& host, std::string_view channel) override;
  void on_commands_ready(HttpHost& host) override;

  // Publications that came while a channel loads, kept per channel: past it, they are
  // dropped and the load's result covers them (the load is made again).
  static constexpr std::size_t kMaxWaiting = 10000;
  // A load not applied after this long is sent again (a safety net: its reply comes within
  // the link's 5 s or the link drops, and its marker before the reply's next publication).
  static constexpr std::int64_t kLoadGiveUpMs = 10000;

 private:
  // A load's result, kept until its marker came on the feed.
  struct Snapshot {
    std::string epoch;
    std::uint64_t top = 0;
    struct Kept {
      std::uint64_t offset;
      std::string record;
    };
    std::vector<Kept> entries;  // oldest first
  };
  struct Loading {
    // The load in flight (0: none, or not sent yet) until it is applied: once both its
    // reply and its marker came, whichever is first.
    std::uint64_t tag = 0;
    std::int64_t sent_ms = 0;           // when it was sent (History::now_ms)
    bool marked = false;                // its marker came
    std::optional<Snapshot> snapshot;   // its reply came (waiting for the marker)
    std::vector<std::string> waiting;   // envelopes that came meanwhile, in order
    bool overflowed = false;
    // Past kMaxWaiting an envelope is dropped: the load then made again covers it.
    void keep(std::string_view payload) {
      if (waiting.size() < kMaxWaiting) {
        waiting.emplace_back(payload);
      } else {
        overflowed = true;
      }
    }
  };
  // The stream's options where the channel keeps history (nullptr: it does not).
  [[nodiscard]] const ChannelOptions* history_options(std::string_view channel) const;
  void deliver_plain(HttpHost& host, std::string_view channel, std::string_view record);
  // Under the stream's lock: publishes the record numbered `offset` (top() + 1) to the
  // channel's subscribers, in order, then keeps it. Where the namespace allows deltas, in
  // its three forms, the delta made from this copy's previous record where `delta` (the
  // publisher asked) or delta_publish wants one.
  void deliver(HttpHost& host, Stream& st, const ChannelOptions& o, std::string_view channel, std::uint64_t offset,
               std::string_view record, bool publish, bool delta);
  void start_load(HttpHost& host, const std::string& channel, const ChannelOptions& o);
  // The server API's history_remove on some node (broker_wire's kClearMarker): this node's
  // copy drops its records too, in the channel's order.
  void on_clear(HttpHost& host, std::string_view channel, std::string_view payload);
  // The load script's reply; false when it is not what the script returns.
  [[nodiscard]] static bool read_load(const protocol::resp::Reply& reply, Snapshot& out);
  // Our load `tag`'s marker came on `channel`'s feed.
  void on_load_marker(HttpHost& host, const std::string& channel, std::uint64_t tag);
  // The load's result into the stream, and what waited delivered.
  void apply_load(HttpHost& host, const std::string& channel, const ChannelOptions& o, const Snapshot& snap);
  // Holding the stream's lock: every subscriber of `channel` (topic id `topic`) on every
  // shard gets the 2500 unsubscribe push, at this point of the channel's order.
  void insufficient(HttpHost& host, std::string_view channel, std::uint32_t topic);

  const ClientProtocolConfig cfg_;  // a copy: the server moves its Config after the apps are made
  std::unordered_map<std::string, Loading> loading_;
  std::unordered_map<std::uint64_t, std::string> loads_;  // tag -> channel
  std::unordered_set<std::string> mirrored_;  // channels whose stream the feed keeps up to date
  std::unordered_set<std::string> unsent_;    // loads the command link refused (down): sent when it is up
  std::uint64_t next_tag_ = 1;
  std::string topic_, push_, numbered_, command_;  // scratch
  PublicationForms forms_;
};

}  // namespace ringcast::engine
