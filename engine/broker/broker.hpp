// A shard's side of the nodes' Redis broker (issue 15; engine/broker/broker_wire.hpp
// says what travels). Every shard has a command connection to each Redis address, for
// its own publishes; shard 0 also has the subscriber connections, one per address: it
// SUBSCRIBEs a channel's broker channel while any shard of this node has a subscriber
// of the channel (TopicRegistry's first and last subscriber, posted to shard 0 through
// BrokerShared::changes) and hands what arrives to the BrokerSink, which fans it out to
// every shard. So a publication crosses Redis once per node that needs it, and every
// node, the publisher's included, delivers it from the feed: one order per channel.
//
// A link that is down refuses publishes at once (the caller answers with the protocol's
// error); after it comes back, shard 0 subscribes again to every channel with local
// subscribers. Nothing here blocks: the links run on the shard's own backend.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/broker/broker_query.hpp"
#include "engine/broker/broker_wire.hpp"
#include "engine/broker/redis_address.hpp"
#include "engine/broker/redis_conn.hpp"
#include "engine/core/string_map.hpp"
#include "engine/core/thread_inbox.hpp"
#include "engine/io/backend.hpp"
#include "engine/metrics.hpp"

namespace ringcast::engine {

class HttpHost;
class TopicRegistry;

// What a node does with what its feed brings (engine/app/broker_feed.hpp): called on shard
// 0's thread, with shard 0 as the host that publishes to every shard.
class BrokerSink {
 public:
  // The views passed here point into the broker's scratch: valid for the call only.
  virtual void on_broker_message(HttpHost& host, std::string_view channel, std::string_view payload) = 0;
  // A chat room's (or an embedding publish()'s) message to `topic` (broker_wire's room message).
  virtual void on_room_message(HttpHost& host, std::string_view topic, std::string_view payload) = 0;
  // Redis confirmed the feed's SUBSCRIBE of a channel (rooms need no word): what is
  // published from now on arrives.
  virtual void on_feed_subscribed(HttpHost& host, std::string_view channel) = 0;
  // The feed UNSUBSCRIBEs the channel (its last local subscriber left): nothing arrives now.
  virtual void on_feed_unsubscribed(HttpHost& host, std::string_view channel) = 0;
  // Feed `a` of `n` is lost: nothing arrives on its channels (broker_shard(channel, n) ==
  // a) until they are subscribed again.
  virtual void on_feed_lost(HttpHost& host, std::uint32_t a, std::uint32_t n) = 0;
  // The reply to Broker::load's command `tag`; `reply` nullptr: its connection was lost.
  virtual void on_load_reply(HttpHost& host, std::uint64_t tag, const protocol::resp::Reply* reply) = 0;
  // A shard asks for `channel`'s stream (BrokerShared::wanted: a subscribe waits for it).
  virtual void on_wanted(HttpHost& host, std::string_view channel) = 0;
  // Shard 0's command link to an address is up (again): loads it refused may go now.
  virtual void on_commands_ready(HttpHost& host) = 0;

 protected:
  ~BrokerSink() = default;
};

// Where a shard's Broker::query replies go (the shard: engine/shard.hpp), on its thread.
class BrokerQueries {
 public:
  // `reply` nullptr: the link was lost before Redis answered (or Redis lost our scripts).
  virtual void on_query_reply(std::uint64_t tag, const protocol::resp::Reply* reply) = 0;

 protected:
  ~BrokerQueries() = default;
};

// What every shard's broker shares: read-only after start, but for the change inbox and
// the links' states.
struct BrokerShared {
  static constexpr std::size_t kMaxAddresses = 16;
  std::vector<RedisAddress> addresses;
  std::vector<RedisConn::Endpoint> endpoints;  // resolved at start, [address]
  std::string prefix;
  // Topics (a channel's or a room's) whose local subscriber count went from 0 to 1 or back
  // (any shard).
  ThreadInbox<std::string> changes{64};
  // Room messages published from outside the shards (Server::publish): shard 0 sends them.
  struct RoomPublish {
    std::string room, bytes;
    bool binary;
  };
  ThreadInbox<RoomPublish> outbox{64};
  static constexpr std::size_t kMaxOutbox = 65536;
  std::atomic<std::size_t> outbox_size{0};  // in outbox now: past kMaxOutbox, publish() refuses
  // Channels a shard waits to have loaded (a subscribe held until then): shard 0 loads them.
  ThreadInbox<std::string> wanted{64};
  std::array<std::string, broker::kScriptCount> sha;  // EVALSHA's names of broker_wire's scripts
  [[nodiscard]] std::string_view sha_of(broker::Script s) const noexcept { return sha[static_cast<std::size_t>(s)]; }
  std::string node;  // this process among the nodes (random at start): its loads' markers
  // Topics whose SUBSCRIBE Redis confirmed on a feed that is still up: what is published
  // there now reaches this node (a subscribe waits for it). Shard 0 writes, any shard reads.
  [[nodiscard]] bool confirmed(std::string_view topic) const;
  void confirm(std::string_view topic, bool on);
  // Feed `a` of `n` is lost: its topics are not confirmed any more.
  void forget_confirmed(std::uint32_t a, std::uint32_t n);
  unsigned shards = 1;
  std::atomic<std::uint32_t> links_up{0};  // of the feeds and every shard's command links

 private:
  mutable std::mutex confirmed_mu_;
  std::unordered_set<std::string> confirmed_;

 public:

  // Resolves every address (at start-up, blocking): "" or one line naming what failed.
  [[nodiscard]] std::string resolve();
  // Backend file-table entries a shard's links take: commands, plus the feed on shard 0.
  [[nodiscard]] std::uint32_t files(unsigned shard) const noexcept {
    return static_cast<std::uint32_t>(addresses.size() * (shard == 0 ? 2 : 1));
  }
  // Every link of every shard is up (/healthz).
  [[nodiscard]] bool up() const noexcept;
};

class Broker final : private RedisConn::Owner {
 public:
  // `first_file`: the backend file-table entry of this shard's first link.
  Broker(IoBackend& io, BrokerShared& shared, unsigned shard, std::uint32_t first_file, TopicRegistry& topics,
         BrokerSink* sink, HttpHost& host, BrokerQueries& queries, ShardMetrics& metrics);
  ~Broker();

  void start();
  void on_completion(const Completion& c);
  // Publishes `payload` on `channel`'s broker channel, through this shard's command link
  // to the address that carries it. False (nothing sent) when that link is down or full.
  // `tag` (not 0: HttpHost::defer_answer's) gets Redis's reply through BrokerQueries, as
  // a query's: PUBLISH's count, or the publish script's {offset, epoch}.
  [[nodiscard]] bool publish(std::string_view channel, std::string_view payload, std::uint64_t tag = 0);
  // A channel with history: the publish script numbers `record` into the channel's Redis
  // stream (a new one named `epoch` if there is none) and publishes it. False as publish().
  struct StreamArgs {
    std::size_t size;           // records kept
    std::uint64_t ttl_s, meta_ttl_s;  // 0: none
    std::string_view epoch;     // for a new stream
    bool delta = false;         // publish_numbered: the publisher asked for a delta
  };
  [[nodiscard]] bool publish_numbered(std::string_view channel, const StreamArgs& a, std::string_view record,
                                      std::uint64_t tag = 0);
  // A chat room's message (text or binary: `prefix` + `bytes`) to the other nodes' members
  // of `room` (this node's got it already). False as publish().
  [[nodiscard]] bool publish_room(std::string_view room, bool binary, std::string_view prefix, std::string_view bytes);
  // One line (rate-limited) for a room message publish_room refused.
  static void log_refused_room(std::string_view room);
  // Shard 0: loads the channel's stream (the load script, the newest a.size records); the
  // reply goes to BrokerSink::on_load_reply with `tag`, and the load's marker (broker_wire)
  // to the channel's feed. False when the link is down or full.
  [[nodiscard]] bool load(std::string_view channel, const StreamArgs& a, std::uint64_t tag);
  // Presence in Redis (broker_wire's presence keys and scripts): `client`'s entry in
  // `channel` added, or refreshed, to expire `ttl_s` from now; or removed. False when the
  // link is down or full (logged: a refresh, every keepalive, adds it again).
  bool presence_add(std::string_view channel, std::string_view client, std::string_view value, std::uint32_t ttl_s);
  bool presence_remove(std::string_view channel, std::string_view client);
  // A read of every node's presence in `channel`: the presence script's reply (pairs of
  // client id and presence value) or the stats script's ({clients, users}) goes to
  // BrokerQueries::on_query_reply with `tag`. False (nothing sent) when the link is down
  // or full.
  using Query = BrokerQuery;
  [[nodiscard]] bool query(Query q, std::string_view channel, std::uint64_t tag);
  // The load script without a marker (publishing nothing): the newest a.size records of
  // `channel`'s stream, for a reader that holds no copy; the reply goes to
  // BrokerQueries::on_query_reply with `tag`. False when the link is down or full.
  [[nodiscard]] bool read_stream(std::string_view channel, const StreamArgs& a, std::uint64_t tag);
  // The server API's history_remove (broker_wire's kRemoveHistoryScript): the reply goes to
  // BrokerQueries::on_query_reply with `tag` (0: none waits; an error is logged). False
  // when the link is down or full.
  [[nodiscard]] bool remove_history(std::string_view channel, std::uint64_t tag);
  // Every link of every shard is up (BrokerShared::up).
  [[nodiscard]] bool all_up() const noexcept { return shared_.up(); }
  // Redis confirmed the feed's SUBSCRIBE to `topic` (BrokerShared::confirmed).
  [[nodiscard]] bool confirmed(std::string_view topic) const { return shared_.confirmed(topic); }
  [[nodiscard]] std::string_view node() const noexcept { return shared_.node; }
  // The end of the shard's turn: shard 0 brings its subscriptions in line with the
  // registry's changes; every link starts sending what was queued.
  void end_of_turn();

 private:
  void on_ready(RedisConn& conn) override;
  void on_lost(RedisConn& conn, std::span<const std::uint64_t> tags) override;
  void on_reply(RedisConn& conn, std::uint64_t tag, const protocol::resp::Reply& reply) override;
  void on_message(RedisConn& conn, std::string_view key, std::string_view payload) override;
  [[nodiscard]] bool feed_link(const RedisConn& conn) const noexcept { return conn.index() < feeds_.size(); }
  // Sends address `a`'s feed the (UN)SUBSCRIBEs it owes, in batches, as far as the link
  // takes them now (the rest on a later turn, as its bytes go out: a node with very many
  // channels subscribes to them all after a reconnect without outgrowing the link).
  void pump_subscriptions(std::size_t a);
  [[nodiscard]] RedisConn& command_link(std::string_view channel) noexcept;
  // Queues a publish command on the channel's link, counted as sent or refused.
  [[nodiscard]] bool send_publish(std::string_view channel, std::span<const std::string_view> args, std::uint64_t tag);
  // Runs `f` on `conn` and keeps BrokerShared::links_up right if it went up or down.
  template <typename F>
  void counted(RedisConn& conn, F&& f) {
    const bool was_up = conn.ready();
    f();
    if (conn.ready() == was_up) return;
    if (was_up) {
      shared_.links_up.fetch_sub(1, std::memory_order_relaxed);
    } else {
      shared_.links_up.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // The load script with `marker` ("": none), sent with `tag` (its bit set).
  [[nodiscard]] bool send_load(std::string_view channel, const StreamArgs& a, std::string_view marker, std::uint64_t tag);
  // A command link's first commands on a new connection: the scripts EVALSHA runs.
  void load_scripts(RedisConn& conn);
  // A presence write on the channel's link, a refusal logged.
  [[nodiscard]] bool send_presence_write(std::string_view channel, std::span<const std::string_view> args);
  // The presence keys of `channel` into key_, key2_ and key3_.
  void presence_keys(std::string_view channel);
  // The reply to a command sent with `tag` (nullptr: lost) to whoever waits for it.
  void answer(std::uint64_t tag, const protocol::resp::Reply* reply);

  IoBackend& io_;
  BrokerShared& shared_;
  unsigned shard_;
  TopicRegistry& topics_;
  BrokerSink* sink_;
  HttpHost& host_;
  BrokerQueries& queries_;
  ShardMetrics& metrics_;
  // feeds_[a] (shard 0 only) at index a; commands_[a] at index addresses + a.
  std::vector<std::unique_ptr<RedisConn>> feeds_, commands_;
  // Shard 0: the topics each feed has SUBSCRIBEd on its current connection.
  std::vector<std::unordered_set<std::string>> subscribed_;
  // Shard 0: per feed, the SUBSCRIBEs sent on its current connection and not answered yet,
  // per topic (one answered while a later one is in flight, past an UNSUBSCRIBE, is stale).
  std::vector<StringMap<std::uint32_t>> subscribing_;
  struct Change {
    std::string topic;
    bool subscribe;
  };
  std::vector<std::deque<Change>> todo_;  // [address]: owed to Redis, in order
  std::string key_, key2_, key3_, topic_, num_[3], marker_;  // scratch
  std::vector<std::string> changed_, keys_;  // scratch: the turn's changes; a batch's keys
  std::vector<std::string_view> args_;
};

}  // namespace ringcast::engine
