#include "protocol/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cmath>
#include <optional>
#include <utility>

#include "protocol/base64.hpp"
#include "protocol/json_value_internal.hpp"

namespace ringcast::protocol {
namespace {

namespace od = simdjson::ondemand;
constexpr std::size_t kMaxMacSize = 64;  // HS512

// The algorithms RFC 7518 section 3.2 defines over HMAC; nothing else is accepted.
const EVP_MD* hmac_digest(std::string_view alg) noexcept {
  if (alg == "HS256") return EVP_sha256();
  if (alg == "HS384") return EVP_sha384();
  if (alg == "HS512") return EVP_sha512();
  return nullptr;
}

// A NumericDate (RFC 7519 section 2): seconds, possibly with a fraction (dropped).
bool numeric_date(od::value v, std::int64_t& out) {
  if (v.get_int64().get(out) == simdjson::SUCCESS) return true;
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d) || d < -9.2e18 || d > 9.2e18) return false;
  out = static_cast<std::int64_t>(std::floor(d));
  return true;
}

}  // namespace

const char* jwt_error_text(JwtError e) noexcept {
  switch (e) {
    case JwtError::none: return "valid";
    case JwtError::malformed: return "malformed token";
    case JwtError::bad_algorithm: return "the token's algorithm is not HS256, HS384 or HS512";
    case JwtError::bad_signature: return "bad token signature";
    case JwtError::expired: return "token expired";
    case JwtError::not_yet_valid: return "token not valid yet (nbf)";
    case JwtError::wrong_audience: return "token audience does not match";
    case JwtError::wrong_issuer: return "token issuer does not match";
  }
  return "bad token";
}

struct JwtVerifier::Impl {
  od::parser parser;
  std::vector<std::uint8_t> header, payload;  // decoded, with simdjson's padding after

  // Decodes one base64url part into `buf`; its JSON text, or nullopt.
  static std::optional<std::size_t> decode(std::string_view part, std::vector<std::uint8_t>& buf) {
    std::size_t need = base64url_decoded_size(part.size()) + simdjson::SIMDJSON_PADDING;
    if (buf.size() < need) buf.resize(need);
    std::size_t n = base64url_decode(part, buf);
    if (n == kBase64Invalid) return std::nullopt;
    return n;
  }

  // The header's digest in `md`.
  JwtError check_header(std::string_view part, const EVP_MD*& md) {
    auto n = decode(part, header);
    if (!n) return JwtError::malformed;
    od::document doc;
    od::object o;
    if (parser.iterate(reinterpret_cast<const char*>(header.data()), *n, header.size()).get(doc) ||
        doc.get_object().get(o)) {
      return JwtError::malformed;
    }
    md = nullptr;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (std::move(f).get(field) || field.unescaped_key().get(key)) return JwtError::malformed;
      if (key == "alg") {
        std::string_view alg;
        if (field.value().get_string().get(alg)) return JwtError::malformed;
        md = hmac_digest(alg);
        if (md == nullptr) return JwtError::bad_algorithm;
      } else if (key == "crit") {
        return JwtError::bad_algorithm;  // an extension we would have to understand (RFC 7515 4.1.11)
      } else if (json::check(field.value(), 1)) {
        return JwtError::malformed;
      }
    }
    const char* after = nullptr;
    if (doc.current_location().get(after) == simdjson::SUCCESS) return JwtError::malformed;  // trailing bytes
    return md != nullptr ? JwtError::none : JwtError::bad_algorithm;
  }

  static bool audience_holds(od::value v, std::string_view want, bool& found) {
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) {
      found = found || s == want;
      return true;
    }
    od::array a;
    if (v.get_array().get(a)) return false;
    for (auto item : a) {
      od::value x;
      if (std::move(item).get(x) || x.get_string().get(s)) return false;
      found = found || s == want;
    }
    return true;
  }

  JwtError read_claims(std::string_view part, std::int64_t now, const JwtExpect& expect, JwtClaims& out) {
    auto n = decode(part, payload);
    if (!n) return JwtError::malformed;
    od::document doc;
    od::object o;
    if (parser.iterate(reinterpret_cast<const char*>(payload.data()), *n, payload.size()).get(doc) ||
        doc.get_object().get(o)) {
      return JwtError::malformed;
    }
    std::int64_t nbf = 0;
    bool audience_found = false, issuer_matches = false;
    for (auto f : o) {
      od::field field;
      std::string_view key;
      if (std::move(f).get(field) || field.unescaped_key().get(key)) return JwtError::malformed;
      od::value v = field.value();
      bool ok = true;
      if (key == "sub") {
        ok = v.get_string().get(out.sub) == simdjson::SUCCESS;
      } else if (key == "exp") {
        ok = numeric_date(v, out.exp);
      } else if (key == "nbf") {
        ok = numeric_date(v, nbf);
      } else if (key == "expire_at") {
        ok = numeric_date(v, out.expire_at);
        out.has_expire_at = true;
      } else if (key == "channel") {
        ok = v.get_string().get(out.channel) == simdjson::SUCCESS;
      } else if (key == "info") {
        ok = !json::raw(doc, v, out.info);
      } else if (key == "aud") {
        ok = audience_holds(v, expect.audience, audience_found);
      } else if (key == "iss") {
        std::string_view iss;
        ok = v.get_string().get(iss) == simdjson::SUCCESS;
        issuer_matches = iss == expect.issuer;
      } else if (key == "channels") {
        od::array a;
        if (v.get_array().get(a)) return JwtError::malformed;  // iterating a failed array is undefined
        for (auto item : a) {
          od::value x;
          std::string_view ch;
          if (std::move(item).get(x) || x.get_string().get(ch)) return JwtError::malformed;
          out.channels.push_back(ch);
        }
      } else {
        ok = !json::check(v, 1);
      }
      if (!ok) return JwtError::malformed;
    }
    const char* after = nullptr;
    if (doc.current_location().get(after) == simdjson::SUCCESS) return JwtError::malformed;
    if (!expect.audience.empty() && !audience_found) return JwtError::wrong_audience;
    if (!expect.issuer.empty() && !issuer_matches) return JwtError::wrong_issuer;
    if (nbf != 0 && nbf > now) return JwtError::not_yet_valid;
    if (out.exp != 0 && out.exp <= now) return JwtError::expired;
    return JwtError::none;
  }
};

JwtVerifier::JwtVerifier() : impl_(std::make_unique<Impl>()) {}
JwtVerifier::~JwtVerifier() = default;

JwtError JwtVerifier::verify(std::string_view token, std::span<const std::uint8_t> key, std::int64_t now,
                             const JwtExpect& expect, JwtClaims& out) noexcept {
  std::vector<std::string_view> channels = std::move(out.channels);  // keeps its capacity
  channels.clear();
  out = {};
  out.channels = std::move(channels);
  if (token.size() > kMaxTokenSize) return JwtError::malformed;
  std::size_t dot1 = token.find('.');
  std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::malformed;
  }
  const EVP_MD* md = nullptr;
  if (JwtError e = impl_->check_header(token.substr(0, dot1), md); e != JwtError::none) return e;

  auto mac_size = static_cast<std::size_t>(EVP_MD_get_size(md));
  std::uint8_t sig[kMaxMacSize + 3];
  if (base64url_decode(token.substr(dot2 + 1), sig) != mac_size) return JwtError::bad_signature;
  std::uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  std::string_view signed_part = token.substr(0, dot2);
  if (HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(signed_part.data()),
           signed_part.size(), mac, &mac_len) == nullptr ||
      mac_len != mac_size || CRYPTO_memcmp(mac, sig, mac_size) != 0) {
    return JwtError::bad_signature;
  }
  return impl_->read_claims(token.substr(dot1 + 1, dot2 - dot1 - 1), now, expect, out);
}

}  // namespace ringcast::protocol
