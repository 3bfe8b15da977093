// The I/O backend contract a shard drives: operations go in tagged with a 64-bit value
// (engine/core/user_data.hpp packs it), completions come back through run_once(). The
// calls and their completions follow io_uring's semantics (multishot accept and recv,
// one completion per send, -errno results); a backend that is not io_uring emulates them.
//
// Implementations: UringBackend (engine/io/uring_backend.hpp), EpollBackend
// (engine/io/epoll_backend.hpp) and ScriptedBackend (tests/support: a driver plays the
// peers and the clock). The shard calls through this interface: one indirect call per
// I/O operation, each of which costs the kernel microseconds (engine/README.md).
//
// Contract the shard keeps (ScriptedBackend checks it):
//  - at most one send in flight per socket; no send after shutdown(SHUT_WR);
//  - attach(fd, slot) once per accepted socket, detach(slot) before close_fd(fd), and
//    close_fd only once nothing is pending on the fd;
//  - send_iovecs() memory is for the next sendmsg() only; the backend keeps it valid until
//    the operation is started (io_uring copies the iovecs at submit);
//  - a buffer handed out in a recv completion goes back with recycle() before run_once()
//    is called again.
#pragma once
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/io/completion.hpp"

namespace ringcast::engine {

// What a shard asks of its backend at init().
struct BackendLimits {
  unsigned entries = 4096;           // submission queue size (io_uring)
  unsigned recv_buffers = 2048;      // receive buffers at most (a power of two)
  unsigned recv_buffer_size = 4096;  // bytes each
  unsigned files = 0;                // connection slots (registered-file table entries)
};

// Receives completions from run_once(), one call each.
class CompletionSink {
 public:
  virtual void on_completion(const Completion& c) = 0;

 protected:
  ~CompletionSink() = default;
};

class IoBackend {
 public:
  IoBackend() = default;
  IoBackend(const IoBackend&) = delete;
  IoBackend& operator=(const IoBackend&) = delete;
  virtual ~IoBackend() = default;

  // "uring", "epoll", "scripted": for log lines and /metrics.
  [[nodiscard]] virtual const char* name() const noexcept = 0;

  // On the thread that will run the loop. Returns "" or one line naming what failed.
  [[nodiscard]] virtual std::string init(const BackendLimits& limits) = 0;
  // Ends the backend (pending operations are dropped); any thread, once the loop is over.
  virtual void close() noexcept = 0;

  // Multishot accept: one completion per accepted socket (res = fd, more = true); an error
  // ends it (more = false) and the shard arms it again.
  virtual void accept_multishot(int listen_fd, std::uint64_t tag) = 0;
  // A connection's socket is known by `slot` from accept to reap (io_uring: an entry of
  // the registered file table, so operations skip the fd lookup).
  virtual void attach(int fd, std::uint32_t slot) noexcept = 0;
  virtual void detach(std::uint32_t slot) noexcept = 0;

  // Multishot recv into the backend's receive buffers: completions with has_buffer and
  // res > 0 while data arrives (more = true); res = 0 is EOF and ends it; -ENOBUFS (no
  // free buffer) and other errors end it too.
  virtual void recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) = 0;
  [[nodiscard]] virtual std::uint8_t* buffer(std::uint16_t id) const noexcept = 0;
  virtual void recycle(std::uint16_t id) noexcept = 0;

  // Room for `max` iovecs of one sendmsg().
  [[nodiscard]] virtual iovec* send_iovecs(std::size_t max) = 0;
  // Sends the `n` iovecs at `iov` (from send_iovecs()). One completion: bytes sent
  // (possibly fewer than queued: a partial send) or -errno.
  virtual void sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) = 0;
  // One contiguous buffer; the same completion as sendmsg.
  virtual void send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) = 0;

  // Connects `fd` (a non-blocking TCP socket the caller made: the broker's link) to `addr`,
  // which must stay valid until the completion: res 0 when connected, else -errno
  // (-ECONNREFUSED, -ETIMEDOUT...). The socket is then used like an accepted one.
  virtual void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) = 0;

  // Completes with -ETIME after `ts` (relative); `ts` must stay valid until then.
  virtual void timeout(const __kernel_timespec* ts, std::uint64_t tag) = 0;
  // One read of up to `len` bytes (the shard's wake-up eventfd).
  virtual void read(int fd, void* buf, std::size_t len, std::uint64_t tag) = 0;
  // Cancels the pending multishot accept, timeout or connect tagged `target` (it completes
  // with -ECANCELED); the shard cancels nothing else.
  virtual void cancel(std::uint64_t target, std::uint64_t tag) = 0;
  // Posts a completion carrying `tag` on `other` (another shard's backend, of the same
  // type) to wake it; called on this backend's own thread.
  virtual void wake(IoBackend& other, std::uint64_t tag) = 0;

  // Socket calls outside the queue, here so a scripted backend can stand in.
  // setup_accepted: TCP_NODELAY on a new connection; returns the peer's port (0 if unknown).
  [[nodiscard]] virtual std::uint16_t setup_accepted(int fd) noexcept = 0;
  virtual void shutdown(int fd, int how) noexcept = 0;
  virtual void close_fd(int fd) noexcept = 0;
  // CLOCK_MONOTONIC in milliseconds: the timer wheel's clock.
  [[nodiscard]] virtual std::uint64_t now_ms() const noexcept = 0;

  // Starts everything queued since the last call (the turn's one submit), waits for at
  // least one completion (a scripted backend never blocks), and hands each available one
  // to `sink`. Returns -errno of the wait (0, or a transient -EINTR/-ETIME, is normal).
  virtual int run_once(CompletionSink& sink) = 0;
};

}  // namespace ringcast::engine
