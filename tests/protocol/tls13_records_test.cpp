// protocol/tls13_records: the key schedule against OpenSSL's own TLS 1.3 KDF, and Records
// against a peer built from TrafficKeys (the client's side of the same secrets), for every
// record a client can send after the handshake. The interop with real OpenSSL clients is in
// tests/engine/tls_stream_test.cpp.
#include "protocol/tls13_records.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace ringcast::protocol::tls13 {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Got = Records::Got;

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// OpenSSL's TLS13-KDF (what libssl itself uses) in expand-only mode.
Bytes openssl_expand_label(const char* digest, const Bytes& secret, const char* label, std::size_t len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "TLS13-KDF", nullptr);
  EXPECT_NE(kdf, nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, const_cast<char*>("tls13 "), 6),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, const_cast<char*>(label), std::strlen(label)),
      OSSL_PARAM_construct_end(),
  };
  Bytes out(len);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

TEST(Tls13KeySchedule, ExpandLabelMatchesOpenSsl) {
  struct Case {
    Suite suite;
    const char* digest;
    std::size_t hash;
  };
  for (Case c : {Case{Suite::aes_128_gcm_sha256, "SHA256", 32}, Case{Suite::aes_256_gcm_sha384, "SHA384", 48}}) {
    Bytes secret = random_bytes(c.hash, 7);
    for (const char* label : {"key", "iv", "traffic upd"}) {
      for (std::size_t len : {std::size_t{12}, std::size_t{16}, std::size_t{32}, c.hash}) {
        Bytes ours(len);
        ASSERT_TRUE(expand_label(c.suite, secret, label, ours));
        EXPECT_EQ(ours, openssl_expand_label(c.digest, secret, label, len)) << label << " " << len;
      }
    }
  }
}

TEST(Tls13KeySchedule, SuitesByIanaId) {
  EXPECT_EQ(suite_from_id(0x1301), Suite::aes_128_gcm_sha256);
  EXPECT_EQ(suite_from_id(0x1302), Suite::aes_256_gcm_sha384);
  EXPECT_EQ(suite_from_id(0x1303), Suite::chacha20_poly1305_sha256);
  EXPECT_EQ(suite_from_id(0x1304), std::nullopt);  // AES-128-CCM: stays in OpenSSL
  EXPECT_EQ(suite_from_id(0xc02f), std::nullopt);  // a TLS 1.2 suite
}

// The server under test and the client it talks to, on the same secrets.
class Tls13Records : public ::testing::TestWithParam<Suite> {
 protected:
  void SetUp() override {
    std::size_t hash = GetParam() == Suite::aes_256_gcm_sha384 ? 48 : 32;
    client_secret_ = random_bytes(hash, 1);
    server_secret_ = random_bytes(hash, 2);
    ASSERT_TRUE(server_.init(GetParam(), client_secret_, server_secret_, 1));  // one ticket sent
    ASSERT_TRUE(client_tx_.init(GetParam(), client_secret_, true));
    ASSERT_TRUE(client_rx_.init(GetParam(), server_secret_, false));
    client_rx_.set_sequence(1);  // the client read the ticket
  }

  // A record from the client: `content` of `type` with `padding` zeros.
  Bytes from_client(ContentType type, const Bytes& content, std::size_t padding = 0) {
    Bytes rec(content.size() + padding + kOverhead);
    std::span<const std::uint8_t> pieces[] = {content};
    rec.resize(client_tx_.seal(type, pieces, padding, rec.data()));
    EXPECT_FALSE(rec.empty());
    return rec;
  }
  Records::Opened feed(const Bytes& rec) {
    std::size_t size = server_.record_size(rec.data(), rec.size());
    if (size == Records::kBadHeader) return {Got::failed, 0};
    EXPECT_EQ(size, rec.size());
    return server_.open(rec.data(), size, plain_.data());
  }
  // Opens what the server sealed, record by record, as the client; returns the data records.
  std::vector<Bytes> client_reads(const Bytes& wire) {
    std::vector<Bytes> got;
    for (std::size_t i = 0; i + kHeader <= wire.size();) {
      std::size_t size = kHeader + (std::size_t{wire[i + 3]} << 8 | wire[i + 4]);
      Bytes out(size);
      EXPECT_TRUE(client_rx_.open(wire.data() + i, size, out.data()));
      std::size_t n = size - kHeader - kTag;
      while (n > 0 && out[n - 1] == 0) --n;
      EXPECT_GT(n, 0u);
      auto type = static_cast<ContentType>(out[n - 1]);
      out.resize(n - 1);
      if (type == ContentType::handshake) {
        EXPECT_EQ(out, (Bytes{24, 0, 0, 1, 0}));  // KeyUpdate, update_not_requested
        EXPECT_TRUE(client_rx_.update());
        ++key_updates_;
      } else {
        got.push_back(out);
      }
      i += size;
    }
    return got;
  }
  Bytes seal(const Bytes& content) {
    Bytes out(content.size() + Records::kSealSlack);
    out.resize(server_.seal(content, out.data()));
    EXPECT_FALSE(out.empty());
    return out;
  }
  void expect_failure(const Bytes& rec, std::optional<Alert> alert) {
    EXPECT_EQ(feed(rec).got, Got::failed);
    EXPECT_TRUE(server_.failed());
    EXPECT_NE(server_.failure(), nullptr);
    EXPECT_EQ(server_.alert(), alert);
    // Failed for good; the alert still seals for the client to read.
    EXPECT_EQ(server_.seal(Bytes{1, 2, 3}, plain_.data()), 0u);
    if (alert) {
      Bytes out(kOverhead + 2);
      ASSERT_EQ(server_.seal_alert(*alert, out.data()), out.size());
      Bytes body(out.size());
      ASSERT_TRUE(client_rx_.open(out.data(), out.size(), body.data()));
      EXPECT_EQ(body[1], static_cast<std::uint8_t>(*alert));
      EXPECT_EQ(body[2], static_cast<std::uint8_t>(ContentType::alert));
    }
  }

  Bytes client_secret_, server_secret_;
  Records server_;
  TrafficKeys client_tx_, client_rx_;
  Bytes plain_ = Bytes(kMaxInner);
  int key_updates_ = 0;
};

TEST_P(Tls13Records, DataBothWaysByteExact) {
  for (std::size_t n : {0u, 1u, 100u, 16383u, 16384u}) {
    SCOPED_TRACE(n);
    Bytes msg = random_bytes(n, static_cast<std::uint32_t>(n));
    Records::Opened o = feed(from_client(ContentType::application_data, msg));
    ASSERT_EQ(o.got, Got::data);
    ASSERT_EQ(o.n, n);
    EXPECT_TRUE(std::equal(msg.begin(), msg.end(), plain_.begin()));
    std::vector<Bytes> got = client_reads(seal(msg));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], msg);
  }
  EXPECT_EQ(key_updates_, 0);
}

TEST_P(Tls13Records, PaddingIsStripped) {
  Bytes msg = random_bytes(50, 3);
  for (std::size_t pad : {1u, 255u, 16334u}) {
    Records::Opened o = feed(from_client(ContentType::application_data, msg, pad));
    ASSERT_EQ(o.got, Got::data);
    EXPECT_EQ(o.n, msg.size());
  }
}

TEST_P(Tls13Records, AlertsFromTheClient) {
  EXPECT_EQ(feed(from_client(ContentType::alert, {1, 90})).got, Got::nothing);  // user_canceled
  EXPECT_EQ(feed(from_client(ContentType::alert, {1, 0})).got, Got::closed);    // close_notify
}

TEST_P(Tls13Records, AFatalAlertFromTheClientIsNotAnswered) {
  expect_failure(from_client(ContentType::alert, {2, 40}), std::nullopt);
}

TEST_P(Tls13Records, KeyUpdateRequestedIsAnsweredBeforeTheNextData) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(feed(from_client(ContentType::handshake, {24, 0, 0, 1, 1})).got, Got::nothing);
    ASSERT_TRUE(client_tx_.update());
    Bytes msg = random_bytes(10, 4);
    ASSERT_EQ(feed(from_client(ContentType::application_data, msg)).got, Got::data);
    std::vector<Bytes> got = client_reads(seal(msg));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], msg);
    EXPECT_EQ(key_updates_, round + 1);
  }
  // update_not_requested: the client's keys change, ours do not.
  ASSERT_EQ(feed(from_client(ContentType::handshake, {24, 0, 0, 1, 0})).got, Got::nothing);
  ASSERT_TRUE(client_tx_.update());
  client_reads(seal({1}));
  EXPECT_EQ(key_updates_, 3);
}

TEST_P(Tls13Records, OurKeysRenewBeforeTheRecordLimit) {
  Records r;
  ASSERT_TRUE(r.init(GetParam(), client_secret_, server_secret_, Records::kRecordsPerKey - 1));
  client_rx_.set_sequence(Records::kRecordsPerKey - 1);
  Bytes first(10 + Records::kSealSlack), second(10 + Records::kSealSlack);
  first.resize(r.seal(Bytes(10, 1), first.data()));
  second.resize(r.seal(Bytes(10, 2), second.data()));
  first.insert(first.end(), second.begin(), second.end());
  std::vector<Bytes> got = client_reads(first);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], Bytes(10, 2));
  EXPECT_EQ(key_updates_, 1);
}

TEST_P(Tls13Records, BadKeyUpdates) {
  struct Case {
    Bytes msg;
    Alert alert;
  };
  const Case cases[] = {
      {{24, 0, 0, 1, 2}, Alert::illegal_parameter},       // neither 0 nor 1
      {{24, 0, 0, 2, 0, 0}, Alert::decode_error},         // a body of 2 bytes
      {{24, 0, 0, 1}, Alert::unexpected_message},         // cut: fragmented
      {{24, 0, 0, 1, 0, 23}, Alert::unexpected_message},  // data after it in its record
      {{24, 0, 0}, Alert::unexpected_message},            // shorter than a header
      {{4, 0, 0, 1, 0}, Alert::unexpected_message},       // a NewSessionTicket from a client
      {{1, 0, 0, 1, 0}, Alert::unexpected_message},       // a ClientHello (renegotiation)
  };
  for (const Case& c : cases) {
    Records fresh;
    ASSERT_TRUE(fresh.init(GetParam(), client_secret_, server_secret_, 0));
    TrafficKeys tx;
    ASSERT_TRUE(tx.init(GetParam(), client_secret_, true));
    Bytes rec(c.msg.size() + kOverhead);
    std::span<const std::uint8_t> pieces[] = {c.msg};
    rec.resize(tx.seal(ContentType::handshake, pieces, 0, rec.data()));
    EXPECT_EQ(fresh.open(rec.data(), rec.size(), plain_.data()).got, Got::failed);
    EXPECT_EQ(fresh.alert(), c.alert) << fresh.failure();
  }
}

TEST_P(Tls13Records, EmptyHandshakeRecord) {
  expect_failure(from_client(ContentType::handshake, {}), Alert::unexpected_message);
}

TEST_P(Tls13Records, MalformedAlert) { expect_failure(from_client(ContentType::alert, {1}), Alert::decode_error); }

TEST_P(Tls13Records, UnknownInnerType) {
  expect_failure(from_client(static_cast<ContentType>(20), {1}), Alert::unexpected_message);
}

TEST_P(Tls13Records, AllZeroInnerPlaintext) {
  // A record whose plaintext has no content type: seal 3 zero bytes as "type 0".
  expect_failure(from_client(static_cast<ContentType>(0), {0, 0}), Alert::unexpected_message);
}

TEST_P(Tls13Records, TamperedRecordsDoNotAuthenticate) {
  Bytes rec = from_client(ContentType::application_data, random_bytes(100, 5));
  for (std::size_t i : {std::size_t{1}, std::size_t{5}, std::size_t{50}, rec.size() - 1}) {
    Bytes bad = rec;
    bad[i] ^= 0x40;
    Records fresh;
    ASSERT_TRUE(fresh.init(GetParam(), client_secret_, server_secret_, 0));
    std::size_t size = fresh.record_size(bad.data(), bad.size());
    ASSERT_EQ(size, bad.size());
    EXPECT_EQ(fresh.open(bad.data(), size, plain_.data()).got, Got::failed) << i;
    EXPECT_EQ(fresh.alert(), Alert::bad_record_mac);
  }
  // A replayed record (the sequence moved on) fails too.
  ASSERT_EQ(feed(rec).got, Got::data);
  expect_failure(rec, Alert::bad_record_mac);
}

TEST_P(Tls13Records, ShortRecordsFail) {
  Bytes shorter_than_a_tag = {23, 3, 3, 0, 15};
  shorter_than_a_tag.resize(kHeader + 15);
  expect_failure(shorter_than_a_tag, Alert::bad_record_mac);
}

TEST_P(Tls13Records, ContentLongerThanARecordOverflows) {
  expect_failure(from_client(ContentType::application_data, Bytes(kMaxPlain + 1, 7)), Alert::record_overflow);
}

TEST_P(Tls13Records, HeadersNoClientMaySend) {
  Bytes ccs = {20, 3, 3, 0, 1, 1};
  EXPECT_EQ(server_.record_size(ccs.data(), 4), 0u);  // not a header yet
  EXPECT_EQ(server_.record_size(ccs.data(), ccs.size()), Records::kBadHeader);
  EXPECT_EQ(server_.alert(), Alert::unexpected_message);
  Records r;
  ASSERT_TRUE(r.init(GetParam(), client_secret_, server_secret_, 0));
  Bytes big = {23, 3, 3, 0x41, 0x01};
  EXPECT_EQ(r.record_size(big.data(), big.size()), Records::kBadHeader);
  EXPECT_EQ(r.alert(), Alert::record_overflow);
  Records ok;
  ASSERT_TRUE(ok.init(GetParam(), client_secret_, server_secret_, 0));
  Bytes max = {23, 3, 3, 0x41, 0x00};
  EXPECT_EQ(ok.record_size(max.data(), max.size()), kHeader + kMaxBody);
}

TEST_P(Tls13Records, CloseNotifyReachesTheClient) {
  Bytes out(kOverhead + 2);
  ASSERT_EQ(server_.seal_alert(Alert::close_notify, out.data()), out.size());
  Bytes body(out.size());
  ASSERT_TRUE(client_rx_.open(out.data(), out.size(), body.data()));
  EXPECT_EQ(body[0], 1);  // warning
  EXPECT_EQ(body[1], 0);
}

INSTANTIATE_TEST_SUITE_P(Suites, Tls13Records,
                         ::testing::Values(Suite::aes_128_gcm_sha256, Suite::aes_256_gcm_sha384,
                                           Suite::chacha20_poly1305_sha256),
                         [](const ::testing::TestParamInfo<Suite>& p) {
                           switch (p.param) {
                             case Suite::aes_128_gcm_sha256: return std::string("Aes128Gcm");
                             case Suite::aes_256_gcm_sha384: return std::string("Aes256Gcm");
                             case Suite::chacha20_poly1305_sha256: return std::string("Chacha20Poly1305");
                           }
                           return std::string("unknown");
                         });

}  // namespace
}  // namespace ringcast::protocol::tls13
