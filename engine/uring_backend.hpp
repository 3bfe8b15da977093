// The I/O backend a shard drives, on io_uring: operations go in tagged with a 64-bit
// user_data, completions come back in batches through run_once(). The shard never touches
// the ring itself, so another backend (an epoll fallback where seccomp blocks io_uring)
// is a new file with these same calls.
#pragma once
#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/completion.hpp"
#include "engine/uring_setup.hpp"

namespace ringcast::engine {

class UringBackend {
 public:
  UringBackend() = default;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;
  ~UringBackend() { close(); }

  // On the thread that will submit. Returns "" or one line naming what failed.
  // `files`: slots of the registered file table (one per connection slot; 0: none).
  [[nodiscard]] std::string init(unsigned entries, unsigned recv_buffers, unsigned recv_buffer_size,
                                 unsigned files);
  // Ends the ring (pending operations are cancelled); any thread, once the loop is over.
  void close() noexcept;

  void accept_multishot(int listen_fd, std::uint64_t tag);
  // Registered files: a connection's socket also sits at entry `slot` of the ring's file
  // table, so its sends and receives skip the per-operation fd lookup (fget/fput, ~3.5 % of
  // server CPU in small-message fan-out). Without a table (or if an update fails) the plain
  // fd is used. detach() before closing the fd, once no operation on it is pending.
  void attach(int fd, std::uint32_t slot) noexcept;
  void detach(std::uint32_t slot) noexcept;

  void recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag);
  // Room for `max` iovecs of one send; valid until that send is submitted, since the
  // kernel copies msghdr and iovecs when it consumes the SQE (IORING_FEAT_SUBMIT_STABLE).
  [[nodiscard]] iovec* send_iovecs(std::size_t max);
  // `msg` uses `used` iovecs from send_iovecs().
  void sendmsg(int fd, std::uint32_t slot, const msghdr* msg, std::size_t used, std::uint64_t tag);
  // One contiguous buffer: IORING_OP_SEND skips the msghdr and iovec import.
  void send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag);
  void timeout(const __kernel_timespec* ts, std::uint64_t tag);
  void read(int fd, void* buf, std::size_t len, std::uint64_t tag);
  void cancel(std::uint64_t target, std::uint64_t tag);
  // Posts a completion carrying `tag` on `other` (another shard's backend) to wake it.
  void wake(const UringBackend& other, std::uint64_t tag);

  // Socket calls the shard makes outside the ring, here so a scripted backend can stand in.
  // setup_accepted: TCP_NODELAY on a new connection; returns the peer's port (0 if unknown).
  [[nodiscard]] std::uint16_t setup_accepted(int fd) noexcept;
  void shutdown(int fd, int how) noexcept { (void)::shutdown(fd, how); }
  void close_fd(int fd) noexcept;
  // CLOCK_MONOTONIC in milliseconds: the timer wheel's clock.
  [[nodiscard]] std::uint64_t now_ms() const noexcept;

  [[nodiscard]] std::uint8_t* buffer(std::uint16_t id) const noexcept { return bufs_.buffer(id); }
  void recycle(std::uint16_t id) noexcept { bufs_.recycle(id); }

  // Submits everything queued since the last call (the turn's one submit), waits for at
  // least one completion, and calls f(completion) for each available. Returns -errno of
  // the wait (0 or a transient -EINTR/-ETIME are normal).
  template <typename F>
  int run_once(F&& f) {
    int rc = io_uring_submit_and_wait(&ring_, 1);
    // Only once every SQE is consumed were the arena's iovecs copied (not after -EBUSY).
    if (io_uring_sq_ready(&ring_) == 0) iov_used_ = 0;
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      Completion c;
      c.tag = cqe->user_data;
      c.res = cqe->res;
      c.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      c.has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
      c.buffer = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      f(c);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    return rc < 0 ? rc : 0;
  }

 private:
  static constexpr std::size_t kIovArena = 64 * 1024;
  [[nodiscard]] io_uring_sqe* sqe() noexcept;
  void target(io_uring_sqe* s, std::uint32_t slot) const noexcept;  // the registered file, if any

  io_uring ring_{};
  bool ready_ = false;
  BufferRing bufs_;
  std::unique_ptr<iovec[]> iov_arena_;  // this turn's send iovecs
  std::size_t iov_used_ = 0;
  std::vector<std::uint8_t> fixed_;  // [slot]: 1 while that slot's socket is registered
};

}  // namespace ringcast::engine
