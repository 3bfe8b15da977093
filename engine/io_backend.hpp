// The backend type a shard drives. Production builds use io_uring; an engine built with
// RINGCAST_SCRIPTED_IO (tests and the whole-connection fuzzer) gets the scripted backend,
// where a driver plays the peers and the clock. Chosen at compile time: no virtual call
// on the I/O path. ShardBackend is the contract both keep (checked for both in
// tests/scripted/backend_contract_test.cpp).
#pragma once
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringcast::engine {

template <typename B>
concept ShardBackend = requires(B b, const B cb, int fd, std::uint32_t slot, std::uint64_t tag, const msghdr* msg,
                                const void* buf, void* out, std::size_t n, const __kernel_timespec* ts,
                                std::uint16_t id) {
  { b.init(0u, 0u, 0u, 0u) } -> std::same_as<std::string>;
  b.close();
  b.accept_multishot(fd, tag);
  b.attach(fd, slot);
  b.detach(slot);
  b.recv_multishot(fd, slot, tag);
  { b.send_iovecs(n) } -> std::same_as<iovec*>;
  b.sendmsg(fd, slot, msg, n, tag);
  b.send(fd, slot, buf, n, tag);
  b.timeout(ts, tag);
  b.read(fd, out, n, tag);
  b.cancel(tag, tag);
  b.wake(cb, tag);
  { cb.buffer(id) } -> std::same_as<std::uint8_t*>;
  b.recycle(id);
  { b.setup_accepted(fd) } -> std::same_as<std::uint16_t>;
  b.shutdown(fd, SHUT_WR);
  b.close_fd(fd);
  { cb.now_ms() } -> std::same_as<std::uint64_t>;
};

}  // namespace ringcast::engine

#if defined(RINGCAST_SCRIPTED_IO)
#include "engine/scripted_backend.hpp"
namespace ringcast::engine {
using IoBackend = ScriptedBackend;
}
#else
#include "engine/uring_backend.hpp"
namespace ringcast::engine {
using IoBackend = UringBackend;
}
#endif

static_assert(ringcast::engine::ShardBackend<ringcast::engine::IoBackend>);
