#include "engine/app/broker_feed.hpp"

#include "engine/app/channel_topic.hpp"
#include "engine/broker/broker_wire.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/topic.hpp"
#include "engine/ws/http_app.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {

void BrokerFeed::on_broker_message(HttpHost& host, std::string_view channel, std::string_view payload) {
  broker::Envelope e;
  if (!broker::parse_envelope(payload, e) || e.offset != 0) {
    static LogLimiter limiter;
    limiter.log(LogLevel::warn, "broker: dropping a message on channel '%.*s' that is not a ringcast publication",
                static_cast<int>(channel.size()), channel.data());
    return;
  }
  const std::uint32_t id = host.find_topic(channel_topic(topic_, channel));
  if (id == kNoTopic) return;  // the last subscriber left since the feed subscribed
  push_.clear();
  protocol::client::append_publication_push(push_, channel, e.record);
  if (!host.publish_text(id, push_, false)) {
    static LogLimiter limiter;
    limiter.log(LogLevel::warn, "broker: out of memory for a publication on '%.*s'", static_cast<int>(channel.size()),
                channel.data());
  }
}

}  // namespace ringcast::engine
