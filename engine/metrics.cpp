#include "engine/metrics.hpp"

#include <cstdio>

namespace ringcast::engine {

const char* handshake_failure_name(HandshakeFailure f) noexcept {
  switch (f) {
    case HandshakeFailure::bad_request: return "bad_request";
    case HandshakeFailure::method_not_allowed: return "method_not_allowed";
    case HandshakeFailure::upgrade_required: return "upgrade_required";
    case HandshakeFailure::header_too_large: return "header_too_large";
    case HandshakeFailure::timeout: return "timeout";
    case HandshakeFailure::not_found: return "not_found";
    case HandshakeFailure::content_too_large: return "content_too_large";
    case HandshakeFailure::not_implemented: return "not_implemented";
    case HandshakeFailure::count_: break;
  }
  return "unknown";
}

const char* tls_failure_name(TlsFailure f) noexcept {
  switch (f) {
    case TlsFailure::http_on_tls_port: return "http_on_tls_port";
    case TlsFailure::tls_on_plain_port: return "tls_on_plain_port";
    case TlsFailure::protocol_version: return "protocol_version";
    case TlsFailure::no_shared_cipher: return "no_shared_cipher";
    case TlsFailure::protocol: return "protocol";
    case TlsFailure::timeout: return "timeout";
    case TlsFailure::peer_closed: return "peer_closed";
    case TlsFailure::count_: break;
  }
  return "unknown";
}

namespace {

template <typename Get>
std::uint64_t sum(std::span<const ShardMetrics* const> shards, Get get) {
  std::uint64_t total = 0;
  for (const ShardMetrics* m : shards) total += get(*m);
  return total;
}

void line(std::string& out, const char* name, const char* type, const char* help, std::uint64_t value) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        static_cast<unsigned long long>(value));
  if (n > 0) out.append(buf, static_cast<std::size_t>(n));
}

// A counter family labelled by reason: one line per value of `Reason`.
template <typename Reason, typename Get>
void by_reason(std::string& out, const char* name, const char* help, std::span<const ShardMetrics* const> shards,
               Reason count, const char* (*label)(Reason) noexcept, Get get) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
    char buf[160];
    std::uint64_t v = sum(shards, [&](const ShardMetrics& m) { return get(m, i); });
    int n = std::snprintf(buf, sizeof buf, "%s{reason=\"%s\"} %llu\n", name, label(static_cast<Reason>(i)),
                          static_cast<unsigned long long>(v));
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string render_metrics(std::span<const ShardMetrics* const> shards, std::string_view backend) {
  std::string out;
  out.reserve(2048);
  // An info metric: which backend start-up chose (auto falls back to epoll where io_uring is refused).
  out += "# HELP ringcast_backend_info The I/O backend the shards run on.\n# TYPE ringcast_backend_info gauge\n";
  out += "ringcast_backend_info{backend=\"";
  out += backend;
  out += "\"} 1\n";
  line(out, "ringcast_connections", "gauge", "Established WebSocket connections.",
       sum(shards, [](const ShardMetrics& m) { return m.connections.get(); }));
  line(out, "ringcast_messages_in_total", "counter", "WebSocket messages received from clients.",
       sum(shards, [](const ShardMetrics& m) { return m.messages_in.get(); }));
  line(out, "ringcast_messages_out_total", "counter", "Message deliveries queued to clients.",
       sum(shards, [](const ShardMetrics& m) { return m.messages_out.get(); }));
  line(out, "ringcast_bytes_in_total", "counter", "Bytes received from clients.",
       sum(shards, [](const ShardMetrics& m) { return m.bytes_in.get(); }));
  line(out, "ringcast_bytes_out_total", "counter", "Bytes sent to clients.",
       sum(shards, [](const ShardMetrics& m) { return m.bytes_out.get(); }));
  line(out, "ringcast_sends_total", "counter", "Send operations issued (each covers all queued frames).",
       sum(shards, [](const ShardMetrics& m) { return m.sends.get(); }));
  line(out, "ringcast_frames_dropped_total", "counter", "Messages skipped for clients past their backlog.",
       sum(shards, [](const ShardMetrics& m) { return m.frames_dropped.get(); }));
  line(out, "ringcast_slow_clients_closed_total", "counter", "Clients closed for exceeding their backlog.",
       sum(shards, [](const ShardMetrics& m) { return m.slow_clients_closed.get(); }));
  line(out, "ringcast_accept_errors_total", "counter", "accept() failures (EMFILE, ENFILE, ...).",
       sum(shards, [](const ShardMetrics& m) { return m.accept_errors.get(); }));
  line(out, "ringcast_recv_buffer_exhausted_total", "counter", "Times the provided receive buffers ran out.",
       sum(shards, [](const ShardMetrics& m) { return m.enobufs.get(); }));
  // Per shard: how SO_REUSEPORT spread the connections (a skewed spread loads one core).
  out += "# HELP ringcast_shard_connections Established WebSocket connections per shard.\n"
         "# TYPE ringcast_shard_connections gauge\n";
  for (std::size_t i = 0; i < shards.size(); ++i) {
    char buf[96];
    int n = std::snprintf(buf, sizeof buf, "ringcast_shard_connections{shard=\"%zu\"} %llu\n", i,
                          static_cast<unsigned long long>(shards[i]->connections.get()));
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  by_reason(out, "ringcast_handshake_failures_total", "Rejected handshakes by reason.", shards,
            HandshakeFailure::count_, handshake_failure_name,
            [](const ShardMetrics& m, std::size_t i) { return m.handshake_failures[i].get(); });
  line(out, "ringcast_tls_handshakes_total", "counter", "Completed TLS handshakes.",
       sum(shards, [](const ShardMetrics& m) { return m.tls_handshakes.get(); }));
  by_reason(out, "ringcast_tls_handshake_failures_total", "TLS handshakes that did not complete, by reason.",
            shards, TlsFailure::count_, tls_failure_name,
            [](const ShardMetrics& m, std::size_t i) { return m.tls_failures[i].get(); });
  return out;
}

}  // namespace ringcast::engine
