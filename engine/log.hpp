// One-line diagnostics on stderr. Errors of one class are rate-limited (at most one line
// per second per class) so a storm of failures cannot flood the log or slow the loop.
#pragma once
#include <atomic>
#include <cstdint>

#include "engine/config.hpp"

namespace ringcast::engine {

void set_log_level(LogLevel level) noexcept;
[[nodiscard]] bool log_enabled(LogLevel level) noexcept;

// printf-style; prefixed with "ringcast: ".
[[gnu::format(printf, 2, 3)]] void log_line(LogLevel level, const char* fmt, ...) noexcept;

// A rate limiter for one error class; suppressed lines are counted and reported.
class LogLimiter {
 public:
  [[gnu::format(printf, 3, 4)]] void log(LogLevel level, const char* fmt, ...) noexcept;

 private:
  std::atomic<std::int64_t> last_ms_{-1'000'000};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace ringcast::engine
