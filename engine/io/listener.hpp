// Listening sockets: one SO_REUSEPORT listener per shard on the same address, so the
// kernel spreads connections over shards without a shared accept queue.
#pragma once
#include <cstdint>
#include <string>

namespace ringcast::engine {

struct ListenResult {
  int fd = -1;
  std::uint16_t port = 0;  // the bound port (useful when asked for port 0)
  std::string error;       // one line when fd < 0
};

[[nodiscard]] ListenResult open_listener(const std::string& host, std::uint16_t port);

}  // namespace ringcast::engine
