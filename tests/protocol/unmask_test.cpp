// unmask(): every SIMD level the CPU has against the scalar reference, for every length
// 0..300, alignment 0..63 and key phase, large buffers, split continuation, and a
// guard-page harness that faults on any access outside [data, data+len).
#include "protocol/unmask.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "protocol/simd.hpp"
#include "protocol/simd_level_fixture.hpp"

namespace ringcast::protocol {
namespace {

class UnmaskLevel : public SimdLevelTest {};

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

constexpr MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

TEST(UnmaskScalar, MatchesRfcExample) {
  // RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
  std::uint8_t masked[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  EXPECT_EQ(unmask_scalar(masked, sizeof masked, kKey), 1u);
  EXPECT_EQ(std::memcmp(masked, "Hello", 5), 0);
}

TEST(UnmaskScalar, PhaseContinuesTheKey) {
  std::uint8_t zeros[6] = {};
  EXPECT_EQ(unmask_scalar(zeros, 6, kKey, 3), 1u);
  const std::uint8_t want[6] = {0x3d, 0x37, 0xfa, 0x21, 0x3d, 0x37};
  EXPECT_EQ(std::memcmp(zeros, want, 6), 0);
}

TEST_P(UnmaskLevel, MatchesScalarAtEveryLengthAlignmentAndPhase) {
  constexpr std::size_t kMaxLen = 300;
  constexpr std::size_t kPad = 64;
  const auto source = random_bytes(kMaxLen + 3 * kPad, 1);
  std::vector<std::uint8_t> got(source.size());
  std::vector<std::uint8_t> want(source.size());
  for (std::size_t len = 0; len <= kMaxLen; ++len) {
    for (std::size_t offset = 0; offset < 64; ++offset) {
      for (std::uint32_t phase = 0; phase < 4; ++phase) {
        std::memcpy(got.data(), source.data(), source.size());
        std::memcpy(want.data(), source.data(), source.size());
        const std::uint32_t p_got = unmask(got.data() + kPad + offset, len, kKey, phase);
        const std::uint32_t p_want = unmask_scalar(want.data() + kPad + offset, len, kKey, phase);
        ASSERT_EQ(p_got, p_want) << "len " << len << " offset " << offset << " phase " << phase;
        // Whole buffer, so a write outside [data, data+len) shows up too.
        ASSERT_EQ(got, want) << "len " << len << " offset " << offset << " phase " << phase;
      }
    }
  }
}

TEST_P(UnmaskLevel, MatchesScalarOnLargeBuffers) {
  constexpr std::size_t kMaxOffset = 63;
  for (const std::size_t len : {(std::size_t{1} << 20) + 7, std::size_t{65537}}) {
    const auto source = random_bytes(len, static_cast<std::uint32_t>(len));
    std::vector<std::uint8_t> got(len + kMaxOffset);
    for (std::uint32_t phase = 0; phase < 4; ++phase) {
      auto want = source;
      const std::uint32_t want_phase = unmask_scalar(want.data(), len, kKey, phase);
      for (const std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{31}, kMaxOffset}) {
        std::copy(source.begin(), source.end(), got.begin() + static_cast<std::ptrdiff_t>(offset));
        ASSERT_EQ(unmask(got.data() + offset, len, kKey, phase), want_phase);
        ASSERT_TRUE(std::equal(want.begin(), want.end(), got.begin() + static_cast<std::ptrdiff_t>(offset)))
            << "len " << len << " offset " << offset << " phase " << phase;
      }
    }
  }
}

TEST_P(UnmaskLevel, TwoPiecesEqualOnePiece) {
  for (const std::size_t len : {std::size_t{300}, std::size_t{1031}}) {
    const auto source = random_bytes(len, 7);
    for (std::uint32_t phase = 0; phase < 4; ++phase) {
      auto whole = source;
      const std::uint32_t end_phase = unmask(whole.data(), len, kKey, phase);
      for (std::size_t split = 0; split <= len; ++split) {
        auto pieces = source;
        const std::uint32_t mid = unmask(pieces.data(), split, kKey, phase);
        ASSERT_EQ(unmask(pieces.data() + split, len - split, kKey, mid), end_phase);
        ASSERT_EQ(pieces, whole) << "len " << len << " split " << split << " phase " << phase;
      }
    }
  }
}

// The buffer ends (then starts) flush against a PROT_NONE page: any overread faults.
TEST_P(UnmaskLevel, NeverTouchesBytesOutsideTheBuffer) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* base = static_cast<std::uint8_t*>(map);
  ASSERT_EQ(mprotect(base, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(base + 2 * page, page, PROT_NONE), 0);
  std::uint8_t* const first = base + page;
  std::uint8_t* const end = base + 2 * page;
  const auto source = random_bytes(300, 3);
  for (std::size_t len = 0; len <= 300; ++len) {
    for (std::uint32_t phase = 0; phase < 4; ++phase) {
      auto want = std::vector<std::uint8_t>(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(len));
      (void)unmask_scalar(want.data(), len, kKey, phase);
      std::copy(want.begin(), want.end(), end - len);  // masked once; unmasking restores source
      (void)unmask(end - len, len, kKey, phase);
      ASSERT_TRUE(std::equal(end - static_cast<std::ptrdiff_t>(len), end, source.begin())) << "at end, len " << len;
      std::copy(want.begin(), want.end(), first);
      (void)unmask(first, len, kKey, phase);
      ASSERT_TRUE(std::equal(first, first + len, source.begin())) << "at start, len " << len;
    }
  }
  munmap(map, 3 * page);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, UnmaskLevel,
                         ::testing::Values(SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512),
                         [](const ::testing::TestParamInfo<SimdLevel>& param) {
                           return std::string(simd_name(param.param));
                         });

}  // namespace
}  // namespace ringcast::protocol
