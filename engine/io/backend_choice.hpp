// Picks the I/O backend once, at start-up: io_uring where the probe passes, epoll where
// io_uring is refused (EPERM from a container's seccomp profile or
// kernel.io_uring_disabled, ENOSYS, a missing opcode or feature) and the config allows it.
#pragma once
#include <memory>
#include <string>

#include "engine/config.hpp"
#include "engine/io/backend.hpp"

namespace ringcast::engine {

struct BackendChoice {
  BackendKind kind = BackendKind::uring;  // uring or epoll once resolved
  std::string error;     // non-empty: no backend can run (the one line to print)
  std::string fallback;  // automatic fell back to epoll: why io_uring was not used
};

// Resolves `wanted` on this machine (probes io_uring unless epoll was asked for).
[[nodiscard]] BackendChoice choose_backend(BackendKind wanted);

// A fresh backend of a resolved kind (uring or epoll), not yet init()ed.
[[nodiscard]] std::unique_ptr<IoBackend> make_backend(BackendKind kind);

[[nodiscard]] const char* backend_name(BackendKind kind) noexcept;

}  // namespace ringcast::engine
