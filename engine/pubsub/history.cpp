#include "engine/pubsub/history.hpp"

#include <sys/random.h>

#include <algorithm>
#include <random>

namespace ringcast::engine {
namespace {

}  // namespace

// Epochs only need to differ from the ones before: a per-thread generator seeded once.
std::array<char, Stream::kEpochLength> History::new_epoch() {
  thread_local std::mt19937_64 gen = [] {
    std::uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
      seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    return std::mt19937_64(seed);
  }();
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::array<char, Stream::kEpochLength> e{};
  std::uint64_t bits = gen();
  for (char& ch : e) {
    ch = kAlphabet[bits % 62];
    bits /= 62;
  }
  return e;
}

void Stream::mirror_from(std::string_view epoch, std::uint64_t top) noexcept {
  std::copy_n(epoch.data(), std::min(epoch.size(), epoch_.size()), epoch_.data());
  top_ = top;
  head_ = count_ = 0;
  delta_base_.clear();
  ever_mirrored_ = true;
}

void Stream::clear() noexcept {
  ring_.clear();
  ring_.shrink_to_fit();
  head_ = count_ = 0;
}

bool Stream::age(std::int64_t now_ms) noexcept {
  if (now_ms >= forget_ms_ && !mirrored_) return false;
  if (count_ != 0 && now_ms >= expires_ms_) clear();
  return true;
}

std::int64_t History::now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

History::Handle History::open(std::string_view name, const StreamLimits& limits, std::int64_t now_ms, bool create) {
  Bucket& b = buckets_[std::hash<std::string_view>{}(name) % kBuckets];
  Handle h{.stream = nullptr, .lock = std::unique_lock(b.mu)};
  auto it = b.streams.find(name);
  if (it != b.streams.end() && !it->second.age(now_ms)) {
    b.streams.erase(it);
    it = b.streams.end();
  }
  if (it == b.streams.end()) {
    if (!create) return h;
    sweep(b, now_ms);  // the bucket grows by one: first let go of what has expired
    it = b.streams.emplace(std::string(name), Stream{}).first;
    Stream& s = it->second;
    s.limits_ = limits;
    s.limits_.size = std::max<std::size_t>(limits.size, 1);
    s.epoch_ = new_epoch();
  }
  it->second.touch(now_ms);
  h.stream = &it->second;
  return h;
}

void History::sweep(Bucket& b, std::int64_t now_ms) {
  if (now_ms - b.swept_ms < 1000) return;
  b.swept_ms = now_ms;
  for (auto it = b.streams.begin(); it != b.streams.end();) {
    it = it->second.age(now_ms) ? std::next(it) : b.streams.erase(it);
  }
}

void History::sweep_next(std::int64_t now_ms) {
  Bucket& b = buckets_[next_sweep_.fetch_add(1, std::memory_order_relaxed) % kBuckets];
  std::lock_guard lock(b.mu);
  sweep(b, now_ms);
}

std::size_t History::streams() const {
  std::size_t n = 0;
  for (const Bucket& b : buckets_) {
    std::lock_guard lock(b.mu);
    n += b.streams.size();
  }
  return n;
}

}  // namespace ringcast::engine
