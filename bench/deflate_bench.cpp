// permessage-deflate's cost per publication: compressing one message once (the shard's
// Deflater, zlib level 6, sync flush, reset per message) for every deflate subscriber, and
// inflating one client message. Messages: a 64 B chat line, and ~1 KiB of JSON (a ticker
// batch). Counters: compressed bytes as a share of the message's.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/deflate_codec.hpp"

namespace {

using ringcast::protocol::Deflater;
using ringcast::protocol::Inflater;

std::vector<std::uint8_t> message(std::size_t size) {
  std::string s;
  for (int i = 0; s.size() < size; ++i) {
    s += "{\"s\":\"SYM" + std::to_string(i % 16) + "\",\"p\":\"" + std::to_string(10125 + i * 7 % 311) +
         ".25\",\"c\":\"-0." + std::to_string(i % 9) + "\",\"v\":" + std::to_string(1000 + i * 37) + "},";
  }
  s.resize(size);
  return {s.begin(), s.end()};
}

// range(0): message bytes.
void BM_Deflate(benchmark::State& state) {
  const std::vector<std::uint8_t> msg = message(static_cast<std::size_t>(state.range(0)));
  Deflater de;
  std::vector<std::uint8_t> out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(de.deflate(msg, out));
    benchmark::ClobberMemory();
  }
  state.counters["ratio"] = static_cast<double>(out.size()) / static_cast<double>(msg.size());
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

BENCHMARK(BM_Deflate)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Inflate)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK_MAIN();
