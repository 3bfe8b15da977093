#include "engine/app/rate_limit.hpp"

#include <algorithm>

namespace ringcast::engine {

bool RateLimits::limitable(Method m) noexcept {
  switch (m) {
    case Method::subscribe:
    case Method::publish:
    case Method::history:
    case Method::presence:
    case Method::presence_stats:
    case Method::refresh:
    case Method::sub_refresh:
    case Method::rpc: return true;
    case Method::none:
    case Method::connect:
    case Method::unsubscribe:
    case Method::ping:
    case Method::send: break;
  }
  return false;
}

std::uint16_t RateLimits::add(const RateBucket& b) {
  std::int64_t emission = std::max<std::int64_t>(1, b.interval_ns / b.rate);
  cells_.push_back({.emission = emission, .tolerance = std::max<std::int64_t>(0, b.interval_ns - emission)});
  return static_cast<std::uint16_t>(cells_.size() - 1);
}

void RateLimits::plan() {
  cells_.clear();
  for (auto& p : plan_) p.clear();
  if (!enabled) return;
  std::vector<std::uint16_t> shared;
  for (const RateBucket& b : total) shared.push_back(add(b));
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    plan_[i] = shared;
    auto m = static_cast<Method>(i);
    if (m == Method::none || !limitable(m)) continue;
    for (const RateBucket& b : has_own[i] ? own[i] : fallback) plan_[i].push_back(add(b));
  }
}

bool RateLimits::admit(Method m, std::span<std::int64_t> tat, std::int64_t now_ns) const noexcept {
  const std::vector<std::uint16_t>& cells = plan_[static_cast<std::size_t>(m)];
  for (std::uint16_t c : cells) {
    if (tat[c] - now_ns > cells_[c].tolerance) return false;
  }
  for (std::uint16_t c : cells) tat[c] = std::max(tat[c], now_ns) + cells_[c].emission;
  return true;
}

}  // namespace ringcast::engine
