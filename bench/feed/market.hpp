// ringcast-feed's synthetic market: instruments whose trade price walks by ticks, each with
// an order book of `depth` levels a side around it. A step trades once (the price moves at
// most a tick), which may take the best level of one side and open one on the other, and
// re-sizes a few levels, as a real book's update does: most of its bytes stay the same,
// which is what a Fossil delta of it saves. Deterministic for a seed. Writes the JSON the
// feed publishes. Pure: no sockets, no clock (the caller gives the time).
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ringcast::feed {

struct Level {
  std::int64_t price;  // ticks of 0.01
  std::uint32_t size;
};

struct Instrument {
  std::string symbol;
  std::int64_t open = 0, last = 0;  // ticks
  std::uint64_t volume = 0, seq = 0;
  std::vector<Level> bids, asks;  // best first
};

class Market {
 public:
  Market(std::size_t instruments, std::size_t depth, std::uint64_t seed);
  [[nodiscard]] std::size_t size() const noexcept { return instruments_.size(); }
  [[nodiscard]] const Instrument& at(std::size_t i) const noexcept { return instruments_[i]; }
  // One trade and book update of instrument i.
  void step(std::size_t i);
  // {"s":"BTC-USD","p":"50000.25","c":"+0.012","v":1234,"n":7,"t":<now_ms>}: the ticker
  // board's line (c: percent since the open).
  void append_ticker(std::string& out, std::size_t i, std::uint64_t now_ms) const;
  // {"s":"BTC-USD","n":7,"b":[["49999.99",12],...],"a":[["50000.01",3],...]}: the whole book.
  void append_book(std::string& out, std::size_t i) const;

 private:
  std::vector<Instrument> instruments_;
  std::size_t depth_;
  std::mt19937_64 rng_;
};

// `bytes` of market data as JSON: ticker lines of a 32-instrument market with a fixed seed,
// stepped in turn, as an array (`[{"s":...},{"s":...},...`) cut where `bytes` ends. What the
// benchmarks compress and ringcast-load --payload json sends: it compresses as real ticks do.
[[nodiscard]] std::string ticker_batch(std::size_t bytes);

}  // namespace ringcast::feed
