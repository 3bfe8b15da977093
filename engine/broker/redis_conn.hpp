// One Redis connection driven on a shard's backend (io_uring or epoll, the shard's own
// ring: no thread of its own). It connects (within kConnectTimeout), SELECTs the
// address's database (or PINGs: it is ready once Redis answers), then moves a RedisLink's bytes: commands out, replies and pub/sub
// messages in. When the connection fails or Redis closes it, every unanswered command is
// failed to the owner, the socket is shut down and closed once nothing is pending on it,
// and it connects again after a back-off (100 ms doubling to 5 s, jittered so nodes do
// not come back in step). A Redis that stops answering counts as lost (tick()).
//
// Its operations are tagged Op::broker, slot = its index among the shard's links, gen =
// the operation's kind and the socket's generation, so a completion of a socket already
// gone is told apart.
#pragma once
#include <linux/time_types.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/broker/redis_address.hpp"
#include "engine/broker/redis_link.hpp"
#include "engine/io/backend.hpp"

namespace ringcast::engine {

class RedisConn final : private RedisLink::Handler {
 public:
  enum class State : std::uint8_t {
    idle,        // not started, or stopped
    connecting,  // connect in flight (its timeout too)
    selecting,   // connected, SELECT (or PING) sent
    ready,       // commands may be sent
    closing,     // failed: waiting for the socket's operations to end
    waiting,     // closed: the back-off timer runs
  };

  class Owner {
   public:
    // Connected (and SELECTed): commands may go out (subscribe again).
    virtual void on_ready(RedisConn& conn) = 0;
    // The connection is lost: `tags` are the commands that will get no reply.
    virtual void on_lost(RedisConn& conn, std::span<const std::uint64_t> tags) = 0;
    virtual void on_reply(RedisConn& conn, std::uint64_t tag, const protocol::resp::Reply& reply) = 0;
    virtual void on_message(RedisConn& conn, std::string_view channel, std::string_view payload) = 0;

   protected:
    ~Owner() = default;
  };

  struct Endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };

  // `index`: the tag's slot; `file`: its entry past the connection slots of the backend's
  // file table; `role`: for log lines ("commands", "subscriber").
  RedisConn(IoBackend& io, Owner& owner, const RedisAddress& address, const Endpoint& endpoint, std::uint32_t index,
            std::uint32_t file, std::string_view role);
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;
  ~RedisConn();

  void start();  // the first connect
  void on_completion(const Completion& c);
  // Queues a command (false: not ready, or past the link's limits). Sent by flush().
  [[nodiscard]] bool command(std::span<const std::string_view> args, std::uint64_t tag);
  // Starts a send of what is queued unless one is in flight (the shard's end of turn).
  void flush();
  // From Owner::on_reply: the connection cannot go on (a feed whose SUBSCRIBE Redis
  // refused): it ends once the replies in hand are handled, and connects again after the
  // back-off.
  void fail_after_replies(std::string why) {
    if (deferred_error_.empty()) deferred_error_ = std::move(why);
  }
  // The shard's end of turn, at IoBackend::now_ms: a Redis that answers nothing for
  // kReplyTimeoutMs while commands wait (stalled, or a network that drops silently) loses
  // its connection; an idle one gets a PING every kPingMs, so a feed that only listens
  // notices too.
  void tick(std::uint64_t now_ms);
  static constexpr std::uint64_t kReplyTimeoutMs = 5000, kPingMs = 2000;

  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] bool ready() const noexcept { return state_ == State::ready; }
  [[nodiscard]] const RedisAddress& address() const noexcept { return address_; }
  [[nodiscard]] std::uint32_t index() const noexcept { return index_; }
  [[nodiscard]] std::uint64_t reconnects() const noexcept { return reconnects_; }

  static constexpr std::uint64_t kConnectTimeoutMs = 2000;
  static constexpr std::uint64_t kBackoffFirstMs = 100, kBackoffMaxMs = 5000;

 private:
  enum Kind : std::uint32_t { connect_op = 1, recv_op, send_op, timer_op, cancel_op };
  [[nodiscard]] std::uint64_t tag(Kind k) const noexcept;
  void connect();
  void on_connected(int res);
  void became_ready();  // connected and SELECTed
  void on_recv(const Completion& c);
  void on_sent(int res);
  void on_timer(int res);
  // The connection is lost: fail its commands, shut the socket down, close it once its
  // operations have ended, then back off.
  void fail(const std::string& why);
  void close_when_idle();
  void arm_timer(std::uint64_t ms);

  void on_reply(std::uint64_t tag, const protocol::resp::Reply& reply) override;
  void on_message(std::string_view channel, std::string_view payload) override;

  IoBackend& io_;
  Owner& owner_;
  RedisAddress address_;
  Endpoint endpoint_;
  std::uint32_t index_, file_;
  std::string role_;
  RedisLink link_;
  State state_ = State::idle;
  int fd_ = -1;
  std::uint32_t gen_ = 0;
  bool connect_pending_ = false, recv_armed_ = false, timer_armed_ = false, attached_ = false;
  // The bytes of the send in flight (a copy: the link's buffer moves as commands queue).
  std::vector<std::uint8_t> sending_;
  std::size_t sending_done_ = 0;
  bool send_pending_ = false;
  __kernel_timespec timer_ts_{};
  std::uint64_t backoff_ms_ = kBackoffFirstMs;
  std::uint64_t reconnects_ = 0;
  bool ever_ready_ = false, logged_down_ = false;
  std::uint64_t heard_ms_ = 0;  // the last bytes from Redis, or when commands began to wait
  // SELECT's answer, read inside the link's handler and acted on after it returns; and
  // why the connection ends once it returns (SELECT refused, or fail_after_replies).
  bool selected_ = false;
  std::string deferred_error_;
};

}  // namespace ringcast::engine
