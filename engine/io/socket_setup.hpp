// What every backend does to a socket it has just accepted.
#pragma once
#include <cstdint>

namespace ringcast::engine {

// TCP_NODELAY (frames go out as they are queued); returns the peer's port (0 if unknown).
[[nodiscard]] std::uint16_t prepare_accepted_socket(int fd) noexcept;

}  // namespace ringcast::engine
