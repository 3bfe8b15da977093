#include "engine/app/broker_feed.hpp"

#include <algorithm>

#include "engine/app/broker_stream.hpp"
#include "engine/app/channel_publisher.hpp"
#include "engine/pubsub/channel_topic.hpp"
#include "engine/app/user_command.hpp"
#include "engine/broker/broker_wire.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/pubsub/history.hpp"
#include "engine/pubsub/topic.hpp"
#include "engine/ws/http_app.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

namespace {
LogLimiter g_feed_log;

// `what`: "channel" or "room", and its name.
void log_dropped(std::string_view name, const char* why, const char* what = "channel") {
  g_feed_log.log(LogLevel::warn, "broker: dropping a message on %s '%.*s': %s", what, static_cast<int>(name.size()),
                 name.data(), why);
}

}  // namespace

const ChannelOptions* BrokerFeed::history_options(std::string_view channel) const {
  const ChannelOptions* o = cfg_.options_for(channel);
  return o != nullptr && o->has_history() ? o : nullptr;
}

void BrokerFeed::deliver_plain(HttpHost& host, std::string_view channel, std::string_view record) {
  const std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
  if (id == kNoTopic) return;  // the last subscriber left since the feed subscribed
  push_.clear();
  protocol::client::append_publication_push(push_, channel, record);
  if (!host.publish_text(id, push_, false)) log_dropped(channel, "out of memory for its frame");
}

void BrokerFeed::on_room_message(HttpHost& host, std::string_view topic, std::string_view payload) {
  broker::RoomMessage m;
  if (!broker::parse_room_message(payload, m)) return log_dropped(topic, "not a ringcast room message", "room");
  if (host.broker() != nullptr && m.node == host.broker()->node()) return;  // delivered here when sent
  const std::uint32_t id = host.find_topic(topic);
  if (id == kNoTopic) return;  // the room's last member here left since the feed subscribed
  if (!host.publish_message(id, m.binary ? protocol::Opcode::binary : protocol::Opcode::text, as_bytes(m.bytes))) {
    log_dropped(topic, "out of memory for its frame", "room");
  }
}

void BrokerFeed::deliver(HttpHost& host, Stream& st, const ChannelOptions& o, std::string_view channel,
                         std::uint64_t offset, std::string_view record, bool publish, bool delta) {
  numbered_.clear();
  protocol::client::append_record_with_offset(numbered_, record, offset);
  bool unsent = false;
  if (publish) {
    // Published before it is kept, as ChannelPublisher does: a frame that cannot be made
    // must not leave a gap a recovery would paper over.
    const std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
    if (id != kNoTopic) {
      push_.clear();
      protocol::client::append_publication_push(push_, channel, numbered_);
      bool sent = true;
      if (o.delta) {
        forms_.make(channel, numbered_, st.delta_base(), delta || o.delta_publish);
        sent = host.publish_forms(id, push_, forms_.full(), forms_.delta());
      } else {
        sent = host.publish_text(id, push_, true);
      }
      if (!sent) log_dropped(channel, "out of memory for its frame");
      unsent = !sent;
    }
  }
  (void)st.append(History::now_ms(), [&](std::uint64_t, std::string& kept) { kept = numbered_; });
  // Kept all the same (Redis has it); one nobody here got is no base: the next goes whole.
  if (o.delta) st.keep_delta_base(unsent ? std::string_view() : protocol::client::record_data(record));
}

void BrokerFeed::on_broker_message(HttpHost& host, std::string_view channel, std::string_view payload) {
  std::string_view node;
  std::uint64_t tag = 0;
  if (broker::parse_load_marker(payload, node, tag)) {  // every node's loads: ours only
    if (host.broker() != nullptr && node == host.broker()->node()) on_load_marker(host, std::string(channel), tag);
    return;
  }
  if (payload == broker::kClearMarker) return on_clear(host, channel, payload);
  broker::Envelope e;
  if (!broker::parse_envelope(payload, e)) return log_dropped(channel, "not a ringcast publication");
  const ChannelOptions* o = history_options(channel);
  if (o == nullptr) return deliver_plain(host, channel, e.record);  // numbered elsewhere or not: no stream here
  if (e.offset == 0) return log_dropped(channel, "no offset, in a namespace with history (nodes configured apart?)");
  if (e.epoch.size() != Stream::kEpochLength) return log_dropped(channel, "an epoch ringcast does not make");
  const std::string name(channel);
  if (auto it = loading_.find(name); it != loading_.end() && it->second.tag != 0) {
    it->second.keep(payload);
    start_load(host, name, *o);  // only if that load is past its time
    return;
  }
  {
    History::Handle st = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), true);
    if (st->mirrored() && e.epoch == st->epoch()) {
      if (e.offset <= st->top()) return;  // already delivered (a load brought it)
      if (e.offset == st->top() + 1) return deliver(host, *st.stream, *o, channel, e.offset, e.record, true, e.delta);
    }
    // Not loaded yet, a gap (the feed missed some) or another epoch: load again; this one
    // waits for it.
    st->set_mirrored(false);
  }
  loading_[name].keep(payload);
  start_load(host, name, *o);
}

void BrokerFeed::on_clear(HttpHost& host, std::string_view channel, std::string_view payload) {
  const ChannelOptions* o = history_options(channel);
  if (o == nullptr) return;
  if (auto it = loading_.find(std::string(channel)); it != loading_.end() && it->second.tag != 0) {
    it->second.keep(payload);  // the load in flight may hold what went: loaded again after it
    return;
  }
  History::Handle st = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), false);
  if (st && st->mirrored()) st->clear();
}

void BrokerFeed::start_load(HttpHost& host, const std::string& channel, const ChannelOptions& o) {
  Loading& l = loading_[channel];
  if (host.broker() == nullptr) return;
  if (l.tag != 0) {
    if (History::now_ms() - l.sent_ms < kLoadGiveUpMs) return;  // in flight
    // Its reply or its marker never came (the link drops a command waiting 5 s: a marker,
    // then, that the feed should have brought): given up, and loaded again.
    g_feed_log.log(LogLevel::warn, "broker: loading channel '%s' did not finish in %lld ms: loading it again",
                   channel.c_str(), static_cast<long long>(kLoadGiveUpMs));
    l.marked = false;
    l.snapshot.reset();
  }
  const std::uint64_t tag = next_tag_++;
  const std::array<char, Stream::kEpochLength> epoch = History::new_epoch();
  // A command link that is down loads nothing now: it tries again once the link is up.
  if (!host.broker()->load(channel, broker_stream_args(cfg_, o, {epoch.data(), epoch.size()}), tag)) {
    unsent_.insert(channel);
    return;
  }
  unsent_.erase(channel);
  l.tag = tag;
  l.sent_ms = History::now_ms();
  loads_[tag] = channel;
}

void BrokerFeed::on_commands_ready(HttpHost& host) {
  std::vector<std::string> retry(unsent_.begin(), unsent_.end());
  unsent_.clear();
  for (const std::string& channel : retry) {
    const ChannelOptions* o = history_options(channel);
    // Still on a live feed (a lost one subscribes again and loads then).
    if (o != nullptr && host.broker() != nullptr && host.broker()->confirmed(channel_topic(topic_, channel))) {
      start_load(host, channel, *o);
    }
  }
}

void BrokerFeed::on_feed_subscribed(HttpHost& host, std::string_view channel) {
  if (const ChannelOptions* o = history_options(channel)) {
    // Only a load sent from now on is sure to see its marker on the feed: one in flight
    // is given up (its reply and marker find another tag) and made again.
    const std::string name(channel);
    if (auto it = loading_.find(name); it != loading_.end()) {
      it->second.tag = 0;
      it->second.marked = false;
      it->second.snapshot.reset();
    }
    start_load(host, name, *o);  // ready once loaded
  } else if (std::uint32_t id = host.find_topic(channel_topic(topic_, channel)); id != kNoTopic) {
    host.channel_ready(id);
  }
}

void BrokerFeed::on_wanted(HttpHost& host, std::string_view channel) {
  // Not confirmed yet: its SUBSCRIBE's confirmation says it is ready (or starts the load).
  if (host.broker() == nullptr || !host.broker()->confirmed(channel_topic(topic_, channel))) return;
  const ChannelOptions* o = history_options(channel);
  if (o == nullptr) {  // confirmed since the hold asked
    if (std::uint32_t id = host.find_topic(channel_topic(topic_, channel)); id != kNoTopic) host.channel_ready(id);
    return;
  }
  {
    History::Handle st = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), true);
    if (st->mirrored()) {  // loaded meanwhile (or the stream aged out and was made anew)
      if (std::uint32_t id = host.find_topic(channel_topic(topic_, channel)); id != kNoTopic) host.channel_ready(id);
      return;
    }
  }
  start_load(host, std::string(channel), *o);
}

void BrokerFeed::on_feed_unsubscribed(HttpHost& host, std::string_view channel) {
  const std::string name(channel);
  mirrored_.erase(name);
  unsent_.erase(name);
  loading_.erase(name);  // a load in flight still answers: its tag is no longer looked for
  const ChannelOptions* o = history_options(channel);
  if (o == nullptr) return;
  History::Handle st = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), false);
  if (st) st->drop_mirror();
}

void BrokerFeed::on_feed_lost(HttpHost& host, std::uint32_t a, std::uint32_t n) {
  auto on_lost_feed = [&](const std::string& channel) { return broker_shard(channel, n) == a; };
  for (const std::string& channel : mirrored_) {
    const ChannelOptions* o = history_options(channel);
    if (o == nullptr || !on_lost_feed(channel)) continue;
    History::Handle st = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), false);
    if (st) st->set_mirrored(false);
  }
  std::erase_if(mirrored_, on_lost_feed);
  std::erase_if(unsent_, on_lost_feed);
  std::erase_if(loading_, [&](const auto& entry) { return on_lost_feed(entry.first); });
}

void BrokerFeed::on_load_reply(HttpHost& host, std::uint64_t tag, const resp::Reply* reply) {
  auto t = loads_.find(tag);
  if (t == loads_.end()) return;
  const std::string channel = std::move(t->second);
  loads_.erase(t);
  auto it = loading_.find(channel);
  if (it == loading_.end() || it->second.tag != tag) return;  // unsubscribed or lost meanwhile
  Loading& l = it->second;
  const ChannelOptions* o = history_options(channel);
  Snapshot snap;
  const char* failed = nullptr;
  if (o == nullptr) {
    failed = "";
  } else if (reply == nullptr) {  // the command link dropped: loaded again once it is up
    unsent_.insert(channel);
    failed = "";
  } else if (reply->root().type == resp::Type::error) {
    g_feed_log.log(LogLevel::warn, "broker: loading channel '%s' failed: %.*s", channel.c_str(),
                   static_cast<int>(reply->root().str.size()), reply->root().str.data());
    failed = "";
  } else if (!read_load(*reply, snap)) {
    failed = "not the load script's reply";
  }
  if (failed != nullptr) {
    if (*failed != '\0') g_feed_log.log(LogLevel::warn, "broker: loading channel '%s': %s", channel.c_str(), failed);
    l.tag = 0;  // the next publication or subscribe loads it again
    l.marked = false;
    return;
  }
  if (!l.marked) {  // what the feed brings until the marker is in the snapshot: it waits
    l.snapshot = std::move(snap);
    return;
  }
  apply_load(host, channel, *o, snap);
}

void BrokerFeed::on_load_marker(HttpHost& host, const std::string& channel, std::uint64_t tag) {
  auto it = loading_.find(channel);
  if (it == loading_.end() || it->second.tag != tag) return;  // a load given up on
  Loading& l = it->second;
  const ChannelOptions* o = history_options(channel);
  if (!l.snapshot || o == nullptr) {
    l.marked = true;  // the reply applies when it comes
    return;
  }
  const Snapshot snap = std::move(*l.snapshot);
  apply_load(host, channel, *o, snap);
}

bool BrokerFeed::read_load(const resp::Reply& reply, Snapshot& out) {
  thread_local StreamRead read;
  if (!read_stream(reply, read)) return false;
  out.epoch = read.epoch();
  out.top = read.top();
  out.entries.clear();
  for (const StreamRead::Entry& e : read.entries) out.entries.push_back({e.offset, std::string(e.record)});
  return true;
}

void BrokerFeed::apply_load(HttpHost& host, const std::string& channel, const ChannelOptions& o, const Snapshot& snap) {
  const std::string_view epoch = snap.epoch;
  const std::uint64_t top = snap.top;
  {
    History::Handle st = host.history().open(channel, stream_limits(cfg_, o), History::now_ms(), true);
    const std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
    Loading& l = loading_[channel];
    l.tag = 0;  // this load is done
    l.marked = false;
    l.snapshot.reset();
    // What this node's subscribers were told: the stream's epoch and top, if it ever held
    // Redis's. What they missed since, Redis still holds from first on.
    const bool had = st->ever_mirrored();
    const bool same = had && st->epoch() == epoch && st->top() <= top;
    const std::uint64_t told = st->top();
    const std::uint64_t first = snap.entries.empty() ? top + 1 : snap.entries.front().offset;
    const bool lost = had && (!same || (told < top && told + 1 < first));
    if (lost) {
      // Before anything of the new state, in the channel's order: every subscriber then
      // joined is told, and gets nothing after it (no jump past the gap for the SDK to
      // take as its position); subscribes that run later join the new state.
      host.counters().broker_gap_lost.add();
      if (id != kNoTopic) insufficient(host, channel, id);
    }
    // Delivered to this node's subscribers: what they missed (a stream they were told of),
    // or what the feed brought while the stream loaded (nobody here got it yet: published
    // after the node's SUBSCRIBE, so after every subscribe here was answered).
    std::uint64_t from = UINT64_MAX;
    broker::Envelope e;
    if (same && !lost) {
      from = told + 1;
    } else if (!had) {
      for (const std::string& payload : l.waiting) {  // the first publication (a clear marker is none)
        if (!broker::parse_envelope(payload, e)) continue;
        if (e.epoch == epoch) from = e.offset;
        break;
      }
    }
    st->mirror_from(epoch, first - 1);
    for (const Snapshot::Kept& entry : snap.entries) {
      const bool missed = entry.offset >= from;
      if (missed && same) host.counters().broker_gap_filled.add();
      deliver(host, *st.stream, o, channel, entry.offset, entry.record, missed, false);
    }
    if (snap.entries.empty()) st->mirror_from(epoch, top);
    st->set_mirrored(true);
    mirrored_.insert(channel);
    // What came on the feed while the load ran, in order: before its marker, publications
    // the snapshot holds (delivered above where nobody here had them); after it, the next.
    std::vector<std::string> waiting = std::move(l.waiting);
    bool gap = l.overflowed;
    l.waiting.clear();
    l.overflowed = false;
    for (const std::string& payload : waiting) {
      if (payload == broker::kClearMarker) gap = true;  // before or after the snapshot: load again
      if (gap || !broker::parse_envelope(payload, e)) continue;
      if (e.epoch != st->epoch() || e.offset > st->top() + 1) {
        gap = true;  // Redis moved on past what the feed brought: load again
        continue;
      }
      if (e.offset == st->top() + 1) deliver(host, *st.stream, o, channel, e.offset, e.record, true, e.delta);
    }
    if (gap) {
      st->set_mirrored(false);
      l.waiting.clear();
    } else {
      loading_.erase(channel);
      if (id != kNoTopic) host.channel_ready(id);
    }
  }
  if (auto it = loading_.find(channel); it != loading_.end()) start_load(host, channel, o);
}

void BrokerFeed::insufficient(HttpHost& host, std::string_view channel, std::uint32_t topic) {
  g_feed_log.log(LogLevel::info,
                 "broker: channel '%.*s' lost publications its subscribers here had not got: they subscribe again",
                 static_cast<int>(channel.size()), channel.data());
  UserCommand c;
  c.kind = UserCommand::Kind::resubscribe;
  c.code = protocol::client::kUnsubscribeInsufficient;
  c.channel = channel;
  c.reason = "insufficient state";
  encode(c, command_);
  if (!host.command_subscribers(topic, Route::client_protocol, as_bytes(command_))) {
    g_feed_log.log(LogLevel::error, "broker: channel '%.*s': out of memory telling its subscribers they lost some",
                   static_cast<int>(channel.size()), channel.data());
  }
}

}  // namespace ringcast::engine
