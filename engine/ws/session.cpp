// Session: what an app may do to its connection, on the shard that owns it.
#include "engine/core/shard.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/ws/app.hpp"

namespace ringcast::engine {

std::uint16_t Session::peer_port() const noexcept { return conn_.port; }

std::uint32_t Session::topic() const noexcept { return conn_.topic; }

void Session::reply(protocol::Opcode op, std::span<const std::uint8_t> payload) {
  Frame* f = encode_frame(&shard_.frames_, op, payload);
  if (f == nullptr) {
    shard_.tear_down(conn_, slot_);
    return;
  }
  f->holders.store(1, std::memory_order_relaxed);
  Lease* lease = shard_.leases_.lease(f);
  if (lease == nullptr) {
    release_holder(f, &shard_.frames_);
    return;
  }
  shard_.enqueue(conn_, slot_, lease);
  shard_.leases_.drop_if_unused(lease);
}

void Session::subscribe(std::string_view topic) {
  if (conn_.topic != kNoTopic) unsubscribe();
  conn_.topic = shard_.group_.topics.acquire(topic);
  SubscriberList& list = shard_.topics_.get_or_create(conn_.topic);
  conn_.topic_index = list.add(Subscriber{slot_, conn_.gen});
}

std::uint32_t Session::unsubscribe() noexcept {
  std::uint32_t t = conn_.topic;
  if (t == kNoTopic) return t;
  if (SubscriberList* list = shard_.topics_.find(t)) {
    if (const Subscriber* moved = list->remove(conn_.topic_index)) {
      shard_.conns_[moved->slot].topic_index = conn_.topic_index;
    }
    shard_.topics_.drop_if_empty(t);
  }
  // Ids are never reused: a publish to `t` after the name is forgotten finds no one.
  shard_.group_.topics.release(t);
  conn_.topic = kNoTopic;
  return t;
}

void Session::publish(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload,
                      std::string_view prefix) {
  if (topic == kNoTopic) return;
  if (Frame* f = encode_frame(&shard_.frames_, op, payload, prefix)) shard_.publish(topic, f);
}

}  // namespace ringcast::engine
