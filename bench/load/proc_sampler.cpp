#include "bench/load/proc_sampler.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringcast::load {
namespace {

// Reads a small /proc file into `buf` (NUL-terminated); false when the process is gone.
bool read_small(const char* path, char* buf, std::size_t cap) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

}  // namespace

ProcSample sample_process(pid_t pid) noexcept {
  ProcSample s;
  char path[64], buf[4096];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  if (!read_small(path, buf, sizeof buf)) return s;
  // The command name may contain spaces and ')': fields resume after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return s;
  unsigned long long utime = 0, stime = 0;
  // After ')': state(3) ... utime is field 14 and stime field 15 (1-based, see proc(5)).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return s;
  static const long ticks = sysconf(_SC_CLK_TCK);
  s.cpu_ns = (utime + stime) * (1'000'000'000ull / static_cast<unsigned long long>(ticks));

  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  if (!read_small(path, buf, sizeof buf)) return s;
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(buf, "%llu %llu", &size, &resident) != 2) return s;
  static const long page = sysconf(_SC_PAGESIZE);
  s.rss_bytes = resident * static_cast<unsigned long long>(page);
  s.ok = true;
  return s;
}

ProcSample sample_processes(const std::vector<pid_t>& pids) noexcept {
  ProcSample sum;
  sum.ok = !pids.empty();
  for (pid_t pid : pids) {
    const ProcSample s = sample_process(pid);
    sum.ok = sum.ok && s.ok;
    sum.cpu_ns += s.cpu_ns;
    sum.rss_bytes += s.rss_bytes;
  }
  return sum;
}

RssWatcher::RssWatcher(std::vector<pid_t> pids) : pids_(std::move(pids)) {
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_relaxed)) {
      const ProcSample s = sample_processes(pids_);
      if (s.ok && s.rss_bytes > peak_.load(std::memory_order_relaxed)) peak_.store(s.rss_bytes, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

RssWatcher::~RssWatcher() {
  stop_.store(true, std::memory_order_relaxed);
  thread_.join();
}

}  // namespace ringcast::load
