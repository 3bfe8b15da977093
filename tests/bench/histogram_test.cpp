// ringcast-load's latency histogram: bucket edges, nearest-rank percentiles against exact
// values computed here from the sorted samples, merging, the empty case, huge values.
#include "bench/load/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ringcast::load {
namespace {

// The bucket a value falls in, described independently of the implementation: values
// below 32 exactly; above, octave [2^k, 2^(k+1)) cut into 32 sub-buckets of 2^(k-5).
struct Bucket {
  std::uint64_t lo, hi;
};
Bucket bucket_of(std::uint64_t v) {
  if (v < 32) return {v, v};
  const int width_bits = std::bit_width(v) - 6;
  const std::uint64_t lo = (v >> width_bits) << width_bits;
  return {lo, lo + ((std::uint64_t{1} << width_bits) - 1)};
}

// Nearest rank on the sorted samples: the ceil(pct/100 * n)-th smallest (1-based), exactly,
// with pct given in thousandths of a percent so no floating point is involved.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t milli_pct) {
  const std::uint64_t n = sorted.size();
  std::uint64_t rank = (milli_pct * n + 99'999) / 100'000;
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  return sorted[rank - 1];
}

// What the histogram must report: the top of the true value's bucket, capped at the max.
std::uint64_t reported(const std::vector<std::uint64_t>& sorted, std::uint64_t milli_pct) {
  return std::min(bucket_of(exact_percentile(sorted, milli_pct)).hi, sorted.back());
}

Histogram of(const std::vector<std::uint64_t>& values) {
  Histogram h;
  for (std::uint64_t v : values) h.record(v);
  return h;
}

// Deterministic, skewed (roughly log-uniform over 1 us .. 100 ms): what latencies look like.
std::vector<std::uint64_t> latency_like(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint64_t> out;
  out.reserve(n);
  std::uint64_t x = seed;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;  // [0, 1)
    out.push_back(static_cast<std::uint64_t>(1000.0 * std::pow(1e5, u)));
  }
  return out;
}

constexpr std::uint64_t kPercentiles[] = {1'000, 10'000, 50'000, 90'000, 99'000, 99'900, 99'990, 100'000};

TEST(Histogram, SmallValuesHaveABucketEach) {
  for (std::uint64_t v = 0; v < 32; ++v) {
    EXPECT_EQ(Histogram::index(v), v);
    EXPECT_EQ(Histogram::upper_bound(v), v);
  }
}

TEST(Histogram, BucketEdgesAtKnownPoints) {
  EXPECT_EQ(Histogram::index(32), 32u);
  EXPECT_EQ(Histogram::index(63), 63u);
  EXPECT_EQ(Histogram::index(64), 64u);  // [64, 65]: width 2 from here
  EXPECT_EQ(Histogram::index(65), 64u);
  EXPECT_EQ(Histogram::index(66), 65u);
  EXPECT_EQ(Histogram::upper_bound(64), 65u);
  EXPECT_EQ(Histogram::index(127), 95u);
  EXPECT_EQ(Histogram::index(128), 96u);  // [128, 131]
  EXPECT_EQ(Histogram::index(131), 96u);
  EXPECT_EQ(Histogram::index(132), 97u);
  EXPECT_EQ(Histogram::upper_bound(96), 131u);
  EXPECT_EQ(Histogram::index(1'000'000), 509u);  // 2^19 octave, width 2^14: [999424, 1015807]
  EXPECT_EQ(Histogram::upper_bound(509), 1'015'807u);
  EXPECT_EQ(Histogram::index(std::uint64_t{1} << 63), 1888u);
  EXPECT_EQ(Histogram::index(UINT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::upper_bound(Histogram::kBuckets - 1), UINT64_MAX);
}

TEST(Histogram, BucketsAreContiguousAndWithinOneThirtySecond) {
  // Every octave's edges and a stride through it: the bucket holds exactly [lo, hi], the
  // next bucket starts at hi + 1, and the width is at most 1/32 of its lower edge.
  for (int k = 5; k < 64; ++k) {
    const std::uint64_t base = std::uint64_t{1} << k;
    const std::uint64_t step = std::max<std::uint64_t>(1, base / 97);
    for (std::uint64_t off = 0; off < base; off += step) {
      const std::uint64_t v = base + off;
      const Bucket b = bucket_of(v);
      const std::size_t i = Histogram::index(v);
      ASSERT_EQ(Histogram::index(b.lo), i) << v;
      ASSERT_EQ(Histogram::index(b.hi), i) << v;
      ASSERT_EQ(Histogram::upper_bound(i), b.hi) << v;
      ASSERT_EQ(Histogram::index(b.lo - 1), i - 1) << v;
      if (b.hi != UINT64_MAX) {
        ASSERT_EQ(Histogram::index(b.hi + 1), i + 1) << v;
      }
      ASSERT_LE((b.hi - b.lo + 1) * 32, b.lo) << v;
    }
  }
}

TEST(Histogram, EmptyReportsZero) {
  const Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  for (double p : {0.0, 50.0, 99.9, 100.0}) EXPECT_EQ(h.percentile(p), 0u) << p;
}

TEST(Histogram, SingleValueIsEveryPercentile) {
  Histogram h;
  h.record(1000);  // bucket [992, 1023]: capped at the max, so exact
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.mean(), 1000.0);
  for (double p : {0.0, 1.0, 50.0, 99.9, 100.0}) EXPECT_EQ(h.percentile(p), 1000u) << p;
}

TEST(Histogram, ExactBelowThirtyTwo) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 10; ++i) v.push_back(i);
  const Histogram h = of(v);
  EXPECT_EQ(h.percentile(0), 1u);  // rank clamps to the first sample
  EXPECT_EQ(h.percentile(10), 1u);
  EXPECT_EQ(h.percentile(10.5), 2u);
  EXPECT_EQ(h.percentile(50), 5u);
  EXPECT_EQ(h.percentile(90), 9u);
  EXPECT_EQ(h.percentile(90.01), 10u);
  EXPECT_EQ(h.percentile(100), 10u);
  EXPECT_EQ(h.mean(), 5.5);
}

TEST(Histogram, UniformOneToThousand) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 1000; ++i) v.push_back(i);
  const Histogram h = of(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.percentile(50), 503u);   // 500 in [496, 503]
  EXPECT_EQ(h.percentile(90), 911u);   // 900 in [896, 911]
  EXPECT_EQ(h.percentile(99), 991u);   // 990 in [976, 991]
  EXPECT_EQ(h.percentile(99.9), 1000u);  // 999 in [992, 1007], capped at the max
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.mean(), 500.5);
}

TEST(Histogram, PointNinePercentileIsNotTheMax) {
  // 99.9/100*1000 is 999.0000000000001 in floating point: the 999th sample, not the 1000th.
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 1000; ++i) v.push_back(i * 1000);
  const Histogram h = of(v);
  EXPECT_EQ(h.percentile(99.9), 999'423u);  // 999,000 in [983040, 999423]
  EXPECT_EQ(h.percentile(99.99), 1'000'000u);
  EXPECT_EQ(h.max(), 1'000'000u);
  for (std::uint64_t n : {2000u, 3000u, 10'000u, 100'000u}) {
    std::vector<std::uint64_t> w;
    for (std::uint64_t i = 1; i <= n; ++i) w.push_back(i * 1000);
    EXPECT_EQ(of(w).percentile(99.9), std::min(bucket_of(n * 999).hi, n * 1000)) << n;
  }
}

TEST(Histogram, PercentilesOfASkewedDistribution) {
  std::vector<std::uint64_t> v = latency_like(100'000, 42);
  const Histogram h = of(v);
  std::sort(v.begin(), v.end());
  ASSERT_EQ(h.count(), v.size());
  EXPECT_EQ(h.max(), v.back());
  for (std::uint64_t mp : kPercentiles) {
    const double pct = static_cast<double>(mp) / 1000.0;
    const std::uint64_t truth = exact_percentile(v, mp);
    const std::uint64_t got = h.percentile(pct);
    EXPECT_EQ(got, reported(v, mp)) << "p" << pct;
    EXPECT_GE(got, truth) << "p" << pct;
    EXPECT_LE(static_cast<double>(got - truth), static_cast<double>(truth) / 32.0) << "p" << pct;
  }
  long double sum = 0;
  for (std::uint64_t x : v) sum += static_cast<long double>(x);
  EXPECT_NEAR(h.mean(), static_cast<double>(sum / v.size()), 1e-6 * h.mean());
}

TEST(Histogram, CumulativeDistributionCountsEverySampleOnce) {
  Histogram h;
  h.for_each_cumulative([](std::uint64_t, std::uint64_t) { ADD_FAILURE() << "an empty histogram has no points"; });
  std::vector<std::uint64_t> samples;
  for (std::uint64_t v = 1; v <= 5000; v += 7) samples.push_back(v * v);  // spread over many octaves
  samples.push_back(3);
  samples.push_back(3);
  for (std::uint64_t v : samples) h.record(v);
  std::sort(samples.begin(), samples.end());
  std::uint64_t last_value = 0, last_seen = 0;
  std::size_t points = 0;
  h.for_each_cumulative([&](std::uint64_t value, std::uint64_t seen) {
    EXPECT_GT(seen, last_seen);
    EXPECT_GE(value, last_value);
    // Every sample at or below this bucket's top is counted, and none above it.
    const auto at_or_below = static_cast<std::uint64_t>(std::upper_bound(samples.begin(), samples.end(), value) - samples.begin());
    EXPECT_EQ(seen, at_or_below) << value;
    last_value = value;
    last_seen = seen;
    ++points;
  });
  EXPECT_EQ(last_seen, samples.size());
  EXPECT_EQ(last_value, h.max());  // the last point ends at the largest sample, not past it
  EXPECT_LT(points, samples.size());  // buckets, not samples
}

TEST(Histogram, MergedThreadsEqualOneHistogram) {
  const std::vector<std::uint64_t> v = latency_like(50'000, 7);
  Histogram all = of(v);
  Histogram parts[4];
  for (std::size_t i = 0; i < v.size(); ++i) parts[i % 4].record(v[i]);
  Histogram merged;
  for (const Histogram& p : parts) merged.merge(p);
  merged.merge(Histogram{});  // an idle thread changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.mean(), all.mean());
  for (double p = 0; p <= 100.0; p += 0.5) EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
  EXPECT_EQ(merged.percentile(99.9), all.percentile(99.9));

  Histogram into_empty;
  into_empty.merge(all);
  EXPECT_EQ(into_empty.count(), all.count());
  EXPECT_EQ(into_empty.percentile(99), all.percentile(99));
}

TEST(Histogram, MergeKeepsTheLargerMax) {
  Histogram a, b;
  a.record(10);
  b.record(5'000);
  b.record(3);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max(), 5'000u);
  EXPECT_EQ(a.percentile(50), 10u);
  EXPECT_EQ(a.percentile(100), 5'000u);
  EXPECT_EQ(a.percentile(1), 3u);
}

TEST(Histogram, HugeValuesNeitherWrapTheMeanNorLeaveTheTable) {
  Histogram h;
  for (int i = 0; i < 3; ++i) h.record(UINT64_MAX);
  h.record(1);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.max(), UINT64_MAX);
  EXPECT_EQ(h.percentile(25), 1u);
  EXPECT_EQ(h.percentile(50), UINT64_MAX);
  EXPECT_EQ(h.percentile(100), UINT64_MAX);
  EXPECT_DOUBLE_EQ(h.mean(), 3.0 * 18446744073709551615.0 / 4.0);

  // The same sum split over two histograms: the carry survives the merge.
  Histogram a, b;
  a.record(UINT64_MAX);
  a.record(UINT64_MAX);
  b.record(UINT64_MAX);
  b.record(UINT64_MAX);
  a.merge(b);
  EXPECT_DOUBLE_EQ(a.mean(), 18446744073709551615.0);

  Histogram mid;
  mid.record(std::uint64_t{1} << 63);
  mid.record((std::uint64_t{1} << 63) + (std::uint64_t{1} << 58));  // the next bucket
  EXPECT_EQ(mid.percentile(50), (std::uint64_t{1} << 63) + (std::uint64_t{1} << 58) - 1);
}

}  // namespace
}  // namespace ringcast::load
