#include "engine/net/tls_context.hpp"

#include "engine/net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace ringcast::engine {
namespace {

// TLS 1.2: forward secrecy and AEAD only (what current browser and server guides keep).
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_reason() {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;  // the last queued error is the closest cause
  if (last == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  // "error:0A000086:SSL routines::reason": keep the reason.
  const char* reason = std::strrchr(buf, ':');
  return reason != nullptr && reason[1] != '\0' ? std::string(reason + 1) : std::string(buf);
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // a client offering only h2 still gets HTTP/1.1 (no ALPN)
}

}  // namespace

SslCtx* make_tls_context(const TlsConfig& cfg, std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  auto fail = [&](std::string what) -> SslCtx* {
    error = std::move(what) + ": " + openssl_reason();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  if (ctx == nullptr) return fail("TLS");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Renegotiation is how a client makes the server pay for handshakes on one connection.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Idle connections give their 16 KiB+ record buffers back (measured: README).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Stateless tickets only: no session cache shared (and locked) between shards.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
  TlsStream::prepare_context(ctx);  // TLS 1.3 connections leave OpenSSL after the handshake
  std::string ciphers = cfg.ciphers.empty() ? std::string(kDefaultCiphers) : cfg.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) return fail("--tls-ciphers '" + ciphers + "'");
  if (!cfg.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, cfg.ciphersuites.c_str()) != 1) {
    return fail("--tls-ciphersuites '" + cfg.ciphersuites + "'");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg.cert_file.c_str()) != 1) {
    return fail("--tls-cert " + cfg.cert_file + ": cannot load the certificate chain");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return fail("--tls-key " + cfg.key_file + " does not match --tls-cert " + cfg.cert_file);
    }
    return fail("--tls-key " + cfg.key_file + ": cannot load the private key");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("--tls-key " + cfg.key_file + " does not match --tls-cert " + cfg.cert_file);
  }
  return ctx;
}

std::string check_tls_files(const TlsConfig& cfg) {
  std::string error;
  SSL_CTX_free(make_tls_context(cfg, error));
  return error;
}

TlsContextRef::~TlsContextRef() { SSL_CTX_free(ctx); }

TlsContextStore::~TlsContextStore() { SSL_CTX_free(ctx_); }

std::string TlsContextStore::load(const TlsConfig& cfg) {
  std::string error;
  SslCtx* ctx = make_tls_context(cfg, error);  // outside the lock: shards keep accepting
  if (ctx == nullptr) return error;
  std::lock_guard lock(mu_);
  cfg_ = cfg;
  SSL_CTX_free(ctx_);
  ctx_ = ctx;
  generation_.fetch_add(1, std::memory_order_release);
  return {};
}

std::string TlsContextStore::reload() {
  TlsConfig cfg;
  {
    std::lock_guard lock(mu_);
    if (ctx_ == nullptr) return "TLS is not configured";
    cfg = cfg_;
  }
  return load(cfg);
}

SslCtx* TlsContextStore::current(TlsContextRef& ref) {
  std::uint64_t g = generation_.load(std::memory_order_acquire);
  if (g == ref.generation) return ref.ctx;
  std::lock_guard lock(mu_);
  SSL_CTX_up_ref(ctx_);
  SSL_CTX_free(ref.ctx);
  ref.ctx = ctx_;
  ref.generation = generation_.load(std::memory_order_relaxed);
  return ref.ctx;
}

}  // namespace ringcast::engine
