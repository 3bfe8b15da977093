#include "protocol/tls13_records.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>

namespace ringcast::protocol::tls13 {
namespace {

struct SuiteInfo {
  const char* cipher;
  const char* digest;
  std::size_t key_len;
  std::size_t hash_len;
};

constexpr SuiteInfo kSuites[] = {
    {"AES-128-GCM", "SHA256", 16, 32},
    {"AES-256-GCM", "SHA384", 32, 48},
    {"ChaCha20-Poly1305", "SHA256", 32, 32},
};

const SuiteInfo& info(Suite s) { return kSuites[static_cast<std::size_t>(s)]; }

// Fetched once: an implicit fetch on every init would look the algorithm up each time.
const EVP_CIPHER* cipher(Suite s) {
  static EVP_CIPHER* const fetched[3] = {
      EVP_CIPHER_fetch(nullptr, kSuites[0].cipher, nullptr),
      EVP_CIPHER_fetch(nullptr, kSuites[1].cipher, nullptr),
      EVP_CIPHER_fetch(nullptr, kSuites[2].cipher, nullptr),
  };
  return fetched[static_cast<std::size_t>(s)];
}

EVP_KDF* hkdf() {
  static EVP_KDF* const fetched = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return fetched;
}

constexpr std::uint8_t kKeyUpdateNotRequested[] = {24, 0, 0, 1, 0};

}  // namespace

std::optional<Suite> suite_from_id(std::uint16_t id) noexcept {
  switch (id) {
    case 0x1301: return Suite::aes_128_gcm_sha256;
    case 0x1302: return Suite::aes_256_gcm_sha384;
    case 0x1303: return Suite::chacha20_poly1305_sha256;
    default: return std::nullopt;
  }
}

bool expand_label(Suite suite, std::span<const std::uint8_t> secret, const char* label,
                  std::span<std::uint8_t> out) noexcept {
  std::size_t label_len = std::strlen(label);
  EVP_KDF* kdf = hkdf();
  if (kdf == nullptr || label_len > 32 || out.size() > 255) return false;
  // struct HkdfLabel { uint16 length; opaque label<7..255> = "tls13 " + label; opaque context<0..255> = ""; }
  std::uint8_t hkdf_label[2 + 1 + 6 + 32 + 1];
  hkdf_label[0] = 0;
  hkdf_label[1] = static_cast<std::uint8_t>(out.size());
  hkdf_label[2] = static_cast<std::uint8_t>(6 + label_len);
  std::memcpy(hkdf_label + 3, "tls13 ", 6);
  std::memcpy(hkdf_label + 9, label, label_len);
  hkdf_label[9 + label_len] = 0;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(info(suite).digest), 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, hkdf_label, 10 + label_len),
      OSSL_PARAM_construct_end(),
  };
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

// ---- TrafficKeys ----

TrafficKeys::~TrafficKeys() {
  EVP_CIPHER_CTX_free(ctx_);
  OPENSSL_cleanse(secret_, sizeof secret_);
  OPENSSL_cleanse(iv_, sizeof iv_);
}

bool TrafficKeys::init(Suite suite, std::span<const std::uint8_t> secret, bool encrypt) noexcept {
  if (secret.size() != info(suite).hash_len || cipher(suite) == nullptr) return false;
  suite_ = suite;
  encrypt_ = encrypt;
  secret_len_ = static_cast<std::uint8_t>(secret.size());
  std::memcpy(secret_, secret.data(), secret.size());
  EVP_CIPHER_CTX_free(ctx_);
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr || EVP_CipherInit_ex(ctx_, cipher(suite), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
    return false;
  }
  return install();
}

bool TrafficKeys::install() noexcept {
  std::uint8_t key[32];
  std::span<const std::uint8_t> secret{secret_, secret_len_};
  bool ok = expand_label(suite_, secret, "key", {key, info(suite_).key_len}) &&
            expand_label(suite_, secret, "iv", iv_) &&
            EVP_CipherInit_ex(ctx_, nullptr, nullptr, key, nullptr, encrypt_ ? 1 : 0) == 1;
  OPENSSL_cleanse(key, sizeof key);
  seq_ = 0;
  return ok;
}

bool TrafficKeys::update() noexcept {
  std::uint8_t next[kMaxSecret];
  bool ok = expand_label(suite_, {secret_, secret_len_}, "traffic upd", {next, secret_len_});
  if (ok) std::memcpy(secret_, next, secret_len_);
  OPENSSL_cleanse(next, sizeof next);
  return ok && install();
}

void TrafficKeys::nonce(std::uint8_t out[12]) const noexcept {
  std::memcpy(out, iv_, 12);
  for (int i = 0; i < 8; ++i) out[11 - i] ^= static_cast<std::uint8_t>(seq_ >> (8 * i));
}

std::size_t TrafficKeys::seal(ContentType type, std::span<const std::span<const std::uint8_t>> content,
                              std::size_t padding, std::uint8_t* out) noexcept {
  std::size_t len = 0;
  for (auto piece : content) len += piece.size();
  std::size_t body = len + 1 + padding + kTag;
  if (ctx_ == nullptr || body > kMaxBody) return 0;
  out[0] = static_cast<std::uint8_t>(ContentType::application_data);  // the outer type is always 23
  out[1] = 3;
  out[2] = 3;
  out[3] = static_cast<std::uint8_t>(body >> 8);
  out[4] = static_cast<std::uint8_t>(body);
  std::uint8_t iv[12];
  nonce(iv);
  int n = 0;
  if (EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) != 1 || EVP_EncryptUpdate(ctx_, nullptr, &n, out, kHeader) != 1) {
    return 0;
  }
  std::uint8_t* p = out + kHeader;
  for (auto piece : content) {
    if (piece.empty()) continue;
    if (EVP_EncryptUpdate(ctx_, p, &n, piece.data(), static_cast<int>(piece.size())) != 1) return 0;
    p += n;
  }
  // The inner content type, then the padding (zeros).
  std::uint8_t trailer[256]{};
  trailer[0] = static_cast<std::uint8_t>(type);
  for (std::size_t left = 1 + padding; left > 0;) {
    std::size_t take = left < sizeof trailer ? left : sizeof trailer;
    if (EVP_EncryptUpdate(ctx_, p, &n, trailer, static_cast<int>(take)) != 1) return 0;
    p += n;
    left -= take;
    trailer[0] = 0;
  }
  if (EVP_EncryptFinal_ex(ctx_, p, &n) != 1) return 0;
  p += n;
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTag), p) != 1) return 0;
  ++seq_;
  return static_cast<std::size_t>(p + kTag - out);
}

bool TrafficKeys::open(const std::uint8_t* record, std::size_t size, std::uint8_t* out) noexcept {
  if (ctx_ == nullptr || size < kHeader + kTag) return false;
  std::size_t len = size - kHeader - kTag;
  std::uint8_t iv[12];
  nonce(iv);
  int n = 0, last = 0;
  std::uint8_t tag[kTag];
  std::memcpy(tag, record + size - kTag, kTag);
  bool ok = EVP_DecryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) == 1 &&
            EVP_DecryptUpdate(ctx_, nullptr, &n, record, kHeader) == 1 &&
            EVP_DecryptUpdate(ctx_, out, &n, record + kHeader, static_cast<int>(len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTag), tag) == 1 &&
            EVP_DecryptFinal_ex(ctx_, out + n, &last) == 1;
  if (ok) ++seq_;
  return ok;
}

// ---- Records ----

bool Records::init(Suite suite, std::span<const std::uint8_t> client, std::span<const std::uint8_t> server,
                   std::uint64_t server_sent) noexcept {
  if (!rx_.init(suite, client, false) || !tx_.init(suite, server, true)) return false;
  tx_.set_sequence(server_sent);
  active_ = true;
  return true;
}

Records::Opened Records::fail(std::optional<Alert> alert, const char* why) noexcept {
  if (failure_ == nullptr) {
    failure_ = why;
    alert_ = alert;
  }
  return {Got::failed, 0};
}

std::size_t Records::record_size(const std::uint8_t* in, std::size_t len) noexcept {
  if (failed()) return kBadHeader;
  if (len < kHeader) return 0;
  if (in[0] != static_cast<std::uint8_t>(ContentType::application_data)) {
    fail(Alert::unexpected_message, in[0] == 20 ? "change_cipher_spec after the handshake"
                                                : "unprotected record after the handshake");
    return kBadHeader;
  }
  std::size_t body = std::size_t{in[3]} << 8 | in[4];
  if (body > kMaxBody) {
    fail(Alert::record_overflow, "record longer than 2^14 + 256 bytes");
    return kBadHeader;
  }
  return kHeader + body;
}

Records::Opened Records::open(const std::uint8_t* record, std::size_t size, std::uint8_t* out) noexcept {
  if (failed()) return {Got::failed, 0};
  if (size < kHeader + kTag) return fail(Alert::bad_record_mac, "record shorter than its tag");
  std::size_t inner = size - kHeader - kTag;
  if (inner > kMaxInner) return fail(Alert::record_overflow, "record content longer than 2^14 bytes");
  if (!rx_.open(record, size, out)) return fail(Alert::bad_record_mac, "record does not authenticate");
  while (inner > 0 && out[inner - 1] == 0) --inner;  // the padding
  if (inner == 0) return fail(Alert::unexpected_message, "record without a content type");
  std::size_t len = inner - 1;
  switch (static_cast<ContentType>(out[len])) {
    case ContentType::application_data:
      return {Got::data, len};
    case ContentType::alert:
      if (len != 2) return fail(Alert::decode_error, "malformed alert");
      if (out[1] == static_cast<std::uint8_t>(Alert::close_notify)) return {Got::closed, 0};
      if (out[1] == static_cast<std::uint8_t>(Alert::user_canceled)) return {Got::nothing, 0};  // a close_notify follows
      return fail(std::nullopt, "the client sent a fatal alert");
    case ContentType::handshake:
      return handshake_message(out, len);
  }
  return fail(Alert::unexpected_message, "unknown record content type");
}

Records::Opened Records::handshake_message(const std::uint8_t* msg, std::size_t len) noexcept {
  // After the handshake a client sends only KeyUpdate; a key change ends its record.
  if (len < 4) return fail(Alert::unexpected_message, "fragmented post-handshake message");
  if (msg[0] != 24) return fail(Alert::unexpected_message, "post-handshake message other than KeyUpdate");
  std::size_t body = std::size_t{msg[1]} << 16 | std::size_t{msg[2]} << 8 | msg[3];
  if (body != 1) return fail(Alert::decode_error, "malformed KeyUpdate");
  if (len != 5) return fail(Alert::unexpected_message, len < 5 ? "fragmented KeyUpdate" : "data after a KeyUpdate");
  if (msg[4] > 1) return fail(Alert::illegal_parameter, "KeyUpdate request neither 0 nor 1");
  if (!rx_.update()) return fail(Alert::internal_error, "key derivation failed");
  if (msg[4] == 1) update_owed_ = true;
  return {Got::nothing, 0};
}

std::size_t Records::seal(std::span<const std::uint8_t> content, std::uint8_t* out) noexcept {
  if (failed()) return 0;
  std::uint8_t* p = out;
  if (update_owed_ || tx_.sequence() >= kRecordsPerKey) {
    std::span<const std::uint8_t> msg[] = {kKeyUpdateNotRequested};
    std::size_t n = tx_.seal(ContentType::handshake, msg, 0, p);
    if (n == 0 || !tx_.update()) {
      fail(Alert::internal_error, "sealing a KeyUpdate failed");
      return 0;
    }
    p += n;
    update_owed_ = false;
  }
  std::span<const std::uint8_t> pieces[] = {content};
  std::size_t n = tx_.seal(ContentType::application_data, pieces, 0, p);
  if (n == 0) {
    fail(Alert::internal_error, "sealing a record failed");
    return 0;
  }
  return static_cast<std::size_t>(p + n - out);
}

std::size_t Records::seal_alert(Alert alert, std::uint8_t* out) noexcept {
  // Level: warning for close_notify, fatal for the rest (TLS 1.3 receivers ignore it).
  std::uint8_t body[2] = {static_cast<std::uint8_t>(alert == Alert::close_notify ? 1 : 2),
                          static_cast<std::uint8_t>(alert)};
  std::span<const std::uint8_t> pieces[] = {body};
  return tx_.seal(ContentType::alert, pieces, 0, out);
}

}  // namespace ringcast::protocol::tls13
