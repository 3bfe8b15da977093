// CPU feature detection and the one-time choice of SIMD kernels (unmask, UTF-8).
// The best level the CPU *and OS* support (CPUID + XGETBV) is chosen at start-up;
// RINGCAST_SIMD=scalar|sse2|avx2|avx512 in the environment, or select_simd(), overrides it.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace ringcast::protocol {

enum class SimdLevel : std::uint8_t { scalar, sse2, avx2, avx512 };

[[nodiscard]] bool simd_supported(SimdLevel level) noexcept;
[[nodiscard]] SimdLevel best_simd() noexcept;
// Switches the kernels used by unmask() and Utf8Validator. Returns false and changes
// nothing when the CPU lacks `level`. Call before starting threads (not synchronised).
[[nodiscard]] bool select_simd(SimdLevel level) noexcept;
[[nodiscard]] SimdLevel active_simd() noexcept;

[[nodiscard]] std::string_view simd_name(SimdLevel level) noexcept;
[[nodiscard]] std::optional<SimdLevel> parse_simd(std::string_view name) noexcept;

}  // namespace ringcast::protocol
