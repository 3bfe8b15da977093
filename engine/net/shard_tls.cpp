// ShardLoop: the TLS record layer of wss connections, between the socket side
// (engine/net/shard_io.cpp) and the layers above (on_input sees plaintext only). Received
// ciphertext is decrypted as it arrives; at flush, the connection's queued plaintext is
// sealed into records (up to TlsStream::kSealBudget per send) and the ciphertext sent from the
// stream's own frame. Handshake steps are bounded per turn (kHandshakesPerTurn); later
// ones wait in arrival order with their bytes held.
#include "engine/core/shard_loop.hpp"
#include "engine/log.hpp"
#include "engine/net/tls_stream.hpp"

namespace ringcast::engine {
namespace {

// Ciphertext held for a waiting handshake: a ClientHello fits one record.
constexpr std::size_t kMaxHeld = TlsStream::kRecord + 2048;

LogLimiter g_tls_log;

}  // namespace

void ShardLoop::tls_input(Conn& c, std::uint32_t slot, const std::uint8_t* data, std::size_t len) {
  TlsStream& t = *c.tls;
  if (t.failed()) return;  // closing after a failed handshake: nothing more is read
  if (!t.handshake_started() && (tls_budget_ == 0 || !t.held().empty() || !tls_waiting_.empty())) {
    // A new handshake waits behind those already waiting (or this turn's budget is spent);
    // one under way finishes at once, so a storm cannot time out those it started.
    bool first = t.held().empty();
    if (t.held().size() + len > kMaxHeld || !t.held().append(data, len)) {
      metrics_.tls_failures[static_cast<std::size_t>(TlsFailure::protocol)].add();
      g_tls_log.log(LogLevel::debug, "TLS hello from port %u larger than %zu bytes: closing",
                    static_cast<unsigned>(c.port), kMaxHeld);
      tear_down(c, slot);
      return;
    }
    if (first) tls_waiting_.push_back(ConnRef{slot, c.gen});
    return;
  }
  t.give(data, len);
  tls_read(c, slot);
}

void ShardLoop::plain_port_tls_hello(Conn& c, std::uint32_t slot) {
  // wss:// dialled on the ws port: a TLS client cannot read an HTTP error, so a clean close.
  g_tls_log.log(LogLevel::debug, "TLS hello on the plain ws port from port %u: closing", static_cast<unsigned>(c.port));
  metrics_.tls_failures[static_cast<std::size_t>(TlsFailure::tls_on_plain_port)].add();
  end_after_flush(c, slot);
}

bool ShardLoop::tls_handshaking(const Conn& c) const noexcept { return c.tls && !c.tls->established(); }

void ShardLoop::tls_read(Conn& c, std::uint32_t slot) {
  TlsStream& t = *c.tls;
  for (;;) {
    bool was = t.established();
    if (!was && tls_budget_ > 0) --tls_budget_;
    TlsStream::Read r = t.read(tls_plain_.get());
    if (!was && t.established()) metrics_.tls_handshakes.add();
    if (r.status == TlsStream::Status::data) {
      on_input(c, slot, tls_plain_.get(), r.n);
      if (c.state == ConnState::dead) break;
      continue;
    }
    if (r.status == TlsStream::Status::closed) {
      on_peer_eof(c, slot);  // close_notify: the peer sends nothing more
    } else if (r.status == TlsStream::Status::failed) {
      tls_failed(c, slot);
    }
    break;
  }
  t.forget_input();  // the receive buffer (or the held bytes) goes away after this call
  if (t.has_output() && c.state != ConnState::dead) mark_dirty(c, slot);  // a flight, a ticket, an alert
}

void ShardLoop::tls_failed(Conn& c, std::uint32_t slot) {
  TlsStream& t = *c.tls;
  if (t.established()) {
    // A bad record on an open connection: nothing sensible can follow it but our alert.
    g_tls_log.log(LogLevel::debug, "TLS error from port %u: %s", static_cast<unsigned>(c.port), t.reason());
    c.queue.clear(leases_);
    end_after_flush(c, slot);
    return;
  }
  metrics_.tls_failures[static_cast<std::size_t>(t.failure())].add();
  g_tls_log.log(LogLevel::debug, "TLS handshake failed from port %u (%s): %s", static_cast<unsigned>(c.port),
                tls_failure_name(t.failure()), t.reason());
  // The alert OpenSSL wrote (if any), then FIN; the close deadline bounds the wait for EOF.
  end_after_flush(c, slot);
}

void ShardLoop::tls_end_of_turn() {
  std::size_t i = 0;
  for (; i < tls_waiting_.size() && tls_budget_ > 0; ++i) {
    ConnRef w = tls_waiting_[i];
    Conn& c = conns_[w.slot];
    if (c.gen != w.gen || !c.tls || c.state == ConnState::dead || c.state == ConnState::free) continue;
    TlsStream& t = *c.tls;
    t.give(t.held().data(), t.held().size());
    tls_read(c, w.slot);
    t.held().clear();  // read() consumed it all
  }
  tls_waiting_.erase(tls_waiting_.begin(), tls_waiting_.begin() + static_cast<std::ptrdiff_t>(i));
  tls_budget_ = kHandshakesPerTurn;
  if (!tls_waiting_.empty()) wake();  // the next turn must not sleep on them
}

void ShardLoop::tls_flush(Conn& c, std::uint32_t slot) {
  TlsStream& t = *c.tls;
  if (c.wr_shut) {  // after our FIN nothing may be sent (OpenSSL answering a late record)
    for (auto w = t.wire(); !w.empty(); w = t.wire()) t.wire_sent(w.size());
    return;
  }
  if (!t.has_output() && !t.failed()) {
    if (!c.queue.empty() && t.established()) {
      std::size_t n = c.queue.fill(tls_iov_.get(), kSendIov);
      std::size_t sealed = t.seal(tls_iov_.get(), n, TlsStream::kSealBudget, tls_seal_.get());
      if (t.failed()) {
        tear_down(c, slot);
        return;
      }
      c.queue.complete(sealed, leases_);  // copied into records: the shared frames can go
    }
    // The last records of a closing connection and our close_notify share one send.
    if (c.queue.empty() && c.state == ConnState::finishing) t.close_notify();
  }
  if (!c.queue.empty()) c.flush_when_done = true;  // what is still queued was due now too
  std::span<const std::uint8_t> w = t.wire();
  if (w.empty()) {
    if (c.queue.empty()) send_fin(c, slot);  // after close_notify (or the alert)
    return;
  }
  iovec one{const_cast<std::uint8_t*>(w.data()), w.size()};
  start_send(c, slot, &one, 1, 0);  // no queue entry: what it carries left the queue when sealed
}

}  // namespace ringcast::engine
