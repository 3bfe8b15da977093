// TLS for ringcast-load (--tls, wss://): an OpenSSL 3 client session with no socket of its
// own. The worker keeps doing every send and receive with io_uring; this layer only turns
// bytes into bytes, on the worker thread that owns the connection.
//
// Contract:
//  - TlsContext: one per worker thread. Client side, TLS 1.2+ (or pinned to one version),
//    ALPN "http/1.1", the server certificate is NOT verified (load tests use self-signed ones).
//  - TlsLink: one per connection. start() queues the ClientHello (with SNI when the host is
//    a name). Received ciphertext goes to feed(); then step() is called until it returns
//    need_more, closed or error: it advances the handshake (handshake_done once) and then
//    hands out plaintext in chunks of at most one record. feed()'s bytes are only borrowed
//    until step() says need_more (or the caller gives up and calls drop_input()).
//  - write() encrypts plaintext once established(), as records of up to 16 KiB; it never
//    blocks (the ciphertext buffer grows).
//  - Every byte OpenSSL wants on the wire (handshake, records, alerts, close_notify) lands in
//    an output buffer with one send in flight, used like SendBuffer: out_start() hands out
//    what to send, out_sent() takes the kernel's count. Bytes produced meanwhile (e.g. while
//    step() runs during a send) go to the filling half, so the in-flight span stays valid.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;

namespace ringcast::load {

struct TlsConfig {
  int version = 0;            // 0: TLS 1.2 or 1.3 as negotiated; 12 or 13: only that one
  bool release_buffers = false;  // free OpenSSL's per-connection record buffers while idle
};

class TlsContext {
 public:
  TlsContext() = default;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // "" or a one-line reason.
  [[nodiscard]] std::string init(const TlsConfig& cfg);
  [[nodiscard]] ssl_ctx_st* get() const noexcept { return ctx_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
};

enum class TlsStep : std::uint8_t {
  data,            // `n` bytes of plaintext in the caller's buffer
  handshake_done,  // established(): write() may be used now
  need_more,       // every fed byte consumed; feed more
  closed,          // the server sent close_notify
  error,           // fatal; error() says why
};

class TlsLink {
 public:
  TlsLink() = default;
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  // `sni`: the URL host, sent only when it is a name (not an IP literal). False on failure.
  [[nodiscard]] bool start(ssl_ctx_st* ctx, const std::string& sni);
  [[nodiscard]] bool established() const noexcept { return established_; }

  void feed(std::span<const std::uint8_t> ciphertext) noexcept;
  void drop_input() noexcept { in_ = {}; }
  [[nodiscard]] TlsStep step(std::span<std::uint8_t> out, std::size_t& n);

  // Encrypts `plain` (any size; split into records of up to 16 KiB). Returns the bytes taken:
  // all of them, or fewer when OpenSSL must read first (a renegotiation), 0 also on error
  // (then failed() is true).
  [[nodiscard]] std::size_t write(std::span<const std::uint8_t> plain);
  // Queues close_notify (once, only when established and not failed).
  void close_notify();
  // Forget all output (the socket is gone) and stop producing more.
  void abandon() noexcept;

  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once established.
  [[nodiscard]] std::string describe() const;

  // The ciphertext output, one send in flight.
  [[nodiscard]] bool out_in_flight() const noexcept { return wire_off_ < wire_.size(); }
  [[nodiscard]] bool out_empty() const noexcept { return !out_in_flight() && fill_.empty(); }
  [[nodiscard]] std::span<const std::uint8_t> out_start() noexcept;
  [[nodiscard]] std::span<const std::uint8_t> out_sent(std::size_t n) noexcept;

  // For the BIO callbacks.
  int bio_read(char* dst, int len) noexcept;
  int bio_write(const char* src, int len);

 private:
  void set_error(const char* what, int ret);

  ssl_st* ssl_ = nullptr;
  std::span<const std::uint8_t> in_;
  std::vector<std::uint8_t> fill_, wire_;
  std::size_t wire_off_ = 0;
  std::string error_;
  bool established_ = false;
  bool failed_ = false;
  bool closing_ = false;    // close_notify queued, or abandoned
  bool abandoned_ = false;  // output is discarded
};

}  // namespace ringcast::load
