#include "engine/broker/redis_conn.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

#include "engine/core/user_data.hpp"
#include "engine/log.hpp"

namespace ringcast::engine {

namespace {
constexpr std::uint64_t kSelectTag = UINT64_MAX, kPingTag = UINT64_MAX - 1;
constexpr std::size_t kSendChunk = 256u << 10;  // bytes one send takes from the link

std::uint64_t jittered(std::uint64_t ms) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return ms / 2 + rng() % (ms / 2 + 1);  // [ms/2, ms]
}
}  // namespace

RedisConn::RedisConn(IoBackend& io, Owner& owner, const RedisAddress& address, const Endpoint& endpoint,
                     std::uint32_t index, std::uint32_t file, std::string_view role)
    : io_(io), owner_(owner), address_(address), endpoint_(endpoint), index_(index), file_(file), role_(role) {}

RedisConn::~RedisConn() {
  if (fd_ >= 0) {
    if (attached_) io_.detach(file_);
    io_.close_fd(fd_);
  }
}

std::uint64_t RedisConn::tag(Kind k) const noexcept { return pack(Op::broker, (k << 20) | (gen_ & 0xFFFFFu), index_); }

void RedisConn::start() {
  if (state_ == State::idle) connect();
}

void RedisConn::connect() {
  ++gen_;
  fd_ = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    state_ = State::connecting;
    fail(std::string("socket: ") + std::strerror(errno));
    return;
  }
  state_ = State::connecting;
  connect_pending_ = true;
  io_.connect(fd_, reinterpret_cast<const sockaddr*>(&endpoint_.addr), endpoint_.len, tag(connect_op));
  arm_timer(kConnectTimeoutMs);
}

void RedisConn::arm_timer(std::uint64_t ms) {
  timer_ts_.tv_sec = static_cast<long long>(ms / 1000);
  timer_ts_.tv_nsec = static_cast<long long>((ms % 1000) * 1'000'000);
  timer_armed_ = true;
  io_.timeout(&timer_ts_, tag(timer_op));
}

void RedisConn::on_completion(const Completion& c) {
  const Tag t = unpack(c.tag);
  if ((t.gen & 0xFFFFFu) != (gen_ & 0xFFFFFu)) {  // a socket already closed: never expected
    if (c.has_buffer) io_.recycle(c.buffer);
    return;
  }
  switch (static_cast<Kind>(t.gen >> 20)) {
    case connect_op: on_connected(c.res); return;
    case recv_op: on_recv(c); return;
    case send_op: on_sent(c.res); return;
    case timer_op: on_timer(c.res); return;
    case cancel_op: return;
  }
}

void RedisConn::on_connected(int res) {
  connect_pending_ = false;
  if (state_ != State::connecting) {  // timed out (cancelled) or failed meanwhile
    close_when_idle();
    return;
  }
  if (res < 0) {
    fail(res == -ECANCELED ? "connect timed out" : std::string("connect: ") + std::strerror(-res));
    return;
  }
  if (timer_armed_) io_.cancel(tag(timer_op), tag(cancel_op));
  (void)io_.setup_accepted(fd_);  // TCP_NODELAY: a publish goes out at once
  io_.attach(fd_, file_);
  attached_ = true;
  recv_armed_ = true;
  io_.recv_multishot(fd_, file_, tag(recv_op));
  heard_ms_ = io_.now_ms();
  // Ready once Redis answers (SELECT, or PING for database 0): a connect alone proves
  // little (a stopped Redis's kernel still accepts), and publishes must not queue up there.
  char db[12];
  auto [end, ec] = std::to_chars(db, db + sizeof db, address_.db);
  (void)ec;
  const std::string_view select[] = {"SELECT", std::string_view(db, static_cast<std::size_t>(end - db))};
  const std::string_view ping[] = {"PING"};
  if (address_.db == 0) {
    (void)link_.command(ping, kSelectTag);
  } else {
    (void)link_.command(select, kSelectTag);
  }
  state_ = State::selecting;
  flush();
}

void RedisConn::became_ready() {
  state_ = State::ready;
  backoff_ms_ = kBackoffFirstMs;
  if (ever_ready_) ++reconnects_;
  ever_ready_ = true;
  if (logged_down_) log_line(LogLevel::info, "broker %s (%s): connected again", address_.url.c_str(), role_.c_str());
  logged_down_ = false;
  owner_.on_ready(*this);
  flush();
}

void RedisConn::on_reply(std::uint64_t tag, const protocol::resp::Reply& reply) {
  if (tag == kPingTag) return;
  if (tag != kSelectTag) {
    owner_.on_reply(*this, tag, reply);
    return;
  }
  if (reply.root().type == protocol::resp::Type::error) {
    deferred_error_ = (address_.db == 0 ? std::string("PING: ") : "SELECT " + std::to_string(address_.db) + ": ") +
                      std::string(reply.root().str);
  } else {
    selected_ = true;
  }
}

void RedisConn::on_message(std::string_view channel, std::string_view payload) {
  owner_.on_message(*this, channel, payload);
}

void RedisConn::on_recv(const Completion& c) {
  if (!c.more) recv_armed_ = false;
  if (c.res > 0 && c.has_buffer) {
    heard_ms_ = io_.now_ms();
    std::string err;
    if (state_ == State::ready || state_ == State::selecting) {
      err = link_.feed({io_.buffer(c.buffer), static_cast<std::size_t>(c.res)}, *this);
    }
    io_.recycle(c.buffer);
    if (err.empty() && !deferred_error_.empty()) err = std::move(deferred_error_);
    if (!err.empty()) {
      fail(err);
      return;
    }
    if (selected_ && state_ == State::selecting) {
      selected_ = false;
      became_ready();
    }
    if (!recv_armed_ && state_ != State::closing) {
      recv_armed_ = true;
      io_.recv_multishot(fd_, file_, tag(recv_op));
    }
    if (state_ == State::closing) close_when_idle();  // a data completion may end the recv too
    return;
  }
  if (state_ == State::closing) {
    close_when_idle();
    return;
  }
  if (c.res == -ENOBUFS && !recv_armed_) {  // the shard's buffers ran out: try again
    recv_armed_ = true;
    io_.recv_multishot(fd_, file_, tag(recv_op));
    return;
  }
  fail(c.res == 0 ? std::string("Redis closed the connection") : std::string("recv: ") + std::strerror(-c.res));
}

bool RedisConn::command(std::span<const std::string_view> args, std::uint64_t tag) {
  if (state_ != State::ready) return false;
  if (link_.pending() == 0) heard_ms_ = io_.now_ms();  // the wait for a reply starts now
  return link_.command(args, tag);
}

void RedisConn::tick(std::uint64_t now_ms) {
  if (state_ != State::ready && state_ != State::selecting) return;
  if (link_.pending() == 0) {
    if (now_ms - heard_ms_ < kPingMs) return;
    const std::string_view ping[] = {"PING"};
    heard_ms_ = now_ms;
    (void)link_.command(ping, kPingTag);
    flush();
  } else if (now_ms - heard_ms_ >= kReplyTimeoutMs) {
    fail("no reply from Redis within " + std::to_string(kReplyTimeoutMs / 1000) + " s");
  }
}

void RedisConn::flush() {
  if ((state_ != State::ready && state_ != State::selecting) || send_pending_ || link_.out().empty()) return;
  std::span<const std::uint8_t> out = link_.out();
  const std::size_t n = out.size() < kSendChunk ? out.size() : kSendChunk;
  sending_.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  link_.sent(n);
  sending_done_ = 0;
  send_pending_ = true;
  io_.send(fd_, file_, sending_.data(), sending_.size(), tag(send_op));
}

void RedisConn::on_sent(int res) {
  send_pending_ = false;
  if (state_ == State::closing) {
    close_when_idle();
    return;
  }
  if (res < 0 && res != -EAGAIN) {
    fail(std::string("send: ") + std::strerror(-res));
    return;
  }
  if (res > 0) sending_done_ += static_cast<std::size_t>(res);
  if (sending_done_ < sending_.size()) {  // partial (or epoll's "room now"): the rest
    send_pending_ = true;
    io_.send(fd_, file_, sending_.data() + sending_done_, sending_.size() - sending_done_, tag(send_op));
    return;
  }
  flush();
}

void RedisConn::on_timer(int res) {
  timer_armed_ = false;
  // Cancelled, or fired in the same batch as the failure that tried to cancel it.
  if (res == -ECANCELED || state_ == State::closing) {
    close_when_idle();
    return;
  }
  if (state_ == State::connecting) {
    fail("connect timed out");
  } else if (state_ == State::waiting) {
    connect();
  }
}

void RedisConn::fail(const std::string& why) {
  if (state_ == State::waiting || state_ == State::idle) return;
  if (state_ != State::closing && !logged_down_) {  // once per outage: then "connected again"
    log_line(LogLevel::warn, "broker %s (%s): %s; reconnecting, the back-off doubling from %llu ms to %llu ms",
             address_.url.c_str(), role_.c_str(), why.c_str(), static_cast<unsigned long long>(backoff_ms_),
             static_cast<unsigned long long>(kBackoffMaxMs));
    logged_down_ = true;
  }
  state_ = State::closing;
  std::vector<std::uint64_t> lost = link_.reset();
  selected_ = false;
  deferred_error_.clear();
  sending_.clear();
  sending_done_ = 0;
  owner_.on_lost(*this, lost);
  if (connect_pending_) io_.cancel(tag(connect_op), tag(cancel_op));
  if (timer_armed_) io_.cancel(tag(timer_op), tag(cancel_op));
  if (fd_ >= 0 && attached_) io_.shutdown(fd_, SHUT_RDWR);  // ends the recv (and a send) in flight
  close_when_idle();
}

void RedisConn::close_when_idle() {
  if (state_ != State::closing || connect_pending_ || recv_armed_ || send_pending_ || timer_armed_) return;
  if (fd_ >= 0) {
    if (attached_) io_.detach(file_);
    attached_ = false;
    io_.close_fd(fd_);
    fd_ = -1;
  }
  state_ = State::waiting;
  const std::uint64_t delay = jittered(backoff_ms_);
  backoff_ms_ = backoff_ms_ * 2 < kBackoffMaxMs ? backoff_ms_ * 2 : kBackoffMaxMs;
  arm_timer(delay);
}

}  // namespace ringcast::engine
