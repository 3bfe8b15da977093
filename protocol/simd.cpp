// CPU detection and the one-time choice of kernels. The table starts as scalar
// (constant-initialised) and a static initialiser here upgrades it to the best level,
// or to RINGCAST_SIMD when that names a supported level. Never prints, never aborts.
#include "protocol/simd.hpp"

#include <array>
#include <cstdlib>

#include "protocol/simd_internal.hpp"
#include "protocol/utf8.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define RINGCAST_X86 1
#endif

namespace ringcast::protocol {

namespace detail {
constinit Kernels g_kernels{&unmask_scalar, &is_valid_utf8_scalar, SimdLevel::scalar};
}  // namespace detail

namespace {

struct CpuLevels {
  bool sse2 = false;
  bool avx2 = false;
  bool avx512 = false;
};

#if defined(RINGCAST_X86)
// XCR0: which register state the OS saves on context switch (needs OSXSAVE).
[[nodiscard]] std::uint64_t read_xcr0() noexcept {
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t{hi} << 32) | lo;
}
#endif

[[nodiscard]] CpuLevels detect() noexcept {
  CpuLevels out;
#if defined(RINGCAST_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return out;
  out.sse2 = (d & (1u << 26)) != 0;
  const bool osxsave = (c & (1u << 27)) != 0;
  const bool avx = (c & (1u << 28)) != 0;
  const bool popcnt = (c & (1u << 23)) != 0;
  if (!osxsave || !avx || !popcnt) return out;
  const std::uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // XMM + YMM state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return out;
  const bool bmi1 = (b & (1u << 3)) != 0;
  const bool bmi2 = (b & (1u << 8)) != 0;
  const bool avx2 = (b & (1u << 5)) != 0;
  // The kernels are compiled with -mbmi -mbmi2 -mpopcnt too, so require those as well.
  out.avx2 = os_ymm && avx2 && bmi1 && bmi2;
  const bool f = (b & (1u << 16)) != 0;
  const bool bw = (b & (1u << 30)) != 0;
  const bool vl = (b & (1u << 31)) != 0;
  out.avx512 = out.avx2 && os_zmm && f && bw && vl;
#endif
  return out;
}

// Detected once; function-local so any static initialiser may ask safely.
[[nodiscard]] const CpuLevels& cpu() noexcept {
  static const CpuLevels levels = detect();
  return levels;
}

[[nodiscard]] detail::Kernels kernels_for(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::sse2:
      return {&detail::unmask_sse2, &detail::utf8_sse2, level};
    case SimdLevel::avx2:
      return {&detail::unmask_avx2, &detail::utf8_avx2, level};
    case SimdLevel::avx512:
      return {&detail::unmask_avx512, &detail::utf8_avx512, level};
    case SimdLevel::scalar:
      break;
  }
  return {&unmask_scalar, &is_valid_utf8_scalar, SimdLevel::scalar};
}

[[nodiscard]] SimdLevel initial_level() noexcept {
  const char* env = std::getenv("RINGCAST_SIMD");  // NOLINT(concurrency-mt-unsafe): start-up only
  if (env != nullptr) {
    const auto wanted = parse_simd(env);
    if (wanted && simd_supported(*wanted)) return *wanted;
  }
  return best_simd();
}

// Runs during static initialisation of this library; until then the scalar table serves.
[[maybe_unused]] const bool g_chosen = select_simd(initial_level());

}  // namespace

bool simd_supported(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::scalar:
      return true;
    case SimdLevel::sse2:
      return cpu().sse2;
    case SimdLevel::avx2:
      return cpu().avx2;
    case SimdLevel::avx512:
      return cpu().avx512;
  }
  return false;
}

SimdLevel best_simd() noexcept {
  constexpr std::array order{SimdLevel::avx512, SimdLevel::avx2, SimdLevel::sse2};
  for (const SimdLevel level : order) {
    if (simd_supported(level)) return level;
  }
  return SimdLevel::scalar;
}

bool select_simd(SimdLevel level) noexcept {
  if (!simd_supported(level)) return false;
  detail::g_kernels = kernels_for(level);
  return true;
}

SimdLevel active_simd() noexcept { return detail::g_kernels.level; }

std::string_view simd_name(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::scalar:
      return "scalar";
    case SimdLevel::sse2:
      return "sse2";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<SimdLevel> parse_simd(std::string_view name) noexcept {
  constexpr std::array all{SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512};
  for (const SimdLevel level : all) {
    if (simd_name(level) == name) return level;
  }
  return std::nullopt;
}

}  // namespace ringcast::protocol
