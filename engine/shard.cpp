#include "engine/shard.hpp"

#include <algorithm>

#include "engine/pubsub/encode.hpp"

namespace ringcast::engine {
namespace {

constexpr std::size_t kMailboxSlots = 8192;
constexpr std::size_t kPendingDeliveries = 8192;  // a turn with more fans out early

}  // namespace

Shard::Shard(ShardGroup& group, unsigned id, ShardListeners listeners, std::unique_ptr<IoBackend> io)
    : ShardLoop(group.config, group.stopping, id, listeners, std::move(io), group.prewarm_frames, &group.tls),
      group_(group) {
  std::size_t n = group.shard_count;
  for (std::size_t i = 0; i < n; ++i) inbox_.push_back(std::make_unique<Mailbox<Message>>(kMailboxSlots));
  overflow_.resize(n);
  wake_target_.resize(n, false);
  pending_.reserve(kPendingDeliveries);
  order_.reserve(kPendingDeliveries);
  closing_.reserve(2 * conns_.capacity());  // a close frame and a teardown each push once
  if (!group.broker.addresses.empty()) {
    extra_files_ = group.broker.files(id);
    HttpHost& host = *this;  // a private base: converted here, not inside make_unique
    BrokerQueries& queries = *this;
    broker_ = std::make_unique<Broker>(backend(), group.broker, id, extra_files_base(), group.topics,
                                       group.broker_sink, host, queries, metrics_);
  }
}

bool Shard::hold(Conn& c, std::uint32_t slot, std::string_view topic, std::string_view channel, const HoldRequest& r) {
  if (held_.size() >= kMaxHeld) return false;
  // A request held again as it runs (another load began) keeps its first deadline.
  const std::uint64_t until = rerun_until_ms_ != 0 ? rerun_until_ms_ : backend().now_ms() + Session::kHoldMs;
  held_.push_back({slot, c.gen, group_.topics.acquire(topic), until, std::string(r.request), r.tag, r.subscription});
  held_soonest_ms_ = std::min(held_soonest_ms_, until);
  HeldCount& n = held_by_conn_[conn_key(slot, c.gen)];
  ++n.all;
  n.subscriptions += r.subscription ? 1 : 0;
  if (group_.broker.wanted.push(std::string(channel)) && id_ != 0) group_.shards[0]->wake();
  return true;
}

void Shard::channel_ready(std::uint32_t topic) {
  Message m = broadcast(nullptr, topic);
  m.slot = kChannelReady;
  to_every_shard(m);
}

void Shard::to_every_shard(const Message& m) {
  for (unsigned t = 0; t < group_.shard_count; ++t) {
    group_.shards[t]->in_order_.push(m);
    if (t != id_) wake_target_[t] = true;
  }
}

void Shard::release_held(std::uint32_t topic, std::uint64_t now_ms) {
  if (topic == kNoTopic && now_ms < held_soonest_ms_) return;  // none due: no scan every turn
  releasing_.clear();
  std::size_t kept = 0;
  held_soonest_ms_ = UINT64_MAX;
  for (std::size_t i = 0; i < held_.size(); ++i) {
    Held& h = held_[i];
    // A hold without a request only keeps its channel loaded for a while (a server-side
    // subscription's connect, failed meanwhile): it goes at its time.
    if (topic == kNoTopic ? h.until_ms <= now_ms : h.topic == topic && !h.request.empty()) {
      unhold(h);
      releasing_.push_back(std::move(h));
    } else {
      held_soonest_ms_ = std::min(held_soonest_ms_, h.until_ms);
      if (kept++ != i) held_[kept - 1] = std::move(h);  // never onto itself: a self-moved string may empty
    }
  }
  held_.resize(kept);
  // A released request may be held again (another load began): releasing_ is moved out
  // first, and its registry count goes only after the request ran.
  std::vector<Held> now = std::move(releasing_);
  for (Held& h : now) {
    Conn& c = conns_[h.slot];
    if (c.gen == h.gen && c.state == ConnState::open && c.app_open) {
      Session s(*this, c, h.slot);
      rerun_until_ms_ = h.until_ms;
      app_of(c).on_released(s, as_bytes(h.request), topic != kNoTopic);
      rerun_until_ms_ = 0;
    }
    group_.topics.release(h.topic);
  }
  releasing_ = std::move(now);
}

void Shard::drop_held(const Conn& c, std::uint32_t slot, std::uint32_t topic, std::vector<std::uint32_t>& dropped) {
  std::erase_if(held_, [&](const Held& h) {
    if (h.slot != slot || h.gen != c.gen || h.topic != topic || !h.subscription) return false;
    dropped.push_back(h.tag);
    unhold(h);
    group_.topics.release(h.topic);
    return true;
  });
}

void Shard::unhold(const Held& h) noexcept {
  auto it = held_by_conn_.find(conn_key(h.slot, h.gen));
  if (it == held_by_conn_.end()) return;
  it->second.subscriptions -= h.subscription ? 1 : 0;
  if (--it->second.all == 0) held_by_conn_.erase(it);
}

std::uint32_t Shard::held(const Conn& c, std::uint32_t slot, bool subscriptions) const noexcept {
  auto it = held_by_conn_.find(conn_key(slot, c.gen));
  if (it == held_by_conn_.end()) return 0;
  return subscriptions ? it->second.subscriptions : it->second.all;
}

bool Shard::query(std::uint32_t slot, std::uint32_t gen, App& app, BrokerQuery q, std::string_view channel,
                  std::string_view request) {
  if (!broker_) return false;
  const std::uint64_t tag = next_query_;
  if (!broker_->query(q, channel, tag)) return false;
  ++next_query_;
  queries_.emplace(tag, Query{slot, gen, &app, std::string(request)});
  if (slot != kNoSlot) ++queries_by_conn_[conn_key(slot, gen)];
  return true;
}

bool Shard::query_broker(App& app, BrokerQuery q, std::string_view channel, std::string_view request) {
  return query(kNoSlot, 0, app, q, channel, request);
}

std::uint64_t Shard::defer_answer(std::string_view request) {
  if (!broker_ || serving_.slot == kNoSlot) return 0;
  const std::uint64_t tag = next_query_++;
  queries_.emplace(tag, Query{serving_.slot, serving_.gen, nullptr, std::string(request), true, serving_.keep});
  return tag;
}

void Shard::undefer(std::uint64_t tag) noexcept { queries_.erase(tag); }

void Shard::on_query_reply(std::uint64_t tag, const protocol::resp::Reply* reply) {
  auto it = queries_.find(tag);
  if (it == queries_.end()) return;
  Query q = std::move(it->second);
  queries_.erase(it);
  if (q.http) {
    Conn& c = conns_[q.slot];
    if (c.gen != q.gen || c.state != ConnState::handshake || !c.http_waiting) return;  // it closed meanwhile
    send_deferred(c, q.slot, group_.http_api->on_query_reply(*this, as_bytes(q.request), reply), q.keep);
    return;
  }
  if (q.slot == kNoSlot) {
    q.app->on_node_query_reply(*this, as_bytes(q.request), reply);
    return;
  }
  if (auto n = queries_by_conn_.find(conn_key(q.slot, q.gen)); n != queries_by_conn_.end() && --n->second == 0) {
    queries_by_conn_.erase(n);
  }
  Conn& c = conns_[q.slot];
  if (c.gen != q.gen || c.state != ConnState::open || !c.app_open) return;  // it closed meanwhile
  Session s(*this, c, q.slot);
  app_of(c).on_query_reply(s, as_bytes(q.request), reply);
}

std::uint32_t Shard::queries(const Conn& c, std::uint32_t slot) const noexcept {
  auto it = queries_by_conn_.find(conn_key(slot, c.gen));
  return it == queries_by_conn_.end() ? 0 : it->second;
}

void Shard::on_started() {
  if (broker_) broker_->start();
}

void Shard::on_broker(const Completion& c) {
  if (broker_) {
    broker_->on_completion(c);
  } else {
    ShardLoop::on_broker(c);
  }
}

Shard::~Shard() = default;

void Shard::post_external(Message m) {
  if (external_.push(m)) wake();
}

void Shard::release_leftovers() noexcept {
  // The kernel may still be reading frames of in-flight sends: end the backend first.
  backend().close();
  for (Conn& c : conns_.built()) c.queue.clear(leases_);
  // Every frame a message holds (a publication's forms too).
  auto release = [](const Message& m) {
    for (Frame* f : {m.frame, m.full, m.delta}) {
      if (f != nullptr) release_holder(f, nullptr);
    }
  };
  for (const Message& m : pending_) release(m);
  pending_.clear();
  for (auto& [topic, t] : throttles_) {
    if (t.held != nullptr) release_holder(t.held, nullptr);
    t.held = nullptr;
  }
  for (auto& box : inbox_) box->pop_batch(release);
  for (auto& list : overflow_) {
    for (const Message& m : list) release(m);
    list.clear();
  }
  external_.drain(release);
  in_order_.drain(release);
}

void Shard::on_ending(Conn& c, std::uint32_t slot) noexcept {
  if (c.app_open) closing_.push_back({slot, c.gen});
}

void Shard::on_freed(Conn& c, std::uint32_t slot) noexcept {
  close_app(c, slot);
  c.head.clear();  // spill buffers (up to 64 KiB) go now, not when the slot is reused
  c.assembly.clear();
  if (c.upgraded) metrics_.connections.sub();
  c.upgraded = false;
}

void Shard::close_app(Conn& c, std::uint32_t slot) noexcept {
  if (c.app_open) {
    c.app_open = false;
    Session session(*this, c, slot);
    app_of(c).on_close(session);
  }
  unsubscribe_all(slot);
}

void Shard::unsubscribe_all(std::uint32_t slot) noexcept {
  subs_.clear(slot, [this](std::uint32_t topic) { group_.topics.release(topic); });
}

}  // namespace ringcast::engine
