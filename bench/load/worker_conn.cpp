// Worker: a connection's life. TCP connect, the TLS handshake (--tls), the upgrade
// handshake, frames in and out (pongs, close handshake), and failure bookkeeping; every fd
// is closed only once no io_uring operation refers to it. Under TLS the frames in `out` are
// plaintext: flush_tls() encrypts them through the connection's TlsLink and sends its
// ciphertext; received ciphertext is decrypted by tls_bytes() before the same parsing.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/load/handshake_client.hpp"
#include "bench/load/worker.hpp"
#include "protocol/close.hpp"
#include "protocol/utf8.hpp"
#include "protocol/frame.hpp"

namespace ringcast::load {

using protocol::Opcode;

void Worker::start_connects(std::uint64_t now) {
  while (connecting_ < connect_limit_ && next_to_connect_ < conns_.size()) dial(next_to_connect_++, now);
  // --reconnect-at: the storm's connections, under the same limit on handshakes in flight.
  while (connecting_ < connect_limit_ && !redial_.empty()) {
    const std::uint32_t idx = redial_.back();
    redial_.pop_back();
    dial(idx, now);
  }
  if (resolved_ == conns_.size()) live_.connect_done.store(true, std::memory_order_release);
}

void Worker::dial(std::uint32_t idx, std::uint64_t now) {
  Conn& c = conns_[idx];
  const Target& t = *c.target;
  c.started_ns = now;
  c.state = ConnState::connecting;
  ++connecting_;
  c.fd = ::socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    fail(c, errno == EMFILE ? "socket: too many open files (raise ulimit -n or use fewer connections)"
                            : "socket() failed");
    return;
  }
  if (c.is_slow) {  // a small window: the server's sends back up instead of the kernel's buffers filling
    const int rcvbuf = 4096;
    (void)::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  if (!t.sources.empty()) {
    // --source: the address now, the port at connect() (so ports are per 4-tuple, not per bind).
    const sockaddr_storage& src = t.sources[idx % t.sources.size()];
    const int one = 1;
    (void)::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const socklen_t len = src.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (::bind(c.fd, reinterpret_cast<const sockaddr*>(&src), len) != 0) {
      ::close(c.fd);
      c.fd = -1;
      fail(c, "bind to the --source address failed");
      return;
    }
  }
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_connect(s, c.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len);
  io_uring_sqe_set_data64(s, tag(kConnect, idx));
  ++c.ops;
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
  const Target& t = *c.target;
  if (tls_) {
    // The ClientHello goes first; the upgrade request waits in `out` for the handshake.
    c.tls = std::make_unique<TlsLink>();
    if (!c.tls->start(tls_ctx_.get(), t.host)) {
      const std::string why = c.tls->error();
      fail(c, why.c_str());
      return;
    }
  }
  if (c.api) {  // plain HTTP: open now (under TLS the requests wait for its handshake)
    opened(c);
    arm_recv(c);
    return;
  }
  char key[24];
  make_key(random(), random(), key);
  c.hs = std::make_unique<HandshakeState>();
  c.hs->expect = protocol::compute_accept_key(std::string_view(key, sizeof key));
  std::uint8_t* dst = c.out.reserve(512 + t.path.size() + t.host_header.size());
  const std::size_t n = write_upgrade_request(
      std::span<char>(reinterpret_cast<char*>(dst), 512 + t.path.size() + t.host_header.size()), t.host_header,
      t.path, std::string_view(key, sizeof key), opt_.deflate ? kDeflateOffer : std::string_view{});
  c.out.commit(n);
  c.state = ConnState::handshaking;
  arm_recv(c);
  flush(c);
}

void Worker::arm_recv(Conn& c) {
  io_uring_sqe* s = ring_.sqe();
  // --slow readers take one buffer per receive (while publishing: one per tick).
  if (c.is_slow) io_uring_prep_recv(s, c.fd, nullptr, kRecvBufSize, 0);
  else io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = bufs_.group();
  io_uring_sqe_set_data64(s, tag(kRecv, static_cast<std::uint32_t>(&c - conns_.data())));
  ++c.ops;
  c.recv_armed = true;
}

void Worker::flush(Conn& c) {
  if (c.tls) {
    if (!c.tls_dirty) {
      c.tls_dirty = true;
      tls_dirty_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
    }
    return;
  }
  if (c.fd < 0 || c.out.in_flight()) return;
  const std::span<const std::uint8_t> bytes = c.out.start();
  if (bytes.empty()) return;
  send_bytes(c, bytes);
}

void Worker::send_bytes(Conn& c, std::span<const std::uint8_t> bytes) {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(kSend, static_cast<std::uint32_t>(&c - conns_.data())));
  ++c.ops;
}

void Worker::flush_tls_all() {
  // By index: a flush that fails a connection may mark it again (its close_notify).
  for (std::size_t i = 0; i < tls_dirty_.size(); ++i) flush_tls(conns_[tls_dirty_[i]]);
  tls_dirty_.clear();
}

void Worker::flush_tls(Conn& c) {
  c.tls_dirty = false;
  if (c.fd < 0 || !c.tls) return;
  TlsLink& t = *c.tls;
  if (t.out_in_flight()) return;  // on_send marks it again when the send is done
  if (t.established() && !t.failed()) {
    // Everything queued since the last send: records of up to 16 KiB, then one send.
    for (std::span<const std::uint8_t> plain = c.out.start(); !plain.empty();) {
      const std::size_t n = t.write(plain);
      if (n == 0) break;
      plain = c.out.sent(n);
    }
    if (t.failed()) {
      tls_failed(c);
      return;
    }
  }
  const std::span<const std::uint8_t> bytes = t.out_start();
  if (!bytes.empty()) {
    send_bytes(c, bytes);
    return;
  }
  // A finished connection whose last records (close frame, close_notify) are out: shut it.
  if (c.state == ConnState::done) ::shutdown(c.fd, SHUT_RDWR);
}

void Worker::tls_failed(Conn& c) {
  const std::string why = c.tls->error();
  c.tls->abandon();
  if (c.state == ConnState::handshaking) {
    fail(c, why.c_str());
    return;
  }
  if (c.state == ConnState::open || c.state == ConnState::closing) {
    ++res_.protocol_errors;
    if (res_.first_error.empty()) res_.first_error = why;
  }
  finish(c);
}

void Worker::tls_bytes(Conn& c, const std::uint8_t* data, std::size_t len) {
  TlsLink& t = *c.tls;
  t.feed({data, len});
  while (c.state == ConnState::handshaking || c.state == ConnState::open || c.state == ConnState::closing) {
    std::size_t n = 0;
    const TlsStep st = t.step({tls_plain_.get(), kTlsChunk}, n);
    if (st == TlsStep::data) {
      received(c, tls_plain_.get(), n);
      continue;
    }
    if (st == TlsStep::handshake_done) {
      if (res_.tls_session.empty()) res_.tls_session = t.describe();
      flush(c);  // the upgrade request, waiting since the connect
      continue;
    }
    if (st == TlsStep::need_more) break;
    if (st == TlsStep::closed) {
      peer_closed(c, 0);
      break;
    }
    tls_failed(c);
    break;
  }
  t.drop_input();  // the receive buffer goes back to the kernel
  // Handshake flights (TLS 1.2's Finished), alerts, key updates: OpenSSL's own replies.
  if (!t.out_empty()) flush(c);
}

void Worker::on_send(Conn& c, int res) {
  --c.ops;
  if (res < 0) {
    if (c.state == ConnState::open) {
      ++res_.disconnects;
      if (res_.first_error.empty()) res_.first_error = std::string("send: ") + std::strerror(-res);
    }
    if (c.state == ConnState::handshaking) fail(c, "send of the upgrade request failed");
    if (c.tls) c.tls->abandon();  // drop what was on the wire, and all that would follow
    else (void)c.out.sent(SIZE_MAX);
    finish(c);
    return;
  }
  const std::span<const std::uint8_t> rest =
      c.tls ? c.tls->out_sent(static_cast<std::size_t>(res)) : c.out.sent(static_cast<std::size_t>(res));
  if (!rest.empty()) {
    send_bytes(c, rest);
    return;
  }
  flush(c);  // TLS: only marks it; flush_tls() shuts a finished connection down
  // A connection we finished while its last frames (a close reply) were queued: now shut it.
  if (!c.tls && c.state == ConnState::done && !c.out.in_flight()) ::shutdown(c.fd, SHUT_RDWR);
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
    if (c.tls) tls_bytes(c, data, len);
    else received(c, data, len);
    bufs_.recycle(bid);
    if (!more && c.state != ConnState::done) {
      if (c.is_slow && publishing_ && c.state == ConnState::open) slow_rearm_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
      else arm_recv(c);
    }
    return;
  }
  if (cqe.res == -ENOBUFS) {
    // Back-pressure, not failure: re-arm once this batch's buffers are back.
    if (c.state != ConnState::done) rearm_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
    return;
  }
  if (!more) peer_closed(c, cqe.res);
}

void Worker::received(Conn& c, std::uint8_t* data, std::size_t len) {
  if (c.state == ConnState::handshaking) handshake_bytes(c, data, len);
  else if (c.state != ConnState::open && c.state != ConnState::closing) return;
  else if (c.api) api_bytes(c, {data, len});
  else frame_bytes(c, {data, len});
}

void Worker::peer_closed(Conn& c, int res) {
  switch (c.state) {
    case ConnState::handshaking: fail(c, res == 0 ? "server closed during the handshake" : "recv failed"); break;
    case ConnState::open:
      ++res_.disconnects;
      if (res_.first_error.empty()) res_.first_error = "server closed a connection without a close frame";
      finish(c);
      break;
    case ConnState::closing: finish(c); break;
    default: break;
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
  const ResponseCheck check = check_upgrade_response(std::string_view(hs.buf, hs.len), hs.expect, opt_.deflate);
  if (check.status == ResponseStatus::need_more) return;
  if (check.status == ResponseStatus::error) {
    fail(c, check.reason);
    return;
  }
  if (check.deflate) {
    c.reader = protocol::MessageReader{kServerFramesDeflate};
    if (c.is_sub) ++res_.deflate_connections;
  }
  if (!c.recovering) res_.handshake.record(now_ - c.started_ns);  // the storm's are in `recovery`
  opened(c);
  if (!opt_.channel.empty()) channel_opened(c);
  // Frames may have come in the same segment as the 101.
  std::unique_ptr<HandshakeState> done = std::move(c.hs);
  if (done->len > check.consumed) {
    frame_bytes(c, {reinterpret_cast<std::uint8_t*>(done->buf) + check.consumed, done->len - check.consumed});
  }
}

void Worker::opened(Conn& c) {
  c.state = ConnState::open;
  --connecting_;
  ++open_;
  if (c.recovering) return;  // a storm's second connection: settled by its subscribe reply
  last_open_ns_ = now_;
  // --channel: a WebSocket connection is resolved when its commands are answered.
  if (opt_.channel.empty() || c.api) {
    c.channel_ready = true;
    ++resolved_;
  }
  ++res_.opened;
}

void Worker::api_bytes(Conn& c, std::span<const std::uint8_t> in) {
  ApiReplyReader::Counts n;
  const bool ok = c.api->feed(in, n);
  res_.api_answers += n.ok + n.errors;
  res_.api_errors += n.errors;
  if (n.errors != 0 && res_.first_error.empty()) res_.first_error = "API publish failed: " + c.api->why();
  if (n.ok + n.errors != 0) {
    c.api_answered += n.ok + n.errors;
    if (c.self_ack) ack(c, c.api_answered, now_);  // --ack self: the answer releases the window
  }
  if (!ok) {
    ++res_.protocol_errors;
    if (res_.first_error.empty()) res_.first_error = c.api->why();
    finish(c);
  }
}

void Worker::frame_bytes(Conn& c, std::span<std::uint8_t> in) {
  if (c.is_sub) res_.wire_bytes += in.size();
  while (!in.empty()) {
    const protocol::Event ev = c.reader.next(in);
    in = in.subspan(ev.consumed);
    switch (ev.kind) {
      case protocol::EventKind::need_more: return;
      case protocol::EventKind::data:
        if (!message_bytes(c, ev)) return;
        break;
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

bool Worker::message_bytes(Conn& c, const protocol::Event& ev) {
  if (ev.first) {
    c.msg_len = 0;
    c.tail.clear();
    c.compressed.clear();
  }
  if ((ev.message_rsv & protocol::kRsv1) == 0) {
    message_chunk(c, ev.payload);
  } else {  // permessage-deflate (the reader allows RSV1 only where it was negotiated)
    if (!(ev.first && ev.last)) c.compressed.insert(c.compressed.end(), ev.payload.begin(), ev.payload.end());
    if (!ev.last) return true;
    if (!inflated(c, ev.first ? ev.payload : std::span<const std::uint8_t>(c.compressed), ev.message_opcode)) return false;
    if (c.is_sub) ++res_.compressed_messages;
    message_chunk(c, inflated_);
  }
  if (ev.last) {
    ++received_;
    on_message(c);
  }
  return true;
}

bool Worker::inflated(Conn& c, std::span<const std::uint8_t> compressed, Opcode op) {
  if (!inflater_) inflater_ = std::make_unique<protocol::Inflater>();
  const protocol::Inflater::Result r = inflater_->inflate(compressed, inflated_, kServerFrames.max_message);
  // One big message must not pin its buffers: a connection's stays within a receive's size.
  if (c.compressed.capacity() > kRecvBufSize * 4) std::vector<std::uint8_t>().swap(c.compressed);
  const char* why = r == protocol::Inflater::Result::too_big ? "a compressed server message inflates past 16 MiB"
                    : r != protocol::Inflater::Result::ok   ? "a compressed server message does not inflate"
                    : op == Opcode::text && !protocol::is_valid_utf8(inflated_.data(), inflated_.size())
                        ? "a compressed server text message is not UTF-8"
                        : nullptr;
  if (why == nullptr) return true;
  ++res_.protocol_errors;
  if (res_.first_error.empty()) res_.first_error = why;
  finish(c);
  return false;
}

void Worker::message_chunk(Conn& c, std::span<const std::uint8_t> chunk) {
  c.msg_len += static_cast<std::uint32_t>(chunk.size());
  c.tail.append(chunk);  // only the message's last bytes: the record is all we read
  // Until its commands are answered, a --channel connection keeps the whole reply.
  if (!c.channel_ready && !opt_.channel.empty()) c.control.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
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
  --connecting_;
  if (c.recovering) {
    // A storm's second connection: counted there, and what it then missed counts as lost.
    ++res_.storm_failed;
    storm_settled(c, false);
  } else {
    ++res_.connect_failures;
    c.failed = true;
    ++resolved_;
  }
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
  if (!opt_.channel.empty() && !c.channel_ready && (c.state == ConnState::open || c.state == ConnState::closing)) {
    c.channel_ready = true;  // closed before its commands were answered: resolved all the same
    if (c.recovering) {
      ++res_.storm_failed;
      storm_settled(c, false);
    } else {
      ++resolved_;
    }
  }
  c.state = ConnState::done;
  if (c.tls) {
    // The close frame (if queued) and close_notify go out; flush_tls() shuts the socket after.
    c.tls->close_notify();
    flush(c);
    return;
  }
  // Let a queued close frame leave first; on_send shuts the socket when it has.
  if (!c.out.in_flight() && c.out.pending() == 0) ::shutdown(c.fd, SHUT_RDWR);
}

void Worker::release_if_idle(Conn& c) {
  if (c.state == ConnState::done && c.ops == 0 && c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
    c.tls.reset();  // no send refers to its buffers any more
    if (c.redial) requeue(c);
  }
}

void Worker::start_storm(std::uint64_t now) {
  storm_seen_ = true;
  res_.storm_start_ns = now;
  for (Conn& c : conns_) {
    if (!c.is_sub || c.state != ConnState::open || !c.channel_ready) continue;
    // A network blip, not a goodbye: FIN without a close frame; the server sees EOF.
    c.redial = true;
    c.dropped_ns = now;
    c.state = ConnState::done;
    --open_;
    ++storm_left_;
    ++res_.storm_dropped;
    if (c.tls) c.tls->abandon();
    ::shutdown(c.fd, SHUT_RDWR);
    release_if_idle(c);  // nothing in flight (a receive waiting for buffers): dial at once
  }
}

void Worker::requeue(Conn& c) {
  c.redial = false;
  if (seen_ == Phase::close) {  // the run is ending: it will not come back
    ++res_.storm_failed;
    storm_settled(c, false);
    return;
  }
  if (opt_.reconnect_elsewhere) {  // its node is gone: the next one (the offsets are the cluster's)
    const auto i = static_cast<std::size_t>(c.target - plan_.targets.data());
    c.target = &plan_.targets[(i + 1) % plan_.targets.size()];
  }
  // Everything the first connection knew but where the stream stood (offset, epoch).
  c.recovering = true;
  c.state = ConnState::idle;
  c.channel_ready = false;
  c.recv_armed = false;
  c.reader = protocol::MessageReader{kServerFrames};
  c.compressed.clear();
  c.msg_len = 0;
  c.tail.clear();
  c.control.clear();
  c.out.clear();
  c.hs.reset();
  c.tls_dirty = false;
  redial_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
}

void Worker::storm_settled(Conn& c, bool answered) {
  c.recovering = false;
  --storm_left_;
  if (!answered) return;
  res_.recovery.record(now_ - c.dropped_ns);
  res_.storm_last_ns = now_;
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
  for (std::uint32_t idx : redial_) {  // a storm's connections not dialled again yet
    conns_[idx].state = ConnState::done;
    ++res_.storm_failed;
    storm_settled(conns_[idx], false);
  }
  redial_.clear();
  std::uint8_t payload[2];
  const std::size_t n = protocol::encode_close_payload(payload, 1000, {});
  for (Conn& c : conns_) {
    if (c.state == ConnState::open && c.api) {
      finish(c);  // HTTP: no close handshake, the shutdown ends it
    } else if (c.state == ConnState::open) {
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

}  // namespace ringcast::load
