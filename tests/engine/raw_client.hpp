// A minimal blocking WebSocket client over a raw loopback socket, for engine tests that run
// the server in-process: handshake, masked text frames out, server frames in.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.hpp"

namespace ringcast::test {

struct ServerFrame {
  protocol::Opcode opcode;
  std::string payload;
};

class RawClient {
 public:
  RawClient(std::uint16_t port, const std::string& path) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    int one = 1;
    (void)setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string req = "GET " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return;
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (!fill(std::chrono::milliseconds(5000))) return;
    }
    std::size_t end = buf_.find("\r\n\r\n") + 4;
    ok_ = buf_.starts_with("HTTP/1.1 101");
    buf_.erase(0, end);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  [[nodiscard]] bool ok() const { return ok_; }
  // Our local port: the server names us ID<port>.
  [[nodiscard]] std::uint16_t port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
    return ntohs(a.sin_port);
  }
  [[nodiscard]] int fd() const { return fd_; }

  bool send_text(std::string_view text) {
    std::vector<std::uint8_t> out(text.size() + protocol::kMaxHeaderLen);
    std::size_t n = protocol::encode_client_frame(
        out, protocol::Opcode::text, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
        protocol::MaskKey{0x11, 0x22, 0x33, 0x44});
    return ::send(fd_, out.data(), n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
  }

  // The next whole frame, or nullopt after `timeout` without one (or at EOF).
  std::optional<ServerFrame> next(std::chrono::milliseconds timeout) {
    for (;;) {
      protocol::FrameHeader h;
      protocol::FrameRules rules;
      rules.require_mask = false;
      auto in = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(buf_.data()), buf_.size());
      protocol::FrameParse p = protocol::decode_frame_header(in, rules, h);
      if (p.status == protocol::Status::ok && buf_.size() >= p.consumed + h.payload_len) {
        ServerFrame f{h.opcode, buf_.substr(p.consumed, h.payload_len)};
        buf_.erase(0, p.consumed + h.payload_len);
        return f;
      }
      if (!fill(timeout)) return std::nullopt;
    }
  }

  // Texts until nothing arrives for `quiet`.
  std::vector<std::string> texts_until_quiet(std::chrono::milliseconds quiet) {
    std::vector<std::string> out;
    while (auto f = next(quiet)) {
      if (f->opcode == protocol::Opcode::text) out.push_back(f->payload);
    }
    return out;
  }

  [[nodiscard]] bool eof() const { return eof_; }

 private:
  bool fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
  bool eof_ = false;
  std::string buf_;
};

}  // namespace ringcast::test
