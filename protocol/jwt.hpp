// JSON Web Tokens (RFC 7519) signed with HMAC (HS256, HS384, HS512: RFC 7518 section 3.2):
// the connection and subscription tokens of the Centrifugo client protocol. Verification
// only. The header must name one of those (an attacker writes the header: no "none", no
// `crit`), the signature is compared in constant time (CRYPTO_memcmp) before any claim is
// read, and then the claims ringcast uses are returned; the rest are checked as JSON and
// ignored. Pure: the caller passes the key and the time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace ringcast::protocol {

enum class JwtError : std::uint8_t {
  none,
  malformed,      // not three base64url parts of JSON objects, or a claim of the wrong type
  bad_algorithm,  // the header names anything but HS256/384/512, or a critical extension
  bad_signature,
  expired,        // exp at or before now
  not_yet_valid,  // nbf after now
  wrong_audience,
  wrong_issuer,
};
[[nodiscard]] const char* jwt_error_text(JwtError e) noexcept;

// The claims Centrifugo's tokens carry. Views into the verifier: valid until its next call.
struct JwtClaims {
  std::string_view sub;       // the user ("" is an anonymous user with a token)
  std::int64_t exp = 0;       // seconds since the epoch; 0: the token does not expire
  std::int64_t expire_at = 0; // Centrifugo's override of exp for the connection's lifetime
  bool has_expire_at = false;
  std::string_view info;      // raw JSON, empty when absent
  std::string_view channel;   // subscription tokens: the channel it grants
  std::vector<std::string_view> channels;  // connection tokens: server-side subscriptions
};

struct JwtExpect {
  std::string_view audience;  // non-empty: `aud` (a string or an array) must hold it
  std::string_view issuer;    // non-empty: `iss` must equal it
};

class JwtVerifier {
 public:
  // Tokens longer than this are malformed: a bound on what one command makes us decode.
  static constexpr std::size_t kMaxTokenSize = 16 * 1024;

  JwtVerifier();
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Checks `token` against `key` at time `now` (seconds since the epoch). On none, `out`
  // holds the claims; on expired, too (the caller may want `sub` for the log).
  [[nodiscard]] JwtError verify(std::string_view token, std::span<const std::uint8_t> key, std::int64_t now,
                                const JwtExpect& expect, JwtClaims& out) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringcast::protocol
