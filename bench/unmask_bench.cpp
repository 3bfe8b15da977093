// unmask() at each SIMD level the CPU has, beside memcpy of the same size as the
// baseline measured in the same run: compare bytes/s of unmask/<level>/N to memcpy/N.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "protocol/simd.hpp"
#include "protocol/unmask.hpp"

namespace {

using ringcast::protocol::MaskKey;
using ringcast::protocol::SimdLevel;

constexpr std::size_t kSizes[] = {64, 1024, 16 * 1024, 1024 * 1024};

struct FreeDeleter {
  void operator()(std::uint8_t* p) const noexcept { std::free(p); }
};
using Buffer = std::unique_ptr<std::uint8_t[], FreeDeleter>;

Buffer make_buffer(std::size_t n) {
  auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 131u);
  return Buffer(p);
}

void bench_unmask(benchmark::State& state, SimdLevel level) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (!ringcast::protocol::select_simd(level)) {
    state.SkipWithError("level not supported");
    return;
  }
  Buffer buf = make_buffer(n);
  const MaskKey key{0x37, 0xfa, 0x21, 0x3d};
  for (auto _ : state) {
    benchmark::DoNotOptimize(ringcast::protocol::unmask(buf.get(), n, key, 0));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void bench_memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Buffer src = make_buffer(n);
  Buffer dst = make_buffer(n);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), n);
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

}  // namespace

int main(int argc, char** argv) {
  auto* base = benchmark::RegisterBenchmark("memcpy", bench_memcpy);
  for (const std::size_t n : kSizes) base->Arg(static_cast<std::int64_t>(n));
  for (const SimdLevel level : {SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512}) {
    if (!ringcast::protocol::simd_supported(level)) continue;
    const std::string name = "unmask/" + std::string(ringcast::protocol::simd_name(level));
    auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_unmask, level);
    for (const std::size_t n : kSizes) b->Arg(static_cast<std::int64_t>(n));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
