#include "bench/load/worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/load/clock.hpp"
#include "bench/load/handshake_client.hpp"
#include "protocol/close.hpp"
#include "protocol/frame.hpp"

namespace ringcast::load {
namespace {

using protocol::Opcode;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kTick = 100 * kMs;        // housekeeping: handshake deadlines, stalled windows
constexpr std::uint64_t kMaxWait = 20 * kMs;      // a phase change is noticed within this
constexpr std::uint64_t kStall = 2000 * kMs;      // a closed-loop window with no ack this long is reset
constexpr std::uint64_t kCloseGrace = 1000 * kMs; // close handshakes get this long, then shutdown
constexpr unsigned kRecvBufSize = 2048;           // small: a broadcast burst needs one per connection

unsigned round_up_pow2(unsigned v) noexcept {
  unsigned p = 1;
  while (p < v) p <<= 1;
  return p;
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

  const std::size_t body = std::max<std::size_t>(opt_.size, kMaxRecord);
  const std::size_t frame = protocol::frame_header_len(body, true) + body;
  payload_.assign(body, 'x');
  std::uint32_t pub_cap = 0;
  switch (opt_.scenario) {
    case Scenario::fanout: pub_cap = static_cast<std::uint32_t>(frame * opt_.window); break;
    case Scenario::connect: pub_cap = static_cast<std::uint32_t>(frame * std::max<std::uint32_t>(opt_.burst, 1)); break;
    case Scenario::rate:
    case Scenario::chat: pub_cap = static_cast<std::uint32_t>(std::max<std::size_t>(frame * 64, 4096)); break;
  }
  // Every connection needs room for its upgrade request, a pong and a close frame.
  const std::uint32_t base_cap = static_cast<std::uint32_t>(512 + plan_.target->path.size() + plan_.target->host_header.size());

  std::uint32_t k = 0;
  for (std::uint32_t i = index; i < plan_.total_conns; i += threads, ++k) {
    Conn& c = conns_[k];
    if (chat) {
      c.is_sub = c.is_pub = true;
      c.pub_id = i;
    } else if (i < plan_.subscribers) {
      c.is_sub = true;
    } else {
      c.is_pub = true;
      c.pub_id = i - plan_.subscribers;
    }
    if (c.is_sub) {
      c.sub_slot = res_.sub_slots++;
      if (designated_ == nullptr) designated_ = &c;
    }
    if (c.is_pub) {
      pubs_.push_back(&c);
      pub_by_id_[c.pub_id] = &c;
    }
    c.out.allocate(base_cap + (c.is_pub ? pub_cap : 0));
  }
  for (Conn* p : pubs_) p->self_ack = opt_.ack == AckMode::self || designated_ == nullptr;
  res_.last_seq.assign(std::size_t{res_.sub_slots} * pubs, 0);
  rearm_.reserve(conns_.size());
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
  if (const int rc = ring_.init(1024); rc < 0) {
    res_.first_error = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    res_.connect_failures = conns_.size();
    live_.failed.store(conns_.size(), std::memory_order_relaxed);
    live_.connect_done.store(true, std::memory_order_release);
    live_.phase_seen.store(Phase::close, std::memory_order_release);
    return;
  }
  const unsigned nbufs = std::clamp(round_up_pow2(static_cast<unsigned>(conns_.size()) * 2), 1024u, 32768u);
  if (const int rc = bufs_.init(ring_.get(), 0, nbufs, kRecvBufSize); rc < 0) {
    res_.first_error = std::string("provided buffer ring: ") + std::strerror(-rc);
    res_.connect_failures = conns_.size();
    live_.failed.store(conns_.size(), std::memory_order_relaxed);
    live_.connect_done.store(true, std::memory_order_release);
    live_.phase_seen.store(Phase::close, std::memory_order_release);
    return;
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
    std::uint64_t wait = kMaxWait;
    if (now_ >= next_tick) {
      next_tick = now_ + kTick;
      if (resolved_ < conns_.size()) expire_handshakes(now_);
      if (publishing_ && !open_loop) check_stalled_windows(now_);
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

// ---- connection life ---------------------------------------------------------------

void Worker::start_connects(std::uint64_t now) {
  const Target& t = *plan_.target;
  while (connecting_ < connect_limit_ && next_to_connect_ < conns_.size()) {
    const std::uint32_t idx = next_to_connect_++;
    Conn& c = conns_[idx];
    c.started_ns = now;
    c.state = ConnState::connecting;
    ++connecting_;
    c.fd = ::socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      fail(c, errno == EMFILE ? "socket: too many open files (raise ulimit -n or use fewer connections)"
                              : "socket() failed");
      continue;
    }
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_connect(s, c.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len);
    io_uring_sqe_set_data64(s, tag(kConnect, idx));
    ++c.ops;
  }
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}

void Worker::give_up_connects() {
  while (next_to_connect_ < conns_.size()) {
    Conn& c = conns_[next_to_connect_++];
    ++connecting_;
    c.state = ConnState::connecting;
    fail(c, "not started within --connect-timeout");
  }
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}

void Worker::on_connect(Conn& c, int res) {
  --c.ops;
  if (c.state != ConnState::connecting) return;  // timed out and cancelled meanwhile
  if (res < 0) {
    fail(c, res == -ECONNREFUSED ? "connection refused" : "connect failed");
    return;
  }
  const int one = 1;
  (void)::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char key[24];
  make_key(random(), random(), key);
  c.hs = std::make_unique<HandshakeState>();
  c.hs->expect = protocol::compute_accept_key(std::string_view(key, sizeof key));
  const Target& t = *plan_.target;
  std::uint8_t* dst = c.out.reserve(512 + t.path.size() + t.host_header.size());
  const std::size_t n = write_upgrade_request(
      std::span<char>(reinterpret_cast<char*>(dst), 512 + t.path.size() + t.host_header.size()), t.host_header,
      t.path, std::string_view(key, sizeof key));
  c.out.commit(n);
  c.state = ConnState::handshaking;
  arm_recv(c);
  flush(c);
}

void Worker::arm_recv(Conn& c) {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = bufs_.group();
  io_uring_sqe_set_data64(s, tag(kRecv, static_cast<std::uint32_t>(&c - conns_.data())));
  ++c.ops;
  c.recv_armed = true;
}

void Worker::flush(Conn& c) {
  if (c.fd < 0 || c.out.in_flight()) return;
  const std::span<const std::uint8_t> bytes = c.out.start();
  if (bytes.empty()) return;
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(kSend, static_cast<std::uint32_t>(&c - conns_.data())));
  ++c.ops;
}

void Worker::on_send(Conn& c, int res) {
  --c.ops;
  if (res < 0) {
    if (c.state == ConnState::open) {
      ++res_.disconnects;
      if (res_.first_error.empty()) res_.first_error = std::string("send: ") + std::strerror(-res);
    }
    if (c.state == ConnState::handshaking) fail(c, "send of the upgrade request failed");
    (void)c.out.sent(SIZE_MAX);  // drop what was on the wire
    finish(c);
    return;
  }
  const std::span<const std::uint8_t> rest = c.out.sent(static_cast<std::size_t>(res));
  if (!rest.empty()) {
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_send(s, c.fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(kSend, static_cast<std::uint32_t>(&c - conns_.data())));
    ++c.ops;
    return;
  }
  flush(c);
  // A connection we finished while its last frames (a close reply) were queued: now shut it.
  if (c.state == ConnState::done && !c.out.in_flight()) ::shutdown(c.fd, SHUT_RDWR);
}

void Worker::on_recv(Conn& c, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    --c.ops;
    c.recv_armed = false;
  }
  if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    std::uint8_t* data = bufs_.buffer(bid);
    const auto len = static_cast<std::size_t>(cqe.res);
    if (c.state == ConnState::handshaking) handshake_bytes(c, data, len);
    else if (c.state == ConnState::open || c.state == ConnState::closing) frame_bytes(c, {data, len});
    bufs_.recycle(bid);
    if (!more && c.state != ConnState::done) arm_recv(c);
    return;
  }
  if (cqe.res == -ENOBUFS) {
    // Back-pressure, not failure: re-arm once this batch's buffers are back.
    if (c.state != ConnState::done) rearm_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
    return;
  }
  if (!more) {
    switch (c.state) {
      case ConnState::handshaking: fail(c, cqe.res == 0 ? "server closed during the handshake" : "recv failed"); break;
      case ConnState::open:
        ++res_.disconnects;
        if (res_.first_error.empty()) res_.first_error = "server closed a connection without a close frame";
        finish(c);
        break;
      case ConnState::closing: finish(c); break;
      default: break;
    }
  }
}

void Worker::handshake_bytes(Conn& c, const std::uint8_t* data, std::size_t len) {
  HandshakeState& hs = *c.hs;
  if (len > sizeof hs.buf - hs.len) {
    fail(c, "upgrade response too large");
    return;
  }
  std::memcpy(hs.buf + hs.len, data, len);
  hs.len += static_cast<std::uint32_t>(len);
  const ResponseCheck check = check_upgrade_response(std::string_view(hs.buf, hs.len), hs.expect);
  if (check.status == ResponseStatus::need_more) return;
  if (check.status == ResponseStatus::error) {
    fail(c, check.reason);
    return;
  }
  res_.handshake.record(now_ - c.started_ns);
  last_open_ns_ = now_;
  c.state = ConnState::open;
  --connecting_;
  ++resolved_;
  ++open_;
  ++res_.opened;
  // Frames may have come in the same segment as the 101.
  std::unique_ptr<HandshakeState> done = std::move(c.hs);
  if (done->len > check.consumed) {
    frame_bytes(c, {reinterpret_cast<std::uint8_t*>(done->buf) + check.consumed, done->len - check.consumed});
  }
}

void Worker::frame_bytes(Conn& c, std::span<std::uint8_t> in) {
  constexpr std::size_t kTail = sizeof c.tail;
  while (!in.empty()) {
    const protocol::Event ev = c.reader.next(in);
    in = in.subspan(ev.consumed);
    switch (ev.kind) {
      case protocol::EventKind::need_more: return;
      case protocol::EventKind::data: {
        if (ev.first) c.msg_len = c.tail_len = 0;
        const std::size_t n = ev.payload.size();
        c.msg_len += static_cast<std::uint32_t>(n);
        // Keep only the message's last bytes: the record is all we read.
        if (n >= kTail) {
          std::memcpy(c.tail, ev.payload.data() + n - kTail, kTail);
          c.tail_len = kTail;
        } else {
          const std::size_t keep = std::min<std::size_t>(c.tail_len, kTail - n);
          std::memmove(c.tail, c.tail + c.tail_len - keep, keep);
          std::memcpy(c.tail + keep, ev.payload.data(), n);
          c.tail_len = static_cast<std::uint8_t>(keep + n);
        }
        if (ev.last) {
          ++received_;
          on_message(c);
        }
        break;
      }
      case protocol::EventKind::ping: (void)queue_control(c, Opcode::pong, ev.payload); break;
      case protocol::EventKind::pong: break;
      case protocol::EventKind::close:
        if (c.state == ConnState::open) {
          // The server ended a connection we still wanted: answer its close, count it.
          ++res_.disconnects;
          if (res_.first_error.empty()) res_.first_error = "server closed a connection with code " + std::to_string(ev.close_code);
          std::uint8_t payload[2];
          const std::size_t n = protocol::encode_close_payload(payload, ev.close_code == 1005 ? 0 : ev.close_code, {});
          (void)queue_control(c, Opcode::close, {payload, n});
          --open_;
          c.state = ConnState::closing;
        }
        finish(c);
        return;
      case protocol::EventKind::error:
        ++res_.protocol_errors;
        if (res_.first_error.empty()) res_.first_error = std::string("protocol error from server: ") + ev.error_reason;
        finish(c);
        return;
    }
  }
}

void Worker::on_message(Conn& c) {
  Record r;
  if (!parse_record({c.tail, c.tail_len}, r) || r.pub >= plan_.publishers) {
    ++res_.other_messages;  // join notices, foreign traffic: not ours to measure
    return;
  }
  if (c.is_pub && r.pub == c.pub_id) {
    ++res_.own_echoes;
    if (c.self_ack) ack(c, r.seq, now_);
    return;
  }
  if (!c.is_sub) return;  // a publisher hearing another publisher: not a delivery
  ++res_.deliveries;
  last_delivery_ns_ = now_;
  res_.delivered_bytes += c.msg_len;
  res_.latency.record(now_ > r.t_ns ? now_ - r.t_ns : 0);
  std::uint32_t& last = res_.last_seq[std::size_t{c.sub_slot} * plan_.publishers + r.pub];
  if (r.seq == last + 1) {
    last = r.seq;
  } else if (r.seq > last) {
    res_.gaps += r.seq - last - 1;
    last = r.seq;
  } else {
    ++res_.out_of_order;
  }
  if (&c == designated_) {
    if (Conn* p = pub_by_id_[r.pub]; p != nullptr && !p->self_ack) ack(*p, r.seq, now_);
  }
}

bool Worker::queue_control(Conn& c, Opcode op, std::span<const std::uint8_t> payload) {
  const std::size_t need = protocol::frame_header_len(payload.size(), true) + payload.size();
  std::uint8_t* dst = c.out.reserve(need);
  if (dst == nullptr) return false;
  const auto m = static_cast<std::uint32_t>(random());
  protocol::MaskKey mask;
  std::memcpy(mask.data(), &m, 4);
  c.out.commit(protocol::encode_client_frame({dst, need}, op, payload, mask));
  flush(c);
  return true;
}

void Worker::fail(Conn& c, const char* reason) {
  if (c.state == ConnState::done) return;
  if (res_.first_error.empty()) res_.first_error = reason;
  ++res_.connect_failures;
  c.failed = true;
  --connecting_;
  ++resolved_;
  c.hs.reset();
  const bool was_connecting = c.state == ConnState::connecting;
  c.state = ConnState::done;
  if (c.fd < 0) return;
  if (was_connecting && c.ops != 0) {
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_cancel64(s, tag(kConnect, static_cast<std::uint32_t>(&c - conns_.data())), 0);
    io_uring_sqe_set_data64(s, tag(kCancel, 0));
  } else {
    ::shutdown(c.fd, SHUT_RDWR);
  }
}

void Worker::finish(Conn& c) {
  if (c.state == ConnState::done || c.fd < 0) return;
  if (c.state == ConnState::connecting || c.state == ConnState::handshaking) {
    fail(c, "not open when the run ended");
    return;
  }
  if (c.state == ConnState::open) --open_;
  c.state = ConnState::done;
  // Let a queued close frame leave first; on_send shuts the socket when it has.
  if (!c.out.in_flight() && c.out.pending() == 0) ::shutdown(c.fd, SHUT_RDWR);
}

void Worker::release_if_idle(Conn& c) {
  if (c.state == ConnState::done && c.ops == 0 && c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
}

void Worker::expire_handshakes(std::uint64_t now) {
  const auto limit = static_cast<std::uint64_t>(opt_.connect_timeout * 1e9);
  for (Conn& c : conns_) {
    if ((c.state == ConnState::connecting || c.state == ConnState::handshaking) && now - c.started_ns > limit) {
      fail(c, "connect or handshake timed out");
    }
  }
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}

void Worker::begin_close(std::uint64_t now) {
  close_deadline_ = now + kCloseGrace;
  std::uint8_t payload[2];
  const std::size_t n = protocol::encode_close_payload(payload, 1000, {});
  for (Conn& c : conns_) {
    if (c.state == ConnState::open) {
      if (queue_control(c, Opcode::close, {payload, n})) {
        c.state = ConnState::closing;
        --open_;
      } else {
        finish(c);
      }
    } else if (c.state == ConnState::connecting || c.state == ConnState::handshaking) {
      fail(c, "not open when the run ended");
    } else if (c.state == ConnState::idle) {
      ++connecting_;  // never started (the connect phase timed out first): a failure too
      c.state = ConnState::connecting;
      fail(c, "not started within --connect-timeout");
    }
  }
}

// ---- publishing --------------------------------------------------------------------

void Worker::start_publishing(std::uint64_t now) {
  switch (opt_.scenario) {
    case Scenario::fanout:
      publishing_ = true;
      for (Conn* p : pubs_) {
        p->last_ack_ns = now;
        fill_window(*p, now);
      }
      break;
    case Scenario::rate:
    case Scenario::chat: {
      publishing_ = true;
      // Spread the publishers' phases over one interval so they do not send in lockstep.
      const double interval = 1e9 / plan_.per_pub_rate;
      for (Conn* p : pubs_) {
        p->next_due_ns = now + static_cast<std::uint64_t>(interval * p->pub_id / std::max<std::uint32_t>(plan_.publishers, 1));
      }
      break;
    }
    case Scenario::connect:
      for (Conn* p : pubs_) {
        for (std::uint32_t i = 0; i < opt_.burst && p->state == ConnState::open; ++i) {
          if (!publish_one(*p, now_ns())) ++res_.send_skipped;
        }
      }
      break;
  }
}

bool Worker::publish_one(Conn& c, std::uint64_t now) {
  if (c.state != ConnState::open) return false;
  std::uint8_t* end = payload_.data() + payload_.size();
  const std::size_t rec = write_record_before(end, Record{c.pub_id, c.next_seq, now});
  const std::size_t body = std::max<std::size_t>(opt_.size, rec);
  const std::size_t need = protocol::frame_header_len(body, true) + body;
  std::uint8_t* dst = c.out.reserve(need);
  if (dst == nullptr) return false;
  const auto m = static_cast<std::uint32_t>(random());
  protocol::MaskKey mask;
  std::memcpy(mask.data(), &m, 4);
  c.out.commit(protocol::encode_client_frame({dst, need}, Opcode::text, {end - body, body}, mask));
  ++c.next_seq;
  ++sent_;
  flush(c);
  return true;
}

void Worker::fill_window(Conn& p, std::uint64_t) {
  while (publishing_ && p.next_seq - 1 - p.acked < opt_.window) {
    if (!publish_one(p, now_ns())) break;
  }
}

void Worker::ack(Conn& p, std::uint32_t seq, std::uint64_t now) {
  if (seq > p.acked) {
    p.acked = seq;
    p.last_ack_ns = now;
  }
  if (publishing_ && opt_.scenario == Scenario::fanout) fill_window(p, now);
}

std::uint64_t Worker::send_due(std::uint64_t now) {
  const double interval = 1e9 / plan_.per_pub_rate;
  std::uint64_t next = now + kMaxWait;
  for (Conn* p : pubs_) {
    if (p->state != ConnState::open) continue;
    if (now > p->next_due_ns + 100 * kMs) {
      // Far behind (server not reading, or generator starved): skip, do not burst.
      res_.send_skipped += static_cast<std::uint64_t>(static_cast<double>(now - p->next_due_ns) / interval);
      p->next_due_ns = now;
    }
    while (p->next_due_ns <= now) {
      if (!publish_one(*p, now_ns())) ++res_.send_skipped;
      p->next_due_ns += static_cast<std::uint64_t>(interval);
    }
    next = std::min(next, p->next_due_ns);
  }
  return next;
}

void Worker::check_stalled_windows(std::uint64_t now) {
  for (Conn* p : pubs_) {
    if (p->state == ConnState::open && p->next_seq - 1 > p->acked && now - p->last_ack_ns > kStall) {
      ++res_.window_resets;  // an ack was lost (a dropped message): do not wedge the run
      p->acked = p->next_seq - 1;
      p->last_ack_ns = now;
      fill_window(*p, now);
    }
  }
}

void Worker::publish_live(std::uint64_t) {
  live_.deliveries.store(res_.deliveries, std::memory_order_relaxed);
  live_.sent.store(sent_, std::memory_order_relaxed);
  live_.received.store(received_, std::memory_order_relaxed);
  live_.open.store(open_, std::memory_order_relaxed);
  live_.failed.store(res_.connect_failures, std::memory_order_relaxed);
  live_.last_delivery_ns.store(last_delivery_ns_, std::memory_order_relaxed);
  live_.last_open_ns.store(last_open_ns_, std::memory_order_relaxed);
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}

}  // namespace ringcast::load

namespace ringcast::load {

std::uint64_t Worker::count_missing(const std::vector<std::uint32_t>& published) const {
  // Messages a subscriber never saw after its highest sequence: the tail the gaps miss.
  std::uint64_t missing = 0;
  const std::uint32_t pubs = plan_.publishers;
  for (const Conn& c : conns_) {
    if (!c.is_sub || c.failed) continue;
    const std::uint32_t* row = res_.last_seq.data() + std::size_t{c.sub_slot} * pubs;
    for (std::uint32_t p = 0; p < pubs; ++p) {
      if (c.is_pub && p == c.pub_id) continue;  // its own messages are echoes, not deliveries
      if (published[p] > row[p]) missing += published[p] - row[p];
    }
  }
  return missing;
}

}  // namespace ringcast::load
