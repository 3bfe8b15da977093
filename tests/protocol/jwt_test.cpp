// protocol/jwt: HMAC verification against RFC 7515's own example and tokens signed here;
// every way a token can be wrong gets its own answer; claims come back as written.
#include "protocol/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

#include "protocol/base64.hpp"

namespace ringcast::protocol {
namespace {

std::string b64url(std::string_view in) {
  std::string out(base64_encoded_size(in.size()), '\0');
  out.resize(base64url_encode({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, out));
  return out;
}

std::span<const std::uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

constexpr std::string_view kKey = "secret for the tests";
constexpr std::string_view kHs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string sign(std::string_view header, std::string_view claims, std::string_view key = kKey,
                 const EVP_MD* md = EVP_sha256()) {
  std::string input = b64url(header) + "." + b64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return input + "." + b64url({reinterpret_cast<const char*>(mac), len});
}

struct Verify {
  JwtVerifier verifier;
  JwtClaims claims;
  JwtError operator()(std::string_view token, std::int64_t now = 1'000, JwtExpect expect = {},
                      std::string_view key = kKey) {
    return verifier.verify(token, bytes(key), now, expect, claims);
  }
};

TEST(Base64url, DecodesUnpaddedAndRefusesTheRest) {
  std::uint8_t out[8];
  auto decode = [&](std::string_view in) {
    std::size_t n = base64url_decode(in, out);
    return n == kBase64Invalid ? std::string("<invalid>") : std::string(reinterpret_cast<char*>(out), n);
  };
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("Zg"), "f");
  EXPECT_EQ(decode("Zm8"), "fo");
  EXPECT_EQ(decode("Zm9v"), "foo");
  EXPECT_EQ(decode("Zm9vYg"), "foob");
  EXPECT_EQ(decode("-_8"), "\xfb\xff");
  EXPECT_EQ(decode("Z"), "<invalid>");      // a lone character carries no byte
  EXPECT_EQ(decode("Zg=="), "<invalid>");   // padding is not base64url's
  EXPECT_EQ(decode("Zh"), "<invalid>");     // non-zero unused bits
  EXPECT_EQ(decode("+/8"), "<invalid>");    // the standard alphabet's characters
  EXPECT_EQ(decode("Zm9vYmFyYmF6"), "<invalid>");  // 9 bytes do not fit 8
}

TEST(Base64url, EncodesWithoutPaddingAndRoundTrips) {
  EXPECT_EQ(b64url(""), "");
  EXPECT_EQ(b64url("f"), "Zg");
  EXPECT_EQ(b64url("fo"), "Zm8");
  EXPECT_EQ(b64url("\xfb\xff"), "-_8");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    std::string e = b64url(all.substr(0, len));
    std::string back(base64url_decoded_size(e.size()), '\0');
    std::size_t n = base64url_decode(e, {reinterpret_cast<std::uint8_t*>(back.data()), back.size()});
    ASSERT_NE(n, kBase64Invalid) << len;
    EXPECT_EQ(back.substr(0, n), all.substr(0, len));
  }
  char small[3];
  EXPECT_EQ(base64url_encode({reinterpret_cast<const std::uint8_t*>("fo"), 2}, small), 0u);  // needs 4
}

TEST(Jwt, VerifiesRfc7515Example) {
  // RFC 7515 appendix A.1: the HS256 example, key and all.
  constexpr std::string_view token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  std::uint8_t key[64];
  ASSERT_EQ(base64url_decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow", key),
            64u);
  std::string_view k{reinterpret_cast<char*>(key), 64};
  Verify v;
  EXPECT_EQ(v(token, 1300819379, {}, k), JwtError::none);
  EXPECT_EQ(v.claims.exp, 1300819380);
  EXPECT_EQ(v(token, 1300819379, {.audience = "", .issuer = "joe"}, k), JwtError::none);
  EXPECT_EQ(v(token, 1300819379, {.audience = "", .issuer = "bob"}, k), JwtError::wrong_issuer);
  EXPECT_EQ(v(token, 1300819380, {}, k), JwtError::expired);  // "on or after" exp (RFC 7519 4.1.4)
  EXPECT_EQ(v(token, 1300819379, {}, kKey), JwtError::bad_signature);
}

TEST(Jwt, ReturnsTheClaimsCentrifugoUses) {
  Verify v;
  std::string t = sign(kHs256, R"({"sub":"42","exp":2000.9,"info":{"name": "Ann" , "n":[1,2]} ,"iat":1,)"
                               R"("channels":["news","$x"],"channel":"ns:c","expire_at":3000,"meta":{"a":null}})");
  ASSERT_EQ(v(t), JwtError::none);
  EXPECT_EQ(v.claims.sub, "42");
  EXPECT_EQ(v.claims.exp, 2000);
  EXPECT_EQ(v.claims.info, R"({"name": "Ann" , "n":[1,2]})");
  ASSERT_EQ(v.claims.channels.size(), 2u);
  EXPECT_EQ(v.claims.channels[1], "$x");
  EXPECT_EQ(v.claims.channel, "ns:c");
  EXPECT_TRUE(v.claims.has_expire_at);
  EXPECT_EQ(v.claims.expire_at, 3000);

  ASSERT_EQ(v(sign(kHs256, R"({"sub":"\u0041\n"})")), JwtError::none);  // escapes come back unescaped
  EXPECT_EQ(v.claims.sub, "A\n");
  EXPECT_EQ(v.claims.exp, 0);
  EXPECT_TRUE(v.claims.channels.empty());
  EXPECT_TRUE(v.claims.info.empty());
}

TEST(Jwt, ChecksTimeAudienceAndIssuer) {
  Verify v;
  EXPECT_EQ(v(sign(kHs256, R"({"exp":1000})"), 999), JwtError::none);
  EXPECT_EQ(v(sign(kHs256, R"({"exp":1000})"), 1000), JwtError::expired);
  EXPECT_EQ(v(sign(kHs256, R"({"nbf":1001})"), 1000), JwtError::not_yet_valid);
  EXPECT_EQ(v(sign(kHs256, R"({"nbf":1000})"), 1000), JwtError::none);
  std::string aud = sign(kHs256, R"({"aud":["a","b"],"iss":"me"})");
  EXPECT_EQ(v(aud, 1000, {.audience = "b", .issuer = ""}), JwtError::none);
  EXPECT_EQ(v(aud, 1000, {.audience = "c", .issuer = ""}), JwtError::wrong_audience);
  EXPECT_EQ(v(sign(kHs256, R"({"aud":"c"})"), 1000, {.audience = "c", .issuer = ""}), JwtError::none);
  EXPECT_EQ(v(sign(kHs256, R"({})"), 1000, {.audience = "c", .issuer = ""}), JwtError::wrong_audience);
  EXPECT_EQ(v(aud, 1000, {.audience = "", .issuer = "me"}), JwtError::none);
  EXPECT_EQ(v(aud, 1000, {.audience = "", .issuer = "you"}), JwtError::wrong_issuer);
}

TEST(Jwt, VerifiesHs384AndHs512) {
  Verify v;
  EXPECT_EQ(v(sign(R"({"alg":"HS384"})", R"({"sub":"a"})", kKey, EVP_sha384())), JwtError::none);
  EXPECT_EQ(v.claims.sub, "a");
  EXPECT_EQ(v(sign(R"({"alg":"HS512"})", R"({"sub":"b"})", kKey, EVP_sha512())), JwtError::none);
  EXPECT_EQ(v.claims.sub, "b");
  EXPECT_EQ(v(sign(R"({"alg":"HS384"})", "{}", kKey, EVP_sha512())), JwtError::bad_signature);
  EXPECT_EQ(v(sign(R"({"alg":"HS512"})", "{}", "another key", EVP_sha512())), JwtError::bad_signature);
}

TEST(Jwt, RefusesOtherAlgorithms) {
  Verify v;
  EXPECT_EQ(v(b64url(R"({"alg":"none"})") + "." + b64url(R"({"sub":"1"})") + "."), JwtError::bad_algorithm);
  EXPECT_EQ(v(sign(R"({"alg":"RS256"})", "{}")), JwtError::bad_algorithm);
  EXPECT_EQ(v(sign(R"({"alg":"HS512"})", "{}")), JwtError::bad_signature);  // an HS256 MAC under HS512
  EXPECT_EQ(v(sign(R"({"alg":"hs256"})", "{}")), JwtError::bad_algorithm);
  EXPECT_EQ(v(sign(R"({"typ":"JWT"})", "{}")), JwtError::bad_algorithm);
  EXPECT_EQ(v(sign(R"({"alg":"HS256","crit":["b64"],"b64":false})", "{}")), JwtError::bad_algorithm);
}

TEST(Jwt, RefusesForgedSignatures) {
  Verify v;
  std::string t = sign(kHs256, R"({"sub":"1"})");
  ASSERT_EQ(v(t), JwtError::none);
  EXPECT_EQ(v(t, 1000, {}, "another key"), JwtError::bad_signature);
  std::string flipped = t;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v(flipped), JwtError::bad_signature);
  EXPECT_EQ(v(t.substr(0, t.size() - 2)), JwtError::bad_signature);  // 31 bytes
  std::string other = sign(kHs256, R"({"sub":"2"})");
  std::string spliced = t.substr(0, t.rfind('.')) + other.substr(other.rfind('.'));
  EXPECT_EQ(v(spliced), JwtError::bad_signature);
}

TEST(Jwt, RefusesMalformedTokens) {
  Verify v;
  std::string t = sign(kHs256, R"({"sub":"1"})");
  EXPECT_EQ(v(""), JwtError::malformed);
  EXPECT_EQ(v("a.b"), JwtError::malformed);
  EXPECT_EQ(v(t + ".x"), JwtError::malformed);
  EXPECT_EQ(v("=" + t), JwtError::malformed);
  EXPECT_EQ(v(sign("[1]", "{}")), JwtError::malformed);
  EXPECT_EQ(v(sign(R"({"alg":"HS256"} x)", "{}")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, "[]")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, R"({"sub":1})")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, R"({"exp":"soon"})")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, R"({"channels":["a",2]})")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, R"({"info":{"a":}})")), JwtError::malformed);
  EXPECT_EQ(v(sign(kHs256, R"({"x":[1,}})")), JwtError::malformed);  // unknown claims are checked too
  EXPECT_EQ(v(sign(kHs256, R"({"sub":"1"} {})")), JwtError::malformed);
  std::string big = sign(kHs256, R"({"pad":")" + std::string(JwtVerifier::kMaxTokenSize, 'x') + "\"}");
  EXPECT_EQ(v(big), JwtError::malformed);
}

}  // namespace
}  // namespace ringcast::protocol
