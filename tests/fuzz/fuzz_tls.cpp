// The TLS record layer fuzzer: a server TlsStream (engine/net/tls_stream.hpp) fed the input
// as ciphertext, in chunks whose sizes come from the input, read until want_more, failed or
// closed, with seal() (iovec layouts and budgets from the input), wire()/wire_sent() (partial
// sends) and close_notify() in between. In the established modes an in-memory OpenSSL client
// first completes a real handshake (TLS 1.3 or 1.2, EC or RSA certificate); its own records
// (plaintext from the input, optionally corrupted), key updates and close_notify then reach
// the server, and both directions must stay byte-exact until a corruption. Nothing may crash
// or leak; every frame the stream took goes back to the pool.
//
// Input: a mode byte, then operations (see the enum below), each an op byte and its arguments
// (little-endian; a short input reads as zeros). The seeds in tests/corpus/tls/ (real
// ClientHellos of in-memory OpenSSL clients, an HTTP request, established sessions) are
// written by: RINGCAST_FUZZ_TLS_SEEDS=tests/corpus/tls ./fuzz_tls
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_context.hpp"
#include "engine/net/tls_stream.hpp"
#include "tests/support/tls_pair.hpp"

namespace {

using namespace ringcast::engine;
using Bytes = std::vector<std::uint8_t>;
using Status = TlsStream::Status;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_tls: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) broken(what);
}

// ---- set-up: two server contexts (EC and RSA certificates) and the client contexts ----

SslCtx* make_ctx(bool rsa) {
  std::string dir = test::make_tls_dir("fuzz_tls");
  test::TlsPairFiles pair = test::make_tls_pair(dir, "server", rsa);
  TlsConfig cfg;
  cfg.cert_file = pair.cert;
  cfg.key_file = pair.key;
  std::string error;
  SslCtx* ctx = make_tls_context(cfg, error);
  if (ctx == nullptr) broken(error.c_str());
  std::remove(pair.cert.c_str());
  std::remove(pair.key.c_str());
  rmdir(dir.c_str());
  X509_free(pair.x509);
  return ctx;
}

struct Contexts {
  SslCtx* server[2];        // EC, RSA
  SSL_CTX* client[2];       // TLS 1.3, TLS 1.2
  SSL_CTX* old_client;      // TLS 1.0 (seeds only)
  Contexts() {
    server[0] = make_ctx(false);
    server[1] = make_ctx(true);
    for (int i = 0; i < 2; ++i) {
      client[i] = SSL_CTX_new(TLS_client_method());
      check(client[i] != nullptr, "client ctx");
      SSL_CTX_set_min_proto_version(client[i], TLS1_2_VERSION);
      SSL_CTX_set_max_proto_version(client[i], i == 0 ? TLS1_3_VERSION : TLS1_2_VERSION);
      SSL_CTX_set_verify(client[i], SSL_VERIFY_NONE, nullptr);
    }
    old_client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(old_client, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old_client, TLS1_VERSION);
    SSL_CTX_set_cipher_list(old_client, "DEFAULT:@SECLEVEL=0");
  }
};
Contexts* g_ctx = nullptr;

// ---- the input ------------------------------------------------------------------------

class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  std::uint64_t uint(int bytes) {
    std::uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= std::uint64_t{i_ < n_ ? d_[i_++] : std::uint8_t{0}} << (8 * k);
    return v;
  }
  Bytes bytes(std::size_t len) {
    len = std::min(len, n_ - std::min(i_, n_));
    Bytes b(d_ + i_, d_ + i_ + len);
    i_ += len;
    return b;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

enum Op : std::uint8_t {
  kFeed = 0,        // chunk:u8 len:u16 bytes   raw ciphertext (chunk 0: one give)
  kSeal = 1,        // pieces:u8 (size:u16)* budget:u32 (0: no limit)
  kWireSent = 2,    // n:u16 (0xffff: all of wire())
  kCloseNotify = 3,
  kClientWrite = 4, // chunk:u8 len:u16 bytes flip:u16 (0: none; else xor 0x5a at flip-1)
  kKeyUpdate = 5,   // the client's (TLS 1.3), the server answers on its next seal
  kClientClose = 6, // chunk:u8
  kDrain = 7,       // every output byte to the client; it reads
  kOps = 8,
};

// ---- one run ----------------------------------------------------------------------------

struct Run {
  FramePool pool;  // outlives the stream
  TlsPtr tls;
  Bytes scratch = Bytes(TlsStream::kRecord);
  Bytes readbuf = Bytes(TlsStream::kPlainBuffer);
  SSL* client = nullptr;  // established modes
  BIO* c_in = nullptr;
  BIO* c_out = nullptr;
  bool client_ok = false;  // still byte-exact both ways
  bool closed = false;     // Status::closed seen
  bool notified = false;   // our close_notify queued: what the client sends after is not checked
  std::uint64_t sealed_total = 0;  // plaintext bytes sealed (pattern positions)
  std::uint64_t client_got = 0;    // of those, read by the client
  Bytes client_sent, server_got;

  ~Run() { SSL_free(client); }

  static std::uint8_t pattern(std::uint64_t pos) { return static_cast<std::uint8_t>((pos * 131) ^ (pos >> 9)); }

  // Gives `data` in chunks of `chunk` bytes; reads until not data after each.
  Status feed(const std::uint8_t* data, std::size_t len, std::size_t chunk) {
    // Never give(nullptr, 0): TlsStream::bio_read would memcpy from nullptr (reported; the
    // shard always gives a real buffer).
    static const std::uint8_t kNone = 0;
    if (data == nullptr) data = &kNone;
    Status last = Status::want_more;
    if (chunk == 0) chunk = std::max<std::size_t>(len, 1);
    std::size_t off = 0;
    do {
      std::size_t n = std::min(chunk, len - off);
      tls->give(data + off, n);
      off += n;
      for (;;) {
        bool was_failed = tls->failed();
        TlsStream::Read r = tls->read(readbuf.data());
        check(!was_failed || r.status == Status::failed, "read after failure did not fail");
        // The queue is the thread's: an error left in it fails the next stream's SSL_get_error().
        check(ERR_peek_error() == 0, "read() left an error in the thread's queue");
        if (r.status != Status::data) {
          last = r.status;
          break;
        }
        check(r.n > 0 && r.n <= readbuf.size(), "read size");
        check(tls->established(), "plaintext before the handshake");
        server_got.insert(server_got.end(), readbuf.data(), readbuf.data() + r.n);
      }
      if (last == Status::closed) closed = true;
      if (last == Status::failed) {
        check(tls->failed(), "failed status without failed()");
        break;
      }
    } while (off < len);
    return last;
  }

  // Client-side reads of everything it has; checks the plaintext against what was sealed.
  void client_read() {
    if (client == nullptr) return;
    std::uint8_t buf[16384];
    for (;;) {
      int n = SSL_read(client, buf, sizeof buf);
      if (n <= 0) {
        int err = SSL_get_error(client, n);
        ERR_clear_error();
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_ZERO_RETURN) client_ok = false;
        return;
      }
      if (!client_ok) continue;
      for (int i = 0; i < n; ++i) check(buf[i] == pattern(client_got + i), "client read other bytes than sealed");
      client_got += static_cast<std::uint64_t>(n);
      check(client_got <= sealed_total, "client read more than sealed");
    }
  }

  void to_client(std::span<const std::uint8_t> b) {
    if (client != nullptr && !b.empty()) BIO_write(c_in, b.data(), static_cast<int>(b.size()));
  }

  void wire_sent(std::size_t n) {
    std::span<const std::uint8_t> w = tls->wire();
    check(w.empty() == !tls->has_output(), "wire() empty but has_output()");
    if (w.empty()) return;
    std::span<const std::uint8_t> again = tls->wire();
    check(again.data() == w.data() && again.size() == w.size(), "wire() changed before wire_sent()");
    n = std::min(n, w.size());
    to_client(w.first(n));
    tls->wire_sent(n);
  }

  void drain() {
    for (int guard = 0; guard < 1000; ++guard) {
      std::span<const std::uint8_t> w = tls->wire();
      if (w.empty()) break;
      to_client(w);
      tls->wire_sent(w.size());
    }
    check(!tls->has_output(), "output left after draining");
    client_read();
  }

  // Feeds what the client wrote in chunks of `chunk` (optionally one byte flipped).
  void client_flush(std::size_t chunk, std::size_t flip) {
    Bytes b(static_cast<std::size_t>(BIO_ctrl_pending(c_out)));
    if (b.empty()) return;
    BIO_read(c_out, b.data(), static_cast<int>(b.size()));
    if (flip != 0) {
      b[(flip - 1) % b.size()] ^= 0x5a;
      client_ok = false;  // the server may fail now, or read other bytes
    }
    bool was_failed = tls->failed(), was_closed = closed;
    Status st = feed(b.data(), b.size(), chunk);
    if (!client_ok || was_failed || was_closed || notified) return;
    check(st != Status::failed, "the server failed on the client's own records");
    check(server_got == client_sent, "server read other bytes than the client wrote");
  }

  bool handshake() {
    for (int round = 0; round < 10; ++round) {
      int rc = SSL_do_handshake(client);
      if (rc != 1 && SSL_get_error(client, rc) != SSL_ERROR_WANT_READ) broken("client handshake failed");
      ERR_clear_error();
      Bytes up(static_cast<std::size_t>(BIO_ctrl_pending(c_out)));
      if (!up.empty()) {
        BIO_read(c_out, up.data(), static_cast<int>(up.size()));
        check(feed(up.data(), up.size(), 0) == Status::want_more, "server handshake failed");
      }
      drain();
      if (rc == 1 && tls->established()) return true;
    }
    return false;
  }
};

void one_input(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  std::uint8_t mode = static_cast<std::uint8_t>(in.uint(1));
  bool established = (mode & 2) != 0;
  bool tls12 = (mode & 4) != 0;
  Run run;
  run.tls.reset(TlsStream::create(g_ctx->server[mode & 1], run.pool));
  check(run.tls != nullptr, "TlsStream::create");
  if (established) {
    run.client = SSL_new(g_ctx->client[tls12 ? 1 : 0]);
    run.c_in = BIO_new(BIO_s_mem());
    run.c_out = BIO_new(BIO_s_mem());
    SSL_set_bio(run.client, run.c_in, run.c_out);
    SSL_set_connect_state(run.client);
    check(run.handshake(), "no handshake");
    run.client_ok = true;
  }
  TlsStream& t = *run.tls;
  std::size_t ops = 0;
  while (!in.empty() && ops++ < 4096) {
    switch (static_cast<Op>(in.uint(1) % kOps)) {
      case kFeed: {
        std::size_t chunk = in.uint(1);
        Bytes b = in.bytes(in.uint(2));
        if (established) run.client_ok = false;  // raw bytes inside a session
        run.feed(b.data(), b.size(), chunk);
        break;
      }
      case kSeal: {
        std::size_t pieces = in.uint(1) % 65;
        std::vector<Bytes> bufs;
        std::vector<iovec> iov;
        std::size_t total = 0;
        for (std::size_t i = 0; i < pieces; ++i) {
          std::size_t len = std::min<std::size_t>(in.uint(2), (1u << 20) - total);
          Bytes b(len);
          for (std::size_t k = 0; k < len; ++k) b[k] = Run::pattern(run.sealed_total + total + k);
          total += len;
          bufs.push_back(std::move(b));
        }
        for (Bytes& b : bufs) iov.push_back({b.data(), b.size()});
        std::size_t budget = static_cast<std::size_t>(in.uint(4));
        if (budget == 0) budget = SIZE_MAX;
        bool could = t.established() && !t.failed();
        std::size_t sealed = t.seal(iov.data(), iov.size(), budget, run.scratch.data());
        check(sealed <= budget && sealed <= total, "sealed more than the budget or the input");
        check(ERR_peek_error() == 0, "seal() left an error in the thread's queue");
        if (!could) check(sealed == 0, "sealed without a session");
        if (could && !t.failed()) check(sealed == std::min(total, budget), "sealed less than asked");
        run.sealed_total += sealed;  // the next seal continues the pattern here
        break;
      }
      case kWireSent: {
        std::size_t n = in.uint(2);
        run.wire_sent(n == 0xffff ? SIZE_MAX : n);
        break;
      }
      case kCloseNotify:
        t.close_notify();
        check(ERR_peek_error() == 0, "close_notify() left an error in the thread's queue");
        run.notified = true;
        break;
      case kClientWrite: {
        std::size_t chunk = in.uint(1);
        Bytes b = in.bytes(in.uint(2));
        std::size_t flip = in.uint(2);
        if (run.client == nullptr || b.empty()) break;
        if (SSL_write(run.client, b.data(), static_cast<int>(b.size())) <= 0) {
          ERR_clear_error();
          run.client_ok = false;
          break;
        }
        run.client_sent.insert(run.client_sent.end(), b.begin(), b.end());
        run.client_flush(chunk, flip);
        break;
      }
      case kKeyUpdate:
        if (run.client == nullptr || tls12) break;
        if (SSL_key_update(run.client, SSL_KEY_UPDATE_REQUESTED) != 1) {
          ERR_clear_error();
          break;
        }
        // Sent with the next write; an empty write is not one, so write a byte.
        if (SSL_write(run.client, "k", 1) == 1) {
          run.client_sent.push_back('k');
          run.client_flush(0, 0);
        } else {
          ERR_clear_error();
          run.client_ok = false;
        }
        break;
      case kClientClose: {
        std::size_t chunk = in.uint(1);
        if (run.client == nullptr) break;
        SSL_shutdown(run.client);
        ERR_clear_error();
        bool was_ok = run.client_ok && !t.failed() && !run.closed && !run.notified;
        run.client_flush(chunk, 0);
        if (was_ok) check(run.closed, "the client's close_notify did not give closed");
        run.client_ok = false;  // the client sends nothing more
        break;
      }
      case kDrain:
        run.drain();
        break;
      case kOps:
        break;
    }
  }
  run.drain();
  if (run.client != nullptr && run.client_ok && !t.failed()) {
    check(run.client_got == run.sealed_total, "the client did not get everything sealed");
  }
  ERR_clear_error();
}

// ---- seeds ------------------------------------------------------------------------------

void put16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& b, std::size_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}
Bytes client_hello(SSL_CTX* ctx, const char* alpn, std::size_t alpn_len) {
  SSL* ssl = SSL_new(ctx);
  BIO* rb = BIO_new(BIO_s_mem());
  BIO* wb = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rb, wb);
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (alpn != nullptr) {
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn), static_cast<unsigned>(alpn_len));
  }
  SSL_do_handshake(ssl);
  ERR_clear_error();
  Bytes b(static_cast<std::size_t>(BIO_ctrl_pending(wb)));
  BIO_read(wb, b.data(), static_cast<int>(b.size()));
  SSL_free(ssl);
  return b;
}
Bytes feed_op(const Bytes& data, std::size_t chunk) {
  Bytes b = {kFeed, static_cast<std::uint8_t>(chunk)};
  put16(b, data.size());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
Bytes session_ops() {
  Bytes b;
  b.push_back(kClientWrite);
  b.push_back(0);
  put16(b, 100);
  for (int i = 0; i < 100; ++i) b.push_back(static_cast<std::uint8_t>('a' + i % 26));
  put16(b, 0);
  b.push_back(kSeal);
  b.push_back(3);
  put16(b, 64);
  put16(b, 20000);
  put16(b, 1);
  put32(b, 0);
  b.push_back(kWireSent);
  put16(b, 1000);
  b.push_back(kSeal);
  b.push_back(1);
  put16(b, 40000);
  put32(b, 16384);
  b.push_back(kDrain);
  b.push_back(kClientWrite);
  b.push_back(7);
  put16(b, 3);
  b.insert(b.end(), {'x', 'y', 'z'});
  put16(b, 0);
  b.push_back(kCloseNotify);
  b.push_back(kDrain);
  b.push_back(kClientClose);
  b.push_back(0);
  return b;
}

void write_seeds(const char* dir) {
  auto save = [dir](const char* name, const Bytes& b) {
    std::string path = std::string(dir) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, "cannot write a seed");
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  };
  static const char kAlpn[] = "\x02h2\x08http/1.1";
  auto raw = [](std::uint8_t mode, const Bytes& ops) {
    Bytes b = {mode};
    b.insert(b.end(), ops.begin(), ops.end());
    return b;
  };
  save("client_hello_tls13", raw(0, feed_op(client_hello(g_ctx->client[0], kAlpn, sizeof kAlpn - 1), 0)));
  save("client_hello_tls13_rsa_chunked", raw(1, feed_op(client_hello(g_ctx->client[0], nullptr, 0), 7)));
  save("client_hello_tls12", raw(0, feed_op(client_hello(g_ctx->client[1], kAlpn, sizeof kAlpn - 1), 0)));
  save("client_hello_tls10", raw(0, feed_op(client_hello(g_ctx->old_client, nullptr, 0), 0)));
  const char* get = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n";
  save("http_get", raw(0, feed_op(Bytes(get, get + std::strlen(get)), 0)));
  save("session_tls13", raw(2, session_ops()));
  save("session_tls12_rsa", raw(2 | 4 | 1, session_ops()));
  Bytes ku = {kKeyUpdate, kSeal, 1};
  put16(ku, 5000);
  put32(ku, 0);
  ku.insert(ku.end(), {kDrain, kKeyUpdate, kDrain});
  save("session_tls13_key_update", raw(2, ku));
  Bytes bad = {kClientWrite, 0};
  put16(bad, 50);
  for (int i = 0; i < 50; ++i) bad.push_back('q');
  put16(bad, 20);
  save("session_tls13_corrupt_record", raw(2, bad));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_ctx = new Contexts();
  if (const char* dir = std::getenv("RINGCAST_FUZZ_TLS_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  one_input(data, size);
  return 0;
}
