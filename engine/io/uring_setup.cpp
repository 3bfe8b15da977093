#include "engine/io/uring_setup.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringcast::engine {

namespace {

// Multishot recv (Linux 6.0) is not an opcode the probe lists: one is tried on a socket
// pair. An older kernel refuses the flag (-EINVAL) or ends the request after one
// completion; either way every connection would fail, so the probe fails instead.
std::string probe_multishot_recv(io_uring& ring, std::uint16_t group) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return {};  // cannot tell: assume fine
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = group;
  std::string why;
  if (::write(sv[1], "x", 1) != 1 || io_uring_submit(&ring) != 1) {
    why = "io_uring probe: cannot submit a multishot recv";
  } else {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec wait{1, 0};
    if (io_uring_wait_cqe_timeout(&ring, &cqe, &wait) != 0 || cqe == nullptr) {
      why = "io_uring lacks multishot recv (no completion; needs Linux 6.0 or later)";
    } else {
      if (cqe->res < 0 || (cqe->flags & IORING_CQE_F_MORE) == 0) {
        why = "io_uring lacks multishot recv (needs Linux 6.0 or later)";
      }
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  ::close(sv[0]);  // the pending recv ends with the ring (io_uring_queue_exit)
  ::close(sv[1]);
  return why;
}

}  // namespace

std::string probe_uring() {
  io_uring ring{};
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc == -EPERM) {
    return "cannot set up io_uring: EPERM (disabled by sysctl kernel.io_uring_disabled or a seccomp policy)";
  }
  if (rc == -ENOSYS) return "cannot set up io_uring: ENOSYS (the kernel has no io_uring support)";
  if (rc < 0) return std::string("cannot set up io_uring: ") + std::strerror(-rc);

  std::string missing;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
    struct Need { int op; const char* name; };
    static constexpr Need kNeeded[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"}, {IORING_OP_SENDMSG, "SENDMSG"},
        {IORING_OP_SEND, "SEND"},       {IORING_OP_TIMEOUT, "TIMEOUT"}, {IORING_OP_READ, "READ"},
        {IORING_OP_MSG_RING, "MSG_RING"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    };
    for (const Need& n : kNeeded) {
      if (!io_uring_opcode_supported(probe, n.op)) missing += std::string(missing.empty() ? "" : ", ") + n.name;
    }
    io_uring_free_probe(probe);
  } else {
    missing = "opcode probe";
  }
  if (!missing.empty()) {
    io_uring_queue_exit(&ring);
    return "io_uring lacks required features: " + missing + " (needs Linux 6.0 or later)";
  }

  BufferRing br;
  rc = br.setup(ring, 0, 8, 4096);
  std::string why;
  if (rc < 0) {
    why = std::string("io_uring provided buffer rings unavailable: ") + std::strerror(-rc);
  } else {
    why = probe_multishot_recv(ring, br.group());
  }
  br.teardown(ring);
  io_uring_queue_exit(&ring);
  return why;
}

bool kernel_at_least(unsigned major, unsigned minor) noexcept {
  utsname u{};
  unsigned ma = 0, mi = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%u.%u", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

int setup_shard_ring(io_uring& ring, unsigned entries) noexcept {
  io_uring_params p{};
  // CQ four times the SQ: multishot recv/accept post many CQEs per SQE; never overflow.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = entries * 4;
  // Only the shard thread submits (SINGLE_ISSUER), and task work runs when it asks for
  // completions (DEFER_TASKRUN), not by interrupting it mid-turn.
  p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring, &p);
  if (rc == -EINVAL) {
    // Older kernels: cooperative task work is the next best thing.
    io_uring_params q{};
    q.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
    q.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &ring, &q);
  }
  return rc;
}

BufferRing::~BufferRing() {
  if (ring_ != nullptr) munmap(ring_, ring_bytes_);
  if (base_ != nullptr) munmap(base_, base_bytes_);
}

int BufferRing::setup(io_uring& ring, std::uint16_t group, unsigned capacity, unsigned size,
                      unsigned first) noexcept {
  capacity_ = capacity;
  size_ = size;
  group_ = group;
  ring_bytes_ = sizeof(io_uring_buf) * capacity;
  void* r = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (r == MAP_FAILED) return -errno;
  ring_ = static_cast<io_uring_buf_ring*>(r);
  // Address space for every buffer, no memory: pages come as the kernel first writes them
  // (NORESERVE: not charged to the commit limit either). No huge pages, or one receive
  // would bring in 2 MiB where THP is "always".
  base_bytes_ = std::size_t{capacity} * size;
  void* b = mmap(nullptr, base_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED) return -errno;
  base_ = static_cast<std::uint8_t*>(b);
  (void)madvise(base_, base_bytes_, MADV_NOHUGEPAGE);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_);
  reg.ring_entries = capacity;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc < 0) return rc;
  registered_ = true;
  io_uring_buf_ring_init(ring_);
  mask_ = io_uring_buf_ring_mask(capacity);
  provide(0, first < capacity ? first : capacity);
  return 0;
}

unsigned BufferRing::grow() noexcept {
  if (!registered_) return 0;
  unsigned to = provided_ == 0 ? 1 : provided_ * 2;
  if (to > capacity_) to = capacity_;
  unsigned added = to - provided_;
  provide(provided_, to);
  return added;
}

void BufferRing::provide(unsigned from, unsigned to) noexcept {
  // The ring holds at most `from` entries now (the buffers provided so far), so `to` <=
  // capacity entries fit behind them.
  for (unsigned id = from; id < to; ++id) {
    io_uring_buf_ring_add(ring_, buffer(id), size_, static_cast<unsigned short>(id), mask_,
                          static_cast<int>(id - from));
  }
  io_uring_buf_ring_advance(ring_, static_cast<int>(to - from));
  provided_ = to;
}

void BufferRing::teardown(io_uring& ring) noexcept {
  if (registered_) io_uring_unregister_buf_ring(&ring, group_);
  registered_ = false;
}

}  // namespace ringcast::engine
