// One clock for every timestamp: CLOCK_MONOTONIC in nanoseconds, shared by all threads and
// all processes on the machine, so a publisher's send time means the same to any receiver.
#pragma once
#include <cstdint>
#include <ctime>

namespace ringcast::load {

[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace ringcast::load
