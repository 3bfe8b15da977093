// Per-connection command rate limits in Centrifugo PRO's shape
// (client.rate_limit.client_command): buckets of `rate` commands per `interval`. `total`
// buckets count every command; a method's own buckets count that method, and a limitable
// method without its own gets a copy of the `default` ones. A command is admitted when
// every bucket it counts in has room, and only then charged to all of them.
//
// Each bucket is a GCRA cell (the token bucket as one time per connection: the
// "theoretical arrival time"), so a connection's state is a few integers, with no timer and
// no drift at any rate.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/client_command.hpp"

namespace ringcast::engine {

struct RateBucket {
  std::int64_t interval_ns = 0;  // > 0
  std::uint32_t rate = 0;        // > 0: commands per interval, also the burst
};

class RateLimits {
 public:
  using Method = protocol::client::Method;
  static constexpr std::size_t kMaxBuckets = 8;  // per list, as the config allows

  // The methods that may have buckets of their own (or `default`'s): the rest count in
  // `total` only.
  [[nodiscard]] static bool limitable(Method m) noexcept;

  // Configuration; call plan() after changing it.
  bool enabled = false;
  std::vector<RateBucket> total, fallback;
  std::array<std::vector<RateBucket>, protocol::client::kMethodCount> own;
  std::array<bool, protocol::client::kMethodCount> has_own{};

  // Lays the buckets out as cells: which ones each method counts in.
  void plan();
  // Cells a connection keeps (0: no limits).
  [[nodiscard]] std::size_t cells() const noexcept { return cells_.size(); }
  // True when `m` may run at `now_ns` (monotonic), charged to its cells in `tat`
  // (cells() entries, zero at first); false, charging none, when one has no room.
  [[nodiscard]] bool admit(Method m, std::span<std::int64_t> tat, std::int64_t now_ns) const noexcept;

 private:
  struct Cell {
    std::int64_t emission;   // interval / rate: the time one command takes out of a bucket
    std::int64_t tolerance;  // interval - emission: how far ahead of now a full bucket may run
  };
  std::uint16_t add(const RateBucket& b);

  std::vector<Cell> cells_;
  std::array<std::vector<std::uint16_t>, protocol::client::kMethodCount> plan_;
};

}  // namespace ringcast::engine
