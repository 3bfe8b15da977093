// Shard: publish (encode once), fan-out to local subscribers, cross-shard mailboxes.
#include <algorithm>
#include <cstring>

#include "engine/pubsub/fanout.hpp"
#include "engine/log.hpp"
#include "engine/shard.hpp"
#include "engine/pubsub/encode.hpp"

namespace ringcast::engine {

void Shard::publish(std::uint32_t topic, Frame* frame) {
  // One holder per shard: each shard drops its own when its last queued copy is sent.
  frame->holders.store(group_.shard_count, std::memory_order_relaxed);
  for (unsigned t = 0; t < group_.shard_count; ++t) {
    if (t == id_) continue;
    Message d = broadcast(frame, topic);
    // Keep per-publisher order: once anything is waiting in overflow, queue behind it.
    if (!overflow_[t].empty() || !group_.shards[t]->inbox_from(id_).try_push(d)) overflow_[t].push_back(d);
    wake_target_[t] = true;
  }
  defer(broadcast(frame, topic));
}

void Shard::publish_in_order(Message m) {
  if (m.slot == kEverySubscriber) {
    for (Frame* f : {m.frame, m.full, m.delta}) {
      if (f != nullptr) f->holders.store(group_.shard_count, std::memory_order_relaxed);
    }
  }
  // One queue per receiving shard that every sender shares, this one included: the order
  // the callers' lock gave is the order each shard fans out in.
  if (m.slot == kEverySubscriber) {
    to_every_shard(m);
  } else {
    in_order_.push(m);
  }
}

void Shard::defer(Message d) {
  if (pending_.size() == pending_.capacity()) fanout_pending();  // never grow on the hot path
  pending_.push_back(d);
}

void Shard::fanout_pending() {
  // Frames up to kCombineFrame bytes are where per-frame costs (a queue entry per subscriber,
  // an iovec the kernel copies separately) outweigh a copy; chunks stay pool-sized.
  constexpr std::size_t kCombineFrame = 1024, kCombineChunk = 16384;
  // Group by topic, arrival order kept inside a topic: sort (topic, index) keys in place
  // (many topics: market data), skipped when the turn has one topic (a room, danmaku).
  order_.clear();
  bool one_topic = true;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    order_.push_back((std::uint64_t{pending_[i].topic} << 32) | i);
    one_topic = one_topic && pending_[i].topic == pending_[0].topic;
  }
  if (!one_topic) std::sort(order_.begin(), order_.end());
  auto frame_at = [this](std::size_t k) { return pending_[order_[k] & 0xFFFFFFFFu].frame; };
  for (std::size_t k = 0; k < order_.size();) {
    auto topic = static_cast<std::uint32_t>(order_[k] >> 32);
    std::size_t group_end = k;
    while (group_end < order_.size() && (order_[group_end] >> 32) == topic) ++group_end;
    if (const SubscriberList* list = topics_.find(topic); list != nullptr && list->options().min_interval_ms != 0) {
      // Max frequency: only the turn's newest publication of the topic can matter.
      Frame* newest = nullptr;
      std::uint32_t count = 0;
      for (; k < group_end; ++k) {
        Message& m = pending_[order_[k] & 0xFFFFFFFFu];
        if (m.slot != kEverySubscriber) {
          join(m);
          continue;
        }
        drop_forms(m);  // no delta topic (the config keeps deltas from max_frequency)
        if (newest != nullptr) release_holder(newest, &frames_);
        newest = m.frame;
        ++count;
      }
      if (newest == nullptr) continue;
      // Each rate class with subscribers has its own slot: one holder of the frame each.
      std::uint8_t classes[kRateClasses];
      std::size_t n = 0;
      for (std::uint8_t c = 0; c < kRateClasses; ++c) {
        if (const SubscriberList::Run r = list->rate_class_run(c); r.end != r.first) classes[n++] = c;
      }
      if (n > 1) newest->holders.fetch_add(static_cast<std::uint32_t>(n - 1), std::memory_order_relaxed);
      for (std::size_t i = 0; i < n; ++i) {
        throttle(topic, classes[i], list->options().min_interval_ms * kRateSteps[classes[i]], newest, count);
      }
      continue;
    }
    while (k < group_end) {
      Message& head = pending_[order_[k] & 0xFFFFFFFFu];
      if (head.slot != kEverySubscriber) {  // a subscription joins here, in order
        join(head);
        ++k;
        continue;
      }
      const SubscriberList* list = topics_.find(topic);
      if (head.full != nullptr) {
        // A publication in forms goes alone: a subscriber's next form depends on this one.
        if (list != nullptr && list->options().delta) {
          fanout_forms(topic, head);
          ++k;
          continue;
        }
        drop_forms(head);
      }
      if (list == nullptr) {  // nobody here: nothing to combine or queue
        release_holder(head.frame, &frames_);
        ++k;
        continue;
      }
      // The longest stretch from k of small frames that fits one chunk.
      std::size_t end = k, bytes = 0;
      while (end < group_end && pending_[order_[end] & 0xFFFFFFFFu].slot == kEverySubscriber &&
             pending_[order_[end] & 0xFFFFFFFFu].full == nullptr && frame_at(end)->len <= kCombineFrame &&
             bytes + frame_at(end)->len <= kCombineChunk) {
        bytes += frame_at(end)->len;
        ++end;
      }
      Frame* combined = end - k >= 2 ? frames_.acquire(bytes) : nullptr;
      if (combined == nullptr) {
        fanout(topic, frame_at(k));
        ++k;
        continue;
      }
      if (list->deflate_subscribers != 0) combine_deflated(combined, std::span(order_).subspan(k, end - k));
      // Conflating: the run's last frame is kept as well, the latest for slow subscribers.
      bool keep_last = list->conflate();
      for (std::size_t m = k; m < end; ++m) {
        Frame* f = frame_at(m);
        append(*combined, *f);
        if (!keep_last || m + 1 != end) release_holder(f, &frames_);
      }
      combined->holders.store(1, std::memory_order_relaxed);
      fanout(topic, combined, static_cast<std::uint32_t>(end - k), keep_last ? frame_at(end - 1) : nullptr);
      k = end;
    }
  }
  pending_.clear();
}

void Shard::throttle(std::uint32_t topic, std::uint8_t rate_class, std::uint32_t interval_ms, Frame* newest,
                     std::uint32_t count) {
  Throttle& t = throttles_[(std::uint64_t{topic} << 8) | rate_class];
  t.interval_ms = interval_ms;
  std::uint64_t skipped = count - 1;
  if (t.held != nullptr) {  // the interval's earlier latest: replaced
    release_holder(t.held, &frames_);
    t.held = nullptr;
    --throttled_held_;
    ++skipped;
  }
  metrics_.throttled.add(skipped);
  std::uint64_t now = backend().now_ms();
  if (now >= t.next_ms) {
    t.next_ms = now + interval_ms;
    fanout(topic, newest, 1, nullptr, rate_class);
    return;
  }
  t.held = newest;
  ++throttled_held_;
  throttle_soonest_ms_ = std::min(throttle_soonest_ms_, t.next_ms);
  arm_throttle(t.next_ms);
}

void Shard::release_throttled() {
  std::uint64_t now = backend().now_ms(), soonest = UINT64_MAX;
  for (auto it = throttles_.begin(); it != throttles_.end();) {
    Throttle& t = it->second;
    if (t.held != nullptr && now >= t.next_ms) {
      Frame* f = t.held;
      t.held = nullptr;
      --throttled_held_;
      t.next_ms = now + t.interval_ms;
      fanout(static_cast<std::uint32_t>(it->first >> 8), f, 1, nullptr, static_cast<std::uint8_t>(it->first & 0xFF));
    }
    if (t.held != nullptr) soonest = std::min(soonest, t.next_ms);
    // Nothing held and the slot open: the entry says no more than a missing one.
    if (t.held == nullptr && now >= t.next_ms) {
      it = throttles_.erase(it);
    } else {
      ++it;
    }
  }
  throttle_soonest_ms_ = soonest;
  if (soonest != UINT64_MAX) arm_throttle(soonest);
}

void Shard::fanout(std::uint32_t topic, Frame* frame, std::uint32_t messages, Frame* latest, std::uint8_t rate_class) {
  Lease* lease = leases_.lease(frame);
  if (lease == nullptr) {
    release_holder(frame, &frames_);
    if (latest != nullptr) release_holder(latest, &frames_);
    return;
  }
  SubscriberList* list = topics_.find(topic);
  // Every subscriber, or one rate class's run of them.
  std::span<const Subscriber> subs;
  SubscriberList::Run run{0, 0};
  if (list != nullptr) {
    run = rate_class == kEveryRate ? SubscriberList::Run{0, static_cast<std::uint32_t>(list->size())}
                                   : list->rate_class_run(rate_class);
    subs = std::span<const Subscriber>(list->all()).subspan(run.first, run.end - run.first);
  }
  if (list != nullptr && list->conflate()) {
    // The newest publication alone: the frame itself when it carries one.
    Lease* newest = latest == nullptr ? lease : leases_.lease(latest);
    if (newest == nullptr && latest != nullptr) release_holder(latest, &frames_);
    std::span<Queued> queued = std::span<Queued>(list->queued()).subspan(run.first, run.end - run.first);
    const bool z = list->deflate_subscribers != 0;
    Lease* lease_z = z ? deflated_lease(frame) : nullptr;
    Lease* latest_z = z && latest != nullptr && newest != nullptr ? deflated_lease(latest) : nullptr;
    Lease* newest_z = newest == lease ? lease_z : latest_z;
    ConflateCount n = conflate_out(subs, queued, conns_.built(), Variants::of_pair(lease, lease_z), messages,
                                   Variants::of_pair(newest, newest_z), flushes(), leases_, cfg_.max_backlog, dirty_,
                                   [this, messages, policy = list->policy](Conn& c, std::uint32_t slot, Refusal why) {
                                     refuse(c, slot, why, policy, messages);
                                   });
    metrics_.messages_out.add(std::uint64_t{n.queued} * messages + n.replaced);
    metrics_.conflated.add(n.skipped);
    for (Lease* l : {latest_z, lease_z, newest != lease ? newest : nullptr, lease}) {
      if (l != nullptr) leases_.drop_if_unused(l);
    }
    return;
  }
  if (latest != nullptr) release_holder(latest, &frames_);  // no conflating list (gone meanwhile)
  if (list != nullptr) {
    Lease* deflated = list->deflate_subscribers != 0 ? deflated_lease(frame) : nullptr;
    std::uint32_t n = fan_out(subs, conns_.built(), lease, cfg_.max_backlog, dirty_,
                              [this, messages, policy = list->policy](Conn& c, std::uint32_t slot, Refusal why) {
                                refuse(c, slot, why, policy, messages);
                              },
                              deflated);
    metrics_.messages_out.add(std::uint64_t{n} * messages);
    if (deflated != nullptr) leases_.drop_if_unused(deflated);
  }
  leases_.drop_if_unused(lease);
}

Frame* Shard::deflated_of(Frame* frame) {
  Frame* d = frame->deflated.load(std::memory_order_acquire);
  if (d == nullptr) d = make_deflated(frame);
  return d == &kNotDeflated ? nullptr : d;
}

Frame* Shard::make_deflated(Frame* frame) {
  // One whole unfragmented data message of at least --deflate-min-size (a turn's combined
  // frames hold several), and only if it comes out smaller: else it is marked to go plain.
  const protocol::FrameRules rules{.require_mask = false, .allowed_rsv = 0, .max_payload = UINT64_MAX};
  protocol::FrameHeader h;
  const protocol::FrameParse p = protocol::decode_frame_header({frame->bytes(), frame->len}, rules, h);
  Frame* d = &kNotDeflated;
  if (p.status == protocol::Status::ok && h.fin && !protocol::is_control(h.opcode) &&
      h.opcode != protocol::Opcode::continuation && h.header_len + h.payload_len == frame->len &&
      deflate_pays({frame->bytes() + h.header_len, h.payload_len})) {
    d = encode_frame(&frames_, h.opcode, deflated_, {}, protocol::kRsv1);
    if (d == nullptr) return &kNotDeflated;  // no memory now: plain this time, not marked
    d->holders.store(1, std::memory_order_relaxed);  // the plain frame's
  }
  trim_scratch(deflated_);
  Frame* raced = nullptr;
  if (frame->deflated.compare_exchange_strong(raced, d, std::memory_order_acq_rel)) {
    if (d != &kNotDeflated) metrics_.messages_deflated.add();
    return d;
  }
  if (d != &kNotDeflated) release_holder(d, &frames_);  // another shard made it at the same time: theirs
  return raced;
}

void Shard::combine_deflated(Frame* combined, std::span<const std::uint64_t> run) {
  // Each message's own variant (made once, as a lone one's is), or the plain frame where
  // compressing does not pay: the same messages in the same order, each one whole.
  std::size_t bytes = 0;
  bool any = false;
  for (std::uint64_t key : run) {
    Frame* f = pending_[key & 0xFFFFFFFFu].frame;
    Frame* d = deflated_of(f);
    bytes += d != nullptr ? d->len : f->len;
    any = any || d != nullptr;
  }
  Frame* z = any ? frames_.acquire(bytes) : nullptr;
  if (z == nullptr) {  // nothing compressed, or no memory: the plain run for everyone
    combined->deflated.store(&kNotDeflated, std::memory_order_relaxed);
    return;
  }
  for (std::uint64_t key : run) {  // the variants the first loop made or marked
    Frame* f = pending_[key & 0xFFFFFFFFu].frame;
    Frame* d = f->deflated.load(std::memory_order_acquire);
    append(*z, d != nullptr && d != &kNotDeflated ? *d : *f);
  }
  z->holders.store(1, std::memory_order_relaxed);  // the combined frame's (this shard's alone)
  combined->deflated.store(z, std::memory_order_relaxed);
}

Lease* Shard::deflated_lease(Frame* frame) {
  Frame* d = deflated_of(frame);
  if (d == nullptr) return nullptr;
  d->holders.fetch_add(1, std::memory_order_relaxed);  // this shard's, while it holds the plain one
  Lease* lease = leases_.lease(d);
  if (lease == nullptr) release_holder(d, &frames_);
  return lease;
}

void Shard::fanout_forms(std::uint32_t topic, const Message& m) {
  SubscriberList* list = topics_.find(topic);
  Frame* const frames[3] = {m.frame, m.full, m.delta};  // raw, full, delta (may be nullptr)
  Lease* lease[3] = {nullptr, nullptr, nullptr};
  bool leased = true;
  for (std::size_t i = 0; i < 3; ++i) {
    if (frames[i] == nullptr) continue;
    if (leased) lease[i] = leases_.lease(frames[i]);
    if (lease[i] == nullptr) {  // out of memory: the publication is gone
      leased = false;
      release_holder(frames[i], &frames_);
    }
  }
  Lease* zipped[3] = {nullptr, nullptr, nullptr};  // compressed variants made for this publication
  if (leased) {
    // Without deflate subscribers the variant is the plain lease: zip is never asked.
    const bool plain_only = list->deflate_subscribers == 0;
    Variants v[3];
    for (std::size_t i = 0; i < 3; ++i) v[i] = {{lease[i], plain_only ? lease[i] : nullptr}};
    auto zip = [&](int form) {
      zipped[form] = deflated_lease(frames[form]);
      return zipped[form] != nullptr ? zipped[form] : lease[form];
    };
    FormCount n = forms_out(list->all(), list->forms(), conns_.built(), v, zip, cfg_.max_backlog, dirty_,
                            [this, policy = list->policy](Conn& c, std::uint32_t slot, Refusal why) {
                              refuse(c, slot, why, policy);
                            });
    metrics_.messages_out.add(std::uint64_t{n.raw} + n.full + n.delta);
    metrics_.deltas_sent.add(n.delta);
  }
  for (Lease* l : {zipped[0], zipped[1], zipped[2], lease[0], lease[1], lease[2]}) {
    if (l != nullptr) leases_.drop_if_unused(l);
  }
}

void Shard::drop_forms(Message& m) noexcept {
  for (Frame** f : {&m.full, &m.delta}) {
    if (*f != nullptr) release_holder(*f, &frames_);
    *f = nullptr;
  }
}

void Shard::run_command(const Message& m) {
  App* app = m.topic < static_cast<std::uint32_t>(Route::count_) ? group_.apps[m.topic] : nullptr;
  std::span<const std::uint8_t> command(m.frame->bytes(), m.frame->len);
  if (app != nullptr) {
    std::span<Conn> conns = conns_.built();
    for (std::uint32_t slot = 0; slot < conns.size(); ++slot) {
      Conn& c = conns[slot];
      if (!c.app_open || c.app != m.topic || c.state != ConnState::open || c.close_sent) continue;
      Session session(*this, c, slot);
      app->on_command(session, command);
    }
  }
  release_holder(m.frame, &frames_);
}

void Shard::run_topic_command(const Message& m) {
  const auto route = static_cast<std::size_t>(m.gen);
  App* app = route < static_cast<std::size_t>(Route::count_) ? group_.apps[route] : nullptr;
  const SubscriberList* list = topics_.find(m.topic);
  if (app != nullptr && list != nullptr) {
    // Copied first: the app may unsubscribe them (which reorders the list).
    commanded_.assign(list->all().begin(), list->all().end());
    std::span<const std::uint8_t> command(m.frame->bytes(), m.frame->len);
    for (const Subscriber& sub : commanded_) {
      Conn& c = conns_[sub.slot];
      if (c.gen != sub.gen || !c.app_open || c.app != route || c.state != ConnState::open || c.close_sent) continue;
      Session session(*this, c, sub.slot);
      app->on_command(session, command);
    }
  }
  release_holder(m.frame, &frames_);
}

void Shard::join(const Message& m) {
  Conn& c = conns_[m.slot];
  // Gone or closing: the reply goes nowhere. Unsubscribed since it asked (the ticket is
  // not the record's): it joins nothing, but its command is still answered.
  bool live = c.gen == m.gen && c.state == ConnState::open && !c.close_sent;
  if (live) subs_.attach(m.slot, m.topic, m.ticket, m.policy, m.options, m.deltas);
  if (!live || m.frame == nullptr) {
    if (m.frame != nullptr) release_holder(m.frame, &frames_);
    return;
  }
  Lease* lease = leases_.lease(m.frame);
  if (lease == nullptr) {
    release_holder(m.frame, &frames_);
    return;
  }
  // The reply is owed whatever the backlog holds (a recovery's may be large): not counted
  // against --max-backlog, never skipped.
  if (deliver(c, m.slot, lease, SIZE_MAX, dirty_, [this](Conn& cc, std::uint32_t s, Refusal) { tear_down(cc, s); })) {
    leases_.ref(lease);
    mark_dirty(c, m.slot);
    metrics_.messages_out.add();
  }
  leases_.drop_if_unused(lease);
}

void Shard::enqueue(Conn& c, std::uint32_t slot, Lease* lease) noexcept {
  if (deliver(c, slot, lease, cfg_.max_backlog, dirty_,
              [this](Conn& cc, std::uint32_t s, Refusal why) { refuse(cc, s, why, cfg_.slow_policy); })) {
    leases_.ref(lease);
    mark_dirty(c, slot);  // a reply to the client's own message (echo) never waits for --coalesce
    metrics_.messages_out.add();
  }
}

void Shard::refuse(Conn& c, std::uint32_t slot, Refusal why, SlowPolicy policy, std::uint32_t messages) noexcept {
  if (why == Refusal::no_memory) {
    tear_down(c, slot);
  } else if (policy == SlowPolicy::drop) {
    metrics_.frames_dropped.add(messages);
  } else if (policy == SlowPolicy::insufficient_state) {
    metrics_.slow_clients_closed.add();
    c.queue.drop_unsent(leases_, c.inflight_entries);
    send_close(c, slot, 3010, "insufficient state");
  } else {
    slow_close(c, slot);
  }
}

void Shard::slow_close(Conn& c, std::uint32_t slot) noexcept {
  static LogLimiter limiter;
  limiter.log(LogLevel::warn, "closing slow client ID%u (1008): more than %zu bytes unsent",
              static_cast<unsigned>(c.port), cfg_.max_backlog);
  metrics_.slow_clients_closed.add();
  // Free the backlog now: memory stays bounded even if the client never reads again.
  c.queue.drop_unsent(leases_, c.inflight_entries);
  send_close(c, slot, 1008, "backlog exceeded: client too slow");
}

void Shard::drain_mailboxes() {
  for (unsigned s = 0; s < group_.shard_count; ++s) {
    if (s == id_) continue;
    inbox_[s]->pop_batch([this](const Message& d) { defer(d); });
  }
  external_.drain([this](const Message& d) { defer(d); });
  in_order_.drain([this](const Message& d) {
    if (d.slot == kAppCommand) {
      run_command(d);
    } else if (d.slot == kChannelReady) {
      release_held(d.topic, 0);
    } else if (d.slot == kTopicCommand) {
      // What came before it in the topic's order (publications, joins) is out first: every
      // topic's, early under --coalesce (a rare command: a feed's lost publications).
      fanout_pending();
      run_topic_command(d);
    } else {
      defer(d);
    }
  });
}

void Shard::post_wakeups() {
  for (unsigned t = 0; t < group_.shard_count; ++t) {
    if (t == id_) continue;
    auto& pending = overflow_[t];
    if (!pending.empty()) {
      Mailbox<Message>& box = group_.shards[t]->inbox_from(id_);
      std::size_t i = 0;
      while (i < pending.size() && box.try_push(pending[i])) ++i;
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
      if (i > 0) wake_target_[t] = true;
    }
    if (!wake_target_[t]) continue;
    wake_target_[t] = false;
    backend().wake(group_.shards[t]->backend(), pack(Op::mailbox));
  }
}

void Shard::before_flush(bool due) {
  drain_mailboxes();
  // A closing app may publish (a chat room's "left"), which fans out, which may close slow
  // clients (more closings).
  for (;;) {
    for (std::size_t i = 0; i < closing_.size(); ++i) {
      // A slot freed since (its app closed then) may hold a new connection by now.
      Conn& c = conns_[closing_[i].slot];
      if (c.gen == closing_[i].gen) close_app(c, closing_[i].slot);
    }
    closing_.clear();
    // Held max-frequency publications go out when their slot opens (under --coalesce they
    // then wait in the queues for its timer, like any broadcast).
    if (throttled_held_ != 0) {
      if (backend().now_ms() >= throttle_soonest_ms_) release_throttled();
      else arm_throttle(throttle_soonest_ms_);
    }
    if (!due || pending_.empty()) break;
    fanout_pending();
  }
}

void Shard::after_flush() {
  if (id_ == 0) {  // one shard ages the history, a bucket every 100 ms
    std::int64_t now = History::now_ms();
    if (now - history_swept_ms_ >= 100) {
      history_swept_ms_ = now;
      group_.history.sweep_next(now);
    }
    if (now - apps_ticked_ms_ >= 1000) {  // and runs the apps' periodic work
      apps_ticked_ms_ = now;
      for (std::size_t i = 0; i < std::size(group_.apps); ++i) {
        App* app = group_.apps[i];
        bool seen = false;  // an app serving several routes ticks once
        for (std::size_t j = 0; j < i && !seen; ++j) seen = group_.apps[j] == app;
        if (app != nullptr && !seen) app->on_second(*this);
      }
    }
  }
  // After the apps' periodic work: what it asked Redis goes out this turn.
  if (broker_) {
    broker_->end_of_turn();
    if (!held_.empty()) release_held(kNoTopic, backend().now_ms());
  }
  post_wakeups();
  // Max-frequency topics quiet for a whole interval leave their entries behind: swept
  // with the held ones' release, or here once a second when none is held.
  if (throttled_held_ == 0 && !throttles_.empty()) {
    std::uint64_t now = backend().now_ms();
    if (now - throttles_swept_ms_ >= 1000) {
      throttles_swept_ms_ = now;
      release_throttled();
    }
  }
}

}  // namespace ringcast::engine
