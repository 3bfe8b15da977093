// A published message on its way to subscribers: the frame encoded once (one holder of
// it travels with the message) and the topic it was published to. It crosses shards
// through the mailboxes and waits in the turn's pending list until fan-out.
//
// A message addressed to one connection (`slot` set) is a subscription joining in order
// (Session::subscribe_in_order): at its place among the topic's messages the connection
// starts receiving them, and `frame` (the subscribe reply) goes to it alone.
#pragma once
#include <cstdint>

#include "engine/config.hpp"
#include "engine/net/frame_pool.hpp"
#include "engine/pubsub/topic.hpp"

namespace ringcast::engine {

inline constexpr std::uint32_t kEverySubscriber = UINT32_MAX;
// `slot` of a message that is no publication but an app command (HttpHost::command_all):
// `topic` holds the route, `frame` the command's bytes.
inline constexpr std::uint32_t kAppCommand = UINT32_MAX - 1;
// `slot` of a message saying this node is ready to serve `topic` (--broker: subscribed in
// Redis, its stream loaded): the requests held for it run again (Session::hold_until_ready).
inline constexpr std::uint32_t kChannelReady = UINT32_MAX - 2;
// `slot` of an app command for the subscribers of `topic` (HttpHost::command_subscribers):
// at its place among the topic's messages, each connection then subscribed (joined) gets
// it; `gen` holds the route, `frame` the command's bytes.
inline constexpr std::uint32_t kTopicCommand = UINT32_MAX - 3;

struct Message {
  Frame* frame = nullptr;
  // A publication to a topic whose subscribers may take deltas (TopicOptions::delta): its
  // full and delta forms beside the raw `frame` (delta nullptr: none was made).
  Frame* full = nullptr;
  Frame* delta = nullptr;
  std::uint32_t topic = kNoTopic;
  std::uint32_t slot = kEverySubscriber;  // else: the connection {slot, gen} joins here
  std::uint32_t gen = 0;
  std::uint32_t ticket = 0;               // the joining subscription's (Subscriptions::attach)
  SlowPolicy policy = SlowPolicy::close;  // and its policy
  TopicOptions options;                   // and its topic's (a list it makes takes them)
  bool deltas = false;                    // and whether it takes the delta forms
};

// A broadcast of one frame (no forms).
[[nodiscard]] inline Message broadcast(Frame* frame, std::uint32_t topic) noexcept {
  return {.frame = frame, .full = nullptr, .delta = nullptr, .topic = topic, .slot = kEverySubscriber, .gen = 0,
          .ticket = 0, .policy = SlowPolicy::close, .options = {}, .deltas = false};
}

}  // namespace ringcast::engine
