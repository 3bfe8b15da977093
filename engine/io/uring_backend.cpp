#include "engine/io/uring_backend.hpp"

#include "engine/io/socket_setup.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "engine/log.hpp"

namespace ringcast::engine {

std::string UringBackend::init(const BackendLimits& limits) {
  int rc = setup_shard_ring(ring_, limits.entries);
  if (rc < 0) return std::string("cannot set up io_uring: ") + std::strerror(-rc);
  ready_ = true;
  if (!(ring_.features & IORING_FEAT_SUBMIT_STABLE)) return "io_uring lacks SUBMIT_STABLE (needs Linux 5.5 or later)";
  rc = bufs_.setup(ring_, 0, limits.recv_buffers, limits.recv_buffer_size);
  if (rc < 0) return std::string("cannot register the receive buffer ring: ") + std::strerror(-rc);
  // Before Linux 6.13 the table's entries were released in order: one long-lived multishot
  // recv pinned every socket detached after it (liburing issue 1192), so closed connections
  // would leak until it ended. There, and without a sparse table, operations use the fd.
  if (limits.files > 0 && kernel_at_least(6, 13) && io_uring_register_files_sparse(&ring_, limits.files) == 0) {
    fixed_.assign(limits.files, 0);
  }
  iov_arena_.reset(new (std::nothrow) iovec[kIovArena]);
  msg_arena_.reset(new (std::nothrow) msghdr[kIovArena]);
  if (!iov_arena_ || !msg_arena_) return "out of memory for the send iovec arena";
  return {};
}

void UringBackend::close() noexcept {
  if (!ready_) return;
  bufs_.teardown(ring_);
  io_uring_queue_exit(&ring_);
  ready_ = false;
}

io_uring_sqe* UringBackend::sqe() noexcept {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    // SQ full: push what we have to the kernel and take a fresh entry. The iovec arena is
    // not reset here: a send being prepared right now may already have filled its iovecs.
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void UringBackend::accept_multishot(int listen_fd, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::attach(int fd, std::uint32_t slot) noexcept {
  if (slot >= fixed_.size()) return;
  fixed_[slot] = io_uring_register_files_update(&ring_, slot, &fd, 1) == 1 ? 1 : 0;
}

void UringBackend::detach(std::uint32_t slot) noexcept {
  if (slot >= fixed_.size() || fixed_[slot] == 0) return;
  int none = -1;
  (void)io_uring_register_files_update(&ring_, slot, &none, 1);
  fixed_[slot] = 0;
}

void UringBackend::target(io_uring_sqe* s, std::uint32_t slot) const noexcept {
  if (slot >= fixed_.size() || fixed_[slot] == 0) return;
  s->fd = static_cast<int>(slot);
  s->flags |= IOSQE_FIXED_FILE;
}

void UringBackend::recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
  target(s, slot);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = bufs_.group();
  io_uring_sqe_set_data64(s, tag);
}

iovec* UringBackend::send_iovecs(std::size_t max) {
  if (iov_used_ + max > kIovArena) {
    // Every filled iovec belongs to an SQE already queued: submitting copies them all.
    io_uring_submit(&ring_);
    iov_used_ = msg_used_ = 0;
  }
  return iov_arena_.get() + iov_used_;
}

void UringBackend::sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  iov_used_ += n;
  msghdr* msg = &msg_arena_[msg_used_++];
  *msg = msghdr{};
  msg->msg_iov = const_cast<iovec*>(iov);
  msg->msg_iovlen = n;
  io_uring_prep_sendmsg(s, fd, msg, MSG_NOSIGNAL);
  target(s, slot);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, fd, buf, len, MSG_NOSIGNAL);
  target(s, slot);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_connect(s, fd, addr, len);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::timeout(const __kernel_timespec* ts, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_timeout(s, const_cast<__kernel_timespec*>(ts), 0, 0);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::read(int fd, void* buf, std::size_t len, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, fd, buf, static_cast<unsigned>(len), 0);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::cancel(std::uint64_t target, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, target, 0);
  io_uring_sqe_set_data64(s, tag);
}

void UringBackend::wake(IoBackend& other, std::uint64_t tag) {
  io_uring_sqe* s = sqe();
  // Shards of one server share a backend type (the server picks it once).
  io_uring_prep_msg_ring(s, static_cast<UringBackend&>(other).ring_.ring_fd, 0, tag, 0);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;  // the sender needs no completion for a wake-up
  io_uring_sqe_set_data64(s, tag);
}

std::uint16_t UringBackend::setup_accepted(int fd) noexcept { return prepare_accepted_socket(fd); }

void UringBackend::close_fd(int fd) noexcept { ::close(fd); }

int UringBackend::run_once(CompletionSink& sink) {
  int rc = io_uring_submit_and_wait(&ring_, 1);
  // Only once every SQE is consumed were the arena's iovecs copied (not after -EBUSY).
  if (io_uring_sq_ready(&ring_) == 0) iov_used_ = msg_used_ = 0;
  unsigned head;
  unsigned seen = 0;
  bool grown = false;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    Completion c;
    c.tag = cqe->user_data;
    c.res = cqe->res;
    c.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    c.has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    c.buffer = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    // A multishot recv that found the ring empty ended: provide more before the shard
    // re-arms it (after this batch). Once a batch: buffers come back as it is recycled.
    if (c.res == -ENOBUFS && !grown) [[unlikely]] {
      grow_buffers();
      grown = true;
    }
    sink.on_completion(c);
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  return rc < 0 ? rc : 0;
}

void UringBackend::grow_buffers() noexcept {
  // Logged per growth only: at most log2(capacity / first batch) lines per shard.
  if (bufs_.grow() > 0) {
    log_line(LogLevel::debug, "receive buffers: %u of %u provided (the ring ran dry)", bufs_.provided(),
             bufs_.capacity());
  }
}

std::uint64_t UringBackend::now_ms() const noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

}  // namespace ringcast::engine
