#include "engine/io/backend_choice.hpp"

#include "engine/io/epoll_backend.hpp"
#include "engine/io/uring_backend.hpp"
#include "engine/io/uring_setup.hpp"

namespace ringcast::engine {

BackendChoice choose_backend(BackendKind wanted) {
  BackendChoice c;
  if (wanted == BackendKind::epoll) {
    c.kind = BackendKind::epoll;
    return c;
  }
  std::string why = probe_uring();
  if (why.empty()) {
    c.kind = BackendKind::uring;
  } else if (wanted == BackendKind::uring) {
    c.error = why;
  } else {
    c.kind = BackendKind::epoll;
    c.fallback = why;
  }
  return c;
}

std::unique_ptr<IoBackend> make_backend(BackendKind kind) {
  if (kind == BackendKind::epoll) return std::make_unique<EpollBackend>();
  return std::make_unique<UringBackend>();
}

const char* backend_name(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::automatic: return "auto";
    case BackendKind::uring: return "uring";
    case BackendKind::epoll: return "epoll";
  }
  return "?";
}

}  // namespace ringcast::engine
