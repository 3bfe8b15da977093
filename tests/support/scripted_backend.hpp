// A deterministic stand-in for UringBackend with the same calls and no kernel: a test or
// fuzz driver plays the peers (accepts, bytes, EOFs, resets), decides how much of each send
// the "network" takes, and moves the clock; the shard under test runs its real code.
//
// It models the io_uring behaviour the shard relies on: multishot recv stays armed until
// EOF, an error or an empty buffer pool (ENOBUFS ends it); bytes wait in the "socket"
// until a recv is armed; one send in flight per socket; shutdown(RDWR) ends the pending
// recv with EOF and fails the pending send; one multishot accept per listener (a shard
// may listen for ws and wss); a read on a descriptor (the shard's wake-up eventfd)
// completes once the descriptor is readable. A call that breaks the shard's side of the
// contract (an operation on a closed fd, a second send in flight, a send after FIN, a
// close with operations pending) is recorded in violation() for the driver to report.
#pragma once
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/io/backend.hpp"

namespace ringcast::engine {

class ScriptedBackend final : public IoBackend {
 public:
  ScriptedBackend() = default;

  // --- the shard's side: engine/io/backend.hpp ---
  [[nodiscard]] const char* name() const noexcept override { return "scripted"; }
  [[nodiscard]] std::string init(const BackendLimits& limits) override;
  void close() noexcept override {}
  void accept_multishot(int listen_fd, std::uint64_t tag) override;
  // The file table is only modelled for its contract: no slot attached twice, no fd
  // closed while attached. Operations keep naming the fd.
  void attach(int fd, std::uint32_t slot) noexcept override;
  void detach(std::uint32_t slot) noexcept override;
  void recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) override;
  [[nodiscard]] iovec* send_iovecs(std::size_t max) override;
  void sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) override;
  void send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) override;
  // The socket joins the model as one the shard dialled; the driver decides how it ends.
  void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) override;
  void timeout(const __kernel_timespec* ts, std::uint64_t tag) override;
  void read(int fd, void* buf, std::size_t len, std::uint64_t tag) override;
  void cancel(std::uint64_t target, std::uint64_t tag) override;
  // No-op: the driver runs every shard's turn itself.
  void wake(IoBackend&, std::uint64_t) noexcept override {}
  [[nodiscard]] std::uint8_t* buffer(std::uint16_t id) const noexcept override { return buffers_[id].get(); }
  void recycle(std::uint16_t id) noexcept override;
  [[nodiscard]] std::uint16_t setup_accepted(int fd) noexcept override;
  void shutdown(int fd, int how) noexcept override;
  void close_fd(int fd) noexcept override;
  [[nodiscard]] std::uint64_t now_ms() const noexcept override { return now_ms_; }

  // Hands every completion queued so far to the sink (and a read whose descriptor has
  // become readable). Never blocks.
  int run_once(CompletionSink& sink) override {
    complete_reads();
    iov_used_ = 0;
    std::vector<Completion> batch;
    batch.swap(ready_);
    for (const Completion& c : batch) sink.on_completion(c);
    batch.clear();
    if (ready_.empty()) ready_.swap(batch);  // keep the capacity
    return 0;
  }

  // --- the driver's side ---
  // Which listening descriptors are the plain (ws) and the TLS (wss) one; -1: none. Until
  // set, the plain listener is the first one an accept was armed on.
  void set_listeners(int plain, int tls) noexcept {
    plain_named_ = true;
    plain_listener_ = plain;
    tls_listener_ = tls;
  }
  // A new connection `fd` on the plain listener; false if no accept is armed there.
  bool accept(int fd, std::uint16_t peer_port) { return accept_on(plain_listener_, fd, peer_port); }
  // The same on the TLS listener.
  bool accept_tls(int fd, std::uint16_t peer_port) { return accept_on(tls_listener_, fd, peer_port); }
  bool accept_on(int listen_fd, int fd, std::uint16_t peer_port);
  // The peer sends `bytes` (arrives as one segment; split into buffer-sized completions).
  void peer_send(int fd, std::span<const std::uint8_t> bytes);
  void peer_eof(int fd);              // the peer's FIN: recv ends with 0 after queued bytes
  void peer_reset(int fd, int err);   // recv and the pending send fail with -err
  [[nodiscard]] bool send_pending(int fd) const;
  // iovecs of the pending send (0 if none): 1 when a batch went out as one combined frame.
  [[nodiscard]] std::size_t pending_iovecs(int fd) const;
  // The network takes up to `max` bytes of the pending send: they are appended to `out`
  // and the send completes with that count. Returns the count (0 if nothing pending).
  std::size_t complete_send(int fd, std::size_t max, std::vector<std::uint8_t>& out);
  void fail_send(int fd, int err);    // the pending send completes with -err
  // The pending connect on `fd` completes with `res` (0: the peer accepted; -errno); false
  // if none is pending. connect_pending: whether one is, and (connect_port) where to.
  bool complete_connect(int fd, int res);
  [[nodiscard]] bool connect_pending(int fd) const;
  [[nodiscard]] std::uint16_t connect_port(int fd) const;
  void advance(std::uint64_t ms);     // moves the clock; due timeouts complete (-ETIME)

  // Pending reads whose descriptor is readable now complete (the shard's wake-up: an
  // eventfd it wrote itself). True if any did.
  bool complete_reads();
  // The bytes of the pending send (0 if none).
  [[nodiscard]] std::size_t pending_bytes(int fd) const;

  [[nodiscard]] bool accept_armed() const noexcept { return accept_armed_on(plain_listener_); }
  [[nodiscard]] bool accept_armed_on(int listen_fd) const noexcept {
    auto it = accept_tags_.find(listen_fd);
    return it != accept_tags_.end() && it->second != 0;
  }
  [[nodiscard]] bool has_completions() const noexcept { return !ready_.empty(); }
  [[nodiscard]] bool recv_armed(int fd) const;
  [[nodiscard]] bool write_shut(int fd) const;
  [[nodiscard]] bool closed(int fd) const;
  [[nodiscard]] std::size_t buffers_in_use() const noexcept { return lent_; }
  [[nodiscard]] const std::string& violation() const noexcept { return violation_; }

 private:
  struct Socket {
    std::uint64_t recv_tag = 0;  // 0: no recv armed
    std::uint64_t send_tag = 0;  // 0: no send in flight
    std::uint64_t connect_tag = 0;  // 0: no connect in flight
    std::vector<iovec> send_iov;  // copied at "submit", like the kernel does
    std::deque<std::vector<std::uint8_t>> inbox;  // segments not yet received
    bool eof = false, reset = false;
    int reset_err = 0;
    bool wr_shut = false, rd_shut = false, closed = false;
    std::uint16_t port = 0;  // the peer's (accepted), or the one dialled (connect)
  };
  Socket* find(int fd);
  const Socket* find(int fd) const;
  Socket& live(int fd, const char* op);  // records a violation for unknown/closed fds
  void pump(int fd, Socket& s);          // delivers queued input to an armed recv
  void post(std::uint64_t tag, int res, bool more = false) { ready_.push_back({tag, res, more, false, 0}); }
  void breach(std::string what);
  // What sendmsg and send share: the contract checks, then the pending send.
  void start_send(int fd, const iovec* iov, std::size_t n, std::uint64_t tag);

  std::unordered_map<int, Socket> sockets_;
  std::unordered_map<std::uint32_t, int> attached_;  // file table: slot -> fd
  std::vector<Completion> ready_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> timeouts_;  // {due ms, tag}
  std::map<int, std::uint64_t> accept_tags_;  // listening fd -> armed accept's tag (0: none)
  int plain_listener_ = -1, tls_listener_ = -1;
  bool plain_named_ = false;  // set_listeners() or the first accept armed named it
  struct PendingRead {
    int fd;
    void* buf;
    std::size_t len;
    std::uint64_t tag;
  };
  std::vector<PendingRead> reads_;
  std::uint64_t now_ms_ = 1'000'000;
  std::vector<std::unique_ptr<std::uint8_t[]>> buffers_;  // allocated on first use
  std::vector<std::uint16_t> free_ids_;
  std::size_t buffer_size_ = 0, lent_ = 0;
  std::vector<iovec> iov_arena_;
  std::size_t iov_used_ = 0;
  std::string violation_;
};

}  // namespace ringcast::engine
