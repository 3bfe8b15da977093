// The server's TLS configuration as OpenSSL objects: the certificate chain and key from
// PEM files in an SSL_CTX (TLS 1.2 and 1.3, AEAD ciphers, ALPN http/1.1, stateless session
// tickets, no renegotiation, buffers released while idle). One TlsContextStore serves
// every shard: a shard takes the current context for each new connection, cached by
// generation (one relaxed load per accept); reload() (SIGHUP) swaps in a newly loaded
// pair, and a pair that fails to load leaves the old one in place. Connections keep the
// context they started with (OpenSSL counts the references).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "engine/config.hpp"

struct ssl_ctx_st;

namespace ringcast::engine {

using SslCtx = ::ssl_ctx_st;

// Builds a context from `cfg`; nullptr with `error` set to one line naming the file and
// OpenSSL's reason (missing file, bad PEM, key not matching the certificate, bad cipher list).
[[nodiscard]] SslCtx* make_tls_context(const TlsConfig& cfg, std::string& error);

// Loads the files once to check them (start-up: a bad file is exit 2 before anything binds).
[[nodiscard]] std::string check_tls_files(const TlsConfig& cfg);

// A shard's reference to the store's context (owned: SSL_CTX_free on replace).
struct TlsContextRef {
  SslCtx* ctx = nullptr;
  std::uint64_t generation = 0;
  TlsContextRef() = default;
  TlsContextRef(const TlsContextRef&) = delete;
  TlsContextRef& operator=(const TlsContextRef&) = delete;
  ~TlsContextRef();
};

class TlsContextStore {
 public:
  TlsContextStore() = default;
  TlsContextStore(const TlsContextStore&) = delete;
  TlsContextStore& operator=(const TlsContextStore&) = delete;
  ~TlsContextStore();

  // Loads the first context; "" or one line.
  [[nodiscard]] std::string load(const TlsConfig& cfg);
  // Loads the same files again; "" (new connections use the new pair) or why the old one stays.
  [[nodiscard]] std::string reload();
  // Shard thread: the context for a new connection, refreshed in `ref` when a reload happened.
  SslCtx* current(TlsContextRef& ref);
  [[nodiscard]] bool loaded() const noexcept { return generation_.load(std::memory_order_acquire) != 0; }

 private:
  mutable std::mutex mu_;
  TlsConfig cfg_;
  SslCtx* ctx_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace ringcast::engine
