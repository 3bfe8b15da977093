#include "engine/net/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace ringcast::engine {

// The BIO between OpenSSL and a stream: its data pointer is the TlsStream.
struct TlsBio {
  static int write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    return static_cast<TlsStream*>(BIO_get_data(b))->bio_write(data, len) ? len : -1;
  }
  static int read(BIO* b, char* buf, int len) {
    BIO_clear_retry_flags(b);
    int n = static_cast<TlsStream*>(BIO_get_data(b))->bio_read(buf, len);
    if (n == 0) {
      BIO_set_retry_read(b);  // not EOF: the socket's EOF reaches the shard, not OpenSSL
      return -1;
    }
    return n;
  }
  static long ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }
  static BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringcast shard");
      if (meth != nullptr) {
        BIO_meth_set_write(meth, write);
        BIO_meth_set_read(meth, read);
        BIO_meth_set_ctrl(meth, ctrl);
        BIO_meth_set_create(meth, create);
      }
      return meth;
    }();
    return m;
  }
};

TlsStream* TlsStream::create(SslCtx* ctx, FramePool& pool) noexcept {
  BIO_METHOD* meth = TlsBio::method();
  if (meth == nullptr || ctx == nullptr) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(meth);
  auto* t = bio == nullptr ? nullptr : new (std::nothrow) TlsStream(ssl, pool);
  if (t == nullptr) {
    BIO_free(bio);
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, t);
  SSL_set_bio(ssl, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl);
  return t;
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
  if (out_ != nullptr) release_holder(out_, &pool_);
  if (wire_ != nullptr) release_holder(wire_, &pool_);
}

void TlsStreamDelete::operator()(TlsStream* t) const noexcept { delete t; }

int TlsStream::bio_read(char* buf, int len) noexcept {
  std::size_t n = std::min(in_len_, static_cast<std::size_t>(len));
  if (n == 0) return 0;
  std::memcpy(buf, in_, n);
  in_ += n;
  in_len_ -= n;
  return static_cast<int>(n);
}

bool TlsStream::bio_write(const char* data, int len) noexcept {
  auto n = static_cast<std::size_t>(len);
  std::size_t have = out_ == nullptr ? 0 : out_->len;
  if (!sealing_) {
    if (own_ + n > kMaxOutput) return false;
    own_ += static_cast<std::uint32_t>(n);
  }
  // seal() sized the frame for what it writes, so this grows only for handshake flights.
  if (!room_for(n, std::max<std::size_t>((have + n) * 2, 4096))) return false;
  std::memcpy(out_->bytes() + have, data, n);
  out_->len = static_cast<std::uint32_t>(have + n);
  return true;
}

bool TlsStream::room_for(std::size_t n, std::size_t grow_to) noexcept {
  std::size_t have = out_ == nullptr ? 0 : out_->len;
  if (out_ != nullptr && out_->capacity - have >= n) return true;
  Frame* bigger = pool_.acquire(std::max(grow_to, have + n));
  if (bigger == nullptr) return false;
  bigger->holders.store(1, std::memory_order_relaxed);
  if (out_ != nullptr) {
    std::memcpy(bigger->bytes(), out_->bytes(), have);
    release_holder(out_, &pool_);
  }
  bigger->len = static_cast<std::uint32_t>(have);
  out_ = bigger;
  return true;
}

void TlsStream::fail(int ssl_error) noexcept {
  failed_ = true;
  in_len_ = 0;  // nothing after a fatal error is read
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;  // drain: the queue is per thread, shared by every stream
  int reason = ERR_GET_LIB(last) == ERR_LIB_SSL ? ERR_GET_REASON(last) : 0;
  reason_ = last != 0 ? ERR_reason_error_string(last) : (ssl_error == SSL_ERROR_SYSCALL ? "bad record" : "error");
  if (reason_ == nullptr) reason_ = "error";
  if (established_) {
    failure_ = TlsFailure::protocol;
  } else if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) {
    failure_ = TlsFailure::http_on_tls_port;
  } else if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_VERSION_TOO_LOW) {
    // (A bad version in a record header, SSL_R_WRONG_VERSION_NUMBER, is scanner noise,
    // not an old client: protocol.)
    failure_ = TlsFailure::protocol_version;
  } else if (reason == SSL_R_NO_SHARED_CIPHER || reason == SSL_R_NO_SHARED_GROUPS) {
    failure_ = TlsFailure::no_shared_cipher;
  } else {
    failure_ = TlsFailure::protocol;
  }
}

TlsStream::Read TlsStream::read(std::uint8_t* out, std::size_t cap) noexcept {
  if (failed_) {
    in_len_ = 0;
    return {0, Status::failed};
  }
  if (!established_) {
    started_ = true;
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ) return {0, Status::want_more};
      fail(err);
      return {0, Status::failed};
    }
    established_ = true;
  }
  int n = SSL_read(ssl_, out, static_cast<int>(std::min<std::size_t>(cap, INT32_MAX)));
  if (n > 0) return {static_cast<std::size_t>(n), Status::data};
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ) return {0, Status::want_more};
  if (err == SSL_ERROR_ZERO_RETURN) {
    in_len_ = 0;
    return {0, Status::closed};
  }
  fail(err);
  return {0, Status::failed};
}

std::size_t TlsStream::seal(const iovec* iov, std::size_t n, std::size_t budget, std::uint8_t* scratch) noexcept {
  if (failed_ || !established_) return 0;
  std::size_t total = 0;
  for (std::size_t i = 0; i < n && total < budget; ++i) total += iov[i].iov_len;
  total = std::min(total, budget);
  if (total == 0) return 0;
  // Room for the records in one frame: ~22 B (TLS 1.3) to 29 B (1.2 GCM) each, rounded up.
  std::size_t need = total + (total / kRecord + 1) * 64;
  if (!room_for(need, 0)) {
    failed_ = true;
    return 0;
  }
  auto write = [this](const void* p, std::size_t len) {
    sealing_ = true;
    int rc = SSL_write(ssl_, p, static_cast<int>(len));
    sealing_ = false;
    if (rc <= 0) fail(SSL_get_error(ssl_, rc));
    return rc > 0;
  };
  std::size_t sealed = 0, gathered = 0;
  for (std::size_t i = 0; i < n && sealed + gathered < total; ++i) {
    const auto* p = static_cast<const std::uint8_t*>(iov[i].iov_base);
    std::size_t len = std::min(iov[i].iov_len, total - sealed - gathered);
    while (len > 0) {
      if (gathered == 0 && len >= kRecord) {
        // Whole records straight from the frame: no copy for large messages.
        std::size_t chunk = len - len % kRecord;
        if (!write(p, chunk)) return sealed;
        sealed += chunk;
        p += chunk;
        len -= chunk;
        continue;
      }
      std::size_t take = std::min(len, kRecord - gathered);
      std::memcpy(scratch + gathered, p, take);
      gathered += take;
      p += take;
      len -= take;
      if (gathered == kRecord) {
        if (!write(scratch, gathered)) return sealed;
        sealed += gathered;
        gathered = 0;
      }
    }
  }
  if (gathered > 0) {
    if (!write(scratch, gathered)) return sealed;
    sealed += gathered;
  }
  return sealed;
}

void TlsStream::close_notify() noexcept {
  if (notify_sent_ || !established_ || failed_) return;
  notify_sent_ = true;
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();  // 0 is "sent, the peer's not seen yet"
}

std::span<const std::uint8_t> TlsStream::wire() noexcept {
  if (wire_ == nullptr) {
    if (out_ == nullptr || out_->len == 0) return {};
    wire_ = out_;
    out_ = nullptr;
    wire_off_ = 0;
    own_ = 0;
  }
  return {wire_->bytes() + wire_off_, wire_->len - wire_off_};
}

void TlsStream::wire_sent(std::size_t n) noexcept {
  if (wire_ == nullptr) return;
  wire_off_ += static_cast<std::uint32_t>(n);
  if (wire_off_ < wire_->len) return;
  release_holder(wire_, &pool_);
  wire_ = nullptr;
  wire_off_ = 0;
}

}  // namespace ringcast::engine
