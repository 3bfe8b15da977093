#include "engine/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace ringcast::engine {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

void vlog(const char* fmt, std::va_list ap, std::uint64_t suppressed) noexcept {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "ringcast: ");
  int m = std::vsnprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), fmt, ap);
  std::size_t len = static_cast<std::size_t>(n) + (m > 0 ? static_cast<std::size_t>(m) : 0);
  if (len > sizeof buf - 64) len = sizeof buf - 64;
  if (suppressed > 0) {
    int k = std::snprintf(buf + len, 64, " (%llu similar suppressed)", static_cast<unsigned long long>(suppressed));
    if (k > 0) len += static_cast<std::size_t>(k);
  }
  buf[len++] = '\n';
  // One write per line keeps lines from different shards whole.
  ssize_t w = ::write(STDERR_FILENO, buf, len);
  (void)w;
}

}  // namespace

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }
bool log_enabled(LogLevel level) noexcept { return level <= g_level.load(std::memory_order_relaxed); }

void log_line(LogLevel level, const char* fmt, ...) noexcept {
  if (!log_enabled(level)) return;
  std::va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap, 0);
  va_end(ap);
}

void LogLimiter::log(LogLevel level, const char* fmt, ...) noexcept {
  if (!log_enabled(level)) return;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  std::int64_t now = static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  std::int64_t last = last_ms_.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap, suppressed_.exchange(0, std::memory_order_relaxed));
  va_end(ap);
}

}  // namespace ringcast::engine
