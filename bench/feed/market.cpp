#include "bench/feed/market.hpp"

#include <cstdio>

namespace ringcast::feed {
namespace {

constexpr const char* kNames[] = {"BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "AAPL", "MSFT",
                                  "NVDA", "AMZN", "GOOG", "META", "TSLA", "EURUSD", "USDJPY", "GBPUSD"};

void append_price(std::string& out, std::int64_t ticks) {
  char buf[32];
  const char* sign = ticks < 0 ? "-" : "";
  std::int64_t a = ticks < 0 ? -ticks : ticks;
  int n = std::snprintf(buf, sizeof buf, "%s%lld.%02lld", sign, static_cast<long long>(a / 100),
                        static_cast<long long>(a % 100));
  out.append(buf, static_cast<std::size_t>(n));
}

void append_side(std::string& out, const std::vector<Level>& side) {
  out += '[';
  for (std::size_t k = 0; k < side.size(); ++k) {
    if (k != 0) out += ',';
    out += "[\"";
    append_price(out, side[k].price);
    out += "\",";
    out += std::to_string(side[k].size);
    out += ']';
  }
  out += ']';
}

}  // namespace

Market::Market(std::size_t instruments, std::size_t depth, std::uint64_t seed) : depth_(depth), rng_(seed) {
  instruments_.resize(instruments);
  for (std::size_t i = 0; i < instruments; ++i) {
    Instrument& in = instruments_[i];
    constexpr std::size_t kNamed = std::size(kNames);
    in.symbol = i < kNamed ? kNames[i] : "SYM" + std::to_string(i);
    in.open = in.last = 1000 + static_cast<std::int64_t>(rng_() % 5'000'000);
    for (std::size_t k = 0; k < depth; ++k) {
      in.bids.push_back({in.last - 1 - static_cast<std::int64_t>(k), static_cast<std::uint32_t>(1 + rng_() % 500)});
      in.asks.push_back({in.last + 1 + static_cast<std::int64_t>(k), static_cast<std::uint32_t>(1 + rng_() % 500)});
    }
  }
}

void Market::step(std::size_t i) {
  Instrument& in = instruments_[i];
  ++in.seq;
  in.volume += 1 + rng_() % 50;
  switch (rng_() % 4) {
    case 0:  // a buyer takes the best ask: the price ticks up, a bid opens under it
      if (in.asks.size() > 1) {
        in.last = in.asks.front().price;
        in.asks.erase(in.asks.begin());
        in.asks.push_back({in.asks.back().price + 1, static_cast<std::uint32_t>(1 + rng_() % 500)});
        in.bids.insert(in.bids.begin(), {in.last - 1, static_cast<std::uint32_t>(1 + rng_() % 500)});
        in.bids.pop_back();
      }
      break;
    case 1:  // a seller hits the best bid
      if (in.bids.size() > 1) {
        in.last = in.bids.front().price;
        in.bids.erase(in.bids.begin());
        in.bids.push_back({in.bids.back().price - 1, static_cast<std::uint32_t>(1 + rng_() % 500)});
        in.asks.insert(in.asks.begin(), {in.last + 1, static_cast<std::uint32_t>(1 + rng_() % 500)});
        in.asks.pop_back();
      }
      break;
    default:  // a trade inside the spread leaves the levels
      break;
  }
  // Orders come and go at a few levels.
  for (int n = 1 + static_cast<int>(rng_() % 3); n > 0 && depth_ > 0; --n) {
    std::vector<Level>& side = rng_() % 2 == 0 ? in.bids : in.asks;
    side[rng_() % side.size()].size = static_cast<std::uint32_t>(1 + rng_() % 500);
  }
}

void Market::append_ticker(std::string& out, std::size_t i, std::uint64_t now_ms) const {
  const Instrument& in = instruments_[i];
  out += "{\"s\":\"";
  out += in.symbol;
  out += "\",\"p\":\"";
  append_price(out, in.last);
  out += "\",\"c\":\"";
  char change[24];  // percent since the open
  int n = std::snprintf(change, sizeof change, "%+.3f", 100.0 * static_cast<double>(in.last - in.open) /
                                                            static_cast<double>(in.open));
  out.append(change, static_cast<std::size_t>(n));
  out += "\",\"v\":";
  out += std::to_string(in.volume);
  out += ",\"n\":";
  out += std::to_string(in.seq);
  out += ",\"t\":";
  out += std::to_string(now_ms);
  out += '}';
}

void Market::append_book(std::string& out, std::size_t i) const {
  const Instrument& in = instruments_[i];
  out += "{\"s\":\"";
  out += in.symbol;
  out += "\",\"n\":";
  out += std::to_string(in.seq);
  out += ",\"b\":";
  append_side(out, in.bids);
  out += ",\"a\":";
  append_side(out, in.asks);
  out += '}';
}

std::string ticker_batch(std::size_t bytes) {
  Market market(32, 1, 1);
  std::string text = "[";
  for (std::uint64_t k = 0; text.size() < bytes; ++k) {
    const std::size_t i = k % market.size();
    market.step(i);
    if (k != 0) text += ',';
    market.append_ticker(text, i, 1'765'000'000'000 + k * 37);
  }
  text.resize(bytes);
  return text;
}

}  // namespace ringcast::feed
