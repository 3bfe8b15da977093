// Worker set-up and its loop turn: wait for completions, dispatch them, act on phase changes.
#include "bench/load/worker.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/load/clock.hpp"
#include "protocol/frame.hpp"

namespace ringcast::load {
namespace {

unsigned round_up_pow2(unsigned v) noexcept {
  unsigned p = 1;
  while (p < v) p <<= 1;
  return p;
}

// The longest request target plus Host header of the run's servers (an upgrade's room).
std::size_t longest_target(const RunPlan& plan) {
  std::size_t n = plan.publish_target->path.size() + plan.publish_target->host_header.size();
  for (const Target& t : plan.targets) n = std::max(n, t.path.size() + t.host_header.size());
  return n;
}

}  // namespace

Worker::Worker(RunPlan& plan, std::uint32_t index, std::uint32_t threads)
    : plan_(plan), opt_(*plan.opt), index_(index) {
  const std::uint32_t pubs = plan_.publishers;
  const bool chat = opt_.scenario == Scenario::chat;
  std::uint32_t local = 0;
  for (std::uint32_t i = index; i < plan_.total_conns; i += threads) ++local;
  conns_ = std::vector<Conn>(local);
  pub_by_id_.assign(pubs, nullptr);
  res_.published.assign(pubs, 0);

  // --channel: each message is a publish command around the payload, a JSON string; with
  // --api-key the API's publish body instead, sent as an HTTP request.
  const bool api = !opt_.api_key.empty();
  for (std::uint32_t k = 0; !opt_.channel.empty() && k < opt_.channels; ++k) {
    channel_names_.push_back(opt_.channels == 1 ? opt_.channel : opt_.channel + std::to_string(k));
    const std::string& name = channel_names_.back();
    channel_prefixes_.push_back(api ? "{\"channel\":\"" + name + "\",\"data\":\""
                                    : "{\"publish\":{\"channel\":\"" + name + "\",\"data\":\"");
  }
  if (api) {
    suffix_ = "\"}";
    api_head_ = api_publish_head(plan_.publish_target->host_header, opt_.api_key);
  } else if (!opt_.channel.empty()) {
    suffix_ = "\"}}";
  }
  std::size_t longest_prefix = 0;
  for (const std::string& p : channel_prefixes_) longest_prefix = std::max(longest_prefix, p.size());
  const std::size_t inner = std::max<std::size_t>(opt_.size, kMaxRecord);
  const std::size_t body = longest_prefix + inner + suffix_.size();
  const std::size_t frame = api ? api_request_size(api_head_, body) : protocol::frame_header_len(body, true) + body;
  payload_.assign(body, 'x');
  if (opt_.json_payload) fill_market_json({payload_.data() + longest_prefix, inner}, !opt_.channel.empty());
  std::memcpy(payload_.data() + body - suffix_.size(), suffix_.data(), suffix_.size());
  std::uint32_t pub_cap = 0;
  switch (opt_.scenario) {
    case Scenario::fanout: pub_cap = static_cast<std::uint32_t>(frame * opt_.window); break;
    case Scenario::connect: pub_cap = static_cast<std::uint32_t>(frame * std::max<std::uint32_t>(opt_.burst, 1)); break;
    case Scenario::rate:
    case Scenario::chat: pub_cap = static_cast<std::uint32_t>(std::max<std::size_t>(frame * 64, 4096)); break;
  }
  // Every connection needs room for its upgrade request, a pong and a close frame.
  const std::uint32_t base_cap = static_cast<std::uint32_t>(
      512 + longest_target(plan_) +
      (opt_.channel.empty() ? 0 : 128 + std::size_t{opt_.channels} * (64 + opt_.channel.size())));

  std::uint32_t k = 0;
  for (std::uint32_t i = index; i < plan_.total_conns; i += threads, ++k) {
    Conn& c = conns_[k];
    if (chat) {
      c.is_sub = c.is_pub = true;
      c.pub_id = plan_.pub_base + i;
    } else if (i < plan_.subscribers) {
      c.is_sub = true;
      c.is_slow = i >= plan_.subscribers - std::min(opt_.slow, plan_.subscribers);
    } else {
      c.is_pub = true;
      c.pub_id = plan_.pub_base + (i - plan_.subscribers);
    }
    if (c.is_sub) {
      c.sub_slot = res_.sub_slots++;
      if (designated_ == nullptr && !c.is_slow) designated_ = &c;
    }
    if (c.is_pub) {
      if (api) c.api = std::make_unique<ApiReplyReader>();
      pubs_.push_back(&c);
      pub_by_id_[c.pub_id] = &c;
    }
    c.out.allocate(base_cap + (c.is_pub ? pub_cap : 0));
    c.target = &plan_.target_of(i, c.is_pub && !c.is_sub);  // round robin by the run's index
  }
  for (Conn* p : pubs_) p->self_ack = opt_.ack == AckMode::self || designated_ == nullptr;
  res_.seqs.reset(res_.sub_slots, pubs, opt_.channel.empty() ? 1 : opt_.channels);
  rearm_.reserve(conns_.size());
  slow_rearm_.reserve(conns_.size());
  connect_limit_ = std::max<std::uint32_t>(1, opt_.connect_concurrency / threads);
  if (getrandom(&rng_, sizeof rng_, 0) != sizeof rng_) rng_ = now_ns();
  rng_ ^= 0x9E3779B97F4A7C15ull * (index + 1);
}

std::uint64_t Worker::random() noexcept {
  // xorshift64*: masking keys and handshake keys need variety, not secrecy, in a load test.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1Dull;
}

void Worker::run() {
  // Set-up failed: every connection counts as failed, and the thread is done at once.
  auto give_up = [&](std::string why) {
    res_.first_error = std::move(why);
    res_.connect_failures = conns_.size();
    live_.failed.store(conns_.size(), std::memory_order_relaxed);
    live_.connect_done.store(true, std::memory_order_release);
    live_.phase_seen.store(Phase::close, std::memory_order_release);
  };
  if (const int rc = ring_.init(1024); rc < 0) return give_up(std::string("io_uring_queue_init: ") + std::strerror(-rc));
  const unsigned nbufs = std::clamp(round_up_pow2(static_cast<unsigned>(conns_.size()) * 2), 1024u, 32768u);
  if (const int rc = bufs_.init(ring_.get(), 0, nbufs, kRecvBufSize); rc < 0) {
    return give_up(std::string("provided buffer ring: ") + std::strerror(-rc));
  }
  tls_ = opt_.tls || plan_.target->tls;
  if (tls_) {
    // Idle connections (the connect scenario's hold) need not keep OpenSSL's record buffers.
    const TlsConfig cfg{.version = opt_.tls_version, .release_buffers = opt_.scenario == Scenario::connect};
    if (std::string e = tls_ctx_.init(cfg); !e.empty()) return give_up(std::move(e));
    tls_plain_ = std::make_unique<std::uint8_t[]>(kTlsChunk);
    tls_dirty_.reserve(conns_.size());
  }
  const bool open_loop = opt_.scenario == Scenario::rate || opt_.scenario == Scenario::chat;
  std::uint64_t next_tick = 0;
  std::uint32_t released = 0;
  for (;;) {
    now_ = now_ns();
    const Phase ph = plan_.phase.load(std::memory_order_acquire);
    if (ph != seen_) {
      if (seen_ < Phase::run && ph >= Phase::run) start_publishing(now_);
      if (ph >= Phase::drain) publishing_ = false;
      if (ph == Phase::close) begin_close(now_);
      seen_ = ph;
      publish_live(now_);  // counters first, then the acknowledgement: the drain check relies on it
      live_.phase_seen.store(ph, std::memory_order_release);
    }
    if (ph == Phase::connect && next_to_connect_ < conns_.size()) {
      if (plan_.connect_deadline.load(std::memory_order_relaxed)) give_up_connects();
      else start_connects(now_);
    }
    if (publishing_ && !storm_seen_ && plan_.storm.load(std::memory_order_acquire)) start_storm(now_);
    if (!redial_.empty() && ph < Phase::close) start_connects(now_);
    std::uint64_t wait = kMaxWait;
    if (now_ >= next_tick) {
      next_tick = now_ + kTick;
      if (resolved_ < conns_.size() || connecting_ != 0) expire_handshakes(now_);  // a storm's redials too
      if (publishing_ && !open_loop) check_stalled_windows(now_);
      for (std::uint32_t idx : slow_rearm_) {  // --slow: one receive per tick
        Conn& c = conns_[idx];
        if (!c.recv_armed && c.fd >= 0 && c.state != ConnState::done) arm_recv(c);
      }
      slow_rearm_.clear();
      if (ph == Phase::close && now_ >= close_deadline_) {
        for (Conn& c : conns_) finish(c);  // whoever has not answered our close is shut down
      }
    }
    if (publishing_ && open_loop) {
      const std::uint64_t due = send_due(now_);
      wait = due > now_ ? std::min(wait, due - now_) : 0;
    }
    if (ph == Phase::close) {
      released = 0;
      for (Conn& c : conns_) released += c.fd < 0 ? 1 : 0;
      if (released == conns_.size() || now_ > close_deadline_ + kCloseGrace) break;
    }
    publish_live(now_);
    // Busy polling: never sleep, so no sender ever pays for waking this thread (on
    // loopback that cross-core wakeup would be charged to the server under test).
    if (opt_.busy_poll) wait = 0;
    if (tls_) flush_tls_all();

    __kernel_timespec ts{static_cast<long long>(wait / 1'000'000'000u), static_cast<long long>(wait % 1'000'000'000u)};
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      if (res_.first_error.empty()) res_.first_error = std::string("io_uring wait: ") + std::strerror(-rc);
    }
    now_ = now_ns();
    unsigned head = 0, seen = 0;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      // A batch can hold thousands of receives: keep the receive timestamps honest.
      if ((++seen & 31u) == 0) now_ = now_ns();
      const auto op = static_cast<Op>(cqe->user_data >> 32);
      const auto idx = static_cast<std::uint32_t>(cqe->user_data & 0xFFFFFFFFu);
      if (op == kCancel || idx >= conns_.size()) continue;
      Conn& c = conns_[idx];
      switch (op) {
        case kConnect: on_connect(c, cqe->res); break;
        case kSend: on_send(c, cqe->res); break;
        case kRecv: on_recv(c, *cqe); break;
        case kCancel: break;
      }
      release_if_idle(c);
    }
    io_uring_cq_advance(ring_.get(), seen);
    bufs_.publish();
    for (std::uint32_t idx : rearm_) {
      Conn& c = conns_[idx];
      if (!c.recv_armed && c.fd >= 0 && c.state != ConnState::done) arm_recv(c);
    }
    rearm_.clear();
  }
  for (Conn* p : pubs_) res_.published[p->pub_id] = p->next_seq - 1;
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }
  publish_live(now_ns());
}


void Worker::publish_live(std::uint64_t) {
  live_.deliveries.store(res_.deliveries, std::memory_order_relaxed);
  live_.sent.store(sent_, std::memory_order_relaxed);
  live_.received.store(received_, std::memory_order_relaxed);
  live_.open.store(open_, std::memory_order_relaxed);
  live_.failed.store(res_.connect_failures, std::memory_order_relaxed);
  live_.last_delivery_ns.store(last_delivery_ns_, std::memory_order_relaxed);
  live_.last_open_ns.store(last_open_ns_, std::memory_order_relaxed);
  live_.storm_left.store(storm_left_, std::memory_order_relaxed);
  if (storm_seen_) live_.storm_seen.store(true, std::memory_order_release);  // after its count
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}


std::uint64_t Worker::count_missing(const std::vector<std::uint32_t>& published, bool slow) const {
  // Messages a subscriber never saw after its highest sequence: the tail the gaps miss.
  std::uint64_t missing = 0;
  for (const Conn& c : conns_) {
    if (!c.is_sub || c.failed || c.is_slow != slow) continue;
    missing += res_.seqs.missing(c.sub_slot, published, c.is_pub ? c.pub_id : SequenceTable::kNoPublisher);
  }
  return missing;
}


}  // namespace ringcast::load
