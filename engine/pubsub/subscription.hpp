// One subscription of a connection: its topic and where the connection sits in that
// topic's subscriber list on this shard (removal is O(1) there).
#pragma once
#include <cstdint>

#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

// A subscription that joins its topic's list later, in order (Shard::join).
inline constexpr std::uint32_t kNotJoined = UINT32_MAX;

struct Subscription {
  std::uint32_t topic = kNoTopic;
  std::uint32_t index = 0;  // in the shard's SubscriberList of `topic`; kNotJoined: not in it yet
};

}  // namespace ringcast::engine
