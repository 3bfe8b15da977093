// permessage-deflate's cost per publication: compressing one message once for every deflate
// subscriber, with the shard's Deflater (zlib raw DEFLATE, sync flush, reset per message)
// and with libdeflate (whole-buffer, a BFINAL block plus the one byte RFC 7692 7.2.3.4
// adds), at zlib's levels and libdeflate's; and inflating one client message. Messages:
// market-data JSON (ringcast-feed's ticker lines, as ringcast-load --payload json sends)
// of 128 B to 16 KiB. Counter `ratio`: compressed bytes as a share of the message's.
#include <benchmark/benchmark.h>
#include <libdeflate.h>

#include <string>
#include <vector>

#include "bench/feed/market.hpp"
#include "protocol/deflate_codec.hpp"

namespace {

using ringcast::protocol::Deflater;
using ringcast::protocol::Inflater;

std::vector<std::uint8_t> message(std::size_t size) {
  const std::string s = ringcast::feed::ticker_batch(size);
  return {s.begin(), s.end()};
}

// range(0): message bytes; range(1): zlib level.
void BM_Zlib(benchmark::State& state) {
  const std::vector<std::uint8_t> msg = message(static_cast<std::size_t>(state.range(0)));
  Deflater de(static_cast<int>(state.range(1)));
  std::vector<std::uint8_t> out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(de.deflate(msg, out));
    benchmark::ClobberMemory();
  }
  state.counters["ratio"] = static_cast<double>(out.size()) / static_cast<double>(msg.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
}

// range(0): message bytes; range(1): libdeflate level (1..12).
void BM_Libdeflate(benchmark::State& state) {
  const std::vector<std::uint8_t> msg = message(static_cast<std::size_t>(state.range(0)));
  libdeflate_compressor* c = libdeflate_alloc_compressor(static_cast<int>(state.range(1)));
  if (c == nullptr) {
    state.SkipWithError("libdeflate_alloc_compressor failed");
    return;
  }
  std::vector<std::uint8_t> out(libdeflate_deflate_compress_bound(c, msg.size()) + 1);
  std::size_t n = 0;
  for (auto _ : state) {
    n = libdeflate_deflate_compress(c, msg.data(), msg.size(), out.data(), out.size() - 1);
    out[n] = 0;  // RFC 7692 7.2.3.4: the empty block's header after the BFINAL one
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  libdeflate_free_compressor(c);
  state.counters["ratio"] = static_cast<double>(n + 1) / static_cast<double>(msg.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
}

void BM_Inflate(benchmark::State& state) {
  const std::vector<std::uint8_t> msg = message(static_cast<std::size_t>(state.range(0)));
  Deflater de;
  Inflater in;
  std::vector<std::uint8_t> z, out;
  (void)de.deflate(msg, z);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in.inflate(z, out, 1u << 20));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
}

}  // namespace

BENCHMARK(BM_Zlib)->ArgsProduct({{128, 512, 1024, 4096, 16384}, {1, 6, 9}});
BENCHMARK(BM_Libdeflate)->ArgsProduct({{128, 512, 1024, 4096, 16384}, {1, 6, 9}});
BENCHMARK(BM_Inflate)->Arg(128)->Arg(1024)->Arg(16384);
BENCHMARK_MAIN();
