#include "engine/core/shard_loop.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <time.h>

#include "engine/log.hpp"
#include "engine/net/tls_stream.hpp"

namespace ringcast::engine {
namespace {

constexpr std::int64_t kAcceptBackoffNs = 100'000'000;  // EMFILE/ENFILE: retry accept after 100 ms

LogLimiter g_accept_log, g_ring_log;

std::uint64_t ms_to_ticks(std::chrono::milliseconds ms, std::uint64_t tick_ms) {
  if (ms.count() <= 0) return 0;
  std::uint64_t t = (static_cast<std::uint64_t>(ms.count()) + tick_ms - 1) / tick_ms;
  return t == 0 ? 1 : t;
}

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void set_timespec(__kernel_timespec& ts, std::int64_t ns) noexcept {
  ns = std::max<std::int64_t>(ns, 1);  // a zero timeout would be none at all
  ts.tv_sec = static_cast<long long>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(ns % 1'000'000'000);
}

}  // namespace

std::uint64_t ShardLoop::ticks_for(std::chrono::milliseconds ms) const noexcept { return ms_to_ticks(ms, tick_ms_); }

ShardLoop::ShardLoop(const Config& cfg, const std::atomic<bool>& stopping, unsigned id, ShardListeners listeners,
                     std::unique_ptr<IoBackend> io, std::size_t prewarm_frames, TlsContextStore* tls)
    : cfg_(cfg),
      id_(id),
      conns_(cfg.max_connections_per_shard),
      group_stopping_(stopping),
      prewarm_frames_(prewarm_frames),
      io_owner_(std::move(io)),
      io_(*io_owner_),
      tls_store_(tls) {
  accepting_[0].fd = listeners.plain;
  accepting_[1].fd = listeners.tls;
  // Short timeouts (tests) get a finer tick so deadlines stay accurate to ~10%.
  auto shortest = std::min({cfg_.idle_timeout.count() > 0 ? cfg_.idle_timeout.count() / 2 : 100'000L,
                            static_cast<long>(cfg_.handshake_timeout.count()),
                            static_cast<long>(cfg_.close_timeout.count())});
  tick_ms_ = shortest < 1000 ? 10 : 100;
  idle_ticks_ = ms_to_ticks(cfg_.idle_timeout, tick_ms_);
  handshake_ticks_ = ms_to_ticks(cfg_.handshake_timeout, tick_ms_);
  close_ticks_ = ms_to_ticks(cfg_.close_timeout, tick_ms_);
  wheel_.reset(now_tick());
  tick_ts_.tv_sec = static_cast<long long>(tick_ms_ / 1000);
  tick_ts_.tv_nsec = static_cast<long long>((tick_ms_ % 1000) * 1'000'000);
  backoff_ts_.tv_nsec = kAcceptBackoffNs;
  set_timespec(coalesce_ts_, std::chrono::nanoseconds(cfg_.coalesce).count());
  // Reserved to the slot count (address space only until used): these never grow.
  std::size_t slots = conns_.capacity();
  dirty_.reserve(slots);
  urgent_.reserve(slots);
  dead_.reserve(slots);
  rearm_.reserve(slots);
  if (listeners.tls >= 0) tls_waiting_.reserve(slots);
}

ShardLoop::~ShardLoop() {
  for (Conn& c : conns_.built()) {
    c.queue.clear(leases_);
    c.tls.reset();  // its frames go back to frames_, which dies before the table
    if (c.fd >= 0) io_.close_fd(c.fd);
  }
  io_.close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  for (Accepting& a : accepting_) {
    if (a.fd >= 0 && !a.closed) ::close(a.fd);
  }
}

void ShardLoop::close_listener(std::uint32_t i) noexcept {
  Accepting& a = accepting_[i];
  if (a.fd < 0 || a.closed || a.armed) return;
  ::close(a.fd);
  a.closed = true;
}

std::uint64_t ShardLoop::now_tick() const noexcept {
  return io_.now_ms() / tick_ms_;
}

std::string ShardLoop::init() {
  if (!conns_.ok()) return "out of memory for the connection table";
  BackendLimits limits;  // the defaults of engine/io/backend.hpp, one file entry per slot
  limits.files = static_cast<unsigned>(conns_.capacity()) + extra_files_;
  if (std::string err = io_.init(limits); !err.empty()) {
    return err;
  }
  // Small frames (chat lines, notices, control frames) in flight at once: preallocated so
  // the first bursts do not allocate on the fan-out path either.
  if (!frames_.reserve(128, prewarm_frames_) || !leases_.reserve(prewarm_frames_)) {
    return "out of memory for the frame pool";
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  if (accepting_[1].fd >= 0) {
    if (tls_store_ == nullptr || !tls_store_->loaded()) return "a TLS listener without a certificate";
    tls_plain_ = std::make_unique<std::uint8_t[]>(TlsStream::kPlainBuffer);
    tls_seal_ = std::make_unique<std::uint8_t[]>(TlsStream::kRecord);
    tls_iov_ = std::make_unique<iovec[]>(kSendIov);
  }
  return {};
}

void ShardLoop::arm_accept(std::uint32_t i) {
  if (accepting_[i].fd < 0) return;
  io_.accept_multishot(accepting_[i].fd, pack(Op::accept, 0, i));
  accepting_[i].armed = true;
}

void ShardLoop::arm_tick() {
  io_.timeout(&tick_ts_, pack(Op::tick));
}

void ShardLoop::arm_wake() {
  io_.read(wake_fd_, &wake_value_, sizeof wake_value_, pack(Op::wake));
}

void ShardLoop::wake() noexcept {
  std::uint64_t one = 1;
  ssize_t w = ::write(wake_fd_, &one, sizeof one);
  (void)w;  // the counter saturating still wakes the reader
}

void ShardLoop::run() {
  start();
  while (turn()) {
  }
  close_all_now();
}

void ShardLoop::start() {
  arm_accept(0);
  arm_accept(1);
  arm_tick();
  arm_wake();
  on_started();
}

void ShardLoop::on_broker(const Completion& c) {
  if (c.has_buffer) io_.recycle(c.buffer);
}

bool ShardLoop::turn() {
  int rc = io_.run_once(*this);
  if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -ETIME) {
    g_ring_log.log(LogLevel::error, "shard %u: waiting for completions: %s", id_, std::strerror(-rc));
  }
  if (!stopping_ && group_stopping_.load(std::memory_order_acquire)) begin_stop();
  end_of_turn();
  // Stopping ends once every connection is gone and every accept has completed (its
  // listener closed), or at the deadline.
  bool listening = accepting_[0].armed || accepting_[1].armed;
  return !(stopping_ && ((conns_.live() == 0 && !listening) || now_tick() >= stop_deadline_));
}

void ShardLoop::close_all_now() noexcept {
  // Deadline passed or everyone gone: drop what is left.
  for (Conn& c : conns_.built()) {
    if (c.state == ConnState::free) continue;
    if (c.fd >= 0) {
      io_.close_fd(c.fd);
      c.fd = -1;
    }
  }
}

void ShardLoop::on_completion(const Completion& cqe) {
  Tag tag = unpack(cqe.tag);
  switch (tag.op) {
    case Op::accept:
      if (tag.slot < 2) on_accept(cqe, tag.slot);
      return;
    case Op::accept_backoff:
      if (tag.slot >= 2) return;
      accepting_[tag.slot].backoff = false;
      if (!stopping_) arm_accept(tag.slot);
      return;
    case Op::recv:
    case Op::send: {
      if (!conns_.contains(tag.slot)) return;
      Conn& c = conns_[tag.slot];
      if (c.state == ConnState::free || (c.gen & 0xFFFFFFu) != tag.gen) return;  // stale
      if (tag.op == Op::recv) {
        on_recv(c, tag.slot, cqe);
      } else {
        on_send(c, tag.slot, cqe.res);
      }
      return;
    }
    case Op::tick: on_tick(); return;
    case Op::wake:
      if (!stopping_ || conns_.live() > 0) arm_wake();
      return;
    case Op::coalesce:
      coalesce_armed_ = false;
      coalesce_due_ = true;
      return;
    case Op::throttle:  // the turn's before_flush sends what is due
      if (io_.now_ms() >= throttle_until_) throttle_until_ = 0;
      return;
    case Op::broker: on_broker(cqe); return;
    case Op::mailbox:  // mailboxes are drained every turn; the CQE only woke us
    case Op::cancel: return;
  }
}

void ShardLoop::on_accept(const Completion& cqe, std::uint32_t i) {
  Accepting& a = accepting_[i];
  if (!cqe.more) a.armed = false;
  auto rearm = [&] {
    if (a.armed || stopping_) return;
    if (a.backoff) {
      io_.timeout(&backoff_ts_, pack(Op::accept_backoff, 0, i));
    } else {
      arm_accept(i);
    }
  };
  if (stopping_ && !a.armed) close_listener(i);  // the accept's last completion: nothing holds it
  if (cqe.res < 0) {
    int err = -cqe.res;
    if (stopping_) return;
    if (err == ECANCELED) {  // the back-off's own cancel: its timer re-arms
      rearm();
      return;
    }
    metrics_.accept_errors.add();
    g_accept_log.log(LogLevel::warn, "accept: %s%s", std::strerror(err),
                     (err == EMFILE || err == ENFILE) ? " (backing off 100 ms)" : "");
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // Out of descriptors: stop accepting for a moment instead of spinning on the error.
      if (a.armed) io_.cancel(pack(Op::accept, 0, i), pack(Op::cancel));
      a.backoff = true;
    }
    rearm();
    return;
  }
  rearm();
  int fd = cqe.res;
  std::optional<std::uint32_t> taken = stopping_ ? std::nullopt : conns_.take();
  if (!taken) {
    if (!stopping_) {
      metrics_.accept_errors.add();
      g_accept_log.log(LogLevel::warn, "connection table full (%zu per shard): refusing", conns_.capacity());
    }
    io_.close_fd(fd);
    return;
  }
  TlsStream* tls = nullptr;
  if (i == 1) {
    tls = TlsStream::create(tls_store_->current(tls_ctx_), frames_);
    if (tls == nullptr) {
      g_accept_log.log(LogLevel::warn, "out of memory for a TLS session: refusing a connection");
      conns_.give_back(*taken);
      io_.close_fd(fd);
      return;
    }
  }
  std::uint16_t port = io_.setup_accepted(fd);

  std::uint32_t slot = *taken;
  Conn& c = conns_[slot];
  c.tls.reset(tls);
  c.fd = fd;
  io_.attach(fd, slot);
  c.state = ConnState::handshake;
  c.port = port;
  // c.dirty / c.urgent are not reset: they mean "on the shard's list", which a reused slot
  // may still be on (the coalesce window outlives connections); the list clears them.
  c.recv_armed = c.send_inflight = c.flush_when_done = false;
  c.wr_shut = c.rd_shut = c.peer_eof = c.in_dead_list = c.input_seen = false;
  c.inflight_entries = 0;
  on_accepted(c, slot);
  arm_recv(c, slot);
}

void ShardLoop::on_tick() {
  // Stopping, the tick keeps the deadline while connections or accepts remain.
  if (!stopping_ || conns_.live() > 0 || accepting_[0].armed || accepting_[1].armed) arm_tick();
  wheel_.advance(now_tick(), [this](std::uint32_t slot) {
    Conn& c = conns_[slot];
    if (c.state != ConnState::free && c.state != ConnState::dead) on_deadline(c, slot);
  });
}

void ShardLoop::begin_stop() {
  stopping_ = true;
  stop_deadline_ = now_tick() + (close_ticks_ == 0 ? 1 : close_ticks_);
  for (std::uint32_t i = 0; i < 2; ++i) {
    if (accepting_[i].armed) io_.cancel(pack(Op::accept, 0, i), pack(Op::cancel));
    close_listener(i);  // not armed (backing off, or a backend without a pending accept): now
  }
  on_stopping();
}

void ShardLoop::size_auto_hold(std::int64_t start_ns, std::int64_t end_ns) noexcept {
  using std::chrono::nanoseconds;
  const std::int64_t lo = nanoseconds(Config::kAutoHoldMin).count(), hi = nanoseconds(Config::kAutoHoldMax).count();
  const std::int64_t pass = end_ns - start_ns;
  auto_hold_ns_ = pass < lo ? 0 : std::min(pass, hi);
  last_pass_end_ns_ = end_ns;
}

void ShardLoop::arm_throttle(std::uint64_t at_ms) {
  std::uint64_t now = io_.now_ms();
  // A timer in flight fires by then (one already due may have been handled early: no).
  if (throttle_until_ > now && throttle_until_ <= at_ms) return;
  set_timespec(throttle_ts_, static_cast<std::int64_t>(at_ms > now ? at_ms - now : 1) * 1'000'000);
  io_.timeout(&throttle_ts_, pack(Op::throttle));
  throttle_until_ = at_ms;
}

void ShardLoop::flush_dirty() {
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    std::uint32_t slot = dirty_[i];
    Conn& c = conns_[slot];
    c.dirty = false;
    flush(c, slot);
  }
  dirty_.clear();
  coalesce_due_ = false;
  ++flushes_;
}

void ShardLoop::end_of_turn() {
  frames_.drain_remote();
  if (accepting_[1].fd >= 0) tls_end_of_turn();
  // Under --coalesce, broadcasts wait (and combine) until the timer: one frame per window.
  // auto: a pass may start once the last one's duration has passed since it ended.
  bool due = !cfg_.coalescing() || coalesce_due_ || stopping_;
  std::int64_t pass_start = 0;
  if (cfg_.coalesce_auto) {
    pass_start = monotonic_ns();
    due = due || pass_start - last_pass_end_ns_ >= auto_hold_ns_;
  }
  before_flush(due);
  for (std::uint32_t slot : rearm_) {
    Conn& c = conns_[slot];
    if (c.state != ConnState::free && c.state != ConnState::dead && !c.recv_armed) arm_recv(c, slot);
  }
  rearm_.clear();
  for (std::uint32_t slot : urgent_) {
    Conn& c = conns_[slot];
    c.urgent = false;
    flush(c, slot);
  }
  urgent_.clear();
  if (due) {
    bool work = !dirty_.empty();
    flush_dirty();
    if (cfg_.coalesce_auto && work) size_auto_hold(pass_start, monotonic_ns());
  } else if ((!dirty_.empty() || broadcasts_pending()) && !coalesce_armed_) {
    // The first broadcast after a flush starts the clock; later ones ride along. auto: the
    // rest of the hold since the last pass.
    if (cfg_.coalesce_auto) set_timespec(coalesce_ts_, last_pass_end_ns_ + auto_hold_ns_ - pass_start);
    io_.timeout(&coalesce_ts_, pack(Op::coalesce));
    coalesce_armed_ = true;
  }
  for (std::size_t i = 0; i < dead_.size();) {
    std::uint32_t slot = dead_[i];
    Conn& c = conns_[slot];
    if (c.recv_armed || c.send_inflight) {
      if (!c.rd_shut && c.fd >= 0) {
        // Wakes the pending recv/send with an error so the slot can be reclaimed.
        io_.shutdown(c.fd, SHUT_RDWR);
        c.rd_shut = true;
      }
      ++i;
      continue;
    }
    free_slot(c, slot);
    dead_[i] = dead_.back();
    dead_.pop_back();
  }
  after_flush();
}

}  // namespace ringcast::engine
