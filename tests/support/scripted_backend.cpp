#include "tests/support/scripted_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringcast::engine {

std::string ScriptedBackend::init(const BackendLimits& limits) {
  unsigned recv_buffers = limits.recv_buffers;
  buffer_size_ = limits.recv_buffer_size;
  buffers_.clear();
  buffers_.resize(recv_buffers);
  free_ids_.clear();
  for (unsigned i = recv_buffers; i-- > 0;) free_ids_.push_back(static_cast<std::uint16_t>(i));
  iov_arena_.resize(4096);  // a full arena behaves like a submit: the iovecs were copied
  return {};
}

void ScriptedBackend::breach(std::string what) {
  if (violation_.empty()) violation_ = std::move(what);
}

ScriptedBackend::Socket* ScriptedBackend::find(int fd) {
  auto it = sockets_.find(fd);
  return it == sockets_.end() ? nullptr : &it->second;
}

const ScriptedBackend::Socket* ScriptedBackend::find(int fd) const {
  auto it = sockets_.find(fd);
  return it == sockets_.end() ? nullptr : &it->second;
}

ScriptedBackend::Socket& ScriptedBackend::live(int fd, const char* op) {
  Socket& s = sockets_[fd];
  if (s.closed) breach(std::string(op) + " on closed fd " + std::to_string(fd));
  return s;
}

void ScriptedBackend::accept_multishot(int listen_fd, std::uint64_t tag) {
  if (!plain_named_) {
    plain_named_ = true;
    plain_listener_ = listen_fd;
  }
  std::uint64_t& armed = accept_tags_[listen_fd];
  if (armed != 0) breach("accept armed twice on listener " + std::to_string(listen_fd));
  for (const auto& [fd, other] : accept_tags_) {
    if (fd != listen_fd && other == tag) breach("one accept tag on two listeners");
  }
  armed = tag;
}

bool ScriptedBackend::accept_on(int listen_fd, int fd, std::uint16_t peer_port) {
  auto it = accept_tags_.find(listen_fd);
  if (it == accept_tags_.end() || it->second == 0) return false;
  Socket& s = sockets_[fd];
  s = Socket{};
  s.port = peer_port;
  post(it->second, fd, true);
  return true;
}

std::uint16_t ScriptedBackend::setup_accepted(int fd) noexcept {
  const Socket* s = find(fd);
  return s != nullptr ? s->port : 0;
}

void ScriptedBackend::attach(int fd, std::uint32_t slot) noexcept {
  if (!attached_.emplace(slot, fd).second) breach("file table slot " + std::to_string(slot) + " attached twice");
}

void ScriptedBackend::detach(std::uint32_t slot) noexcept { attached_.erase(slot); }

void ScriptedBackend::recv_multishot(int fd, std::uint32_t, std::uint64_t tag) {
  Socket& s = live(fd, "recv");
  if (s.recv_tag != 0) breach("recv armed twice on fd " + std::to_string(fd));
  s.recv_tag = tag;
  pump(fd, s);
}

void ScriptedBackend::pump(int fd, Socket& s) {
  if (s.recv_tag == 0 || s.closed) return;
  if (s.reset) {
    post(s.recv_tag, -s.reset_err);
    s.recv_tag = 0;
    return;
  }
  while (!s.inbox.empty()) {
    if (free_ids_.empty()) {  // like the kernel: the multishot recv ends, bytes stay queued
      post(s.recv_tag, -ENOBUFS);
      s.recv_tag = 0;
      return;
    }
    std::vector<std::uint8_t>& seg = s.inbox.front();
    std::uint16_t id = free_ids_.back();
    free_ids_.pop_back();
    if (!buffers_[id]) buffers_[id] = std::make_unique<std::uint8_t[]>(buffer_size_);
    ++lent_;
    std::size_t n = std::min(seg.size(), buffer_size_);
    std::memcpy(buffer(id), seg.data(), n);
    ready_.push_back({s.recv_tag, static_cast<int>(n), true, true, id});
    if (n == seg.size()) {
      s.inbox.pop_front();
    } else {
      seg.erase(seg.begin(), seg.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  if (s.eof || s.rd_shut) {
    post(s.recv_tag, 0);
    s.recv_tag = 0;
  }
  (void)fd;
}

void ScriptedBackend::recycle(std::uint16_t id) noexcept {
  if (lent_ == 0 || std::find(free_ids_.begin(), free_ids_.end(), id) != free_ids_.end()) {
    breach("buffer " + std::to_string(id) + " recycled twice");
    return;
  }
  --lent_;
  free_ids_.push_back(id);
}

void ScriptedBackend::peer_send(int fd, std::span<const std::uint8_t> bytes) {
  Socket* s = find(fd);
  if (s == nullptr || s->closed || s->eof || bytes.empty()) return;
  s->inbox.emplace_back(bytes.begin(), bytes.end());
  pump(fd, *s);
}

void ScriptedBackend::peer_eof(int fd) {
  Socket* s = find(fd);
  if (s == nullptr || s->closed) return;
  s->eof = true;
  pump(fd, *s);
}

void ScriptedBackend::peer_reset(int fd, int err) {
  Socket* s = find(fd);
  if (s == nullptr || s->closed) return;
  s->reset = true;
  s->reset_err = err;
  s->inbox.clear();
  pump(fd, *s);
  fail_send(fd, err);
}

iovec* ScriptedBackend::send_iovecs(std::size_t max) {
  if (iov_used_ + max > iov_arena_.size()) iov_used_ = 0;  // like a submit: earlier iovecs were copied
  return iov_arena_.data() + iov_used_;
}

void ScriptedBackend::start_send(int fd, const iovec* iov, std::size_t n, std::uint64_t tag) {
  Socket& s = live(fd, "send");
  if (s.send_tag != 0) breach("second send in flight on fd " + std::to_string(fd));
  if (s.wr_shut) breach("send after shutdown(SHUT_WR) on fd " + std::to_string(fd));
  s.send_tag = tag;
  s.send_iov.assign(iov, iov + n);
  if (s.reset || s.rd_shut) fail_send(fd, s.reset ? s.reset_err : EPIPE);
}

void ScriptedBackend::sendmsg(int fd, std::uint32_t, const iovec* iov, std::size_t n, std::uint64_t tag) {
  if (n == 0) breach("sendmsg with no iovec");
  if (iov < iov_arena_.data() + iov_used_ || iov + n > iov_arena_.data() + iov_arena_.size()) {
    breach("sendmsg with iovecs not from send_iovecs()");
  }
  iov_used_ += n;
  start_send(fd, iov, n, tag);
}

void ScriptedBackend::send(int fd, std::uint32_t, const void* buf, std::size_t len, std::uint64_t tag) {
  const iovec one{const_cast<void*>(buf), len};  // nothing of the arena is held
  start_send(fd, &one, 1, tag);
}

std::size_t ScriptedBackend::pending_iovecs(int fd) const {
  const Socket* s = find(fd);
  return s == nullptr || s->send_tag == 0 ? 0 : s->send_iov.size();
}

bool ScriptedBackend::send_pending(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr && s->send_tag != 0;
}

std::size_t ScriptedBackend::complete_send(int fd, std::size_t max, std::vector<std::uint8_t>& out) {
  Socket* s = find(fd);
  if (s == nullptr || s->send_tag == 0) return 0;
  // The bytes are read now, not at sendmsg(): the shard must keep them alive until here.
  std::size_t taken = 0;
  for (const iovec& v : s->send_iov) {
    if (taken == max) break;
    std::size_t n = std::min(v.iov_len, max - taken);
    const auto* p = static_cast<const std::uint8_t*>(v.iov_base);
    out.insert(out.end(), p, p + n);
    taken += n;
  }
  post(s->send_tag, static_cast<int>(taken));
  s->send_tag = 0;
  s->send_iov.clear();
  return taken;
}

void ScriptedBackend::fail_send(int fd, int err) {
  Socket* s = find(fd);
  if (s == nullptr || s->send_tag == 0) return;
  post(s->send_tag, -err);
  s->send_tag = 0;
  s->send_iov.clear();
}

void ScriptedBackend::shutdown(int fd, int how) noexcept {
  Socket& s = live(fd, "shutdown");
  if (how == SHUT_WR || how == SHUT_RDWR) s.wr_shut = true;
  if (how == SHUT_RD || how == SHUT_RDWR) {
    s.rd_shut = true;
    s.inbox.clear();
    pump(fd, s);
    fail_send(fd, EPIPE);
  }
}

void ScriptedBackend::close_fd(int fd) noexcept {
  Socket& s = live(fd, "close");
  if (s.recv_tag != 0 || s.send_tag != 0 || s.connect_tag != 0) {
    breach("fd " + std::to_string(fd) + " closed with operations pending");
  }
  for (const auto& [slot, attached_fd] : attached_) {
    if (attached_fd == fd) breach("fd " + std::to_string(fd) + " closed while still in the file table");
  }
  s.closed = true;
}

void ScriptedBackend::connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) {
  auto [it, fresh] = sockets_.try_emplace(fd);
  if (!fresh && !it->second.closed) breach("connect on fd " + std::to_string(fd) + ", which is already open");
  it->second = Socket{};
  it->second.connect_tag = tag;
  if (len >= sizeof(sockaddr_in) && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
    it->second.port = ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);  // same offset in both
  }
}

bool ScriptedBackend::complete_connect(int fd, int res) {
  Socket* s = find(fd);
  if (s == nullptr || s->connect_tag == 0) return false;
  post(s->connect_tag, res);
  s->connect_tag = 0;
  return true;
}

bool ScriptedBackend::connect_pending(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr && s->connect_tag != 0;
}

std::uint16_t ScriptedBackend::connect_port(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr ? s->port : 0;
}

void ScriptedBackend::timeout(const __kernel_timespec* ts, std::uint64_t tag) {
  std::uint64_t ms = static_cast<std::uint64_t>(ts->tv_sec) * 1000 + static_cast<std::uint64_t>(ts->tv_nsec) / 1'000'000;
  timeouts_.emplace_back(now_ms_ + ms, tag);
}

void ScriptedBackend::read(int fd, void* buf, std::size_t len, std::uint64_t tag) {
  for (const PendingRead& r : reads_) {
    if (r.fd == fd) breach("read armed twice on fd " + std::to_string(fd));
  }
  reads_.push_back({fd, buf, len, tag});
}

bool ScriptedBackend::complete_reads() {
  bool any = false;
  for (std::size_t i = 0; i < reads_.size();) {
    PendingRead r = reads_[i];
    pollfd p{r.fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) {
      ++i;
      continue;
    }
    ssize_t n = ::read(r.fd, r.buf, r.len);
    reads_.erase(reads_.begin() + static_cast<std::ptrdiff_t>(i));
    post(r.tag, n < 0 ? -errno : static_cast<int>(n));
    any = true;
  }
  return any;
}

std::size_t ScriptedBackend::pending_bytes(int fd) const {
  const Socket* s = find(fd);
  std::size_t n = 0;
  if (s != nullptr && s->send_tag != 0) {
    for (const iovec& v : s->send_iov) n += v.iov_len;
  }
  return n;
}

void ScriptedBackend::cancel(std::uint64_t target, std::uint64_t tag) {
  bool found = false;
  for (auto& [listen_fd, armed] : accept_tags_) {
    if (armed != 0 && armed == target) {
      post(armed, -ECANCELED);
      armed = 0;
      found = true;
    }
  }
  for (std::size_t i = 0; i < timeouts_.size();) {
    if (timeouts_[i].second == target) {
      post(target, -ECANCELED);
      timeouts_.erase(timeouts_.begin() + static_cast<std::ptrdiff_t>(i));
      found = true;
    } else {
      ++i;
    }
  }
  for (auto& [fd, s] : sockets_) {
    if (s.connect_tag != 0 && s.connect_tag == target) {
      post(target, -ECANCELED);
      s.connect_tag = 0;
      found = true;
    }
  }
  post(tag, found ? 0 : -ENOENT);  // like IORING_OP_ASYNC_CANCEL's own completion
}

void ScriptedBackend::advance(std::uint64_t ms) {
  now_ms_ += ms;
  for (std::size_t i = 0; i < timeouts_.size();) {
    if (timeouts_[i].first <= now_ms_) {
      post(timeouts_[i].second, -ETIME);
      timeouts_.erase(timeouts_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

bool ScriptedBackend::recv_armed(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr && s->recv_tag != 0;
}

bool ScriptedBackend::write_shut(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr && s->wr_shut;
}

bool ScriptedBackend::closed(int fd) const {
  const Socket* s = find(fd);
  return s != nullptr && s->closed;
}

}  // namespace ringcast::engine
