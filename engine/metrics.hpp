// Per-shard counters. Each shard writes only its own block (relaxed, no lock prefix on
// the hot path: load + store by the single writer); readers on other threads sum them.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::engine {

enum class HandshakeFailure : std::uint8_t {
  bad_request,          // 400
  method_not_allowed,   // 405
  upgrade_required,     // 426 (version)
  header_too_large,     // 431
  timeout,              // no complete request within --handshake-timeout
  not_found,            // 404: WebSocket upgrade on a path that is not served
  content_too_large,    // 413: a request body past --max-http-body
  not_implemented,      // 501: Transfer-Encoding (bodies need Content-Length)
  forbidden_origin,     // 403: a browser upgrade from an origin that is not allowed
  count_
};
[[nodiscard]] const char* handshake_failure_name(HandshakeFailure f) noexcept;

// Why a TLS handshake did not complete (the connection is closed cleanly: the alert, if
// OpenSSL made one, then FIN).
enum class TlsFailure : std::uint8_t {
  http_on_tls_port,   // a plain HTTP request on the wss listener
  tls_on_plain_port,  // a TLS ClientHello on the plain ws listener
  protocol_version,   // no TLS version in common (a client offering SSL 3, TLS 1.0/1.1 only)
  no_shared_cipher,   // no cipher suite (or group) in common
  protocol,           // any other malformed or refused handshake message
  timeout,            // the handshake did not finish within --handshake-timeout
  peer_closed,        // the client hung up mid-handshake
  count_
};
[[nodiscard]] const char* tls_failure_name(TlsFailure f) noexcept;

// Why the client protocol refused a token (the JWT's own faults, then the checks after it).
enum class TokenFailure : std::uint8_t {
  malformed,
  bad_algorithm,
  bad_signature,
  expired,
  not_yet_valid,
  wrong_audience,
  wrong_issuer,
  no_key,         // no hmac_secret_key configured for the kind
  other_user,     // a refresh or subscription token for another user
  other_channel,  // a subscription token for another channel
  not_connection, // a subscription token (it has `channel`) sent to connect or refresh
  count_
};
[[nodiscard]] const char* token_failure_name(TokenFailure f) noexcept;

// The server API's answers, by HTTP status.
enum class ApiStatus : std::uint8_t { ok, bad_request, unauthorized, not_found, method_not_allowed, count_ };
[[nodiscard]] const char* api_status_name(ApiStatus s) noexcept;

inline constexpr std::size_t kClientMethods = 13;     // protocol::client::Method's values
inline constexpr std::size_t kClientErrorCodes = 13;  // the protocol's error codes 100..112
inline constexpr std::size_t kApiMethods = 14;        // protocol::api::Method's values

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct alignas(64) ShardMetrics {
  Counter connections;  // gauge: established WebSocket connections
  Counter messages_in, messages_out, bytes_in, bytes_out;
  Counter frames_dropped, slow_clients_closed, accept_errors, enobufs;
  Counter conflated;  // publications a newer one of the same channel replaced in a slow client's queue
  Counter throttled;  // publications of max-frequency channels a newer one replaced within its interval (per rate class)
  Counter deltas_sent;  // publications a subscriber got as a Fossil delta
  Counter deflate_connections;  // WebSocket connections that negotiated permessage-deflate
  Counter inflated_bytes;       // compressed client messages' bytes once inflated
  Counter deflate_errors;       // compressed messages refused: past --max-message, or corrupt
  Counter messages_deflated;    // broadcast messages compressed (once each, for every shard)
  Counter sends;  // send operations issued (deliveries per send = batching achieved)
  Counter handshake_failures[static_cast<std::size_t>(HandshakeFailure::count_)];
  Counter tls_handshakes;  // completed
  Counter tls_failures[static_cast<std::size_t>(TlsFailure::count_)];
  // The client protocol (by command method, error reply code, token failure) and the API.
  Counter client_commands[kClientMethods];
  Counter client_errors[kClientErrorCodes];
  Counter token_failures[static_cast<std::size_t>(TokenFailure::count_)];
  Counter publications_client, publications_api;  // accepted, one per channel
  Counter recoveries_ok, recoveries_failed;       // subscribes with recover: all missed given, or not
  Counter api_calls[kApiMethods][static_cast<std::size_t>(ApiStatus::count_)];
  // --broker: publications received from Redis, publishes sent to it, publishes refused
  // (the link down or full, or Redis answered an error), publishes lost with their
  // connection unanswered, and connections made again after one was lost.
  Counter broker_messages, broker_published, broker_publish_failures, broker_unconfirmed, broker_reconnects;
  // Publications a node's feed missed and its load then took from the Redis stream, and the
  // losses it could not fill that way (their subscribers were made to subscribe again).
  Counter broker_gap_filled, broker_gap_lost;
};

// Prometheus text exposition of the sum over `shards`, and which I/O backend they run on.
[[nodiscard]] std::string render_metrics(std::span<const ShardMetrics* const> shards, std::string_view backend);

}  // namespace ringcast::engine
