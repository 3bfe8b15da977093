// TlsStream (engine/net/tls_stream.hpp) against an in-memory OpenSSL client, and the
// context store (engine/net/tls_context.hpp): TLS 1.2 and 1.3 handshakes and ALPN,
// plaintext both ways byte-exact (0 B to 16 MiB, whole or one byte at a time), record
// packing by seal() and its budget, partial sends of the wire frame, close_notify both
// ways, TLS 1.3 key updates, refused renegotiation, ticket resumption, handshake failure
// classification, and context load/reload. Certificates are made in the test (OpenSSL
// API, temporary PEM files).
#include "engine/net/tls_stream.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_context.hpp"
#include "tests/support/tls_pair.hpp"

namespace ringcast::engine {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = TlsStream::Status;
namespace fs = std::filesystem;

// ---- certificates --------------------------------------------------------------------

using KeyPair = test::TlsPairFiles;

void write_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

// Made once per process; the directory goes at exit.
struct Certs {
  fs::path dir;
  KeyPair ec, rsa, ec2;
  Certs() {
    dir = test::make_tls_dir("ringcast-tls");
    ec = make("ec", false, 1);
    rsa = make("rsa", true, 2);
    ec2 = make("ec2", false, 3);
  }
  ~Certs() {
    for (KeyPair* k : {&ec, &rsa, &ec2}) X509_free(k->x509);
    std::error_code ec_ignored;
    fs::remove_all(dir, ec_ignored);
  }
  KeyPair make(const std::string& name, bool rsa_key, long serial) {
    return test::make_tls_pair(dir.string(), name, rsa_key, serial);
  }
};

const Certs& certs() {
  static Certs c;
  return c;
}

TlsConfig config_of(const KeyPair& k) {
  TlsConfig cfg;
  cfg.cert_file = k.cert;
  cfg.key_file = k.key;
  return cfg;
}

struct CtxFree {
  void operator()(SslCtx* c) const noexcept { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SslCtx, CtxFree>;

CtxPtr server_ctx(const KeyPair& k) {
  std::string error;
  CtxPtr ctx(make_tls_context(config_of(k), error));
  EXPECT_NE(ctx, nullptr) << error;
  return ctx;
}

// ---- the in-memory client ------------------------------------------------------------

struct ClientOptions {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  const char* ciphers = nullptr;  // TLS 1.2 and older
  const char* suites = nullptr;   // TLS 1.3
  std::vector<std::string> alpn = {};
};

class Client {
 public:
  explicit Client(const ClientOptions& o = {}) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    EXPECT_NE(ctx_, nullptr);
    SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (o.ciphers != nullptr) {
      EXPECT_EQ(SSL_CTX_set_cipher_list(ctx_, o.ciphers), 1) << o.ciphers;
    }
    if (o.suites != nullptr) {
      EXPECT_EQ(SSL_CTX_set_ciphersuites(ctx_, o.suites), 1) << o.suites;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (!o.alpn.empty()) {
      Bytes wire;
      for (const std::string& p : o.alpn) {
        wire.push_back(static_cast<std::uint8_t>(p.size()));
        wire.insert(wire.end(), p.begin(), p.end());
      }
      EXPECT_EQ(SSL_set_alpn_protos(ssl_, wire.data(), static_cast<unsigned>(wire.size())), 0);
    }
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  SSL* ssl() { return ssl_; }

  // Ciphertext for the server.
  Bytes take() {
    Bytes b(static_cast<std::size_t>(BIO_ctrl_pending(out_)));
    if (!b.empty()) {
      EXPECT_EQ(BIO_read(out_, b.data(), static_cast<int>(b.size())), static_cast<int>(b.size()));
    }
    return b;
  }
  // Ciphertext from the server.
  void put(const Bytes& b) {
    if (!b.empty()) {
      EXPECT_EQ(BIO_write(in_, b.data(), static_cast<int>(b.size())), static_cast<int>(b.size()));
    }
  }
  // 1: done, 0: wants more, -1: failed.
  int step() {
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) return 1;
    int err = SSL_get_error(ssl_, rc);
    ERR_clear_error();  // the error queue is per thread: keep the client's out of the server's
    return err == SSL_ERROR_WANT_READ ? 0 : -1;
  }
  void write(const Bytes& b) {
    std::size_t off = 0;
    while (off < b.size()) {
      int n = static_cast<int>(std::min<std::size_t>(b.size() - off, 1 << 20));
      int rc = SSL_write(ssl_, b.data() + off, n);
      ASSERT_EQ(rc, n) << SSL_get_error(ssl_, rc);
      off += static_cast<std::size_t>(n);
    }
  }
  // Everything readable now; `zero_return` when the server's close_notify arrived.
  Bytes read_all() {
    Bytes got;
    std::uint8_t buf[16384];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        got.insert(got.end(), buf, buf + n);
        continue;
      }
      last_error = SSL_get_error(ssl_, n);
      if (last_error == SSL_ERROR_ZERO_RETURN) zero_return = true;
      ERR_clear_error();
      return got;
    }
  }
  int last_error = 0;
  bool zero_return = false;

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

// ---- the server side -----------------------------------------------------------------

struct Server {
  FramePool pool;  // outlives the stream, which returns its frames to it
  TlsPtr tls;
  Bytes plain;  // every plaintext byte read
  Bytes scratch = Bytes(TlsStream::kRecord);

  TlsStream::Layer layer;

  explicit Server(SslCtx* ctx, TlsStream::Layer l = TlsStream::Layer::records)
      : tls(TlsStream::create(ctx, pool, l)), layer(l) {
    EXPECT_NE(tls, nullptr);
  }

  // Gives `len` bytes and reads until something else than data.
  Status feed(const std::uint8_t* data, std::size_t len) {
    Bytes buf(TlsStream::kPlainBuffer);
    tls->give(data, len);
    for (;;) {
      TlsStream::Read r = tls->read(buf.data());
      if (r.status != Status::data) return r.status;
      EXPECT_GT(r.n, 0u);
      EXPECT_LE(r.n, buf.size());
      plain.insert(plain.end(), buf.data(), buf.data() + r.n);
    }
  }
  Status feed(const Bytes& b) { return feed(b.data(), b.size()); }
  Status feed(const std::string& s) { return feed(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

  // All the output, as the shard sends it: one wire() frame at a time.
  Bytes drain() {
    Bytes out;
    for (;;) {
      std::span<const std::uint8_t> w = tls->wire();
      if (w.empty()) break;
      out.insert(out.end(), w.begin(), w.end());
      tls->wire_sent(w.size());
    }
    EXPECT_FALSE(tls->has_output());
    return out;
  }
};

// Runs the handshake to its end on both sides (and the client reads the tickets).
::testing::AssertionResult handshake(Client& c, Server& s) {
  for (int i = 0; i < 10; ++i) {
    int rc = c.step();
    if (rc < 0) return ::testing::AssertionFailure() << "client failed in round " << i;
    Bytes up = c.take();
    if (!up.empty()) {
      Status st = s.feed(up);
      if (st == Status::failed) return ::testing::AssertionFailure() << "server failed: " << s.tls->reason();
      if (st != Status::want_more) return ::testing::AssertionFailure() << "server status " << int(st);
    }
    c.put(s.drain());
    if (rc == 1 && s.tls->established()) {
      if (!c.read_all().empty()) return ::testing::AssertionFailure() << "unexpected plaintext";
      // TLS 1.3 leaves OpenSSL for Records after the handshake; TLS 1.2 stays.
      bool records = SSL_version(c.ssl()) == TLS1_3_VERSION && s.layer == TlsStream::Layer::records;
      if (s.tls->own_records() != records) {
        return ::testing::AssertionFailure() << "own_records() is " << s.tls->own_records();
      }
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no end after 10 rounds";
}

Bytes pattern(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

struct Record {
  std::uint8_t type;
  std::size_t len;
};
// Splits ciphertext at the 5-byte record headers; `whole` when it ends on a boundary.
std::vector<Record> records(const Bytes& b, bool* whole = nullptr) {
  std::vector<Record> out;
  std::size_t i = 0;
  while (i + 5 <= b.size()) {
    std::size_t len = (std::size_t{b[i + 3]} << 8) | b[i + 4];
    if (i + 5 + len > b.size()) break;
    out.push_back({b[i], len});
    i += 5 + len;
  }
  if (whole != nullptr) *whole = i == b.size();
  return out;
}
constexpr std::uint8_t kAlert = 21, kHandshake = 22, kAppData = 23;

// A cursor over queued plaintext, consumed like SendQueue::complete(sealed).
struct Queue {
  std::vector<iovec> iov;
  std::size_t first = 0, off = 0;
  bool empty() const { return first == iov.size(); }
  std::vector<iovec> view() const {
    std::vector<iovec> v(iov.begin() + static_cast<std::ptrdiff_t>(first), iov.end());
    if (!v.empty()) {
      v[0].iov_base = static_cast<std::uint8_t*>(v[0].iov_base) + off;
      v[0].iov_len -= off;
    }
    return v;
  }
  std::size_t remaining() const {
    std::size_t n = 0;
    for (const iovec& v : view()) n += v.iov_len;
    return n;
  }
  void complete(std::size_t n) {
    while (n > 0 && first < iov.size()) {
      std::size_t left = iov[first].iov_len - off;
      std::size_t take = std::min(left, n);
      off += take;
      n -= take;
      if (off == iov[first].iov_len) {
        ++first;
        off = 0;
      }
    }
    while (first < iov.size() && iov[first].iov_len == 0) ++first;
  }
};

// `msg` cut into iovecs of `piece` bytes (0: one iovec).
Queue queue_of(Bytes& msg, std::size_t piece) {
  Queue q;
  if (piece == 0) piece = std::max<std::size_t>(msg.size(), 1);
  for (std::size_t i = 0; i < msg.size(); i += piece) {
    q.iov.push_back({msg.data() + i, std::min(piece, msg.size() - i)});
  }
  return q;
}

// Seals all of `q` with `budget` per call; returns the number of calls.
std::size_t seal_all(Server& s, Queue& q, std::size_t budget) {
  std::size_t calls = 0;
  while (!q.empty()) {
    std::vector<iovec> v = q.view();
    std::size_t want = std::min(budget, q.remaining());
    std::size_t sealed = s.tls->seal(v.data(), v.size(), budget, s.scratch.data());
    EXPECT_EQ(sealed, want);
    EXPECT_FALSE(s.tls->failed());
    if (sealed == 0) break;
    q.complete(sealed);
    ++calls;
  }
  return calls;
}

std::string alpn_of(SSL* ssl) {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

// The 16 MiB message: made once.
const Bytes& big_message() {
  static const Bytes b = pattern(16u << 20, 16);
  return b;
}

// ---- handshakes ----------------------------------------------------------------------

TEST(TlsHandshake, Tls13WithAlpnHttp11) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c({.alpn = {"h2", "http/1.1"}});
  ASSERT_TRUE(handshake(c, s));
  EXPECT_EQ(SSL_version(c.ssl()), TLS1_3_VERSION);
  EXPECT_EQ(alpn_of(c.ssl()), "http/1.1");
  EXPECT_FALSE(s.tls->failed());
  EXPECT_TRUE(s.plain.empty());
}

TEST(TlsHandshake, Tls12EcdsaAndRsaWithAlpnHttp11) {
  for (const KeyPair* k : {&certs().ec, &certs().rsa}) {
    SCOPED_TRACE(k->cert);
    CtxPtr ctx = server_ctx(*k);
    Server s(ctx.get());
    Client c({.max_version = TLS1_2_VERSION, .alpn = {"http/1.1"}});
    ASSERT_TRUE(handshake(c, s));
    EXPECT_EQ(SSL_version(c.ssl()), TLS1_2_VERSION);
    EXPECT_EQ(alpn_of(c.ssl()), "http/1.1");
    // Forward secrecy and AEAD only.
    const SSL_CIPHER* cipher = SSL_get_current_cipher(c.ssl());
    ASSERT_NE(cipher, nullptr);
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(cipher), NID_kx_ecdhe);
    EXPECT_TRUE(SSL_CIPHER_is_aead(cipher));
  }
}

TEST(TlsHandshake, ClientOfferingOnlyH2ConnectsWithoutAlpn) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Client c({.max_version = version, .alpn = {"h2"}});
    ASSERT_TRUE(handshake(c, s)) << version;
    EXPECT_EQ(alpn_of(c.ssl()), "");
    Bytes hello = pattern(100, 1);
    c.write(hello);
    EXPECT_EQ(s.feed(c.take()), Status::want_more);
    EXPECT_EQ(s.plain, hello);
  }
}

TEST(TlsHandshake, NoAlpnOfferedConnects) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c;
  ASSERT_TRUE(handshake(c, s));
  EXPECT_EQ(alpn_of(c.ssl()), "");
}

// Every byte in its own give() and every output byte in its own wire_sent(1).
TEST(TlsHandshake, OneByteAtATimeBothWays) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Client c({.max_version = version});
    auto trickle_down = [&] {
      for (;;) {
        std::span<const std::uint8_t> w = s.tls->wire();
        if (w.empty()) break;
        c.put(Bytes{w[0]});
        s.tls->wire_sent(1);
      }
    };
    bool done = false;
    for (int round = 0; round < 10 && !done; ++round) {
      int rc = c.step();
      ASSERT_GE(rc, 0);
      for (std::uint8_t b : c.take()) ASSERT_EQ(s.feed(&b, 1), Status::want_more);
      trickle_down();
      done = rc == 1 && s.tls->established();
    }
    ASSERT_TRUE(done);
    EXPECT_TRUE(c.read_all().empty());
    Bytes msg = pattern(40000, 2);
    c.write(msg);
    for (std::uint8_t b : c.take()) ASSERT_EQ(s.feed(&b, 1), Status::want_more);
    EXPECT_EQ(s.plain, msg);
    Queue q = queue_of(msg, 0);
    seal_all(s, q, SIZE_MAX);
    trickle_down();
    EXPECT_EQ(c.read_all(), msg);
  }
}

// The client's Finished and its first message in one give().
TEST(TlsHandshake, DataInTheSameGiveAsTheFinished) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Client c({.max_version = version});
    ASSERT_EQ(c.step(), 0);
    ASSERT_EQ(s.feed(c.take()), Status::want_more);  // ClientHello
    c.put(s.drain());
    int rc = c.step();
    Bytes msg = pattern(3000, 3);
    if (version == TLS1_3_VERSION) {
      ASSERT_EQ(rc, 1);
      c.write(msg);  // right behind the Finished
      ASSERT_EQ(s.feed(c.take()), Status::want_more);
    } else {
      ASSERT_EQ(rc, 0);  // waits for the server's Finished
      ASSERT_EQ(s.feed(c.take()), Status::want_more);
      c.put(s.drain());
      ASSERT_EQ(c.step(), 1);
      c.write(msg);
      ASSERT_EQ(s.feed(c.take()), Status::want_more);
    }
    EXPECT_TRUE(s.tls->established());
    EXPECT_EQ(s.plain, msg);
  }
}

// ---- plaintext both ways ---------------------------------------------------------------

// TLS 1.2 (OpenSSL's records) and TLS 1.3 in each suite Records takes over.
// (and TLS 1.3 kept in OpenSSL, as a suite Records does not take would be).
struct Variant {
  int version;
  const char* suites;
  const char* name;
  TlsStream::Layer layer = TlsStream::Layer::records;
};
constexpr Variant kVariants[] = {
    {TLS1_2_VERSION, nullptr, "Tls12"},
    {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", "Tls13Aes128Gcm"},
    {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", "Tls13Aes256Gcm"},
    {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", "Tls13Chacha20Poly1305"},
    {TLS1_3_VERSION, nullptr, "Tls13InOpenSsl", TlsStream::Layer::openssl},
};
std::string variant_name(const ::testing::TestParamInfo<Variant>& p) { return p.param.name; }

class TlsData : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    ctx_ = server_ctx(certs().ec);
    s_ = std::make_unique<Server>(ctx_.get(), GetParam().layer);
    c_ = std::make_unique<Client>(ClientOptions{.max_version = GetParam().version, .suites = GetParam().suites});
    ASSERT_TRUE(handshake(*c_, *s_));
    ASSERT_EQ(SSL_version(c_->ssl()), GetParam().version);
    if (GetParam().suites != nullptr) {
      EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(c_->ssl())), GetParam().suites);
    }
  }
  // Client -> server, byte-exact.
  void up(const Bytes& msg) {
    s_->plain.clear();
    c_->write(msg);
    ASSERT_EQ(s_->feed(c_->take()), Status::want_more);
    ASSERT_EQ(s_->plain.size(), msg.size());
    EXPECT_TRUE(s_->plain == msg);
  }
  // Server -> client through iovecs of `piece` bytes and `budget` per seal, byte-exact.
  void down(Bytes msg, std::size_t piece, std::size_t budget) {
    Queue q = queue_of(msg, piece);
    seal_all(*s_, q, budget);
    Bytes wire = s_->drain();
    bool whole = false;
    std::vector<Record> recs = records(wire, &whole);
    EXPECT_TRUE(whole);
    for (const Record& r : recs) {
      EXPECT_EQ(r.type, kAppData);
      EXPECT_LE(r.len, TlsStream::kRecord + 256);
    }
    c_->put(wire);
    Bytes got = c_->read_all();
    ASSERT_EQ(got.size(), msg.size());
    EXPECT_TRUE(got == msg);
  }
  CtxPtr ctx_;
  std::unique_ptr<Server> s_;
  std::unique_ptr<Client> c_;
};

TEST_P(TlsData, ClientToServerByteExact) {
  // 0 B: nothing on the wire, nothing read.
  Bytes buf(TlsStream::kPlainBuffer);
  s_->tls->give(buf.data(), 0);
  EXPECT_EQ(s_->tls->read(buf.data()).status, Status::want_more);
  for (std::size_t n : {1u, 2u, 100u, 16383u, 16384u, 16385u, 65536u}) {
    SCOPED_TRACE(n);
    up(pattern(n, static_cast<std::uint32_t>(n)));
  }
  up(big_message());
  EXPECT_FALSE(s_->tls->failed());
}

TEST_P(TlsData, ServerToClientByteExact) {
  // 0 B: nothing sealed, no record.
  iovec none{nullptr, 0};
  EXPECT_EQ(s_->tls->seal(&none, 1, SIZE_MAX, s_->scratch.data()), 0u);
  EXPECT_EQ(s_->tls->seal(nullptr, 0, SIZE_MAX, s_->scratch.data()), 0u);
  EXPECT_FALSE(s_->tls->has_output());
  for (std::size_t n : {1u, 2u, 100u, 16383u, 16384u, 16385u, 65536u}) {
    SCOPED_TRACE(n);
    down(pattern(n, static_cast<std::uint32_t>(n)), 0, SIZE_MAX);               // one iovec, one seal
    down(pattern(n, static_cast<std::uint32_t>(n + 1)), 0, TlsStream::kSealBudget);  // the shard's budget
    down(pattern(n, static_cast<std::uint32_t>(n + 2)), 1000, TlsStream::kSealBudget);
  }
  down(big_message(), 0, SIZE_MAX);
  down(big_message(), 0, TlsStream::kSealBudget);
  down(big_message(), 4096 + 7, TlsStream::kSealBudget);
}

TEST_P(TlsData, ZeroLengthIovecsAreSkipped) {
  Bytes a = pattern(100, 1), b = pattern(20000, 2);
  Queue q;
  q.iov = {{nullptr, 0}, {a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {nullptr, 0}};
  std::vector<iovec> v = q.view();
  EXPECT_EQ(s_->tls->seal(v.data(), v.size(), SIZE_MAX, s_->scratch.data()), a.size() + b.size());
  Bytes wire = s_->drain();
  EXPECT_EQ(records(wire).size(), 2u);
  c_->put(wire);
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(c_->read_all(), want);
}

TEST_P(TlsData, EchoManyRoundTrips) {
  for (std::uint32_t i = 0; i < 200; ++i) {
    Bytes msg = pattern(1 + (i * 977) % 40000, i);
    up(msg);
    down(msg, 1 + i % 300, TlsStream::kSealBudget);
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsData, ::testing::ValuesIn(kVariants), variant_name);

// ---- seal(): record packing and budget ---------------------------------------------------

using TlsSeal = TlsData;

TEST_P(TlsSeal, HundredSmallIovecsMakeOneRecord) {
  Bytes msg = pattern(100 * 64, 5);
  Queue q = queue_of(msg, 64);
  ASSERT_EQ(q.iov.size(), 100u);
  std::vector<iovec> v = q.view();
  EXPECT_EQ(s_->tls->seal(v.data(), v.size(), SIZE_MAX, s_->scratch.data()), msg.size());
  Bytes wire = s_->drain();
  bool whole = false;
  std::vector<Record> recs = records(wire, &whole);
  EXPECT_TRUE(whole);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].type, kAppData);
  c_->put(wire);
  EXPECT_EQ(c_->read_all(), msg);
}

TEST_P(TlsSeal, FortyKiBMakesThreeFullRecords) {
  // One iovec (whole records straight from it), 64 B pieces (gathered), and a small piece
  // in front of a large one (gathered, then straight).
  for (std::size_t piece : {0u, 64u, 1u << 20}) {
    SCOPED_TRACE(piece);
    Bytes msg = pattern(40u << 10, 6);
    Queue q = queue_of(msg, piece);
    if (piece == 1u << 20) q.iov = {{msg.data(), 100}, {msg.data() + 100, msg.size() - 100}};
    std::vector<iovec> v = q.view();
    EXPECT_EQ(s_->tls->seal(v.data(), v.size(), SIZE_MAX, s_->scratch.data()), msg.size());
    Bytes wire = s_->drain();
    bool whole = false;
    std::vector<Record> recs = records(wire, &whole);
    EXPECT_TRUE(whole);
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[0].len, recs[1].len);  // both full (16 KiB of plaintext)
    EXPECT_LT(recs[2].len, recs[0].len);
    EXPECT_GT(recs[0].len, TlsStream::kRecord);
    c_->put(wire);
    EXPECT_EQ(c_->read_all(), msg);
  }
}

TEST_P(TlsSeal, BudgetIsRespectedAndTheRestSealsNext) {
  {
    Bytes msg = pattern(100 * 64, 8);
    Queue q = queue_of(msg, 64);
    std::vector<iovec> v = q.view();
    ASSERT_EQ(s_->tls->seal(v.data(), v.size(), 1000, s_->scratch.data()), 1000u);  // mid-iovec
    q.complete(1000);
    Bytes first = s_->drain();
    EXPECT_EQ(records(first).size(), 1u);
    c_->put(first);
    Bytes got = c_->read_all();
    EXPECT_EQ(got, Bytes(msg.begin(), msg.begin() + 1000));
    v = q.view();
    ASSERT_EQ(s_->tls->seal(v.data(), v.size(), SIZE_MAX, s_->scratch.data()), msg.size() - 1000);
    Bytes second = s_->drain();
    EXPECT_EQ(records(second).size(), 1u);
    c_->put(second);
    Bytes rest = c_->read_all();
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, msg);
  }
  {
    // A large iovec cut by the budget: 20000 = one full record + 3616 B.
    Bytes msg = pattern(40u << 10, 9);
    Queue q = queue_of(msg, 0);
    std::vector<iovec> v = q.view();
    ASSERT_EQ(s_->tls->seal(v.data(), v.size(), 20000, s_->scratch.data()), 20000u);
    q.complete(20000);
    Bytes wire = s_->drain();
    EXPECT_EQ(records(wire).size(), 2u);
    v = q.view();
    ASSERT_EQ(s_->tls->seal(v.data(), v.size(), 20000, s_->scratch.data()), 20000u);
    q.complete(20000);
    v = q.view();
    ASSERT_EQ(s_->tls->seal(v.data(), v.size(), 20000, s_->scratch.data()), msg.size() - 40000);
    Bytes more = s_->drain();
    wire.insert(wire.end(), more.begin(), more.end());
    c_->put(wire);
    EXPECT_EQ(c_->read_all(), msg);
  }
  {
    // The shard's budget over 300 KiB: 8 full records per call.
    Bytes msg = pattern(300u << 10, 10);
    Queue q = queue_of(msg, 64);
    EXPECT_EQ(seal_all(*s_, q, TlsStream::kSealBudget), 1u + (msg.size() - 1) / (TlsStream::kSealBudget));
    Bytes wire = s_->drain();
    EXPECT_EQ(records(wire).size(), (msg.size() + TlsStream::kRecord - 1) / TlsStream::kRecord);
    c_->put(wire);
    EXPECT_EQ(c_->read_all(), msg);
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsSeal, ::testing::ValuesIn(kVariants), variant_name);

// ---- wire() / wire_sent() --------------------------------------------------------------

using TlsWire = TlsData;

TEST_P(TlsWire, PartialSendResendsExactlyTheRest) {
  Bytes a = pattern(40u << 10, 11), b = pattern(5000, 12);
  Queue qa = queue_of(a, 0);
  seal_all(*s_, qa, SIZE_MAX);
  std::span<const std::uint8_t> w = s_->tls->wire();
  ASSERT_FALSE(w.empty());
  Bytes frame(w.begin(), w.end());
  EXPECT_EQ(s_->tls->wire().data(), w.data());  // the same until wire_sent()
  s_->tls->wire_sent(0);
  EXPECT_EQ(s_->tls->wire().size(), frame.size());

  Bytes sent(w.begin(), w.begin() + 1000);
  s_->tls->wire_sent(1000);
  // New output while the send is in flight goes to another frame.
  Queue qb = queue_of(b, 0);
  seal_all(*s_, qb, SIZE_MAX);
  std::span<const std::uint8_t> rest = s_->tls->wire();
  ASSERT_EQ(rest.size(), frame.size() - 1000);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), frame.begin() + 1000));
  s_->tls->wire_sent(rest.size() - 1);
  std::span<const std::uint8_t> last = s_->tls->wire();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0], frame.back());
  sent.insert(sent.end(), rest.begin(), rest.end());
  s_->tls->wire_sent(1);
  EXPECT_EQ(sent, frame);
  EXPECT_TRUE(s_->tls->has_output());  // b's records
  Bytes second = s_->drain();
  EXPECT_EQ(records(second).size(), 1u);
  c_->put(sent);
  c_->put(second);
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(c_->read_all(), want);
  EXPECT_TRUE(s_->tls->wire().empty());
}

// ---- close_notify --------------------------------------------------------------------

TEST_P(TlsWire, ServerCloseNotifyReachesTheClient) {
  Bytes msg = pattern(3000, 13);
  Queue q = queue_of(msg, 0);
  seal_all(*s_, q, SIZE_MAX);
  s_->tls->close_notify();
  Bytes wire = s_->drain();
  std::vector<Record> recs = records(wire);
  ASSERT_EQ(recs.size(), 2u);
  s_->tls->close_notify();  // once only
  EXPECT_FALSE(s_->tls->has_output());
  // Nothing is sealed after it (the fuzzer found Records doing so).
  iovec late{msg.data(), 10};
  EXPECT_EQ(s_->tls->seal(&late, 1, SIZE_MAX, s_->scratch.data()), 0u);
  EXPECT_TRUE(s_->tls->failed());
  EXPECT_FALSE(s_->tls->has_output());
  c_->put(wire);
  EXPECT_EQ(c_->read_all(), msg);  // the data, then the close
  EXPECT_TRUE(c_->zero_return);
  EXPECT_EQ(c_->last_error, SSL_ERROR_ZERO_RETURN);
}

TEST_P(TlsWire, ClientCloseNotifyGivesClosed) {
  Bytes msg = pattern(500, 14);
  c_->write(msg);
  EXPECT_EQ(SSL_shutdown(c_->ssl()), 0);  // sent; the server's not seen yet
  ERR_clear_error();
  EXPECT_EQ(s_->feed(c_->take()), Status::closed);  // the data, then closed
  EXPECT_EQ(s_->plain, msg);
  EXPECT_FALSE(s_->tls->failed());
  // Our own close_notify still goes out after the peer's.
  s_->tls->close_notify();
  c_->put(s_->drain());
  EXPECT_EQ(SSL_shutdown(c_->ssl()), 1);
  ERR_clear_error();
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsWire, ::testing::ValuesIn(kVariants), variant_name);

// read() before any give(), or after give(nullptr, 0) (an empty ByteBuffer's data()), must
// not hand memcpy a null pointer (UBSan caught it once).
TEST(TlsStream, ReadBeforeAnyInputWantsMore) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Bytes buf(TlsStream::kPlainBuffer);
  EXPECT_EQ(s.tls->read(buf.data()).status, Status::want_more);
  s.tls->give(nullptr, 0);
  EXPECT_EQ(s.tls->read(buf.data()).status, Status::want_more);
}

TEST(TlsClose, CloseNotifyBeforeTheHandshakeIsIgnored) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  s.tls->close_notify();
  EXPECT_FALSE(s.tls->has_output());
  EXPECT_TRUE(s.tls->wire().empty());
}

TEST(TlsKeyUpdate, Tls13KeyUpdateBothWays) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c({.min_version = TLS1_3_VERSION});
  ASSERT_TRUE(handshake(c, s));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    Bytes msg = pattern(20000, 20 + static_cast<std::uint32_t>(i));
    c.write(msg);  // sends the KeyUpdate first; the server answers with its own on its next write
    s.plain.clear();
    ASSERT_EQ(s.feed(c.take()), Status::want_more);
    EXPECT_EQ(s.plain, msg);
    Queue q = queue_of(msg, 100);
    seal_all(s, q, SIZE_MAX);
    c.put(s.drain());
    EXPECT_EQ(c.read_all(), msg);
  }
}

// ---- failures ------------------------------------------------------------------------

struct Failed {
  TlsFailure failure;
  Bytes output;  // what the server sends: the alert, if any
};
Failed fail_with(const Bytes& input) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Status st = s.feed(input);
  EXPECT_EQ(st, Status::failed);
  EXPECT_TRUE(s.tls->failed());
  EXPECT_FALSE(s.tls->established());
  EXPECT_NE(s.tls->reason(), nullptr);
  EXPECT_STRNE(s.tls->reason(), "");
  // Failed for good: later reads, seals and close_notify do nothing.
  Bytes buf(TlsStream::kPlainBuffer);
  s.tls->give(input.data(), input.size());
  EXPECT_EQ(s.tls->read(buf.data()).status, Status::failed);
  iovec v{buf.data(), 16};
  EXPECT_EQ(s.tls->seal(&v, 1, SIZE_MAX, s.scratch.data()), 0u);
  Failed f{s.tls->failure(), s.drain()};
  s.tls->close_notify();
  EXPECT_FALSE(s.tls->has_output());
  return f;
}
// A client's first flight.
Bytes client_hello(const ClientOptions& o) {
  Client c(o);
  EXPECT_EQ(c.step(), 0);
  return c.take();
}
Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
bool has_alert(const Bytes& out) {
  for (const Record& r : records(out))
    if (r.type == kAlert) return true;
  return false;
}

TEST(TlsFailures, HttpOnTheTlsPort) {
  for (const char* req : {"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n",
                          "POST /publish HTTP/1.1\r\nHost: localhost\r\n\r\n", "HEAD / HTTP/1.0\r\n\r\n",
                          "CONNECT localhost:443 HTTP/1.1\r\n\r\n"}) {
    SCOPED_TRACE(req);
    EXPECT_EQ(fail_with(bytes_of(req)).failure, TlsFailure::http_on_tls_port);
  }
}

TEST(TlsFailures, OldProtocolVersions) {
  // Real clients pinned to TLS 1.0 and 1.1 (the old ciphers allowed on the client side).
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    SCOPED_TRACE(version);
    Bytes hello = client_hello({.min_version = version, .max_version = version, .ciphers = "DEFAULT:@SECLEVEL=0"});
    ASSERT_GT(hello.size(), 5u);
    Failed f = fail_with(hello);
    EXPECT_EQ(f.failure, TlsFailure::protocol_version);
    EXPECT_TRUE(has_alert(f.output));
  }
  // A hand-made TLS 1.0 ClientHello: no extensions, so no supported_versions.
  Bytes body = {0x03, 0x01};  // client_version
  for (int i = 0; i < 32; ++i) body.push_back(static_cast<std::uint8_t>(i));  // random
  Bytes tail = {0x00, 0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f, 0x01, 0x00};  // no session, 2 suites, null compression
  body.insert(body.end(), tail.begin(), tail.end());
  Bytes hs = {0x01, 0x00, 0x00, static_cast<std::uint8_t>(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  Bytes rec = {kHandshake, 0x03, 0x01, 0x00, static_cast<std::uint8_t>(hs.size())};
  rec.insert(rec.end(), hs.begin(), hs.end());
  EXPECT_EQ(fail_with(rec).failure, TlsFailure::protocol_version);
  // SSL 3.0 in the record header as well.
  rec[2] = 0x00;
  rec[10] = 0x00;
  EXPECT_EQ(fail_with(rec).failure, TlsFailure::protocol_version);
}

TEST(TlsFailures, NoSharedCipher) {
  // TLS 1.2 with RSA key exchange and CBC only: the server keeps ECDHE with AEAD.
  Failed f = fail_with(client_hello({.max_version = TLS1_2_VERSION, .ciphers = "AES128-SHA:AES256-SHA256"}));
  EXPECT_EQ(f.failure, TlsFailure::no_shared_cipher);
  EXPECT_TRUE(has_alert(f.output));
  // TLS 1.3 with a suite OpenSSL does not enable by default.
  EXPECT_EQ(fail_with(client_hello({.min_version = TLS1_3_VERSION, .suites = "TLS_AES_128_CCM_8_SHA256"})).failure,
            TlsFailure::no_shared_cipher);
}

TEST(TlsFailures, GarbageInAHandshakeRecordIsProtocol) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    // A ClientHello of 252 B, TLS 1.2, all random after the version.
    Bytes rec = {kHandshake, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03};
    while (rec.size() < 5 + 256) rec.push_back(static_cast<std::uint8_t>(rng()));
    EXPECT_EQ(fail_with(rec).failure, TlsFailure::protocol);
  }
  // A real ClientHello that claims 16 B less than it has: its extensions end early.
  Bytes hello = client_hello({});
  std::uint32_t len = ((std::uint32_t{hello[6]} << 16) | (std::uint32_t{hello[7]} << 8) | hello[8]) - 16;
  hello[6] = static_cast<std::uint8_t>(len >> 16);
  hello[7] = static_cast<std::uint8_t>(len >> 8);
  hello[8] = static_cast<std::uint8_t>(len);
  EXPECT_EQ(fail_with(hello).failure, TlsFailure::protocol);
  // Application data before any handshake.
  EXPECT_EQ(fail_with({kAppData, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4}).failure, TlsFailure::protocol);
}

TEST(TlsFailures, RandomGarbage) {
  // Random bytes: OpenSSL reads a record header with no TLS version in it ("wrong version
  // number"): scanner noise, counted as protocol (protocol_version is an old client).
  std::mt19937 rng(7);
  int seen = 0;
  for (int i = 0; i < 200; ++i) {
    Bytes junk(5 + rng() % 2000);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    bool sslv2_shaped = (junk[0] & 0x80) != 0 && junk[2] == 0x01;
    if (junk[1] == 0x03 || sslv2_shaped) continue;
    SCOPED_TRACE(i);
    EXPECT_EQ(fail_with(junk).failure, TlsFailure::protocol);
    ++seen;
  }
  EXPECT_GT(seen, 150);
  // Random bytes behind a TLS record header (any content type and length) are protocol.
  for (int i = 0; i < 200; ++i) {
    Bytes junk(5 + rng() % 2000);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    junk[0] = static_cast<std::uint8_t>(20 + i % 5);  // change_cipher_spec .. heartbeat
    junk[1] = 0x03;
    junk[2] = static_cast<std::uint8_t>(i % 4);
    std::size_t len = std::min<std::size_t>(junk.size() - 5, 1 + rng() % 300);
    junk[3] = static_cast<std::uint8_t>(len >> 8);
    junk[4] = static_cast<std::uint8_t>(len);
    if (junk[0] == kHandshake) {
      junk[5] = 0x01;  // a ClientHello of a sane length (else OpenSSL waits for it)
      junk[6] = junk[7] = 0;
      junk[8] = static_cast<std::uint8_t>(std::min<std::size_t>(len, 4) - 4);
    }
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Status st = s.feed(junk);
    if (st == Status::want_more) continue;
    ASSERT_EQ(st, Status::failed) << i;
    EXPECT_EQ(s.tls->failure(), TlsFailure::protocol) << i << ": " << s.tls->reason();
  }
}

TEST(TlsFailures, BadRecordAfterTheHandshakeIsProtocol) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Client c({.max_version = version});
    ASSERT_TRUE(handshake(c, s));
    c.write(pattern(100, 1));
    Bytes rec = c.take();
    rec.back() ^= 1;  // the tag no longer matches
    EXPECT_EQ(s.feed(rec), Status::failed);
    EXPECT_TRUE(s.tls->established());
    EXPECT_EQ(s.tls->failure(), TlsFailure::protocol);
    EXPECT_TRUE(s.plain.empty());
    iovec v{rec.data(), rec.size()};
    EXPECT_EQ(s.tls->seal(&v, 1, SIZE_MAX, s.scratch.data()), 0u);
    // The client is told why: a bad_record_mac alert.
    c.put(s.drain());
    std::uint8_t buf[16];
    EXPECT_LE(SSL_read(c.ssl(), buf, sizeof buf), 0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_SSLV3_ALERT_BAD_RECORD_MAC);
    ERR_clear_error();
  }
}

// Records (TLS 1.3 after the hand-over) keep a record split across receives, byte by byte.
TEST(TlsRecords, RecordsSplitAtEveryByte) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c({.min_version = TLS1_3_VERSION});
  ASSERT_TRUE(handshake(c, s));
  Bytes msg;
  for (std::size_t n : {1u, 100u, 20000u}) {
    Bytes part = pattern(n, static_cast<std::uint32_t>(n));
    c.write(part);
    msg.insert(msg.end(), part.begin(), part.end());
  }
  Bytes wire = c.take();
  for (std::uint8_t b : wire) ASSERT_EQ(s.feed(&b, 1), Status::want_more);
  EXPECT_EQ(s.plain, msg);
}

// A KeyUpdate the client does not ask us to answer changes only its own keys.
TEST(TlsRecords, KeyUpdateNotRequestedIsNotAnswered) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c({.min_version = TLS1_3_VERSION});
  ASSERT_TRUE(handshake(c, s));
  for (int requested : {SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED}) {
    SCOPED_TRACE(requested);
    ASSERT_EQ(SSL_key_update(c.ssl(), requested), 1);
    Bytes msg = pattern(100, 5);
    c.write(msg);
    s.plain.clear();
    ASSERT_EQ(s.feed(c.take()), Status::want_more);
    EXPECT_EQ(s.plain, msg);
    Queue q = queue_of(msg, 100);
    seal_all(s, q, SIZE_MAX);
    Bytes out = s.drain();
    // Our KeyUpdate comes first when asked for: one record more.
    EXPECT_EQ(records(out).size(), requested == SSL_KEY_UPDATE_REQUESTED ? 2u : 1u);
    c.put(out);
    EXPECT_EQ(c.read_all(), msg);
  }
}

// After the handshake only protected records may come: anything else fails with an alert.
TEST(TlsRecords, UnprotectedOrOversizedRecordsFail) {
  const Bytes inputs[] = {
      {20, 3, 3, 0, 1, 1},                // change_cipher_spec after the Finished
      {21, 3, 3, 0, 2, 1, 0},             // a plaintext close_notify
      {22, 3, 3, 0, 4, 24, 0, 0, 0},      // a plaintext handshake record
      {23, 3, 3, 0x41, 0x01},             // 2^14 + 257 bytes announced
  };
  for (const Bytes& in : inputs) {
    SCOPED_TRACE(int(in[0]));
    CtxPtr ctx = server_ctx(certs().ec);
    Server s(ctx.get());
    Client c({.min_version = TLS1_3_VERSION});
    ASSERT_TRUE(handshake(c, s));
    EXPECT_EQ(s.feed(in), Status::failed);
    EXPECT_EQ(s.tls->failure(), TlsFailure::protocol);
    c.put(s.drain());
    std::uint8_t buf[16];
    EXPECT_LE(SSL_read(c.ssl(), buf, sizeof buf), 0);
    int want = in[0] == 23 ? SSL_R_TLSV1_ALERT_RECORD_OVERFLOW : SSL_R_SSLV3_ALERT_UNEXPECTED_MESSAGE;
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), want);
    ERR_clear_error();
  }
}

// A failure leaves the thread's error queue (shared by every stream) empty.
TEST(TlsFailures, FailureDrainsTheErrorQueue) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server a(ctx.get()), b(ctx.get());
  EXPECT_EQ(a.feed(bytes_of("GET / HTTP/1.1\r\n\r\n")), Status::failed);
  Client c;
  ASSERT_TRUE(handshake(c, b));
  EXPECT_EQ(a.tls->failure(), TlsFailure::http_on_tls_port);
  EXPECT_EQ(ERR_peek_error(), 0u);  // fail() drained the thread's queue
}

TEST(TlsRenegotiation, RefusedWithoutFailingTheConnection) {
  CtxPtr ctx = server_ctx(certs().ec);
  Server s(ctx.get());
  Client c({.max_version = TLS1_2_VERSION});
  ASSERT_TRUE(handshake(c, s));
  ASSERT_EQ(SSL_renegotiate(c.ssl()), 1);
  EXPECT_EQ(c.step(), 0);  // the new ClientHello, encrypted
  EXPECT_EQ(s.feed(c.take()), Status::want_more);
  EXPECT_FALSE(s.tls->failed());
  Bytes out = s.drain();
  std::vector<Record> recs = records(out);
  ASSERT_EQ(recs.size(), 1u);  // the no_renegotiation warning, nothing else
  EXPECT_EQ(recs[0].type, kAlert);
  // The server goes on sealing.
  Bytes msg = pattern(100, 1);
  iovec v{msg.data(), msg.size()};
  EXPECT_EQ(s.tls->seal(&v, 1, SIZE_MAX, s.scratch.data()), msg.size());
}

TEST(TlsResumption, StatelessTicketsResume) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    CtxPtr ctx = server_ctx(certs().ec);
    SSL_SESSION* session = nullptr;
    {
      Server s(ctx.get());
      Client c({.max_version = version});
      ASSERT_TRUE(handshake(c, s));
      session = SSL_get1_session(c.ssl());
      ASSERT_NE(session, nullptr);
      EXPECT_EQ(SSL_SESSION_is_resumable(session), 1);
      SSL_shutdown(c.ssl());  // else SSL_free marks the session not resumable
      ERR_clear_error();
    }
    Server s(ctx.get());
    Client c({.max_version = version});
    ASSERT_EQ(SSL_set_session(c.ssl(), session), 1);
    SSL_SESSION_free(session);
    ASSERT_TRUE(handshake(c, s));
    EXPECT_EQ(SSL_session_reused(c.ssl()), 1);
    Bytes msg = pattern(1000, 2);
    c.write(msg);
    EXPECT_EQ(s.feed(c.take()), Status::want_more);
    EXPECT_EQ(s.plain, msg);
  }
}

// ---- the context store ---------------------------------------------------------------

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

// A full handshake and one message each way on `ctx`; the client sees `cert`.
void works(SslCtx* ctx, X509* cert) {
  ASSERT_NE(ctx, nullptr);
  Server s(ctx);
  Client c;
  ASSERT_TRUE(handshake(c, s));
  X509* peer = SSL_get1_peer_certificate(c.ssl());
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(X509_cmp(peer, cert), 0);
  X509_free(peer);
  Bytes msg = pattern(1000, 99);
  c.write(msg);
  EXPECT_EQ(s.feed(c.take()), Status::want_more);
  EXPECT_EQ(s.plain, msg);
}

struct TempPair {
  fs::path dir;
  std::string cert, key;
  TempPair() {
    dir = test::make_tls_dir("ringcast-tls-reload");
    cert = (dir / "server.crt").string();
    key = (dir / "server.key").string();
  }
  ~TempPair() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  void use(const KeyPair& k) {
    fs::copy_file(k.cert, cert, fs::copy_options::overwrite_existing);
    fs::copy_file(k.key, key, fs::copy_options::overwrite_existing);
  }
  TlsConfig config() const {
    TlsConfig cfg;
    cfg.cert_file = cert;
    cfg.key_file = key;
    return cfg;
  }
};

TEST(TlsContext, MissingFilesAreOneLineNamingTheFile) {
  TlsContextStore store;
  TlsConfig cfg = config_of(certs().ec);
  cfg.cert_file = (certs().dir / "no-such.crt").string();
  std::string error = store.load(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(cfg.cert_file), std::string::npos) << error;
  EXPECT_FALSE(store.loaded());

  cfg = config_of(certs().ec);
  cfg.key_file = (certs().dir / "no-such.key").string();
  error = store.load(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(cfg.key_file), std::string::npos) << error;
  EXPECT_FALSE(store.loaded());
  EXPECT_EQ(check_tls_files(cfg), error);
  EXPECT_EQ(store.reload(), "TLS is not configured");
}

TEST(TlsContext, KeyNotMatchingTheCertificate) {
  TlsConfig cfg;
  cfg.cert_file = certs().ec.cert;
  cfg.key_file = certs().ec2.key;
  TlsContextStore store;
  std::string error = store.load(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(cfg.key_file), std::string::npos) << error;
  EXPECT_NE(error.find(cfg.cert_file), std::string::npos) << error;
  EXPECT_FALSE(store.loaded());
  // An RSA key for an EC certificate too.
  cfg.key_file = certs().rsa.key;
  error = check_tls_files(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(cfg.key_file), std::string::npos) << error;
}

TEST(TlsContext, BadPemAndBadCipherList) {
  TempPair t;
  t.use(certs().ec);
  write_file(t.cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  std::string error = check_tls_files(t.config());
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(t.cert), std::string::npos) << error;

  TlsConfig cfg = config_of(certs().ec);
  cfg.ciphers = "NOT-A-CIPHER";
  error = check_tls_files(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find("NOT-A-CIPHER"), std::string::npos) << error;
  cfg.ciphers.clear();
  cfg.ciphersuites = "TLS_NOT_A_SUITE";
  error = check_tls_files(cfg);
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find("TLS_NOT_A_SUITE"), std::string::npos) << error;
  EXPECT_EQ(check_tls_files(config_of(certs().ec)), "");
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsContext, ReloadKeepsTheOldContextOnErrorAndSwapsOnSuccess) {
  TempPair t;
  t.use(certs().ec);
  TlsContextStore store;
  ASSERT_EQ(store.load(t.config()), "");
  ASSERT_TRUE(store.loaded());
  TlsContextRef ref;
  SslCtx* first = store.current(ref);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(store.current(ref), first);  // cached by generation
  std::uint64_t gen = ref.generation;
  works(first, certs().ec.x509);

  // A stream that started on the first context, finished after the swaps below.
  Server early(first);
  Client early_client;
  ASSERT_EQ(early_client.step(), 0);
  ASSERT_EQ(early.feed(early_client.take()), Status::want_more);

  // A broken certificate: the old context stays.
  write_file(t.cert, "garbage\n");
  std::string error = store.reload();
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_NE(error.find(t.cert), std::string::npos) << error;
  EXPECT_EQ(store.current(ref), first);
  EXPECT_EQ(ref.generation, gen);
  works(store.current(ref), certs().ec.x509);

  // The new certificate with the old key: still the old context.
  t.use(certs().ec);
  fs::copy_file(certs().ec2.cert, t.cert, fs::copy_options::overwrite_existing);
  error = store.reload();
  EXPECT_TRUE(one_line(error)) << error;
  EXPECT_EQ(store.current(ref), first);
  works(store.current(ref), certs().ec.x509);

  // A new valid pair: a new context.
  t.use(certs().ec2);
  ASSERT_EQ(store.reload(), "");
  SslCtx* second = store.current(ref);
  EXPECT_NE(second, first);
  EXPECT_GT(ref.generation, gen);
  works(second, certs().ec2.x509);
  // Another shard's reference catches up too.
  TlsContextRef other;
  EXPECT_EQ(store.current(other), second);

  // The early stream kept its context (OpenSSL's reference): it completes on the old pair.
  early_client.put(early.drain());
  ASSERT_TRUE(handshake(early_client, early));
  X509* peer = SSL_get1_peer_certificate(early_client.ssl());
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(X509_cmp(peer, certs().ec.x509), 0);
  X509_free(peer);

  // And an RSA pair (a different key type) swaps in as well.
  t.use(certs().rsa);
  ASSERT_EQ(store.reload(), "");
  works(store.current(ref), certs().rsa.x509);
}

}  // namespace
}  // namespace ringcast::engine
