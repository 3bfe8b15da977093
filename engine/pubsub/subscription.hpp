// One subscription of a connection: its topic and where the connection sits in that
// topic's subscriber list on this shard (removal is O(1) there).
#pragma once
#include <cstdint>

#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

struct Subscription {
  std::uint32_t topic = kNoTopic;
  std::uint32_t index = 0;  // in the shard's SubscriberList of `topic`
};

}  // namespace ringcast::engine
