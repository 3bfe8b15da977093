// Delta compression's cost per publication: the Fossil delta of one order book update
// (ringcast-feed's market, bench/feed/market.hpp) against the book before, made once per
// publication on the publishing thread (engine/app/channel_publisher.hpp), beside the
// JSON string of the full book every delta channel also encodes. Counters: the delta's
// bytes as a share of the book's (the wire saving before JSON escaping).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/feed/market.hpp"
#include "protocol/client_reply.hpp"
#include "protocol/fossil_delta.hpp"

namespace {

using namespace ringcast;

// A run of consecutive books of one instrument, made before timing.
std::vector<std::string> books(std::size_t depth) {
  feed::Market market(1, depth, 7);
  std::vector<std::string> out(1024);
  for (std::string& b : out) {
    market.step(0);
    market.append_book(b, 0);
  }
  return out;
}

// range(0): levels a side.
void BM_FossilDeltaOrderBook(benchmark::State& state) {
  const std::vector<std::string> run = books(static_cast<std::size_t>(state.range(0)));
  protocol::fossil::DeltaEncoder encoder;
  std::string delta;
  double book_bytes = 0, delta_bytes = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string &before = run[i], &after = run[i + 1];
    encoder.encode(before, after, delta);
    benchmark::DoNotOptimize(delta.data());
    book_bytes += static_cast<double>(after.size());
    delta_bytes += static_cast<double>(delta.size());
    i = i + 2 == run.size() ? 0 : i + 1;
  }
  state.counters["book_bytes"] = book_bytes / static_cast<double>(state.iterations());
  state.counters["delta_share"] = delta_bytes / book_bytes;
}

// The full form's cost: the book escaped into a JSON string (every delta channel's
// publication is also written this way, for subscribers without a base).
void BM_FullFormOrderBook(benchmark::State& state) {
  const std::string book = books(static_cast<std::size_t>(state.range(0))).back();
  std::string out;
  for (auto _ : state) {
    out.clear();
    protocol::client::append_json_string(out, book);
    benchmark::DoNotOptimize(out.data());
  }
}

BENCHMARK(BM_FossilDeltaOrderBook)->Arg(10)->Arg(20)->Arg(50);
BENCHMARK(BM_FullFormOrderBook)->Arg(10)->Arg(20)->Arg(50);

}  // namespace

BENCHMARK_MAIN();
