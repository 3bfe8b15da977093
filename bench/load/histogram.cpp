#include "bench/load/histogram.hpp"

#include <cmath>

namespace ringcast::load {

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.max_ > max_) max_ = other.max_;
}

std::uint64_t Histogram::upper_bound(std::size_t idx) noexcept {
  if (idx < kSub) return idx;
  const std::size_t shift = idx / kSub - 1;
  const std::uint64_t sub = idx % kSub + kSub;
  return ((sub + 1) << shift) - 1;
}

std::uint64_t Histogram::percentile(double pct) const noexcept {
  if (count_ == 0) return 0;
  // The rank of the sample we want, 1-based; the 100th percentile is the max itself.
  auto rank = static_cast<std::uint64_t>(std::ceil(pct / 100.0 * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  if (rank >= count_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t ub = upper_bound(i);
      return ub < max_ ? ub : max_;
    }
  }
  return max_;
}

}  // namespace ringcast::load
