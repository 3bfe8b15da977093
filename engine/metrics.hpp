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
  Counter sends;  // send operations issued (deliveries per send = batching achieved)
  Counter handshake_failures[static_cast<std::size_t>(HandshakeFailure::count_)];
  Counter tls_handshakes;  // completed
  Counter tls_failures[static_cast<std::size_t>(TlsFailure::count_)];
};

// Prometheus text exposition of the sum over `shards`, and which I/O backend they run on.
[[nodiscard]] std::string render_metrics(std::span<const ShardMetrics* const> shards, std::string_view backend);

}  // namespace ringcast::engine
