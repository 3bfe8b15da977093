// What the server process costs, read from /proc: CPU time (utime + stime of all its
// threads, from /proc/PID/stat) and resident memory (/proc/PID/statm), summed over its
// processes when it runs as several. A sampler thread polls RSS every 100 ms to catch the
// peak between the start and end snapshots.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ringcast::load {

struct ProcSample {
  bool ok = false;
  std::uint64_t cpu_ns = 0;     // utime + stime, clock-tick resolution
  std::uint64_t rss_bytes = 0;
};

[[nodiscard]] ProcSample sample_process(pid_t pid) noexcept;
// The sum over `pids`; ok only when every one of them could be read.
[[nodiscard]] ProcSample sample_processes(const std::vector<pid_t>& pids) noexcept;

// Tracks the peak of the summed RSS of `pids` in the background while alive.
class RssWatcher {
 public:
  explicit RssWatcher(std::vector<pid_t> pids);
  ~RssWatcher();
  RssWatcher(const RssWatcher&) = delete;
  RssWatcher& operator=(const RssWatcher&) = delete;
  [[nodiscard]] std::uint64_t peak_bytes() const noexcept { return peak_.load(std::memory_order_relaxed); }

 private:
  std::vector<pid_t> pids_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> peak_{0};
  std::thread thread_;
};

}  // namespace ringcast::load
