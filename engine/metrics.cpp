#include "engine/metrics.hpp"

#include <cstdio>

#include "protocol/api_json.hpp"
#include "protocol/client_command.hpp"

namespace ringcast::engine {

static_assert(protocol::client::kMethodCount == kClientMethods);
static_assert(static_cast<std::size_t>(protocol::api::Method::batch) + 1 == kApiMethods);

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
    case HandshakeFailure::forbidden_origin: return "forbidden_origin";
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

const char* token_failure_name(TokenFailure f) noexcept {
  switch (f) {
    case TokenFailure::malformed: return "malformed";
    case TokenFailure::bad_algorithm: return "bad_algorithm";
    case TokenFailure::bad_signature: return "bad_signature";
    case TokenFailure::expired: return "expired";
    case TokenFailure::not_yet_valid: return "not_yet_valid";
    case TokenFailure::wrong_audience: return "wrong_audience";
    case TokenFailure::wrong_issuer: return "wrong_issuer";
    case TokenFailure::no_key: return "no_key";
    case TokenFailure::other_user: return "other_user";
    case TokenFailure::other_channel: return "other_channel";
    case TokenFailure::not_connection: return "not_connection";
    case TokenFailure::count_: break;
  }
  return "unknown";
}

const char* api_status_name(ApiStatus s) noexcept {
  switch (s) {
    case ApiStatus::ok: return "200";
    case ApiStatus::bad_request: return "400";
    case ApiStatus::unauthorized: return "401";
    case ApiStatus::not_found: return "404";
    case ApiStatus::method_not_allowed: return "405";
    case ApiStatus::count_: break;
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

// A counter family's HELP and TYPE lines.
void family(std::string& out, const char* name, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
}

// One labelled sample line.
void sample(std::string& out, const char* name, const char* labels, std::uint64_t v) {
  char buf[200];
  int n = std::snprintf(buf, sizeof buf, "%s{%s} %llu\n", name, labels, static_cast<unsigned long long>(v));
  if (n > 0) out.append(buf, static_cast<std::size_t>(n));
}

// A counter family labelled by reason: one line per value of `Reason`.
template <typename Reason, typename Get>
void by_reason(std::string& out, const char* name, const char* help, std::span<const ShardMetrics* const> shards,
               Reason count, const char* (*label)(Reason) noexcept, Get get) {
  family(out, name, help);
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
    char labels[96];
    std::snprintf(labels, sizeof labels, "reason=\"%s\"", label(static_cast<Reason>(i)));
    sample(out, name, labels, sum(shards, [&](const ShardMetrics& m) { return get(m, i); }));
  }
}

void channel_metrics(std::string& out, std::span<const ShardMetrics* const> shards) {
  char labels[96];
  family(out, "ringcast_client_commands_total", "Client protocol commands, by method.");
  for (std::size_t i = 0; i < kClientMethods; ++i) {
    std::string_view name = protocol::client::method_name(static_cast<protocol::client::Method>(i));
    if (name == "none") name = "pong";  // `{}`: the answer to a ping
    std::snprintf(labels, sizeof labels, "method=\"%.*s\"", static_cast<int>(name.size()), name.data());
    sample(out, "ringcast_client_commands_total", labels,
           sum(shards, [&](const ShardMetrics& m) { return m.client_commands[i].get(); }));
  }
  family(out, "ringcast_client_errors_total", "Client protocol error replies, by code.");
  for (std::size_t i = 0; i < kClientErrorCodes; ++i) {
    std::snprintf(labels, sizeof labels, "code=\"%zu\"", 100 + i);
    sample(out, "ringcast_client_errors_total", labels,
           sum(shards, [&](const ShardMetrics& m) { return m.client_errors[i].get(); }));
  }
  by_reason(out, "ringcast_token_failures_total", "Refused connection and subscription tokens, by reason.", shards,
            TokenFailure::count_, token_failure_name,
            [](const ShardMetrics& m, std::size_t i) { return m.token_failures[i].get(); });
  family(out, "ringcast_publications_total", "Publications accepted into channels, by source.");
  sample(out, "ringcast_publications_total", "source=\"client\"",
         sum(shards, [](const ShardMetrics& m) { return m.publications_client.get(); }));
  sample(out, "ringcast_publications_total", "source=\"api\"",
         sum(shards, [](const ShardMetrics& m) { return m.publications_api.get(); }));
  family(out, "ringcast_recoveries_total", "Subscriptions that asked to recover (subscribe, or connect for server-side ones), by outcome.");
  sample(out, "ringcast_recoveries_total", "result=\"recovered\"",
         sum(shards, [](const ShardMetrics& m) { return m.recoveries_ok.get(); }));
  sample(out, "ringcast_recoveries_total", "result=\"not_recovered\"",
         sum(shards, [](const ShardMetrics& m) { return m.recoveries_failed.get(); }));
  family(out, "ringcast_api_calls_total", "Server API calls, by method and HTTP status.");
  for (std::size_t i = 0; i < kApiMethods; ++i) {
    std::string_view name = protocol::api::method_name(static_cast<protocol::api::Method>(i));
    for (std::size_t st = 0; st < static_cast<std::size_t>(ApiStatus::count_); ++st) {
      std::uint64_t v = sum(shards, [&](const ShardMetrics& m) { return m.api_calls[i][st].get(); });
      if (v == 0) continue;  // 14 x 5 mostly-zero lines would drown the rest
      std::snprintf(labels, sizeof labels, "method=\"%.*s\",status=\"%s\"", static_cast<int>(name.size()),
                    name.data(), api_status_name(static_cast<ApiStatus>(st)));
      sample(out, "ringcast_api_calls_total", labels, v);
    }
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
  line(out, "ringcast_conflated_total", "counter",
       "Publications replaced by a newer one of the same conflating channel in a slow client's queue.",
       sum(shards, [](const ShardMetrics& m) { return m.conflated.get(); }));
  line(out, "ringcast_throttled_total", "counter",
       "Publications of max_frequency channels replaced by a newer one within their interval (once per rate class).",
       sum(shards, [](const ShardMetrics& m) { return m.throttled.get(); }));
  line(out, "ringcast_deltas_sent_total", "counter",
       "Publications delivered as a Fossil delta against the subscriber's previous one.",
       sum(shards, [](const ShardMetrics& m) { return m.deltas_sent.get(); }));
  line(out, "ringcast_deflate_connections_total", "counter",
       "WebSocket connections that negotiated permessage-deflate.",
       sum(shards, [](const ShardMetrics& m) { return m.deflate_connections.get(); }));
  line(out, "ringcast_inflated_bytes_total", "counter", "Bytes of compressed client messages once inflated.",
       sum(shards, [](const ShardMetrics& m) { return m.inflated_bytes.get(); }));
  line(out, "ringcast_deflate_errors_total", "counter",
       "Compressed client messages refused: inflating past --max-message (1009) or corrupt (1007).",
       sum(shards, [](const ShardMetrics& m) { return m.deflate_errors.get(); }));
  line(out, "ringcast_messages_deflated_total", "counter",
       "Broadcast messages compressed for permessage-deflate subscribers (once each, shared by every shard).",
       sum(shards, [](const ShardMetrics& m) { return m.messages_deflated.get(); }));
  line(out, "ringcast_broker_messages_total", "counter", "Publications received from the Redis broker (--broker).",
       sum(shards, [](const ShardMetrics& m) { return m.broker_messages.get(); }));
  line(out, "ringcast_broker_published_total", "counter", "Publishes sent to the Redis broker.",
       sum(shards, [](const ShardMetrics& m) { return m.broker_published.get(); }));
  line(out, "ringcast_broker_publish_failures_total", "counter",
       "Publishes refused: the broker link down or full, or an error from Redis.",
       sum(shards, [](const ShardMetrics& m) { return m.broker_publish_failures.get(); }));
  line(out, "ringcast_broker_unconfirmed_total", "counter",
       "Publishes whose Redis connection was lost before their reply.",
       sum(shards, [](const ShardMetrics& m) { return m.broker_unconfirmed.get(); }));
  line(out, "ringcast_broker_reconnects_total", "counter", "Redis connections made again after one was lost.",
       sum(shards, [](const ShardMetrics& m) { return m.broker_reconnects.get(); }));
  line(out, "ringcast_broker_gap_publications_total", "counter",
       "Publications a node's feed missed that it then delivered from the Redis stream.",
       sum(shards, [](const ShardMetrics& m) { return m.broker_gap_filled.get(); }));
  line(out, "ringcast_broker_gaps_lost_total", "counter",
       "Channels whose missed publications Redis no longer held: subscribers made to subscribe again (2500).",
       sum(shards, [](const ShardMetrics& m) { return m.broker_gap_lost.get(); }));
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
  channel_metrics(out, shards);
  return out;
}

}  // namespace ringcast::engine
