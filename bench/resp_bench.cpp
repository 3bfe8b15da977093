// The broker link's reply parser: a receive's worth of Redis pub/sub messages
// (`*3 $7 message $<channel> $<payload>`, 64 at a time) read by protocol::resp (a flat
// tree of views into the buffer, its vector reused) and by hiredis's reader (libhiredis,
// the parser only: reply objects allocated and strings copied), for 64 B and 1 KiB
// payloads. Heap allocations (malloc, calloc, realloc) are counted per message.
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/resp.hpp"

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}

// Every heap allocation of the process, C++ and C (hiredis calls malloc and calloc): glibc's
// own entry points do the work.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* malloc(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
}

namespace {

namespace resp = ringcast::protocol::resp;
constexpr int kBatch = 64;

std::string batch(std::size_t payload) {
  std::string out;
  const std::string data(payload, 'x');
  for (int i = 0; i < kBatch; ++i) {
    const std::string channel = "rc:ticker:SYM" + std::to_string(i % 16);
    out += "*3\r\n$7\r\nmessage\r\n$" + std::to_string(channel.size()) + "\r\n" + channel + "\r\n$" +
           std::to_string(data.size()) + "\r\n" + data + "\r\n";
  }
  return out;
}

void report(benchmark::State& state, std::uint64_t allocs) {
  state.counters["ns_per_msg"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBatch,
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_msg"] = static_cast<double>(allocs) / (static_cast<double>(state.iterations()) * kBatch);
}

void BM_RespOwn(benchmark::State& state) {
  const std::string in = batch(static_cast<std::size_t>(state.range(0)));
  resp::Reply reply;
  std::size_t bytes = 0;
  std::uint64_t before = 0;
  bool first = true;
  for (auto _ : state) {
    std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
    while (!rest.empty()) {
      const resp::Parse p = resp::parse_reply(rest, reply);
      std::string_view parts[3];
      if (p.status != resp::Status::ok || !reply.bulk_array(parts)) std::abort();
      bytes += parts[2].size();
      rest = rest.subspan(p.consumed);
    }
    if (first) {  // the reply's vector grew once: from here on nothing is allocated
      before = g_allocs.load();
      first = false;
    }
  }
  benchmark::DoNotOptimize(bytes);
  report(state, g_allocs.load() - before);
}

void BM_RespHiredis(benchmark::State& state) {
  const std::string in = batch(static_cast<std::size_t>(state.range(0)));
  redisReader* reader = redisReaderCreate();
  std::size_t bytes = 0;
  const std::uint64_t before = g_allocs.load();
  for (auto _ : state) {
    if (redisReaderFeed(reader, in.data(), in.size()) != REDIS_OK) std::abort();
    for (int i = 0; i < kBatch; ++i) {
      void* r = nullptr;
      if (redisReaderGetReply(reader, &r) != REDIS_OK || r == nullptr) std::abort();
      const auto* reply = static_cast<redisReply*>(r);
      bytes += reply->element[2]->len;
      freeReplyObject(r);
    }
  }
  const std::uint64_t allocs = g_allocs.load() - before;
  redisReaderFree(reader);
  benchmark::DoNotOptimize(bytes);
  report(state, allocs);
}

}  // namespace

BENCHMARK(BM_RespOwn)->Arg(64)->Arg(1024);
BENCHMARK(BM_RespHiredis)->Arg(64)->Arg(1024);
BENCHMARK_MAIN();
