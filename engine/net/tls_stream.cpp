#include "engine/net/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
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

// The application traffic secrets as OpenSSL's key-log callback reports them, and the
// records the server sent under its secret before the hand-over (TLS 1.3 session tickets).
struct TlsStream::Handover {
  std::uint8_t client[protocol::tls13::kMaxSecret], server[protocol::tls13::kMaxSecret];
  std::uint8_t client_len = 0, server_len = 0;
  std::uint32_t tickets = 0;
  ~Handover() {
    OPENSSL_cleanse(client, sizeof client);
    OPENSSL_cleanse(server, sizeof server);
  }
};

struct TlsCallbacks {
  static TlsStream::Handover* of(const SSL* ssl) {
    auto* t = static_cast<TlsStream*>(SSL_get_app_data(ssl));
    return t == nullptr ? nullptr : t->handover_.get();
  }
  // "LABEL <client random> <secret>", hex: only the two application secrets are kept.
  static void keylog(const SSL* ssl, const char* line) {
    TlsStream::Handover* h = of(ssl);
    if (h == nullptr) return;
    std::uint8_t* dst = nullptr;
    std::uint8_t* len = nullptr;
    if (std::strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
      dst = h->client, len = &h->client_len;
    } else if (std::strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
      dst = h->server, len = &h->server_len;
    } else {
      return;
    }
    const char* hex = std::strchr(line + 24, ' ');
    if (hex == nullptr) return;
    std::size_t n = 0;
    for (++hex; hex[0] != '\0' && hex[1] != '\0' && n < protocol::tls13::kMaxSecret; hex += 2) {
      int hi = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[0]));
      int lo = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[1]));
      if (hi < 0 || lo < 0) return;
      dst[n++] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    *len = static_cast<std::uint8_t>(n);
  }
  static int ticket_generated(SSL* ssl, void*) {
    if (TlsStream::Handover* h = of(ssl)) ++h->tickets;
    return 1;
  }
};

void TlsStream::prepare_context(SslCtx* ctx) noexcept {
  SSL_CTX_set_keylog_callback(ctx, TlsCallbacks::keylog);
  SSL_CTX_set_session_ticket_cb(ctx, TlsCallbacks::ticket_generated, nullptr, nullptr);
}

TlsStream::TlsStream(ssl_st* ssl, FramePool& pool) noexcept : ssl_(ssl), pool_(pool) {}

TlsStream* TlsStream::create(SslCtx* ctx, FramePool& pool, Layer layer) noexcept {
  BIO_METHOD* meth = TlsBio::method();
  if (meth == nullptr || ctx == nullptr) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(meth);
  auto* t = bio == nullptr ? nullptr : new (std::nothrow) TlsStream(ssl, pool);
  if (t != nullptr && layer == Layer::records) {
    t->handover_.reset(new (std::nothrow) Handover);
    if (t->handover_ == nullptr) {
      t->ssl_ = nullptr;  // freed below
      delete t;
      t = nullptr;
    }
  }
  if (t == nullptr) {
    BIO_free(bio);
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, t);
  SSL_set_app_data(ssl, t);
  SSL_set_bio(ssl, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl);
  return t;
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);  // (nullptr after the hand-over)
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

TlsStream::Read TlsStream::read(std::uint8_t* out) noexcept {
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
    hand_over();
  }
  if (ssl_ == nullptr) return read_records(out);
  int n = SSL_read(ssl_, out, static_cast<int>(kPlainBuffer));
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

void TlsStream::hand_over() noexcept {
  std::unique_ptr<Handover> h = std::move(handover_);
  if (h == nullptr || SSL_version(ssl_) != TLS1_3_VERSION || h->client_len == 0 || h->server_len == 0) return;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  auto suite = cipher == nullptr ? std::nullopt : protocol::tls13::suite_from_id(SSL_CIPHER_get_protocol_id(cipher));
  // OpenSSL reads record by record (no read-ahead): nothing of the client's can be inside it.
  if (!suite || SSL_has_pending(ssl_) != 0) return;
  if (!records_.init(*suite, {h->client, h->client_len}, {h->server, h->server_len}, h->tickets)) return;
  SSL_free(ssl_);
  ssl_ = nullptr;
}

bool TlsStream::take_partial(std::size_t n) noexcept {
  n = std::min(n, in_len_);
  if (!partial_.append(in_, n)) return false;
  in_ += n;
  in_len_ -= n;
  return true;
}

TlsStream::Read TlsStream::read_records(std::uint8_t* out) noexcept {
  using protocol::tls13::Records;
  for (;;) {
    const std::uint8_t* record = in_;
    std::size_t size = 0;
    if (partial_.empty()) {
      size = records_.record_size(in_, in_len_);
      if (size == Records::kBadHeader) return fail_records();
      if (size == 0 || size > in_len_) {  // the record goes on in a later receive
        if (in_len_ > 0 && !take_partial(in_len_)) return fail_records();
        return {0, Status::want_more};
      }
      in_ += size;
      in_len_ -= size;
    } else {
      if (!take_partial(protocol::tls13::kHeader - std::min(partial_.size(), protocol::tls13::kHeader))) {
        return fail_records();
      }
      size = records_.record_size(partial_.data(), partial_.size());
      if (size == Records::kBadHeader) return fail_records();
      if (size == 0) return {0, Status::want_more};
      if (!take_partial(size - partial_.size())) return fail_records();
      if (partial_.size() < size) return {0, Status::want_more};
      record = partial_.data();
    }
    Records::Opened o = records_.open(record, size, out);
    if (!partial_.empty()) partial_.clear();
    switch (o.got) {
      case Records::Got::data:
        if (o.n > 0) return {o.n, Status::data};
        break;
      case Records::Got::nothing:
        break;
      case Records::Got::closed:
        in_len_ = 0;
        return {0, Status::closed};
      case Records::Got::failed:
        return fail_records();
    }
  }
}

TlsStream::Read TlsStream::fail_records() noexcept {
  failed_ = true;
  in_len_ = 0;
  partial_.clear();
  failure_ = TlsFailure::protocol;
  reason_ = records_.failure() != nullptr ? records_.failure() : "out of memory";
  if (auto alert = records_.alert(); alert && room_for(protocol::tls13::kOverhead + 2, 256)) {
    out_->len += static_cast<std::uint32_t>(records_.seal_alert(*alert, out_->bytes() + out_->len));
  }
  return {0, Status::failed};
}

static_assert(protocol::tls13::Records::kSealSlack <= 64, "seal() reserves 64 bytes a record");

bool TlsStream::write_records(const std::uint8_t* p, std::size_t len) noexcept {
  // seal() made room: kRecord plus 64 bytes per record (Records::kSealSlack fits in it).
  while (len > 0) {
    std::size_t take = std::min(len, kRecord);
    std::size_t n = records_.seal({p, take}, out_->bytes() + out_->len);
    if (n == 0) {
      (void)fail_records();
      return false;
    }
    out_->len += static_cast<std::uint32_t>(n);
    p += take;
    len -= take;
  }
  return true;
}

std::size_t TlsStream::seal(const iovec* iov, std::size_t n, std::size_t budget, std::uint8_t* scratch) noexcept {
  if (failed_ || !established_) return 0;
  if (notify_sent_) {  // nothing may follow our close_notify (OpenSSL's SSL_write refuses too)
    failed_ = true;
    reason_ = "data after our close_notify";
    return 0;
  }
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
  auto write = [this](const std::uint8_t* p, std::size_t len) {
    if (ssl_ == nullptr) return write_records(p, len);
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
  if (ssl_ == nullptr) {
    if (room_for(protocol::tls13::kOverhead + 2, 256)) {
      out_->len += static_cast<std::uint32_t>(
          records_.seal_alert(protocol::tls13::Alert::close_notify, out_->bytes() + out_->len));
    }
    return;
  }
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
