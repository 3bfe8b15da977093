// EpollBackend: io_uring's completion semantics on epoll (contract in epoll_backend.hpp).
#include "engine/io/epoll_backend.hpp"

#include "engine/io/socket_setup.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

namespace ringcast::engine {
namespace {

// epoll_event.data: the kind in the top two bits; a slot's event also carries its gen.
constexpr std::uint64_t kKindShift = 62;
constexpr std::uint64_t kSlotKind = 0, kListenKind = 1, kWakeKind = 2, kReadKind = 3;
constexpr std::uint32_t kGenMask = 0x3FFF'FFFFu;  // 30 bits: what fits under the kind
constexpr std::uint32_t kNoSlot = UINT32_MAX;

constexpr int kMaxEvents = 256;
constexpr int kAcceptsPerTurn = 64;  // one connection storm cannot starve the loop
constexpr int kReadsPerServe = 16;   // per socket per turn: a busy peer cannot either
constexpr std::size_t kIovecs = 256;
constexpr std::size_t kReadyReserve = 1024;
constexpr std::size_t kTimerReserve = 16;
constexpr std::size_t kFdReserve = 1024;

std::uint64_t data_of(std::uint64_t kind, std::uint64_t low) noexcept { return (kind << kKindShift) | low; }

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int clamp_res(ssize_t n) noexcept { return n > INT_MAX ? INT_MAX : static_cast<int>(n); }

std::string failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Adds fd, or updates it if this epoll already holds it.
int ctl_add(int epfd, int fd, std::uint32_t events, std::uint64_t data) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  return -errno;
}

}  // namespace

std::string EpollBackend::init(const BackendLimits& limits) {
  close();
  if (limits.recv_buffer_size == 0) return "epoll backend: recv_buffer_size is 0";
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return failed("epoll_create1");
  evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (evfd_ < 0) return failed("eventfd");
  if (ctl_add(epfd_, evfd_, EPOLLIN, data_of(kWakeKind, 0)) < 0) return failed("epoll_ctl(eventfd)");
  // Per-slot state (32 B) is reserved here and built as slots are attached, like the
  // connection table above it; buffer memory likewise (see take_buffer).
  files_ = limits.files;
  slots_.clear();
  slots_.reserve(files_);
  fd_slot_.assign(std::max<std::size_t>(kFdReserve, limits.files + 64u), kNoSlot);
  events_.resize(kMaxEvents);
  // A turn can post a send completion per connection: reserved (not touched) up front, so
  // the first big broadcast does not allocate. Both lists, since they swap every turn.
  ready_.reserve(limits.files + kReadyReserve);
  delivering_.reserve(limits.files + kReadyReserve);
  timers_.reserve(kTimerReserve);
  reads_.reserve(4);
  iov_arena_.resize(kIovecs);
  buffer_limit_ = std::min<std::size_t>(limits.recv_buffers, 65536);  // ids are 16-bit
  buffer_size_ = limits.recv_buffer_size;
  buffers_.reserve(buffer_limit_);  // pointers only: 8 B each, untouched until used
  free_ids_.reserve(buffer_limit_);
  return {};
}

void EpollBackend::close() noexcept {
  if (epfd_ >= 0) ::close(epfd_);
  if (evfd_ >= 0) ::close(evfd_);
  epfd_ = evfd_ = -1;
  // Pending operations are dropped, as io_uring_queue_exit does; nothing will be delivered.
  ready_.clear();
  timers_.clear();
  reads_.clear();
  for (AcceptOp& a : accepts_) a = AcceptOp{};
  for (Slot& s : slots_) {
    s = Slot{};
  }
  buffers_.clear();
  free_ids_.clear();
}

// --- accept ---

void EpollBackend::accept_multishot(int listen_fd, std::uint64_t tag) {
  // Level-triggered: a backlog left after kAcceptsPerTurn is reported again next turn.
  AcceptOp* a = nullptr;
  for (AcceptOp& e : accepts_) {
    if (e.fd == listen_fd || (a == nullptr && e.fd < 0)) a = &e;
    if (e.fd == listen_fd) break;
  }
  if (a == nullptr) {
    post(tag, -EINVAL);  // more listeners than a shard has
    return;
  }
  int flags = fcntl(listen_fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) (void)fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
  auto index = static_cast<std::uint32_t>(a - accepts_);
  if (int rc = ctl_add(epfd_, listen_fd, EPOLLIN, data_of(kListenKind, index)); rc < 0) {
    post(tag, rc);
    return;
  }
  *a = AcceptOp{listen_fd, tag, true};
}

void EpollBackend::disarm_accept(AcceptOp& a) noexcept {
  if (!a.armed) return;
  (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, a.fd, nullptr);
  a.armed = false;
}

void EpollBackend::accept_ready(AcceptOp& a) {
  for (int i = 0; i < kAcceptsPerTurn && a.armed; ++i) {
    int fd = accept4(a.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      post(a.tag, fd, true);
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    // One connection reset while queued, or a signal: nothing to report, the rest stays.
    if (err == ECONNABORTED || err == EINTR) continue;
    // EMFILE, ENFILE, ENOBUFS...: the multishot ends; the shard re-arms (after a back-off).
    post(a.tag, -err);
    disarm_accept(a);
  }
}

// --- connections ---

void EpollBackend::attach(int fd, std::uint32_t slot) noexcept {
  if (slot >= files_ || fd < 0) return;
  // Within the reserved capacity: resizing never moves the slots (serve() holds one).
  if (slot >= slots_.size()) slots_.resize(std::size_t{slot} + 1);
  Slot& s = slots_[slot];
  if (s.fd >= 0) forget(slot);  // attached twice: the old registration goes
  s.fd = fd;
  // Optimistic: bytes that arrived before the first recv is armed are read then.
  s.readable = true;
  s.attach_err = 0;
  if (static_cast<std::size_t>(fd) >= fd_slot_.size()) {
    try {
      fd_slot_.resize(std::max<std::size_t>(fd_slot_.size() * 2, static_cast<std::size_t>(fd) + 1), kNoSlot);
    } catch (const std::bad_alloc&) {
      s.attach_err = ENOMEM;
      return;
    }
  }
  fd_slot_[static_cast<std::size_t>(fd)] = slot;
  // Edge-triggered: one event per state change, so a socket costs nothing while idle and
  // EPOLLOUT is only reported after a send ran out of room.
  std::uint64_t data = data_of(kSlotKind, (std::uint64_t{s.gen & kGenMask} << 32) | slot);
  int rc = ctl_add(epfd_, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, data);
  if (rc < 0) s.attach_err = static_cast<std::uint8_t>(-rc);
}

void EpollBackend::forget(std::uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  if (s.fd >= 0 && static_cast<std::size_t>(s.fd) < fd_slot_.size()) fd_slot_[static_cast<std::size_t>(s.fd)] = kNoSlot;
  std::uint32_t gen = s.gen + 1;
  s = Slot{};
  s.gen = gen;
}

void EpollBackend::detach(std::uint32_t slot) noexcept {
  if (slot >= slots_.size() || slots_[slot].fd < 0) return;
  (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, slots_[slot].fd, nullptr);
  forget(slot);
}

EpollBackend::Slot* EpollBackend::slot_of(int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fd_slot_.size()) return nullptr;
  std::uint32_t slot = fd_slot_[static_cast<std::size_t>(fd)];
  return slot == kNoSlot ? nullptr : &slots_[slot];
}

void EpollBackend::queue_serve(std::uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.serve_queued) return;
  s.serve_queued = true;
  ready_.push_back({{}, slot, s.gen, true});
}

EpollBackend::Slot* EpollBackend::attached(int fd, std::uint32_t slot, std::uint64_t tag) {
  if (slot >= slots_.size() || slots_[slot].fd != fd) {
    post(tag, -EBADF);
    return nullptr;
  }
  Slot& s = slots_[slot];
  if (s.attach_err != 0) {
    post(tag, -s.attach_err);
    return nullptr;
  }
  return &s;
}

void EpollBackend::recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) {
  Slot* attached_slot = attached(fd, slot, tag);
  if (attached_slot == nullptr) return;
  Slot& s = *attached_slot;
  s.recv_tag = tag;
  s.recv_armed = true;
  if (s.readable) queue_serve(slot);  // an edge may already have passed
}

bool EpollBackend::take_buffer(std::uint16_t& id) {
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    return true;
  }
  if (buffers_.size() >= buffer_limit_) return false;
  // The pool grows to the most buffers ever held at once: one, for a shard that recycles
  // inside its handler. Allocation stops once that high-water mark is reached.
  std::unique_ptr<std::uint8_t[]> b(new (std::nothrow) std::uint8_t[buffer_size_]);
  if (!b) return false;
  id = static_cast<std::uint16_t>(buffers_.size());
  buffers_.push_back(std::move(b));
  return true;
}

// Reads into one buffer at a time and delivers each at once: the handler has usually
// recycled it before the next read, and nothing is read ahead of what the shard armed.
void EpollBackend::serve(const Ready& r, CompletionSink& sink) {
  Slot& s = slots_[r.slot];  // slots_ never moves: it grows inside its reserved capacity
  if (s.gen != r.gen) return;  // detached (and maybe reused) since it was queued
  s.serve_queued = false;
  for (int i = 0; i < kReadsPerServe; ++i) {
    // Checked before every read: the last handler may have detached, shut down or re-armed.
    if (s.gen != r.gen || !s.recv_armed || !s.readable) return;
    const int fd = s.fd;
    const std::uint64_t tag = s.recv_tag;
    std::uint16_t id = 0;
    if (!take_buffer(id)) {
      // Pool dry: only report it if there is something to read (io_uring waits otherwise).
      std::uint8_t probe;
      ssize_t n = ::recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        s.readable = false;
        return;
      }
      s.recv_armed = false;
      sink.on_completion({tag, n == 0 ? 0 : n < 0 ? -errno : -ENOBUFS, false, false, 0});
      return;
    }
    ssize_t n = ::recv(fd, buffers_[id].get(), buffer_size_, MSG_DONTWAIT);
    if (n > 0) {
      sink.on_completion({tag, clamp_res(n), true, true, id});
      continue;
    }
    int err = n == 0 ? 0 : errno;
    free_ids_.push_back(id);
    if (err == EAGAIN || err == EWOULDBLOCK) {
      s.readable = false;  // the next edge sets it again
      return;
    }
    if (err == EINTR) continue;
    s.recv_armed = false;
    sink.on_completion({tag, -err, false, false, 0});  // 0: EOF
    return;
  }
  // Cap reached with bytes likely left: serve again next turn, without blocking.
  if (s.gen == r.gen && s.recv_armed && s.readable) queue_serve(r.slot);
}

// --- sends ---

iovec* EpollBackend::send_iovecs(std::size_t max) {
  // The write happens inside sendmsg(), so one arena serves every send of the turn.
  if (iov_arena_.size() < max) iov_arena_.resize(max);
  return iov_arena_.data();
}

void EpollBackend::start_send(int fd, std::uint32_t slot, const msghdr& msg, std::uint64_t tag) {
  Slot* attached_slot = attached(fd, slot, tag);
  if (attached_slot == nullptr) return;
  Slot& s = *attached_slot;
  if (s.send_waiting) {  // a second send in flight breaks the contract; answer the first
    s.send_waiting = false;
    post(s.send_tag, -EAGAIN);
  }
  ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) {
    post(tag, clamp_res(n));
    return;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    // Full: the iovecs are not kept. EPOLLOUT answers -EAGAIN and the shard sends again.
    s.send_waiting = true;
    s.send_tag = tag;
    return;
  }
  post(tag, -errno);
}

void EpollBackend::sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = n;
  start_send(fd, slot, msg, tag);
}

void EpollBackend::send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) {
  iovec one{const_cast<void*>(buf), len};
  msghdr msg{};
  msg.msg_iov = &one;
  msg.msg_iovlen = 1;
  start_send(fd, slot, msg, tag);
}

// --- timers, reads, cancel, wake ---

void EpollBackend::timeout(const __kernel_timespec* ts, std::uint64_t tag) {
  constexpr std::int64_t kMaxSec = 100LL * 365 * 24 * 3600;  // far enough; no overflow
  std::int64_t sec = std::clamp<std::int64_t>(ts->tv_sec, 0, kMaxSec);
  std::int64_t ns = sec * 1'000'000'000 + std::max<std::int64_t>(ts->tv_nsec, 0);
  timers_.push_back({now_ns() + ns, tag});
}

void EpollBackend::expire_timers() {
  if (timers_.empty()) return;
  std::int64_t now = now_ns();
  for (std::size_t i = 0; i < timers_.size();) {
    if (timers_[i].due_ns <= now) {
      post(timers_[i].tag, -ETIME);
      timers_[i] = timers_.back();
      timers_.pop_back();
    } else {
      ++i;
    }
  }
}

int EpollBackend::wait_ms() const noexcept {
  if (timers_.empty()) return -1;
  std::int64_t due = timers_[0].due_ns;
  for (const Timer& t : timers_) due = std::min(due, t.due_ns);
  std::int64_t left = due - now_ns();
  if (left <= 0) return 0;
  // Rounded up: epoll_wait counts milliseconds, and a timeout must never fire early.
  std::int64_t ms = (left + 999'999) / 1'000'000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

std::size_t EpollBackend::one_shot_index(int fd) {
  // The fd's own entry (a re-arm) keeps its index; else the first free one.
  std::size_t i = 0;
  while (i < reads_.size() && reads_[i].fd != fd) ++i;
  if (i == reads_.size()) {
    i = 0;
    while (i < reads_.size() && reads_[i].fd >= 0) ++i;
    if (i == reads_.size()) reads_.push_back({});
  }
  return i;
}

void EpollBackend::connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) {
  if (::connect(fd, addr, len) == 0) {  // loopback may connect at once
    post(tag, 0);
    return;
  }
  if (errno != EINPROGRESS) {
    post(tag, -errno);
    return;
  }
  const std::size_t i = one_shot_index(fd);
  reads_[i] = {fd, nullptr, 0, tag, true, true};
  if (int rc = ctl_add(epfd_, fd, EPOLLOUT | EPOLLONESHOT, data_of(kReadKind, i)); rc < 0) {
    reads_[i] = ReadOp{};
    post(tag, rc);
  }
}

void EpollBackend::read(int fd, void* buf, std::size_t len, std::uint64_t tag) {
  const std::size_t i = one_shot_index(fd);
  reads_[i] = {fd, buf, len, tag, true, false};
  // One-shot and level-triggered: fires once when readable, re-enabled by the next read().
  int rc = ctl_add(epfd_, fd, EPOLLIN | EPOLLONESHOT, data_of(kReadKind, i));
  if (rc == -EPERM) {  // a regular file: always readable, epoll refuses it
    ssize_t n = ::read(fd, buf, len);
    post(tag, n < 0 ? -errno : clamp_res(n));
    reads_[i].armed = false;
  } else if (rc < 0) {
    post(tag, rc);
    reads_[i].armed = false;
  }
}

void EpollBackend::cancel(std::uint64_t target, std::uint64_t tag) {
  bool found = false;
  for (AcceptOp& a : accepts_) {
    if (a.armed && target == a.tag) {
      disarm_accept(a);
      post(target, -ECANCELED);
      found = true;
    }
  }
  for (ReadOp& op : reads_) {
    if (op.armed && op.connect && op.tag == target) {
      (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, op.fd, nullptr);
      op = ReadOp{};
      post(target, -ECANCELED);
      found = true;
    }
  }
  for (std::size_t i = 0; i < timers_.size();) {
    if (timers_[i].tag == target) {
      post(target, -ECANCELED);
      timers_[i] = timers_.back();
      timers_.pop_back();
      found = true;
    } else {
      ++i;
    }
  }
  post(tag, found ? 0 : -ENOENT);  // like IORING_OP_ASYNC_CANCEL's own completion
}

void EpollBackend::wake(IoBackend& other, std::uint64_t tag) {
  auto& to = static_cast<EpollBackend&>(other);
  to.wake_tag_.store(tag, std::memory_order_relaxed);
  // Only the first wake since the target last looked writes the eventfd; the rest merge.
  if (!to.wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    std::uint64_t one = 1;
    ssize_t w = ::write(to.evfd_, &one, sizeof one);
    (void)w;  // EAGAIN only if the counter is saturated: it is readable then anyway
  }
}

// --- socket calls ---

std::uint16_t EpollBackend::setup_accepted(int fd) noexcept { return prepare_accepted_socket(fd); }

void EpollBackend::shutdown(int fd, int how) noexcept {
  (void)::shutdown(fd, how);
  Slot* s = slot_of(fd);
  if (s == nullptr) return;
  // Teardown relies on this to flush pending operations out; an epoll edge may never come
  // (the peer is gone, or the socket already sat in EPOLLIN), so post them here.
  if ((how == SHUT_RD || how == SHUT_RDWR) && s->recv_armed) {
    s->recv_armed = false;
    post(s->recv_tag, 0);
  }
  if ((how == SHUT_WR || how == SHUT_RDWR) && s->send_waiting) {
    s->send_waiting = false;
    post(s->send_tag, -EPIPE);
  }
}

void EpollBackend::close_fd(int fd) noexcept {
  // The kernel drops a closed fd from the epoll set; only our records need clearing.
  if (Slot* s = slot_of(fd); s != nullptr) forget(static_cast<std::uint32_t>(s - slots_.data()));
  for (ReadOp& r : reads_) {
    if (r.fd == fd) r = ReadOp{};
  }
  for (AcceptOp& a : accepts_) {
    if (a.fd == fd) a = AcceptOp{};
  }
  ::close(fd);
}

std::uint64_t EpollBackend::now_ms() const noexcept {
  return static_cast<std::uint64_t>(now_ns()) / 1'000'000;
}

// --- the loop turn ---

void EpollBackend::on_event(std::uint64_t data, std::uint32_t events) {
  switch (data >> kKindShift) {
    case kSlotKind: {
      auto slot = static_cast<std::uint32_t>(data);
      auto gen = static_cast<std::uint32_t>(data >> 32) & kGenMask;
      if (slot >= slots_.size()) return;
      Slot& s = slots_[slot];
      if (s.fd < 0 || (s.gen & kGenMask) != gen) return;  // a slot detached since
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        s.readable = true;
        if (s.recv_armed) queue_serve(slot);
      }
      if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0 && s.send_waiting) {
        // Room now (or an error the retry will report): the shard sends again.
        s.send_waiting = false;
        post(s.send_tag, -EAGAIN);
      }
      return;
    }
    case kListenKind: {
      std::uint64_t i = data & 0xFFFFFFFFu;
      if (i < kMaxListeners) accept_ready(accepts_[i]);
      return;
    }
    case kWakeKind: {
      std::uint64_t count;
      ssize_t r = ::read(evfd_, &count, sizeof count);  // drain: EFD_NONBLOCK
      (void)r;
      if (wake_pending_.exchange(false, std::memory_order_acq_rel)) {
        post(wake_tag_.load(std::memory_order_relaxed), 0);
      }
      return;
    }
    case kReadKind: {
      auto i = static_cast<std::size_t>(data & 0xFFFF'FFFFu);
      if (i >= reads_.size() || !reads_[i].armed) return;
      ReadOp& op = reads_[i];
      if (op.connect) {  // writable: connected, or failed (SO_ERROR says which)
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, op.fd, nullptr);  // attach() adds it as a slot's
        const std::uint64_t tag = op.tag;
        op = ReadOp{};
        post(tag, -err);
        return;
      }
      ssize_t n = ::read(op.fd, op.buf, op.len);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        (void)ctl_add(epfd_, op.fd, EPOLLIN | EPOLLONESHOT, data);  // spurious: wait again
        return;
      }
      op.armed = false;
      post(op.tag, n < 0 ? -errno : clamp_res(n));
      return;
    }
    default:
      return;
  }
}

int EpollBackend::run_once(CompletionSink& sink) {
  if (epfd_ < 0) return -EBADF;
  // Completions (or sockets to read) already waiting: look for new events, do not block.
  int n = epoll_wait(epfd_, events_.data(), kMaxEvents, ready_.empty() ? wait_ms() : 0);
  int rc = n < 0 ? -errno : 0;
  for (int i = 0; i < n; ++i) {
    // epoll_event is packed on x86-64: copy the fields out rather than bind to them.
    std::uint64_t data = events_[static_cast<std::size_t>(i)].data.u64;
    std::uint32_t events = events_[static_cast<std::size_t>(i)].events;
    on_event(data, events);
  }
  expire_timers();
  // Handlers call back in (arm, send, cancel, shutdown...): whatever they post lands in
  // ready_ and goes out next turn, while this list is walked untouched.
  delivering_.swap(ready_);
  for (const Ready& r : delivering_) {
    if (r.serve) {
      serve(r, sink);
    } else {
      sink.on_completion(r.c);
    }
  }
  delivering_.clear();
  return rc;
}

}  // namespace ringcast::engine
