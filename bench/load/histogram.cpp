#include "bench/load/histogram.hpp"

#include <cmath>

namespace ringcast::load {

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_lo_ += other.sum_lo_;
  sum_hi_ += other.sum_hi_ + (sum_lo_ < other.sum_lo_ ? 1 : 0);
  if (other.max_ > max_) max_ = other.max_;
}

double Histogram::mean() const noexcept {
  if (count_ == 0) return 0.0;
  const double sum = std::ldexp(static_cast<double>(sum_hi_), 64) + static_cast<double>(sum_lo_);
  return sum / static_cast<double>(count_);
}

std::uint64_t Histogram::upper_bound(std::size_t idx) noexcept {
  if (idx < kSub) return idx;
  const std::size_t shift = idx / kSub - 1;
  const std::uint64_t sub = idx % kSub + kSub;
  return ((sub + 1) << shift) - 1;  // the top bucket wraps to UINT64_MAX, as it should
}

std::uint64_t Histogram::percentile(double pct) const noexcept {
  if (count_ == 0) return 0;
  // The rank of the sample we want, 1-based. pct/100*count in floating point lands just
  // above an integer for exact ranks (99.9/100*1000 = 999.0000000000001, which would give
  // rank 1000 = the max): multiply first and forgive a rounding error's worth.
  const double exact = pct * static_cast<double>(count_) / 100.0;
  const double r = std::ceil(exact - exact * 1e-12);
  if (r >= static_cast<double>(count_)) return max_;
  const std::uint64_t rank = r < 1 ? 1 : static_cast<std::uint64_t>(r);
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
