// What checking a connection token costs (protocol/jwt): verifying a Centrifugo-style
// HS256 token (sub, exp, info) beside the HMAC-SHA256 of the same signing input alone (the
// floor: the signature must be computed whatever parses the rest). Paid once per connect,
// refresh or private subscribe, never per delivery.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>

#include "protocol/base64.hpp"
#include "protocol/jwt.hpp"

namespace {

using namespace ringcast::protocol;

constexpr std::string_view kKey = "bench-secret-key-of-32-bytes-abc";

std::string b64url(std::string_view in) {
  std::string out(base64_encoded_size(in.size()), '\0');
  out.resize(base64url_encode({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, out));
  return out;
}

std::string mac(std::string_view input) {
  unsigned char m[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), m, &len);
  return std::string(reinterpret_cast<const char*>(m), len);
}

std::string signing_input() {
  return b64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
         b64url(R"({"sub":"user-12345","exp":4102444800,"iat":1733370000,"info":{"name":"Ann","tier":"gold"}})");
}

std::span<const std::uint8_t> key() { return {reinterpret_cast<const std::uint8_t*>(kKey.data()), kKey.size()}; }

void BM_VerifyHs256(benchmark::State& state) {
  std::string input = signing_input();
  std::string token = input + "." + b64url(mac(input));
  JwtVerifier v;
  JwtClaims claims;
  for (auto _ : state) {
    JwtError e = v.verify(token, key(), 1'733'370'000, {.audience = "", .issuer = ""}, claims);
    benchmark::DoNotOptimize(e);
  }
  if (v.verify(token, key(), 1'733'370'000, {.audience = "", .issuer = ""}, claims) != JwtError::none) {
    state.SkipWithError("the token did not verify");
  }
}
BENCHMARK(BM_VerifyHs256);

void BM_HmacSha256Floor(benchmark::State& state) {
  std::string input = signing_input();
  for (auto _ : state) {
    std::string m = mac(input);
    benchmark::DoNotOptimize(m.data());
  }
}
BENCHMARK(BM_HmacSha256Floor);

}  // namespace

BENCHMARK_MAIN();
