// One subscription of a connection: its topic and where the connection sits in that
// topic's subscriber list on this shard (removal is O(1) there).
#pragma once
#include <cstdint>

#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

// A subscription that joins its topic's list later, in order (Shard::join): its index
// holds this bit and the ticket its join carries (so a stale join, from before an
// unsubscribe and a new subscribe, is not taken for the new one's).
inline constexpr std::uint32_t kNotJoined = 0x80000000u;

struct Subscription {
  std::uint32_t topic = kNoTopic;
  std::uint32_t index = 0;  // in the shard's SubscriberList of `topic`; kNotJoined|ticket: not in it yet
};

}  // namespace ringcast::engine
