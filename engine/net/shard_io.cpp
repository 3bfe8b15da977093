// ShardLoop: the socket side of a connection: receives, one send in flight, FIN and
// teardown. What the bytes mean is the layers above (ShardLoop::on_input).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "engine/core/shard_loop.hpp"
#include "engine/net/tls_stream.hpp"

namespace ringcast::engine {

void ShardLoop::arm_recv(Conn& c, std::uint32_t slot) {
  io_.recv_multishot(c.fd, slot, pack(Op::recv, c.gen, slot));
  c.recv_armed = true;
}

void ShardLoop::on_recv(Conn& c, std::uint32_t slot, const Completion& cqe) {
  bool more = cqe.more;
  if (!more) c.recv_armed = false;
  if (cqe.res > 0 && cqe.has_buffer) {
    std::uint16_t id = cqe.buffer;
    std::size_t len = static_cast<std::size_t>(cqe.res);
    metrics_.bytes_in.add(len);
    // Everything needed beyond this call is copied out, so the buffer goes straight back.
    std::uint8_t* data = io_.buffer(id);
    bool first = !c.input_seen;
    c.input_seen = true;
    if (c.state != ConnState::dead) {
      if (c.tls) {
        tls_input(c, slot, data, len);
      } else if (first && data[0] == kTlsHandshakeRecord) {
        plain_port_tls_hello(c, slot);  // no request line starts with it
      } else {
        on_input(c, slot, data, len);
      }
    }
    io_.recycle(id);
    if (!more && !c.recv_armed && c.state != ConnState::dead) rearm_.push_back(slot);
    return;
  }
  if (cqe.res == -ENOBUFS) {
    // Ring ran dry this turn: buffers come back as the batch is processed; re-arm after it.
    metrics_.enobufs.add();
    if (!c.recv_armed && c.state != ConnState::dead) rearm_.push_back(slot);
    return;
  }
  // EOF or an error: the peer is gone (or we shut the socket down during teardown).
  if (cqe.res == 0 && more) return;
  if (cqe.res == 0) {
    on_peer_eof(c, slot);
    return;
  }
  tear_down(c, slot);
}

void ShardLoop::on_peer_eof(Conn& c, std::uint32_t slot) {
  if (tls_handshaking(c) && !c.tls->failed() && c.state == ConnState::handshake) {
    metrics_.tls_failures[static_cast<std::size_t>(TlsFailure::peer_closed)].add();
  }
  if (c.http_waiting) {
    // An HTTP answer waits for Redis (a client that half-closed after its request): it is
    // sent once it comes, then the connection ends.
    c.peer_eof = true;
    return;
  }
  if (c.state == ConnState::finishing && !c.wr_shut) {
    // A client that sends close and half-closes at once still gets our close reply:
    // flush sends what is queued, then ends the connection instead of waiting for EOF.
    c.peer_eof = true;
    mark_dirty(c, slot);
    return;
  }
  tear_down(c, slot);
}

void ShardLoop::mark_dirty(Conn& c, std::uint32_t slot, bool urgent) noexcept {
  if (urgent && cfg_.coalescing()) {
    if (!c.urgent) {
      c.urgent = true;
      urgent_.push_back(slot);
    }
    return;
  }
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(slot);
}

void ShardLoop::flush(Conn& c, std::uint32_t slot) {
  if (c.state == ConnState::dead || c.state == ConnState::free) return;
  if (c.send_inflight) {
    c.flush_when_done = true;  // what was due now goes out as soon as the send completes
    return;
  }
  if (c.tls) {
    tls_flush(c, slot);
    return;
  }
  if (c.queue.empty()) {
    send_fin(c, slot);
    return;
  }
  send_queued(c, slot);
}

void ShardLoop::send_fin(Conn& c, std::uint32_t slot) {
  if (c.state != ConnState::finishing || c.wr_shut) return;
  // Everything is out: FIN (half-close) and keep reading until the peer's EOF, so its
  // late bytes never turn our close into a reset that could destroy the close frame.
  io_.shutdown(c.fd, SHUT_WR);
  c.wr_shut = true;
  if (c.peer_eof) tear_down(c, slot);  // the peer's EOF already came: nothing left to read
}

void ShardLoop::send_queued(Conn& c, std::uint32_t slot) {
  iovec* iov = io_.send_iovecs(kSendIov);
  std::size_t n = c.queue.fill(iov, kSendIov);
  start_send(c, slot, iov, n, static_cast<std::uint32_t>(n));
}

void ShardLoop::start_send(Conn& c, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint32_t entries) {
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) bytes += iov[i].iov_len;
  c.inflight_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(bytes, UINT32_MAX));
  if (n == 1) {
    // The common case once a turn's broadcasts are combined: plain send, no msghdr.
    io_.send(c.fd, slot, iov[0].iov_base, iov[0].iov_len, pack(Op::send, c.gen, slot));
  } else {
    io_.sendmsg(c.fd, slot, iov, n, pack(Op::send, c.gen, slot));
  }
  c.send_inflight = true;
  c.inflight_entries = entries;
  metrics_.sends.add();
}

void ShardLoop::on_send(Conn& c, std::uint32_t slot, int res) {
  c.send_inflight = false;
  c.inflight_entries = 0;
  // The rest of a send the kernel took only part of belongs to what was already due.
  bool partial = res >= 0 && static_cast<std::uint32_t>(res) < c.inflight_bytes;
  if (res < 0) {
    if (res == -EAGAIN || res == -EINTR) {
      mark_dirty(c, slot);
      return;
    }
    tear_down(c, slot);  // peer gone (EPIPE, ECONNRESET) or torn down
    return;
  }
  metrics_.bytes_out.add(static_cast<std::uint64_t>(res));
  if (c.tls) {
    c.tls->wire_sent(static_cast<std::size_t>(res));  // its plaintext left the queue when sealed
  } else {
    c.queue.complete(static_cast<std::size_t>(res), leases_);
  }
  if (c.state == ConnState::dead) return;
  // A flush that found this send in flight (a reply, a due batch) is owed now, and so is the
  // rest of a partial send; frames merely queued meanwhile wait for the coalesce timer; a
  // finishing connection's FIN does not.
  bool owed = c.flush_when_done || partial || c.state == ConnState::finishing;
  c.flush_when_done = false;
  // A wss connection's rest may be ciphertext only (its queue was sealed empty).
  bool more = !c.queue.empty() || (c.tls && c.tls->has_output());
  if (more || c.state == ConnState::finishing) mark_dirty(c, slot, owed);
}

void ShardLoop::tear_down(Conn& c, std::uint32_t slot) noexcept {
  if (c.state == ConnState::dead || c.state == ConnState::free) return;
  on_ending(c, slot);
  c.state = ConnState::dead;
  wheel_.cancel(c.timer);
  if (!c.in_dead_list) {
    c.in_dead_list = true;
    dead_.push_back(slot);
  }
}

void ShardLoop::free_slot(Conn& c, std::uint32_t slot) noexcept {
  on_freed(c, slot);
  c.queue.clear(leases_);
  c.tls.reset();
  io_.detach(slot);  // nothing is pending on it: the table's reference goes with the fd
  if (c.fd >= 0) io_.close_fd(c.fd);
  c.fd = -1;
  c.state = ConnState::free;
  c.in_dead_list = false;
  ++c.gen;
  conns_.give_back(slot);
}

void ShardLoop::end_after_flush(Conn& c, std::uint32_t slot) {
  if (c.state == ConnState::dead) return;
  c.state = ConnState::finishing;
  wheel_.schedule(c.timer, wheel_.now() + (close_ticks_ == 0 ? 1 : close_ticks_));
  mark_dirty(c, slot);  // flush sends FIN once the queue is empty
}

}  // namespace ringcast::engine
