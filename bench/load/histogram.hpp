// Log-bucketed histogram of nanosecond values (HdrHistogram-like): 60 octaves x 32 linear
// sub-buckets, so any value is reported within ~3% and the whole thing is a fixed 15 KiB.
// No per-sample storage; per-thread histograms are merged by adding counts.
#pragma once
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace ringcast::load {

class Histogram {
 public:
  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    if (v > max_) max_ = v;
  }
  void merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // Smallest bucket upper bound (capped at max) at or below which `pct` percent of samples fall; 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double pct) const noexcept;

 private:
  static constexpr unsigned kSubBits = 5;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  [[nodiscard]] static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
    return (shift + 1) * kSub + static_cast<std::size_t>((v >> shift) - kSub);
  }
  [[nodiscard]] static std::uint64_t upper_bound(std::size_t idx) noexcept;

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace ringcast::load
