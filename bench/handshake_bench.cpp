// Handshake kernels: parse_request on a realistic Chromium upgrade, next to a memmem
// scan for CRLFCRLF over the same bytes (the floor any head parser pays), and the
// accept key next to OpenSSL's one-shot EVP SHA-1 of the same input.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstring>
#include <string>
#include <string_view>

#include "protocol/handshake.hpp"
#include "tests/protocol/sample_requests.hpp"

namespace rp = ringcast::protocol;

namespace {

constexpr std::string_view kChromium = ringcast::samples::kChromium;

void BM_MemmemBaseline(benchmark::State& state) {
  const std::string buf(kChromium);
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    const void* end = memmem(buf.data(), buf.size(), "\r\n\r\n", 4);
    benchmark::DoNotOptimize(end);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_MemmemBaseline);

void BM_ParseChromiumUpgrade(benchmark::State& state) {
  const std::string buf(kChromium);
  rp::HttpRequest req;
  const rp::HandshakeRules rules;
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    const rp::RequestParse r = rp::parse_request(buf, 0, rules, req);
    if (r.status != rp::Status::ok || req.kind != rp::RequestKind::websocket) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_ParseChromiumUpgrade);

void BM_EvpSha1Baseline(benchmark::State& state) {
  // What the accept key would cost through OpenSSL 3's one-shot EVP path (fetch + allocate).
  const std::string in = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.data());
    EVP_Digest(in.data(), in.size(), md, &len, EVP_sha1(), nullptr);
    benchmark::DoNotOptimize(md);
  }
}
BENCHMARK(BM_EvpSha1Baseline);

void BM_ComputeAcceptKey(benchmark::State& state) {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.data());
    rp::AcceptKey k = rp::compute_accept_key(key);
    benchmark::DoNotOptimize(k);
  }
}
BENCHMARK(BM_ComputeAcceptKey);

void BM_WriteUpgradeResponse(benchmark::State& state) {
  char out[256];
  for (auto _ : state) {
    const std::size_t n = rp::write_upgrade_response(out, "dGhlIHNhbXBsZSBub25jZQ==");
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_WriteUpgradeResponse);

}  // namespace

BENCHMARK_MAIN();
