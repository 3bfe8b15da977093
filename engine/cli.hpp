// Command-line flags of the ringcast executable: parsing and --help text. Pure (no I/O),
// so it is unit-tested.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"
#include "protocol/simd.hpp"

namespace ringcast::engine {

struct CliOptions {
  enum class Action { run, help, version } action = Action::run;
  Config config;
  LogLevel log_level = LogLevel::info;
  std::optional<protocol::SimdLevel> simd;  // unset: the best the CPU has
  std::string config_file;                  // --config: read by main (engine/config_file.hpp)
  std::string demo_sdk_file;                // --demo-sdk: read by main into Config::demo_sdk
  std::string error;                        // non-empty: "<what is wrong>" (exit 2)
};

[[nodiscard]] CliOptions parse_cli(const std::vector<std::string_view>& args);
[[nodiscard]] std::string_view cli_help() noexcept;
inline constexpr std::string_view kVersion = "0.1.0";

// "250ms", "10s", "2m", "720h" or a bare number of seconds; nullopt when malformed.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;
// "1048576", "64k", "16M", "1G" (binary multiples); nullopt when malformed.
[[nodiscard]] std::optional<std::size_t> parse_size(std::string_view text) noexcept;

}  // namespace ringcast::engine
