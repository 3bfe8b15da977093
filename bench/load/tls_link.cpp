#include "bench/load/tls_link.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace ringcast::load {
namespace {

constexpr std::size_t kRecordPlain = 16384;  // the largest TLS record's plaintext

TlsLink* link_of(BIO* b) noexcept { return static_cast<TlsLink*>(BIO_get_data(b)); }

int bio_write_cb(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  return link_of(b)->bio_write(data, len);
}

int bio_read_cb(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  const int n = link_of(b)->bio_read(data, len);
  if (n == 0) {
    BIO_set_retry_read(b);  // not EOF: the worker feeds more when it arrives
    return -1;
  }
  return n;
}

long bio_ctrl_cb(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create_cb(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int bio_destroy_cb(BIO*) { return 1; }

// Process-wide and never freed; magic statics make the first use thread-safe.
BIO_METHOD* link_method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringcast-load io_uring link");
    if (x == nullptr) return x;
    BIO_meth_set_write(x, bio_write_cb);
    BIO_meth_set_read(x, bio_read_cb);
    BIO_meth_set_ctrl(x, bio_ctrl_cb);
    BIO_meth_set_create(x, bio_create_cb);
    BIO_meth_set_destroy(x, bio_destroy_cb);
    return x;
  }();
  return m;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// The oldest queued OpenSSL reason ("wrong version number"), then clears the queue.
std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "";
  if (const char* r = ERR_reason_error_string(e); r != nullptr) return r;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string TlsContext::init(const TlsConfig& cfg) {
  if (link_method() == nullptr) return "TLS: cannot create the BIO method";
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return "TLS: SSL_CTX_new failed: " + openssl_reason();
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // load tests meet self-signed certificates
  int lo = TLS1_2_VERSION, hi = 0;                     // 0: the highest the library has
  if (cfg.version == 12) hi = TLS1_2_VERSION;
  if (cfg.version == 13) lo = hi = TLS1_3_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx_, lo) != 1 || SSL_CTX_set_max_proto_version(ctx_, hi) != 1) {
    return "TLS: cannot set the protocol version: " + openssl_reason();
  }
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof kAlpn) != 0) return "TLS: cannot set ALPN";
  // Every connection makes a full handshake: no session resumption skews the connect numbers.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
  // Read as much as was fed in one BIO call (the BIO is memory: nothing can block).
  SSL_CTX_set_read_ahead(ctx_, 1);
  long mode = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
  if (cfg.release_buffers) mode |= SSL_MODE_RELEASE_BUFFERS;
  SSL_CTX_set_mode(ctx_, mode);
  return "";
}

TlsLink::~TlsLink() { SSL_free(ssl_); }  // frees the BIO too

bool TlsLink::start(ssl_ctx_st* ctx, const std::string& sni) {
  ERR_clear_error();
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) {
    set_error("TLS: SSL_new", 0);
    return false;
  }
  BIO* b = BIO_new(link_method());
  if (b == nullptr) {
    set_error("TLS: BIO_new", 0);
    return false;
  }
  BIO_set_data(b, this);
  SSL_set_bio(ssl_, b, b);  // one BIO both ways: the SSL owns its one reference
  SSL_set_connect_state(ssl_);
  if (!sni.empty() && !is_ip_literal(sni) && SSL_set_tlsext_host_name(ssl_, sni.c_str()) != 1) {
    set_error("TLS: cannot set SNI", 0);
    return false;
  }
  // Queue the ClientHello; it can only stop for want of the server's answer.
  const int r = SSL_do_handshake(ssl_);
  if (r == 1 || SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) {
    set_error("TLS handshake failed", r);
    return false;
  }
  return true;
}

void TlsLink::feed(std::span<const std::uint8_t> ciphertext) noexcept {
  in_ = ciphertext;
  // SSL_get_error() needs an empty error queue; failures clear it when they read it, so
  // once per batch of step() calls is enough.
  ERR_clear_error();
}

TlsStep TlsLink::step(std::span<std::uint8_t> out, std::size_t& n) {
  n = 0;
  if (failed_) return TlsStep::error;
  // A WANT_READ with input left means OpenSSL handled a non-data record; go on.
  for (int spins = 0; spins < 64; ++spins) {
    int r = 0;
    if (!established_) {
      r = SSL_do_handshake(ssl_);
      if (r == 1) {
        established_ = true;
        return TlsStep::handshake_done;
      }
    } else {
      r = SSL_read(ssl_, out.data(), static_cast<int>(std::min<std::size_t>(out.size(), INT_MAX)));
      if (r > 0) {
        n = static_cast<std::size_t>(r);
        return TlsStep::data;
      }
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) {
      if (in_.empty()) return TlsStep::need_more;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return TlsStep::closed;
    set_error(established_ ? "TLS error" : "TLS handshake failed", r);
    return TlsStep::error;
  }
  set_error("TLS: no progress on received bytes", 0);
  return TlsStep::error;
}

std::size_t TlsLink::write(std::span<const std::uint8_t> plain) {
  if (failed_ || !established_) return 0;
  std::size_t done = 0;
  ERR_clear_error();
  while (done < plain.size()) {
    const std::size_t chunk = std::min(plain.size() - done, kRecordPlain);
    const int r = SSL_write(ssl_, plain.data() + done, static_cast<int>(chunk));
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) set_error("TLS write failed", r);
    break;
  }
  return done;
}

void TlsLink::close_notify() {
  if (!established_ || failed_ || closing_) return;
  closing_ = true;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // 0: ours is queued; the server's is not waited for
  ERR_clear_error();
}

void TlsLink::abandon() noexcept {
  closing_ = true;
  abandoned_ = true;
  fill_.clear();
  wire_.clear();
  wire_off_ = 0;
  in_ = {};
}

std::string TlsLink::describe() const {
  if (ssl_ == nullptr || !established_) return "";
  std::string s = SSL_get_version(ssl_);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_); c != nullptr) s += std::string(" ") + SSL_CIPHER_get_name(c);
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn_len != 0) s += ", ALPN " + std::string(reinterpret_cast<const char*>(alpn), alpn_len);
  return s;
}

std::span<const std::uint8_t> TlsLink::out_start() noexcept {
  if (wire_off_ >= wire_.size() && !fill_.empty()) {
    wire_.clear();
    wire_off_ = 0;
    wire_.swap(fill_);
  }
  return {wire_.data() + wire_off_, wire_.size() - wire_off_};
}

std::span<const std::uint8_t> TlsLink::out_sent(std::size_t n) noexcept {
  wire_off_ = std::min(wire_.size(), wire_off_ + n);
  if (wire_off_ >= wire_.size()) {
    wire_.clear();
    wire_off_ = 0;
  }
  return {wire_.data() + wire_off_, wire_.size() - wire_off_};
}

int TlsLink::bio_read(char* dst, int len) noexcept {
  const std::size_t n = std::min(in_.size(), static_cast<std::size_t>(len));
  if (n != 0) std::memcpy(dst, in_.data(), n);
  in_ = in_.subspan(n);
  return static_cast<int>(n);
}

int TlsLink::bio_write(const char* src, int len) {
  if (!abandoned_) fill_.insert(fill_.end(), src, src + len);
  return len;
}

void TlsLink::set_error(const char* what, int ret) {
  failed_ = true;
  const int code = ssl_ != nullptr && ret <= 0 ? SSL_get_error(ssl_, ret) : 0;
  std::string why = openssl_reason();
  if (why.empty() && code != 0) why = "SSL_get_error " + std::to_string(code);
  error_ = why.empty() ? std::string(what) : std::string(what) + ": " + why;
}

}  // namespace ringcast::load
