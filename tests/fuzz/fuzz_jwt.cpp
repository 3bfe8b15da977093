// libFuzzer target for protocol/jwt. The input is a token's header and claims JSON,
// split at the first newline; the target signs them with its key (with each of
// HS256/384/512 until one is not a bad signature), so the parser behind the
// signature check is reached. Invariants: a token signed with the key never fails on its
// signature, the input taken as a raw token never verifies (the fuzzer cannot forge HMAC),
// the same token gives the same answer twice, `info` is a piece of the claims text, and
// nothing crashes or reads out of bounds.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <string>

#include "protocol/base64.hpp"
#include "protocol/jwt.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol;


constexpr std::string_view kKey = "fuzz key";

std::string b64url(std::string_view in) {
  std::string out(base64_encoded_size(in.size()), '\0');
  out.resize(base64url_encode({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, out));
  return out;
}

std::span<const std::uint8_t> key() { return {reinterpret_cast<const std::uint8_t*>(kKey.data()), kKey.size()}; }

JwtVerifier& verifier() {
  static JwtVerifier v;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(bytes), size);
  JwtClaims claims;
  JwtExpect expect{.audience = "", .issuer = ""};
  FUZZ_CHECK(verifier().verify(in, key(), 1'000, expect, claims) != JwtError::none);

  auto nl = in.find('\n');
  std::string_view header = in.substr(0, nl), body = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  std::string input = b64url(header) + "." + b64url(body);
  // Signed with each HMAC the header may name: the one it names is never a bad signature.
  std::string token;
  JwtError a = JwtError::bad_signature;
  for (const EVP_MD* md : {EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(md, kKey.data(), static_cast<int>(kKey.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), mac, &len);
    token = input + "." + b64url({reinterpret_cast<const char*>(mac), len});
    a = verifier().verify(token, key(), 1'000, expect, claims);
    if (a != JwtError::bad_signature) break;
  }
  std::string info(claims.info), sub(claims.sub);
  std::size_t channels = claims.channels.size();
  FUZZ_CHECK(a != JwtError::bad_signature);
  if (a == JwtError::none) FUZZ_CHECK(body.find(info) != std::string_view::npos);
  JwtError b = verifier().verify(token, key(), 1'000, expect, claims);
  FUZZ_CHECK(a == b);
  if (a == JwtError::none) FUZZ_CHECK(claims.info == info && claims.sub == sub && claims.channels.size() == channels);
  return 0;
}
