#include "engine/broker/broker.hpp"

#include <netdb.h>

#include <array>
#include <chrono>
#include <cstring>

#include "engine/pubsub/channel_topic.hpp"
#include "engine/broker/broker_wire.hpp"
#include "engine/core/user_data.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/history.hpp"
#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

namespace {
constexpr std::size_t kSubscribeBatch = 256;  // topics per (UN)SUBSCRIBE command
// Tags: 0 for publishes, whose reply only counts (an error is logged); loads carry the
// sink's tag with kLoadBit set, queries the shard's with kQueryBit; other writes nobody
// waits for (presence, a batch's history_remove) are kWriteBit with their kind: not
// publishes, so not counted as such, an error logged under their own name.
constexpr std::uint64_t kLoadBit = std::uint64_t{1} << 63;
constexpr std::uint64_t kQueryBit = std::uint64_t{1} << 62;
constexpr std::uint64_t kTagBits = kLoadBit | kQueryBit;
constexpr std::uint64_t kWriteBit = std::uint64_t{1} << 61;
constexpr std::uint64_t kPresenceWrite = kWriteBit | 1, kRemoveWrite = kWriteBit | 2;

// ["subscribe", channel, count]: the channel a SUBSCRIBE confirmed ("" for any other reply).
std::string_view subscribed_channel(const resp::Reply& r) {
  const resp::Value& root = r.root();
  if (root.type != resp::Type::array || root.integer != 3) return {};
  const resp::Value& kind = r.at(r.element(0, 0));
  const resp::Value& channel = r.at(r.element(0, 1));
  if (kind.type != resp::Type::bulk || kind.str != "subscribe" || channel.type != resp::Type::bulk) return {};
  return channel.str;
}

// The address (of n) that carries a topic's channel or room.
std::uint32_t address_of(std::string_view topic, std::size_t n) {
  return broker_shard(broker::broker_name(topic), static_cast<std::uint32_t>(n));
}

std::string_view decimal(std::string& buf, std::uint64_t v) {
  buf = std::to_string(v);
  return buf;
}
}  // namespace

std::string BrokerShared::resolve() {
  if (addresses.size() > kMaxAddresses) {
    return "--broker: at most " + std::to_string(kMaxAddresses) + " addresses";
  }
  const std::array<char, Stream::kEpochLength> id = History::new_epoch();
  node.assign(id.data(), id.size());
  for (std::size_t i = 0; i < broker::kScriptCount; ++i) {
    sha[i] = broker::script_sha1(broker::script_text(static_cast<broker::Script>(i)));
    if (sha[i].empty()) return "--broker: cannot hash the scripts (OpenSSL's SHA-1)";
  }
  endpoints.assign(addresses.size(), {});
  for (std::size_t a = 0; a < addresses.size(); ++a) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(addresses[a].port);
    if (int rc = getaddrinfo(addresses[a].host.c_str(), port.c_str(), &hints, &found); rc != 0 || found == nullptr) {
      return "--broker " + addresses[a].url + ": cannot resolve '" + addresses[a].host + "': " + gai_strerror(rc);
    }
    std::memcpy(&endpoints[a].addr, found->ai_addr, found->ai_addrlen);
    endpoints[a].len = found->ai_addrlen;
    freeaddrinfo(found);
  }
  return "";
}

bool BrokerShared::confirmed(std::string_view topic) const {
  std::lock_guard lock(confirmed_mu_);
  return confirmed_.contains(std::string(topic));
}

void BrokerShared::confirm(std::string_view topic, bool on) {
  std::lock_guard lock(confirmed_mu_);
  if (on) {
    confirmed_.emplace(topic);
  } else {
    confirmed_.erase(std::string(topic));
  }
}

void BrokerShared::forget_confirmed(std::uint32_t a, std::uint32_t n) {
  std::lock_guard lock(confirmed_mu_);
  std::erase_if(confirmed_, [&](const std::string& topic) { return address_of(topic, n) == a; });
}

bool BrokerShared::up() const noexcept {
  return links_up.load(std::memory_order_relaxed) == addresses.size() * (shards + 1);
}

Broker::Broker(IoBackend& io, BrokerShared& shared, unsigned shard, std::uint32_t first_file, TopicRegistry& topics,
               BrokerSink* sink, HttpHost& host, BrokerQueries& queries, ShardMetrics& metrics)
    : io_(io),
      shared_(shared),
      shard_(shard),
      topics_(topics),
      sink_(sink),
      host_(host),
      queries_(queries),
      metrics_(metrics) {
  const auto n = static_cast<std::uint32_t>(shared.addresses.size());
  std::uint32_t file = first_file;
  RedisConn::Owner& owner = *this;  // a private base: converted here, not inside make_unique
  if (shard == 0) {
    for (std::uint32_t a = 0; a < n; ++a) {
      feeds_.push_back(std::make_unique<RedisConn>(io, owner, shared.addresses[a], shared.endpoints[a], a, file++, "feed"));
    }
    subscribed_.resize(n);
    subscribing_.resize(n);
    todo_.resize(n);
  }
  for (std::uint32_t a = 0; a < n; ++a) {
    commands_.push_back(std::make_unique<RedisConn>(io, owner, shared.addresses[a], shared.endpoints[a], n + a, file++,
                                                    "shard " + std::to_string(shard)));
  }
}

Broker::~Broker() = default;

void Broker::start() {
  for (auto& c : feeds_) c->start();
  for (auto& c : commands_) c->start();
}

void Broker::on_completion(const Completion& c) {
  const Tag t = unpack(c.tag);
  const std::size_t n = shared_.addresses.size();
  RedisConn* conn = t.slot < feeds_.size() ? feeds_[t.slot].get()
                    : t.slot >= n && t.slot - n < commands_.size() ? commands_[t.slot - n].get()
                                                                   : nullptr;
  if (conn == nullptr) {  // never: every tag names a link
    if (c.has_buffer) io_.recycle(c.buffer);
    return;
  }
  counted(*conn, [&] { conn->on_completion(c); });

}

RedisConn& Broker::command_link(std::string_view channel) noexcept {
  return *commands_[broker_shard(channel, static_cast<std::uint32_t>(commands_.size()))];
}

bool Broker::publish(std::string_view channel, std::string_view payload, std::uint64_t tag) {
  broker::key_of(key_, shared_.prefix, broker::Key::pubsub, channel);
  const std::string_view args[] = {"PUBLISH", key_, payload};
  return send_publish(channel, args, tag);
}

void Broker::log_refused_room(std::string_view room) {
  static LogLimiter limiter;
  limiter.log(LogLevel::warn, "broker: a message to room '%.*s' reaches no other node: the link to its Redis is down or full",
              static_cast<int>(room.size()), room.data());
}

bool Broker::publish_room(std::string_view room, bool binary, std::string_view prefix, std::string_view bytes) {
  broker::key_of(key_, shared_.prefix, broker::Key::room, room);
  broker::write_room_message(key2_, shared_.node, binary, prefix, bytes);
  const std::string_view args[] = {"PUBLISH", key_, key2_};
  return send_publish(room, args, 0);
}

bool Broker::send_publish(std::string_view channel, std::span<const std::string_view> args, std::uint64_t tag) {
  if (!command_link(channel).command(args, tag == 0 ? 0 : tag | kQueryBit)) {
    metrics_.broker_publish_failures.add();
    return false;
  }
  metrics_.broker_published.add();
  return true;
}

bool Broker::publish_numbered(std::string_view channel, const StreamArgs& a, std::string_view record,
                              std::uint64_t tag) {
  broker::key_of(key_, shared_.prefix, broker::Key::meta, channel);
  broker::key_of(key2_, shared_.prefix, broker::Key::stream, channel);
  broker::key_of(key3_, shared_.prefix, broker::Key::pubsub, channel);
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(broker::Script::publish), "3", key_, key2_, key3_, a.epoch,
                                   decimal(num_[0], a.size), decimal(num_[1], a.ttl_s), decimal(num_[2], a.meta_ttl_s),
                                   record, a.delta ? "d" : ""};
  return send_publish(channel, args, tag);
}

bool Broker::load(std::string_view channel, const StreamArgs& a, std::uint64_t tag) {
  broker::write_load_marker(marker_, shared_.node, tag);
  return send_load(channel, a, marker_, tag | kLoadBit);
}

bool Broker::read_stream(std::string_view channel, const StreamArgs& a, std::uint64_t tag) {
  return send_load(channel, a, {}, tag | kQueryBit);
}

bool Broker::remove_history(std::string_view channel, std::uint64_t tag) {
  broker::key_of(key_, shared_.prefix, broker::Key::stream, channel);
  broker::key_of(key2_, shared_.prefix, broker::Key::pubsub, channel);
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(broker::Script::remove_history), "2", key_, key2_};
  return command_link(channel).command(args, tag == 0 ? kRemoveWrite : tag | kQueryBit);
}

bool Broker::send_load(std::string_view channel, const StreamArgs& a, std::string_view marker, std::uint64_t tag) {
  broker::key_of(key_, shared_.prefix, broker::Key::meta, channel);
  broker::key_of(key2_, shared_.prefix, broker::Key::stream, channel);
  broker::key_of(key3_, shared_.prefix, broker::Key::pubsub, channel);
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(broker::Script::load), "3", key_, key2_, key3_,
                                   decimal(num_[0], a.size), a.epoch, decimal(num_[1], a.meta_ttl_s), marker};
  return command_link(channel).command(args, tag);
}


void Broker::presence_keys(std::string_view channel) {
  broker::key_of(key_, shared_.prefix, broker::Key::presence, channel);
  broker::key_of(key2_, shared_.prefix, broker::Key::presence_expiry, channel);
  broker::key_of(key3_, shared_.prefix, broker::Key::presence_users, channel);
}

namespace {
// Presence expiries are wall-clock: every node reads them.
std::uint64_t wall_ms() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}
}  // namespace

bool Broker::presence_add(std::string_view channel, std::string_view client, std::string_view value,
                          std::uint32_t ttl_s) {
  presence_keys(channel);
  const std::uint64_t expires = wall_ms() + std::uint64_t{ttl_s} * 1000;
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(broker::Script::presence_add), "3", key_, key2_, key3_,
                                   decimal(num_[0], ttl_s), decimal(num_[1], expires),
                                   client, value};
  return send_presence_write(channel, args);
}

bool Broker::presence_remove(std::string_view channel, std::string_view client) {
  presence_keys(channel);
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(broker::Script::presence_remove), "3", key_, key2_, key3_,
                                   client};
  return send_presence_write(channel, args);
}

bool Broker::send_presence_write(std::string_view channel, std::span<const std::string_view> args) {
  if (command_link(channel).command(args, kPresenceWrite)) return true;
  static LogLimiter limiter;
  limiter.log(LogLevel::warn, "broker: presence in '%.*s' not written: the link to its Redis is down or full",
              static_cast<int>(channel.size()), channel.data());
  return false;
}

bool Broker::query(Query q, std::string_view channel, std::uint64_t tag) {
  presence_keys(channel);
  const broker::Script s = q == Query::presence ? broker::Script::presence : broker::Script::presence_stats;
  const std::string_view args[] = {"EVALSHA", shared_.sha_of(s), "3", key_, key2_, key3_,
                                   decimal(num_[0], wall_ms()), decimal(num_[1], broker::kMaxPresenceRead)};
  return command_link(channel).command(args, tag | kQueryBit);
}

void Broker::answer(std::uint64_t tag, const resp::Reply* reply) {
  if ((tag & kQueryBit) != 0) {
    queries_.on_query_reply(tag & ~kTagBits, reply);
  } else if ((tag & kLoadBit) != 0 && sink_ != nullptr) {
    sink_->on_load_reply(host_, tag & ~kTagBits, reply);
  }
}

void Broker::load_scripts(RedisConn& conn) {
  for (std::size_t i = 0; i < broker::kScriptCount; ++i) {
    const std::string_view args[] = {"SCRIPT", "LOAD", broker::script_text(static_cast<broker::Script>(i))};
    (void)conn.command(args, 0);  // a fresh link: within its limits
  }
}

void Broker::end_of_turn() {
  if (!feeds_.empty()) {
    changed_.clear();
    shared_.changes.drain([this](const std::string& name) { changed_.push_back(name); });
    for (std::size_t a = 0; a < feeds_.size(); ++a) {
      if (!feeds_[a]->ready()) continue;  // on_ready subscribes to all of them
      for (const std::string& topic : changed_) {
        if (address_of(topic, feeds_.size()) != a) continue;
        const bool want = topics_.find(topic) != kNoTopic;
        auto it = subscribed_[a].find(topic);
        if (want == (it != subscribed_[a].end())) continue;
        if (want) {
          subscribed_[a].insert(topic);
        } else {
          subscribed_[a].erase(it);
        }
        todo_[a].push_back({topic, want});
        if (!want) {
          shared_.confirm(topic, false);
          if (sink_ != nullptr && topic.starts_with(kChannelTopicPrefix)) {
            sink_->on_feed_unsubscribed(host_, broker::broker_name(topic));
          }
        }
      }
    }
    for (std::size_t a = 0; a < feeds_.size(); ++a) pump_subscriptions(a);
    shared_.outbox.drain([this](const BrokerShared::RoomPublish& m) {
      shared_.outbox_size.fetch_sub(1, std::memory_order_relaxed);
      if (!publish_room(m.room, m.binary, {}, m.bytes)) log_refused_room(m.room);
    });
    if (sink_ != nullptr) {
      changed_.clear();
      shared_.wanted.drain([this](const std::string& name) { changed_.push_back(name); });
      for (const std::string& channel : changed_) sink_->on_wanted(host_, channel);
    }
  }
  const std::uint64_t now = io_.now_ms();
  for (auto* links : {&feeds_, &commands_}) {
    for (auto& c : *links) {
      counted(*c, [&] { c->tick(now); });
      c->flush();
    }
  }
}

void Broker::pump_subscriptions(std::size_t a) {
  std::deque<Change>& todo = todo_[a];
  keys_.resize(kSubscribeBatch);
  while (!todo.empty() && feeds_[a]->ready()) {
    const bool subscribe = todo.front().subscribe;
    args_.assign(1, subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE");
    std::size_t n = 0;
    for (; n < todo.size() && n < kSubscribeBatch && todo[n].subscribe == subscribe; ++n) {
      broker::pubsub_key_of_topic(keys_[n], shared_.prefix, todo[n].topic);
      args_.push_back(keys_[n]);
    }
    if (!feeds_[a]->command(args_, 0)) return;  // the link is full: the rest once it drains
    for (std::size_t k = 0; subscribe && k < n; ++k) ++subscribing_[a][todo[k].topic];
    todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

void Broker::on_ready(RedisConn& conn) {
  if (conn.reconnects() > 0) metrics_.broker_reconnects.add();
  if (!feed_link(conn)) {
    load_scripts(conn);
    if (shard_ == 0 && sink_ != nullptr) sink_->on_commands_ready(host_);
    return;
  }
  const std::size_t a = conn.index();
  subscribed_[a].clear();
  subscribing_[a].clear();
  std::vector<std::string> all;
  topics_.for_each("", [&](std::string_view topic, std::uint64_t) {
    if (address_of(topic, feeds_.size()) == a) {
      all.emplace_back(topic);
    }
  });
  todo_[a].clear();
  for (std::string& c : all) {
    subscribed_[a].insert(c);
    todo_[a].push_back({std::move(c), true});
  }
  pump_subscriptions(a);
}

void Broker::on_lost(RedisConn& conn, std::span<const std::uint64_t> tags) {
  if (feed_link(conn)) {
    subscribed_[conn.index()].clear();
    subscribing_[conn.index()].clear();
    todo_[conn.index()].clear();
    const auto n = static_cast<std::uint32_t>(feeds_.size());
    shared_.forget_confirmed(conn.index(), n);
    if (sink_ != nullptr) sink_->on_feed_lost(host_, conn.index(), n);
    return;
  }
  std::size_t publishes = 0;
  for (std::uint64_t tag : tags) {
    if ((tag & kTagBits) != 0) {
      answer(tag, nullptr);
    } else if (tag == 0) {
      ++publishes;
    }
  }
  // Publishes Redis may or may not have carried out: their callers were answered already.
  metrics_.broker_unconfirmed.add(publishes);
}

void Broker::on_reply(RedisConn& conn, std::uint64_t tag, const resp::Reply& reply) {
  if (!feed_link(conn) && reply.root().type == resp::Type::error && reply.root().str.starts_with("NOSCRIPT")) {
    // Redis lost our scripts (SCRIPT FLUSH, or a failover to a server without them): the
    // link starts over, which loads them again. A load counts as lost with it (sent again
    // once the link is up), a query gets the error (not carried out), a publish is counted.
    conn.fail_after_replies("Redis does not know our scripts (NOSCRIPT)");
    if ((tag & kLoadBit) != 0) answer(tag, nullptr);
    if ((tag & kQueryBit) != 0) answer(tag, &reply);
    if (tag == 0) metrics_.broker_publish_failures.add();
    return;
  }
  if ((tag & kTagBits) != 0) {
    answer(tag, &reply);
    return;
  }
  if (std::string_view key = subscribed_channel(reply); feed_link(conn) && !key.empty()) {
    if (broker::topic_of_pubsub_key(topic_, shared_.prefix, key)) {
      StringMap<std::uint32_t>& pending = subscribing_[conn.index()];
      if (auto it = pending.find(topic_); it != pending.end()) {
        if (--it->second != 0) return;  // a later SUBSCRIBE of it is still to answer
        pending.erase(it);
      }
      // Confirmed only while still wanted: an UNSUBSCRIBE may have followed it.
      if (!subscribed_[conn.index()].contains(topic_)) return;
      shared_.confirm(topic_, true);
      if (sink_ != nullptr && topic_.starts_with(kChannelTopicPrefix)) {
        sink_->on_feed_subscribed(host_, broker::broker_name(topic_));
      }
    }
    return;
  }
  if (reply.root().type != resp::Type::error) return;
  if (feed_link(conn)) {
    // A refused (UN)SUBSCRIBE answers once for its whole batch: which channels it named, and
    // so what is confirmed, is no longer known. The feed starts over and subscribes again.
    conn.fail_after_replies("Redis refused a SUBSCRIBE: " + std::string(reply.root().str));
    return;
  }
  if (tag == 0) metrics_.broker_publish_failures.add();
  static LogLimiter limiter;
  limiter.log(LogLevel::warn, "broker %s: Redis refused a %s: %.*s", conn.address().url.c_str(),
              tag == kPresenceWrite ? "presence write" : tag == kRemoveWrite ? "history_remove" : "publish",
              static_cast<int>(reply.root().str.size()),
              reply.root().str.data());
}

void Broker::on_message(RedisConn& conn, std::string_view key, std::string_view payload) {
  if (!feed_link(conn) || sink_ == nullptr || !broker::topic_of_pubsub_key(topic_, shared_.prefix, key)) return;
  // Sent before Redis took an UNSUBSCRIBE of ours: nobody here wants it (a load it would
  // start could never see its marker).
  if (!subscribed_[conn.index()].contains(topic_)) return;
  metrics_.broker_messages.add();
  if (topic_.starts_with(kChannelTopicPrefix)) {
    sink_->on_broker_message(host_, broker::broker_name(topic_), payload);
  } else {
    sink_->on_room_message(host_, topic_, payload);
  }
}

}  // namespace ringcast::engine
