// The I/O backend on epoll, for hosts where io_uring is blocked (Docker's seccomp
// profile): the IoBackend contract (engine/io/backend.hpp) with io_uring's completion
// semantics emulated by readiness plus non-blocking syscalls.
//
// Contract, as the shard sees it:
//  - completions reach the sink only from run_once(); every other call at most queues one;
//  - recv is multishot per attached slot: edge-triggered readiness, reads happen while
//    run_once() delivers, one buffer at a time, so a shard that recycles inside its handler
//    keeps a single buffer busy (buffers are allocated on first use, recv_buffers at most);
//  - send/sendmsg write at once; with nothing written the socket waits for EPOLLOUT and
//    then completes -EAGAIN (the shard flushes again with fresh iovecs), never sooner;
//  - shutdown(SHUT_RD/RDWR) ends a pending recv with EOF and shutdown(SHUT_WR/RDWR) fails
//    a send waiting for EPOLLOUT with -EPIPE, both posted directly (no epoll edge needed);
//  - recv/send on a slot that is not attached to that fd complete with -EBADF;
//  - connect() completes once the socket is writable (SO_ERROR says how it went), then
//    leaves the epoll set, so attach() registers the socket as for an accepted one;
//  - wake() is the only call another thread makes; wakes may merge into one completion.
#pragma once
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/io/backend.hpp"

namespace ringcast::engine {

class EpollBackend final : public IoBackend {
 public:
  EpollBackend() = default;
  ~EpollBackend() override { close(); }

  [[nodiscard]] const char* name() const noexcept override { return "epoll"; }
  [[nodiscard]] std::string init(const BackendLimits& limits) override;
  void close() noexcept override;

  void accept_multishot(int listen_fd, std::uint64_t tag) override;
  void attach(int fd, std::uint32_t slot) noexcept override;
  void detach(std::uint32_t slot) noexcept override;

  void recv_multishot(int fd, std::uint32_t slot, std::uint64_t tag) override;
  [[nodiscard]] std::uint8_t* buffer(std::uint16_t id) const noexcept override { return buffers_[id].get(); }
  void recycle(std::uint16_t id) noexcept override { free_ids_.push_back(id); }

  [[nodiscard]] iovec* send_iovecs(std::size_t max) override;
  void sendmsg(int fd, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint64_t tag) override;
  void send(int fd, std::uint32_t slot, const void* buf, std::size_t len, std::uint64_t tag) override;

  void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t tag) override;
  void timeout(const __kernel_timespec* ts, std::uint64_t tag) override;
  void read(int fd, void* buf, std::size_t len, std::uint64_t tag) override;
  void cancel(std::uint64_t target, std::uint64_t tag) override;
  void wake(IoBackend& other, std::uint64_t tag) override;

  [[nodiscard]] std::uint16_t setup_accepted(int fd) noexcept override;
  void shutdown(int fd, int how) noexcept override;
  void close_fd(int fd) noexcept override;
  [[nodiscard]] std::uint64_t now_ms() const noexcept override;

  int run_once(CompletionSink& sink) override;

 private:
  // A connection's socket between attach and detach.
  struct Slot {
    int fd = -1;                  // -1: not attached
    std::uint32_t gen = 0;        // bumped on detach: stale events and queued reads skip
    std::uint64_t recv_tag = 0;
    std::uint64_t send_tag = 0;   // the send waiting for EPOLLOUT
    bool recv_armed = false;
    bool send_waiting = false;
    bool readable = false;        // edge seen, not yet read down to EAGAIN
    bool serve_queued = false;    // a Ready::serve entry for this slot is queued
    std::uint8_t attach_err = 0;  // epoll_ctl failed at attach: its errno ends every op
  };
  // A completion to deliver, or (serve) a slot whose armed recv should read now.
  struct Ready {
    Completion c;
    std::uint32_t slot = 0;
    std::uint32_t gen = 0;
    bool serve = false;
  };
  struct Timer {
    std::int64_t due_ns;
    std::uint64_t tag;
  };
  // A one-shot operation waiting for readiness: a read (EPOLLIN) or a connect (EPOLLOUT).
  struct ReadOp {
    int fd = -1;
    void* buf = nullptr;
    std::size_t len = 0;
    std::uint64_t tag = 0;
    bool armed = false;
    bool connect = false;
  };
  [[nodiscard]] std::size_t one_shot_index(int fd);

  void post(std::uint64_t tag, int res, bool more = false) { ready_.push_back({{tag, res, more, false, 0}, 0, 0, false}); }
  void queue_serve(std::uint32_t slot);
  void on_event(std::uint64_t data, std::uint32_t events);
  // One entry per listener a shard accepts on (ws and wss).
  struct AcceptOp {
    int fd = -1;
    std::uint64_t tag = 0;
    bool armed = false;
  };
  static constexpr std::size_t kMaxListeners = 2;
  void accept_ready(AcceptOp& a);
  void disarm_accept(AcceptOp& a) noexcept;
  void serve(const Ready& r, CompletionSink& sink);
  [[nodiscard]] bool take_buffer(std::uint16_t& id);
  void start_send(int fd, std::uint32_t slot, const msghdr& msg, std::uint64_t tag);
  void expire_timers();
  [[nodiscard]] int wait_ms() const noexcept;
  [[nodiscard]] Slot* slot_of(int fd) noexcept;
  // The slot `fd` is attached at, or nullptr after posting {tag, -EBADF} (not attached) or
  // the error its attach met.
  [[nodiscard]] Slot* attached(int fd, std::uint32_t slot, std::uint64_t tag);
  void forget(std::uint32_t slot) noexcept;

  int epfd_ = -1;
  int evfd_ = -1;  // wake()'s eventfd: written by other shards, read here
  std::vector<Slot> slots_;  // [slot], grown by attach() up to files_ (reserved at init)
  std::uint32_t files_ = 0;
  std::vector<std::uint32_t> fd_slot_;  // [fd]: its slot, for shutdown/close (grows with fds)
  std::vector<epoll_event> events_;
  std::vector<Ready> ready_;       // posted since the last delivery
  std::vector<Ready> delivering_;  // being delivered: handlers post into ready_ meanwhile
  std::vector<Timer> timers_;
  std::vector<ReadOp> reads_;
  std::vector<iovec> iov_arena_;

  // Receive buffers, allocated on first use: ids index buffers_, free ones sit in free_ids_.
  std::vector<std::unique_ptr<std::uint8_t[]>> buffers_;
  std::vector<std::uint16_t> free_ids_;
  std::size_t buffer_limit_ = 0;
  std::size_t buffer_size_ = 0;

  AcceptOp accepts_[kMaxListeners];

  // Written by other shards' threads: kept off the cache lines this thread keeps writing.
  alignas(64) std::atomic<std::uint64_t> wake_tag_{0};
  std::atomic<bool> wake_pending_{false};
};

}  // namespace ringcast::engine
