// What reading a client command costs (protocol/client_command): the publish a danmaku
// client sends, a subscribe, a 4 KiB publish and a batch of 10 commands in one message,
// each beside a memcpy of the same bytes (the floor: the parser copies the frame once to
// give simdjson its padding). Beside them, what a configured rate limit adds per command
// (engine/app/rate_limit: the clock read and the buckets' check).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include <chrono>

#include "engine/app/rate_limit.hpp"
#include "protocol/client_command.hpp"

namespace {

using namespace ringcast::protocol::client;

struct Count final : CommandSink {
  std::size_t n = 0, data = 0;
  bool on_command(const Command& c) override {
    ++n;
    data += c.data.size();
    return true;
  }
};

std::string publish(std::size_t text) {
  return "{\"id\":17,\"publish\":{\"channel\":\"chat:index\",\"data\":{\"input\":\"" + std::string(text, 'x') +
         "\",\"user\":\"u123\",\"ts\":1733370000123}}}";
}

std::string frame_of(int which) {
  switch (which) {
    case 0: return publish(40);
    case 1: return R"({"id":2,"subscribe":{"channel":"trades:BTC-USD","recover":true,"offset":1234,"epoch":"x1y2"}})";
    case 2: return publish(4096);
    default: {
      std::string f;
      for (int i = 0; i < 10; ++i) f += publish(40) + "\n";
      return f;
    }
  }
}
const char* kNames[] = {"publish_64B_text", "subscribe", "publish_4KiB_text", "batch_of_10_publishes"};

void BM_ParseCommand(benchmark::State& state) {
  std::string frame = frame_of(static_cast<int>(state.range(0)));
  CommandParser parser;
  Count sink;
  for (auto _ : state) {
    CommandParser::Result r = parser.parse(frame, sink);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(kNames[state.range(0)]);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_ParseCommand)->DenseRange(0, 3);

void BM_Memcpy(benchmark::State& state) {
  std::string frame = frame_of(static_cast<int>(state.range(0)));
  std::vector<char> out(frame.size());
  for (auto _ : state) {
    std::memcpy(out.data(), frame.data(), frame.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(kNames[state.range(0)]);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_Memcpy)->DenseRange(0, 3);

// A publish counted in a total bucket and its own: the clock read a command pays, and two
// cells. The rate is high enough that every command is admitted (the common case).
void BM_RateLimitAdmit(benchmark::State& state) {
  ringcast::engine::RateLimits rl;
  rl.enabled = true;
  rl.total = {{.interval_ns = 1'000'000'000, .rate = 1'000'000'000}};
  rl.own[static_cast<std::size_t>(Method::publish)] = {{.interval_ns = 1'000'000'000, .rate = 1'000'000'000}};
  rl.has_own[static_cast<std::size_t>(Method::publish)] = true;
  rl.plan();
  std::vector<std::int64_t> cells(rl.cells(), 0);
  for (auto _ : state) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
    bool ok = rl.admit(Method::publish, cells, now.count());
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_RateLimitAdmit);

}  // namespace

BENCHMARK_MAIN();
