#include "bench/load/process_link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ringcast::load {
namespace {

bool write_all(int fd, const std::uint8_t* p, std::size_t n) noexcept {
  while (n != 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, std::uint8_t* p, std::size_t n) noexcept {
  while (n != 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;  // 0: the writer is gone
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

Link& Link::operator=(Link&& o) noexcept {
  if (this != &o) {
    close();
    rd_ = o.rd_;
    wr_ = o.wr_;
    o.rd_ = o.wr_ = -1;
  }
  return *this;
}

bool Link::pair(Link& a, Link& b) noexcept {
  int ab[2], ba[2];
  if (::pipe2(ab, O_CLOEXEC) != 0) return false;
  if (::pipe2(ba, O_CLOEXEC) != 0) {
    ::close(ab[0]);
    ::close(ab[1]);
    return false;
  }
  a = Link(ba[0], ab[1]);
  b = Link(ab[0], ba[1]);
  return true;
}

void Link::close() noexcept {
  if (rd_ >= 0) ::close(rd_);
  if (wr_ >= 0) ::close(wr_);
  rd_ = wr_ = -1;
}

bool Link::send(char tag, std::span<const std::uint8_t> body) noexcept {
  if (wr_ < 0 || body.size() > kMaxBody) return false;
  std::uint8_t head[5];
  head[0] = static_cast<std::uint8_t>(tag);
  const auto len = static_cast<std::uint32_t>(body.size());
  std::memcpy(head + 1, &len, sizeof len);
  return write_all(wr_, head, sizeof head) && write_all(wr_, body.data(), body.size());
}

bool Link::recv(char want, std::vector<std::uint8_t>& body) {
  if (rd_ < 0) return false;
  std::uint8_t head[5];
  if (!read_all(rd_, head, sizeof head)) return false;
  std::uint32_t len = 0;
  std::memcpy(&len, head + 1, sizeof len);
  if (head[0] != static_cast<std::uint8_t>(want) || len > kMaxBody) return false;
  body.resize(len);
  return read_all(rd_, body.data(), len);
}

}  // namespace ringcast::load
