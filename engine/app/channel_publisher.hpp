// Publishing into a channel, the one way a client's publish and the server API's both go.
// A channel whose namespace keeps history gets the publication numbered into its stream
// and handed to every shard in offset order, both under the stream's lock (so a
// subscriber joining in order misses none and gets none twice); any other channel's
// publication is encoded once and fanned out through the shards' mailboxes. With --broker
// it goes to Redis instead (broker_wire.hpp's envelope), and every node, this one
// included, delivers it from the feed (engine/app/broker_feed.hpp).
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/app/publication_forms.hpp"
#include "engine/pubsub/channel_topic.hpp"
#include "engine/broker/broker.hpp"
#include "engine/broker/broker_wire.hpp"
#include "engine/config.hpp"
#include "engine/pubsub/history.hpp"
#include "engine/pubsub/topic.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {

// A channel's stream limits, from its namespace.
[[nodiscard]] inline StreamLimits stream_limits(const ClientProtocolConfig& cfg, const ChannelOptions& o) noexcept {
  return {.size = o.history_size, .ttl = o.history_ttl, .meta_ttl = cfg.history_meta_ttl};
}

// --broker: the channel's stream as Redis's scripts take it (TTLs in whole seconds, rounded
// up), `epoch` naming a stream made anew.
[[nodiscard]] inline Broker::StreamArgs broker_stream_args(const ClientProtocolConfig& cfg, const ChannelOptions& o,
                                                           std::string_view epoch) noexcept {
  auto secs = [](std::chrono::milliseconds ms) { return static_cast<std::uint64_t>((ms.count() + 999) / 1000); };
  return {.size = o.history_size, .ttl_s = secs(o.history_ttl), .meta_ttl_s = secs(cfg.history_meta_ttl), .epoch = epoch};
}

struct Published {
  bool ok = true;           // false: memory for the frame ran out, or the broker refused
  std::uint64_t offset = 0;  // 0: the channel keeps no history
  std::array<char, Stream::kEpochLength> epoch{};
  [[nodiscard]] std::string_view epoch_view() const noexcept { return {epoch.data(), epoch.size()}; }
};

// One thread's buffers, kept from call to call.
class ChannelPublisher {
 public:
  // `Host`: a Session or an HttpHost (find_topic, publish_text, publish_forms, history).
  // `delta`: the publisher asks for a delta (the server API's "delta"; the namespace's
  // delta_publish asks for every publication).
  // `tag` (--broker): Redis's reply goes to the query of HttpHost::defer_answer's tag.
  template <typename Host>
  Published publish(Host& host, const ClientProtocolConfig& cfg, const ChannelOptions& o, std::string_view channel,
                    const protocol::client::Publication& pub, bool delta = false, std::uint64_t tag = 0) {
    namespace client = protocol::client;
    Published r;
    if (Broker* b = host.broker()) {
      record_.clear();
      client::append_publication(record_, pub);  // no offset: Redis numbers it
      if (o.has_history()) {
        // Redis's script numbers it into the channel's stream there (the offset is not known
        // here: the feed delivers it with its offset and epoch, as to every node).
        // Each node makes the delta forms from its own copy of the stream (BrokerFeed).
        const std::array<char, Stream::kEpochLength> epoch = History::new_epoch();
        Broker::StreamArgs a = broker_stream_args(cfg, o, {epoch.data(), epoch.size()});
        a.delta = o.delta && delta;
        r.ok = b->publish_numbered(channel, a, record_, tag);
      } else {
        broker::write_envelope(push_, 0, {}, record_);
        r.ok = b->publish(channel, push_, tag);
      }
      return r;
    }
    if (!o.has_history()) {
      std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
      if (id == kNoTopic) return r;  // nobody listens
      push_.clear();
      client::append_publication_push(push_, channel, pub);
      r.ok = host.publish_text(id, push_, false);
      return r;
    }
    std::int64_t now = History::now_ms();
    History::Handle stream = host.history().open(channel, stream_limits(cfg, o), now, true);
    client::Publication numbered = pub;
    numbered.offset = stream->top() + 1;
    record_.clear();
    client::append_publication(record_, numbered);
    // Under the lock: a subscriber joining in order since we looked would miss this one.
    // Published before it is kept: a frame that cannot be made must not leave a gap.
    std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
    if (id != kNoTopic) {
      push_.clear();
      client::append_publication_push(push_, channel, record_);
      bool sent = true;
      if (o.delta) {
        forms_.make(channel, record_, stream->delta_base(), delta || o.delta_publish);
        sent = host.publish_forms(id, push_, forms_.full(), forms_.delta());
      } else {
        sent = host.publish_text(id, push_, true);
      }
      if (!sent) return {.ok = false, .offset = 0, .epoch = {}};
    }
    r.offset = stream->append(now, [&](std::uint64_t, std::string& record) { record = record_; });
    if (o.delta) stream->keep_delta_base(pub.data);
    std::copy_n(stream->epoch().data(), r.epoch.size(), r.epoch.data());
    return r;
  }

 private:
  std::string topic_, push_, record_;
  PublicationForms forms_;
};

}  // namespace ringcast::engine
