// Encode once: a published message (64 B danmaku line, 16 KiB market snapshot) becomes
// one pooled server frame: take a frame from the pool, write the header, copy the payload,
// give it back when the last holder is done. Beside a plain memcpy of the same payload.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "engine/net/frame_pool.hpp"
#include "protocol/frame.hpp"

namespace {

using namespace ringcast;

std::vector<std::uint8_t> payload_of(std::size_t n) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>('a' + i % 26);
  return p;
}

void BM_EncodePooledFrame(benchmark::State& state) {
  auto payload = payload_of(static_cast<std::size_t>(state.range(0)));
  engine::FramePool pool;
  for (auto _ : state) {
    engine::Frame* f = pool.acquire(protocol::frame_header_len(payload.size()) + payload.size());
    f->len = static_cast<std::uint32_t>(
        protocol::encode_server_frame({f->bytes(), f->capacity}, protocol::Opcode::text, payload));
    f->holders.store(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(f->bytes());
    benchmark::ClobberMemory();
    engine::release_holder(f, &pool);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// Baseline: the payload copy alone, into the same place a frame would hold it.
void BM_Memcpy(benchmark::State& state) {
  auto payload = payload_of(static_cast<std::size_t>(state.range(0)));
  engine::FramePool pool;
  engine::Frame* f = pool.acquire(protocol::frame_header_len(payload.size()) + payload.size());
  std::uint8_t* dst = f->bytes() + protocol::frame_header_len(payload.size());
  for (auto _ : state) {
    std::memcpy(dst, payload.data(), payload.size());
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
  }
  f->holders.store(1, std::memory_order_relaxed);
  engine::release_holder(f, &pool);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK(BM_Memcpy)->Arg(64)->Arg(16 << 10);
BENCHMARK(BM_EncodePooledFrame)->Arg(64)->Arg(16 << 10);

}  // namespace

BENCHMARK_MAIN();
