// What presence costs a danmaku room (engine/pubsub/presence): presence_stats (the
// "12,345 watching" number) on a channel of 100,000 clients, beside the same call on a
// channel of 10; and one subscriber entering and leaving such a channel (the
// per-subscribe cost presence adds). Client ids are the 36-character ones the protocol
// gives; users anonymous.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "engine/pubsub/presence.hpp"

namespace {

using ringcast::engine::Presence;

std::string client_id(std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08zx-0000-0001-0000-000000000000", n & 0xFFFFFFFFu);
  return buf;
}

// One process-wide record, as the server has; each size is its own channel ("room<N>").
Presence g_presence;

std::string room(std::size_t clients) {
  std::string name = "room" + std::to_string(clients);
  if (g_presence.stats(name).clients < clients) {
    for (std::size_t i = 0; i < clients; ++i) g_presence.add(name, client_id(i), {});
  }
  return name;
}

void BM_PresenceStats(benchmark::State& state) {
  const std::string name = room(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    Presence::Stats s = g_presence.stats(name);
    benchmark::DoNotOptimize(s);
  }
  state.counters["clients"] = static_cast<double>(g_presence.stats(name).clients);
}
BENCHMARK(BM_PresenceStats)->Arg(10)->Arg(100000);

void BM_PresenceEnterLeave(benchmark::State& state) {
  const std::string name = room(static_cast<std::size_t>(state.range(0)));
  const std::string me = client_id(1u << 30);
  for (auto _ : state) {
    g_presence.add(name, me, {});
    g_presence.remove(name, me);
  }
  state.counters["clients"] = static_cast<double>(g_presence.stats(name).clients);
}
BENCHMARK(BM_PresenceEnterLeave)->Arg(10)->Arg(100000);

}  // namespace

BENCHMARK_MAIN();
