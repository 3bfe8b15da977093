// The client side of a wss connection for the scripted tests: an OpenSSL client session
// on memory BIOs. Plaintext written before the handshake is done waits and goes out right
// after the client's Finished; ciphertext from the server is decrypted as it arrives (any
// split: a partial record stays in the session). The driver (tests/support/shard_driver.hpp)
// moves the ciphertext between it and the scripted backend.
#pragma once
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ringcast::engine::test {

class TlsClient {
 public:
  // `max_version`: TLS1_2_VERSION for a 1.2 client (renegotiation exists there).
  explicit TlsClient(int max_version = TLS1_3_VERSION) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) {
      error_ = "SSL_CTX_new";
      return;
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, max_version);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // self-signed: what is tested is the server's glue
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
      error_ = "SSL_new / BIO_new";
      return;
    }
    SSL_set_bio(ssl_, in_, out_);  // the session owns them now
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
  }
  ~TlsClient() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    } else {
      if (in_ != nullptr) BIO_free(in_);
      if (out_ != nullptr) BIO_free(out_);
    }
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Writes the ClientHello (taken with take()).
  void start() { step(); }

  // Plaintext for the server: sealed now, or once the handshake is done.
  void write(std::span<const std::uint8_t> plain) {
    pending_.insert(pending_.end(), plain.begin(), plain.end());
    if (established_) write_pending();
  }
  // Our close_notify.
  void close_notify() {
    if (ssl_ == nullptr) return;
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  // TLS 1.2: a new ClientHello on the open session (the server refuses it with a
  // no_renegotiation warning alert, which it writes on its own).
  bool renegotiate() {
    bool ok = SSL_renegotiate(ssl_) == 1;
    int rc = SSL_do_handshake(ssl_);
    ok = ok && rc != 1 && SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return ok;
  }

  // Ciphertext from the server: returns the plaintext it completes.
  std::vector<std::uint8_t> receive(std::span<const std::uint8_t> cipher) {
    std::vector<std::uint8_t> plain;
    if (ssl_ == nullptr) return plain;
    received_ += cipher.size();
    if (!cipher.empty() && BIO_write(in_, cipher.data(), static_cast<int>(cipher.size())) != static_cast<int>(cipher.size())) {
      error_ = "BIO_write";
      return plain;
    }
    if (!established_) step();
    if (!established_) return plain;
    std::uint8_t buf[16384];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        plain.insert(plain.end(), buf, buf + n);
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (err == SSL_ERROR_ZERO_RETURN) {
        close_notify_seen_ = true;
      } else if (err != SSL_ERROR_WANT_READ && error_.empty()) {
        error_ = "SSL_read failed (" + std::to_string(err) + ")";
      }
      break;
    }
    if (close_notify_seen_ && BIO_ctrl_pending(in_) > 0 && error_.empty()) error_ = "bytes after close_notify";
    return plain;
  }
  // Ciphertext for the server (handshake flights, records, alerts).
  std::vector<std::uint8_t> take() {
    std::vector<std::uint8_t> b(out_ == nullptr ? 0 : static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!b.empty() && BIO_read(out_, b.data(), static_cast<int>(b.size())) != static_cast<int>(b.size())) {
      error_ = "BIO_read";
      b.clear();
    }
    return b;
  }

  [[nodiscard]] bool established() const noexcept { return established_; }
  [[nodiscard]] bool close_notify_seen() const noexcept { return close_notify_seen_; }
  [[nodiscard]] std::size_t received() const noexcept { return received_; }  // ciphertext bytes
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  [[nodiscard]] SSL* ssl() noexcept { return ssl_; }

 private:
  void step() {
    if (ssl_ == nullptr) return;
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
      established_ = true;
      write_pending();
      return;
    }
    int err = SSL_get_error(ssl_, rc);
    ERR_clear_error();  // the error queue is per thread: keep the client's out of the server's
    if (err != SSL_ERROR_WANT_READ && error_.empty()) error_ = "handshake failed (" + std::to_string(err) + ")";
  }
  void write_pending() {
    std::size_t off = 0;
    while (off < pending_.size()) {
      int n = static_cast<int>(std::min<std::size_t>(pending_.size() - off, 1 << 20));
      int rc = SSL_write(ssl_, pending_.data() + off, n);
      if (rc != n) {
        ERR_clear_error();
        if (error_.empty()) error_ = "SSL_write failed";
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    pending_.clear();
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  std::vector<std::uint8_t> pending_;
  std::size_t received_ = 0;
  bool established_ = false, close_notify_seen_ = false;
  std::string error_;
};

}  // namespace ringcast::engine::test
