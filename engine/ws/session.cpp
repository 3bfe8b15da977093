// Session: what an app may do to its connection, on the shard that owns it.
#include "engine/shard.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/ws/app.hpp"

namespace ringcast::engine {

std::uint16_t Session::peer_port() const noexcept { return conn_.port; }

std::uint32_t Session::topic() const noexcept { return shard_.subs_.first(slot_); }

void Session::reply(protocol::Opcode op, std::span<const std::uint8_t> payload) {
  Frame* f = shard_.encode_for(conn_, op, payload);
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

bool Session::subscribe(std::string_view topic, const TopicOptions& options, bool deltas, std::uint8_t rate_class) {
  return subscribe(topic, shard_.cfg_.slow_policy, options, deltas, rate_class);
}

bool Session::subscribe(std::string_view topic, SlowPolicy policy, const TopicOptions& options, bool deltas,
                        std::uint8_t rate_class) {
  std::uint32_t id = shard_.group_.topics.acquire(topic);
  if (shard_.subs_.add(slot_, id, policy, options, deltas, rate_class)) return true;
  shard_.group_.topics.release(id);  // already subscribed: count it once
  return false;
}

bool Session::subscribe_in_order(std::string_view topic, std::span<const std::uint8_t> reply,
                                 const TopicOptions& options, bool deltas) {
  std::uint32_t id = shard_.group_.topics.acquire(topic);
  std::optional<std::uint32_t> ticket = shard_.subs_.add_unjoined(slot_, id);
  if (!ticket) {
    shard_.group_.topics.release(id);  // already subscribed: count it once
    return false;
  }
  Frame* f = nullptr;
  if (!reply.empty()) {
    f = encode_frame(&shard_.frames_, protocol::Opcode::text, reply);
    if (f == nullptr) {
      unsubscribe(id);
      return false;
    }
    f->holders.store(1, std::memory_order_relaxed);
  }
  SlowPolicy policy = shard_.cfg_.slow_policy == SlowPolicy::drop ? SlowPolicy::insufficient_state : SlowPolicy::close;
  shard_.publish_in_order({.frame = f, .full = nullptr, .delta = nullptr, .topic = id, .slot = slot_, .gen = conn_.gen,
                           .ticket = *ticket, .policy = policy, .options = options, .deltas = deltas});
  return true;
}

bool Session::unsubscribe(std::uint32_t topic) noexcept {
  if (!shard_.subs_.remove(slot_, topic)) return false;
  // Ids are never reused: a publish to `topic` after its name is forgotten finds no one.
  shard_.group_.topics.release(topic);
  return true;
}

void Session::publish(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload,
                      std::string_view prefix) {
  if (topic == kNoTopic) return;
  if (Frame* f = encode_frame(&shard_.frames_, op, payload, prefix)) shard_.publish(topic, f);
  if (Broker* b = shard_.broker_.get()) {  // and to the other nodes' members, through Redis
    thread_local std::string name;
    if (!shard_.group_.topics.name_of(topic, name)) return;  // forgotten: nobody here subscribes to it
    const std::string_view bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (!b->publish_room(name, op == protocol::Opcode::binary, prefix, bytes)) Broker::log_refused_room(name);
  }
}

bool Session::publish_text(std::uint32_t topic, std::string_view text, bool in_order) {
  return shard_.publish_text(topic, text, in_order);
}

bool Session::publish_forms(std::uint32_t topic, std::string_view raw, std::string_view full, std::string_view delta) {
  return shard_.publish_forms(topic, raw, full, delta);
}

History& Session::history() noexcept { return shard_.group_.history; }
Broker* Session::broker() noexcept { return shard_.broker_.get(); }
bool Session::hold_until_ready(std::string_view topic, std::string_view channel, std::string_view request,
                               std::uint32_t tag, bool subscription) {
  return shard_.hold(conn_, slot_, topic, channel, {.request = request, .tag = tag, .subscription = subscription});
}

bool Session::query_broker(BrokerQuery q, std::string_view channel, std::string_view request) {
  return shard_.query(slot_, conn_.gen, shard_.app_of(conn_), q, channel, request);
}

std::uint32_t Session::queries() const noexcept { return shard_.queries(conn_, slot_); }

void Session::drop_held(std::uint32_t topic, std::vector<std::uint32_t>& dropped) {
  shard_.drop_held(conn_, slot_, topic, dropped);
}

std::uint32_t Session::held(bool subscriptions) const noexcept { return shard_.held(conn_, slot_, subscriptions); }

Presence& Session::presence() noexcept { return shard_.group_.presence; }

std::uint32_t Session::find_topic(std::string_view topic) const { return shard_.group_.topics.find(topic); }

bool Session::subscribed(std::uint32_t topic) const noexcept { return shard_.subs_.contains(slot_, topic); }

std::size_t Session::subscriptions() const noexcept { return shard_.subs_.count(slot_); }

void Session::close(std::uint16_t code, std::string_view reason) { shard_.send_close(conn_, slot_, code, reason); }

std::uint8_t& Session::app_state() noexcept { return conn_.app_state; }

ShardMetrics& Session::metrics() noexcept { return shard_.metrics_; }

Session::Id Session::id() const noexcept { return {shard_.id_, slot_, conn_.gen}; }

}  // namespace ringcast::engine
