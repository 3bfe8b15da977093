// Shard: the WebSocket session: the upgrade, frames, ping/pong, the close handshake;
// messages go to the connection's app (engine/ws/app.hpp).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "engine/log.hpp"
#include "engine/shard.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/ws/routes.hpp"
#include "protocol/close.hpp"
#include "protocol/utf8.hpp"
#include "protocol/handshake.hpp"
#include "protocol/origin.hpp"

namespace ringcast::engine {

bool Shard::send_own(Conn& c, std::uint32_t slot, Frame* frame) {
  if (frame == nullptr) {  // out of memory for it
    tear_down(c, slot);
    return false;
  }
  frame->holders.store(1, std::memory_order_relaxed);
  Lease* lease = leases_.lease(frame);
  if (lease == nullptr || !c.queue.push(lease)) {
    if (lease != nullptr) leases_.drop_if_unused(lease);
    else release_holder(frame, &frames_);
    tear_down(c, slot);
    return false;
  }
  leases_.ref(lease);
  mark_dirty(c, slot);
  return true;
}

void Shard::send_control(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  send_own(c, slot, encode_frame(&frames_, op, payload));
}

void Shard::send_close(Conn& c, std::uint32_t slot, std::uint16_t code, std::string_view reason) {
  if (c.close_sent || c.state == ConnState::dead) return;
  std::uint8_t payload[protocol::kMaxControlPayload];
  std::size_t n = protocol::encode_close_payload(payload, code, reason);
  send_control(c, slot, protocol::Opcode::close, {payload, n});
  c.close_sent = true;
  if (c.app_open) closing_.push_back({slot, c.gen});
  end_after_flush(c, slot);
}

void Shard::on_accepted(Conn& c, std::uint32_t) {
  c.close_sent = c.ping_sent = c.app_open = c.upgraded = c.served_http = c.http_waiting = c.deflate = false;
  c.app_state = 0;
  c.head.clear();
  c.head_scanned = 0;
  c.assembly.clear();
  c.last_input_tick = wheel_.now();
  c.reader = protocol::MessageReader(protocol::MessageRules{cfg_.max_message, 0, true});
  wheel_.schedule(c.timer, wheel_.now() + handshake_ticks_);
}

void Shard::on_deadline(Conn& c, std::uint32_t slot) {
  switch (c.state) {
    case ConnState::free:
    case ConnState::dead: return;
    case ConnState::handshake:
      if (c.http_waiting) {  // its answer waits for Redis, whose link bounds the wait
        wheel_.schedule(c.timer, wheel_.now() + handshake_ticks_);
        return;
      }
      if (tls_handshaking(c)) {
        metrics_.tls_failures[static_cast<std::size_t>(TlsFailure::timeout)].add();  // stalled mid-TLS-handshake
      } else if (!c.served_http) {
        metrics_.handshake_failures[static_cast<std::size_t>(HandshakeFailure::timeout)].add();
      }
      tear_down(c, slot);
      return;
    case ConnState::finishing:  // the close handshake or the last send took too long
      tear_down(c, slot);
      return;
    case ConnState::open: break;
  }
  App& app = app_of(c);
  if (std::chrono::milliseconds period = app.keepalive_period(); period.count() > 0) {
    bool heard = !c.ping_sent;  // on_input clears it
    c.ping_sent = true;
    Session session(*this, c, slot);
    app.on_keepalive(session, heard);
    if (c.state == ConnState::open && !c.close_sent) wheel_.schedule(c.timer, wheel_.now() + ticks_for(period));
    return;
  }
  if (idle_ticks_ == 0) return;
  std::uint64_t idle_for = wheel_.now() - c.last_input_tick;
  if (idle_for >= idle_ticks_) {
    send_close(c, slot, 1001, "idle timeout");
    return;
  }
  if (idle_for >= idle_ticks_ / 2 && !c.ping_sent) {
    send_control(c, slot, protocol::Opcode::ping, {});
    c.ping_sent = true;
  }
  std::uint64_t next = c.ping_sent ? c.last_input_tick + idle_ticks_ : c.last_input_tick + idle_ticks_ / 2;
  wheel_.schedule(c.timer, next);
}

void Shard::on_stopping() {
  for (Conn& c : conns_.built()) {
    std::uint32_t slot = conns_.slot_of(c);
    if (c.state == ConnState::open) {
      send_close(c, slot, 1001, "server shutting down");
    } else if (c.state == ConnState::handshake && !c.http_waiting) {  // a waiting answer is sent, then it ends
      tear_down(c, slot);
    }
  }
}

void Shard::on_input(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len) {
  c.last_input_tick = wheel_.now();
  c.ping_sent = false;
  if (c.state == ConnState::handshake) {
    on_handshake_bytes(c, slot, data, len);
  } else if (c.state == ConnState::open) {
    on_frames(c, slot, data, len);
  }
  // finishing: late bytes are read and dropped until the peer's EOF.
}

void Shard::upgrade(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req, std::span<const char> in,
                    std::size_t head_len) {
  RouteMatch route = match_route(req.path, true);
  if (group_.apps[static_cast<std::size_t>(route.route)] == nullptr) {
    fail_handshake(c, slot, 404, HandshakeFailure::not_found);
    return;
  }
  if (!protocol::origin_allowed(req.origin, req.host, cfg_.client.allowed_origins)) {
    fail_handshake(c, slot, 403, HandshakeFailure::forbidden_origin);
    return;
  }
  c.app = static_cast<std::uint8_t>(route.route);
  // Not negotiated where zlib could not start (no memory): every message would fail.
  const std::string_view deflate = cfg_.deflate && inflater_.ready() && deflater_.ready()
                                       ? protocol::accept_deflate(req) : std::string_view{};
  c.deflate = !deflate.empty();
  Frame* f = frames_.acquire(384);
  if (f == nullptr) {
    tear_down(c, slot);
    return;
  }
  f->len = static_cast<std::uint32_t>(protocol::write_upgrade_response(
      {reinterpret_cast<char*>(f->bytes()), f->capacity}, req.key, {}, deflate));
  if (!send_own(c, slot, f)) return;
  if (c.deflate) {
    c.reader.set_rules(protocol::MessageRules{cfg_.max_message, protocol::kRsv1, true});
    metrics_.deflate_connections.add();
  }
  c.state = ConnState::open;
  c.upgraded = true;
  metrics_.connections.add();
  if (std::chrono::milliseconds period = group_.apps[c.app]->keepalive_period(); period.count() > 0) {
    wheel_.schedule(c.timer, wheel_.now() + std::min(ticks_for(period), handshake_ticks_));
  } else if (idle_ticks_ > 0) {
    wheel_.schedule(c.timer, c.last_input_tick + idle_ticks_ / 2);
  } else {
    wheel_.cancel(c.timer);
  }
  c.app_open = true;
  Session session(*this, c, slot);
  app_of(c).on_open(session, route.room);
  // Frames the client pipelined right behind its request (rare: clients wait for the 101).
  // The reader unmasks in place, so they are decoded from the head buffer.
  if (head_len < in.size() && c.state == ConnState::open) {
    if (!hold_unparsed(c, slot, in)) return;
    on_frames(c, slot, c.head.data() + head_len, c.head.size() - head_len);
  }
  c.head.clear();
}

void Shard::on_frames(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len) {
  std::span<std::uint8_t> in(data, len);
  for (;;) {
    protocol::Event ev = c.reader.next(in);
    in = in.subspan(ev.consumed);
    switch (ev.kind) {
      case protocol::EventKind::need_more: return;
      case protocol::EventKind::data:
        if (ev.first && ev.last) {
          on_data(c, slot, ev.message_opcode, ev.message_rsv, ev.payload);
        } else {
          // A message spanning frames or receive buffers: the one place bytes are copied out.
          // The buffer exists only for connections that send such messages (allocated on
          // the first one, kept for the next), so idle connections hold none.
          if (ev.first) {
            c.assembly.rewind();
            c.assembly_op = ev.message_opcode;
          }
          if (!c.assembly.append(ev.payload.data(), ev.payload.size())) {
            tear_down(c, slot);
            return;
          }
          if (ev.last) {
            on_data(c, slot, c.assembly_op, ev.message_rsv, c.assembly.bytes());
            // One huge message must not pin its buffer for the connection's lifetime.
            if (c.assembly.capacity() > (64u << 10)) c.assembly.clear();
          }
        }
        break;
      case protocol::EventKind::ping:
        if (c.close_sent) break;
        // Pongs count against the backlog like any frame: a ping flood whose pongs are never
        // read must not grow memory. Skipping a pong is allowed (RFC 6455 section 5.5.3).
        if (!c.queue.empty() && c.queue.queued_bytes() + 2 + ev.payload.size() > cfg_.max_backlog) {
          refuse(c, slot, Refusal::over_budget, cfg_.slow_policy);
          break;
        }
        send_control(c, slot, protocol::Opcode::pong, ev.payload);
        break;
      case protocol::EventKind::pong: break;
      case protocol::EventKind::close:
        // Its messages of this turn reach the room, and it, before its close reply.
        if (!pending_.empty()) fanout_pending();
        // Echo the peer's code; a close without a code is answered without one.
        send_close(c, slot, ev.close_code == 1005 ? 0 : ev.close_code, {});
        return;
      case protocol::EventKind::error:
        send_close(c, slot, static_cast<std::uint16_t>(ev.error_code), ev.error_reason);
        return;
    }
    if (c.state != ConnState::open) return;
  }
}

void Shard::on_data(Conn& c, std::uint32_t slot, protocol::Opcode op, std::uint8_t rsv,
                    std::span<const std::uint8_t> payload) {
  if ((rsv & protocol::kRsv1) != 0) on_compressed(c, slot, op, payload);
  else on_message(c, slot, op, payload);
}

bool Shard::deflate_pays(std::span<const std::uint8_t> payload) {
  return payload.size() >= cfg_.deflate_min_size && deflater_.deflate(payload, deflated_) &&
         deflated_.size() < payload.size();
}

void Shard::on_compressed(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  using protocol::Inflater;
  const Inflater::Result r = inflater_.inflate(payload, inflated_, cfg_.max_message);
  if (r != Inflater::Result::ok) {
    metrics_.deflate_errors.add();
    static LogLimiter limiter;
    limiter.log(LogLevel::info, "closing client on port %u: its compressed message %s", static_cast<unsigned>(c.port),
                r == Inflater::Result::too_big ? "inflates past --max-message" : "is not a DEFLATE stream");
    if (r == Inflater::Result::too_big) send_close(c, slot, 1009, "message too big");
    else send_close(c, slot, 1007, "invalid compressed data");
  } else if (op == protocol::Opcode::text && !protocol::is_valid_utf8(inflated_.data(), inflated_.size())) {
    metrics_.deflate_errors.add();
    send_close(c, slot, 1007, "text is not UTF-8");
  } else {
    metrics_.inflated_bytes.add(inflated_.size());
    on_message(c, slot, op, inflated_);
  }
  trim_scratch(inflated_);  // one huge message must not pin its buffer for the shard's lifetime
}

Frame* Shard::encode_for(const Conn& c, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  Frame* f = c.deflate && deflate_pays(payload) ? encode_frame(&frames_, op, deflated_, {}, protocol::kRsv1)
                                                : encode_frame(&frames_, op, payload);
  trim_scratch(deflated_);
  return f;
}

void Shard::on_message(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  metrics_.messages_in.add();
  Session session(*this, c, slot);
  app_of(c).on_message(session, op, payload);
}

}  // namespace ringcast::engine
