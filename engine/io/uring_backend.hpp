// The io_uring backend (engine/io/backend.hpp is the contract): operations become SQEs
// tagged with their user_data, run_once() is the turn's one submit-and-wait, and CQEs are
// handed to the shard as Completions. The only file that drives the ring.
#pragma once
#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/backend.hpp"
#include "engine/io/uring_setup.hpp"

namespace ringcast::engine {

class UringBackend final : public IoBackend {
 public:
  UringBackend() = default;
  ~UringBackend() override { close(); }

  [[nodiscard]] const char* name() const noexcept override { return "uring"; }

  // On the thread that will submit. Returns "" or one line naming what failed.
  // limits.files: entries of the registered file table (one per connection slot; 0: none).
  [[nodiscard]] std::string init(const BackendLimits& limits) override;
  // Ends the ring (pending operations are cancelled); any thread, once the loop is over.
  void close() noexcept override;

  void accept_multishot(int listen_fd, std::uint64_t tag) override;
  // Registered files: a connection's socket also sits at entry `slot` of the ring's file
  // table, so its sends and receives skip the per-operation fd lookup (fget/fput, ~3.5 % of
  // server CPU in small-message fan-out). Without a table (or if an update fails) the plain
  // fd is used. detach() before closing the fd, once no operation on it is pending.
  void attach(int fd, std::uint32_t slot) noexcept override;
  void detach(std::uint32_t slot) noexcept override;

  // Receive buffers: a provided buffer ring of recv_buffers entries that starts with
  // BufferRing::kFirstBatch buffers and doubles (up to recv_buffers) in the run_once()
  // batch where a recv completes with -ENOBUFS, so the re-armed recv finds buffers and an
  // idle shard keeps at most 1 MiB of them resident instead of recv_buffers * size (8 MiB).
  void recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) override;
  // Room for `max` iovecs of one send; valid until that send is submitted, since the
  // kernel copies msghdr and iovecs when it consumes the SQE (IORING_FEAT_SUBMIT_STABLE).
  [[nodiscard]] iovec* send_iovecs(std::size_t max) override;
  // The iovecs come from send_iovecs(); its msghdr from this turn's arena.
  void sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) override;
  // One contiguous buffer: IORING_OP_SEND skips the msghdr and iovec import.
  void send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) override;
  void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) override;
  void timeout(const __kernel_timespec* ts, std::uint64_t tag) override;
  void read(int fd, void* buf, std::size_t len, std::uint64_t tag) override;
  void cancel(std::uint64_t target, std::uint64_t tag) override;
  // MSG_RING: the completion lands on the other shard's ring.
  void wake(IoBackend& other, std::uint64_t tag) override;

  [[nodiscard]] std::uint16_t setup_accepted(int fd) noexcept override;
  void shutdown(int fd, int how) noexcept override { (void)::shutdown(fd, how); }
  void close_fd(int fd) noexcept override;
  [[nodiscard]] std::uint64_t now_ms() const noexcept override;

  [[nodiscard]] std::uint8_t* buffer(std::uint16_t id) const noexcept override { return bufs_.buffer(id); }
  void recycle(std::uint16_t id) noexcept override { bufs_.recycle(id); }
  // Receive buffers provided so far (BufferRing::kFirstBatch up to recv_buffers).
  [[nodiscard]] unsigned recv_buffers_provided() const noexcept { return bufs_.provided(); }

  int run_once(CompletionSink& sink) override;

 private:
  static constexpr std::size_t kIovArena = 64 * 1024;
  [[nodiscard]] io_uring_sqe* sqe() noexcept;
  void target(io_uring_sqe* s, std::uint32_t slot) const noexcept;  // the registered file, if any
  void grow_buffers() noexcept;  // on -ENOBUFS: more provided buffers, if below capacity

  io_uring ring_{};
  bool ready_ = false;
  BufferRing bufs_;
  // This turn's send iovecs and msghdrs (a sendmsg takes one iovec at least, so the
  // msghdrs never outnumber the iovecs); only the part a turn uses is ever touched.
  std::unique_ptr<iovec[]> iov_arena_;
  std::unique_ptr<msghdr[]> msg_arena_;
  std::size_t iov_used_ = 0, msg_used_ = 0;
  std::vector<std::uint8_t> fixed_;  // [slot]: 1 while that slot's socket is registered
};

}  // namespace ringcast::engine
