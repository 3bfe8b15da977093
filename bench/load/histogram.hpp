// Log-bucketed histogram of nanosecond values (HdrHistogram-like): values below 32 have a
// bucket each; above, every octave [2^k, 2^(k+1)) is cut into 32 equal sub-buckets, so any
// value is reported within 1/32 (~3%) and the whole thing is a fixed 15 KiB covering the
// full uint64 range. No per-sample storage; per-thread (and per-process) histograms are
// merged by adding counts. Trivially copyable, so it can cross a pipe as bytes.
#pragma once
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace ringcast::load {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 5;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    sum_lo_ += v;
    if (sum_lo_ < v) ++sum_hi_;  // carry: a sum of huge values must not wrap
    if (v > max_) max_ = v;
  }
  void merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  // Nearest rank: the upper bound of the bucket holding the ceil(pct/100 * count)-th
  // smallest sample, capped at max (so the 100th percentile is max itself); 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double pct) const noexcept;

  // Calls f(largest value of the bucket, samples up to and including it) for every bucket
  // that holds samples, in order: the cumulative distribution, max standing in for the last
  // bucket's bound (as percentile() does).
  template <class F>
  void for_each_cumulative(F&& f) const {
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets && seen < count_; ++i) {
      if (counts_[i] == 0) continue;
      seen += counts_[i];
      const std::uint64_t ub = upper_bound(i);
      f(ub < max_ ? ub : max_, seen);
    }
  }

  // Bucket of a value, and the largest value that bucket holds.
  [[nodiscard]] static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
    return (shift + 1) * kSub + static_cast<std::size_t>((v >> shift) - kSub);
  }
  [[nodiscard]] static std::uint64_t upper_bound(std::size_t idx) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_lo_ = 0, sum_hi_ = 0;  // 128-bit sum of every value recorded
  std::uint64_t max_ = 0;
};

}  // namespace ringcast::load
