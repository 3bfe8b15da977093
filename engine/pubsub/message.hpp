// A published message on its way to subscribers: the frame encoded once (one holder of
// it travels with the message) and the topic it was published to. It crosses shards
// through the mailboxes and waits in the turn's pending list until fan-out. Variants of
// the frame (permessage-deflate) and a per-topic sequence number belong here.
#pragma once
#include <cstdint>

#include "engine/net/frame_pool.hpp"
#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

struct Message {
  Frame* frame = nullptr;
  std::uint32_t topic = kNoTopic;
};

}  // namespace ringcast::engine
