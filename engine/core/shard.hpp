// A shard: one thread, one io_uring, one SO_REUSEPORT listener, its own connection
// table, timer wheel, frame pool and subscriber lists. Nothing here is shared with other
// shards except the mailboxes (SPSC, one per sender) and read-only configuration.
//
// Loop turn: one submit-and-wait, drain every CQE, drain mailboxes, run deferred leaves,
// fan out the turn's broadcasts (small frames of a topic combined into one), send what is
// urgent, flush every dirty connection as one send each (under --coalesce: when its timer
// fires), tear down dead connections, wake the shards we posted to (MSG_RING). All SQEs of
// the turn reach the kernel in the next single submit.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"
#include "engine/core/conn.hpp"
#include "engine/core/conn_table.hpp"
#include "engine/pubsub/fanout.hpp"
#include "engine/pubsub/frame_pool.hpp"
#include "engine/pubsub/message.hpp"
#include "engine/core/thread_inbox.hpp"
#include "engine/core/mailbox.hpp"
#include "engine/metrics.hpp"
#include "engine/core/timer_wheel.hpp"
#include "engine/pubsub/topic.hpp"
#include "engine/pubsub/subscriptions.hpp"
#include "engine/io/backend.hpp"
#include "engine/ws/app.hpp"
#include "engine/core/user_data.hpp"
#include "protocol/frame.hpp"
#include "protocol/handshake.hpp"

namespace ringcast::engine {

class Shard;

// What all shards share: read-only after start, except the stop flag.
struct ShardGroup {
  Config config;
  unsigned shard_count = 1;
  TopicRegistry topics;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<const ShardMetrics*> metrics;
  std::size_t prewarm_frames = 4096;  // small frames pooled per shard at init (x 160 B)
  // The app for each AppId (engine/app/builtin_apps.hpp installs them); shared by every shard.
  App* apps[static_cast<std::size_t>(AppId::count_)] = {};
  std::atomic<bool> stopping{false};
};

class Shard final : private CompletionSink {
  friend class Session;  // what an app may do, on this shard (engine/ws/session.cpp)

 public:
  // `io` is this shard's backend (every shard of a group has the same kind).
  Shard(ShardGroup& group, unsigned id, int listen_fd, std::unique_ptr<IoBackend> io);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // On the shard's thread, before run(): ring, buffers, eventfd. Returns "" or an error line.
  [[nodiscard]] std::string init();
  // The loop; returns after stop() and the drain. It is start(), turn() until it returns
  // false, then close_all_now(); a driver (the scripted backend's tests) may call them itself.
  void run();
  void start();
  [[nodiscard]] bool turn();  // one submit-wait-dispatch round; false once stopped and drained
  void close_all_now() noexcept;  // closes every socket still open (after the stop deadline)
  [[nodiscard]] std::uint32_t live_connections() const noexcept { return conns_.live(); }
  [[nodiscard]] std::size_t leases_outstanding() const noexcept { return leases_.outstanding(); }
  [[nodiscard]] std::size_t dirty_connections() const noexcept { return dirty_.size(); }
  // After every shard's thread has returned: release what mailboxes still hold.
  void release_leftovers() noexcept;

  // Any thread: queue a frame (one holder of it is handed over) for `topic` and wake the shard.
  void post_external(Message d);
  // Any thread: wake the loop (stop, external posts).
  void wake() noexcept;

  [[nodiscard]] IoBackend& backend() noexcept { return io_; }
  [[nodiscard]] const ShardMetrics& metrics() const noexcept { return metrics_; }
  [[nodiscard]] Mailbox<Message>& inbox_from(unsigned sender) noexcept { return *inbox_[sender]; }

 private:
  // shard.cpp: the loop and completions
  void on_completion(const Completion& c) override;
  void end_of_turn();
  void arm_accept();
  void arm_tick();
  void arm_wake();
  void on_accept(const Completion& cqe);
  void on_tick();
  void on_timer(std::uint32_t slot);
  void begin_stop();
  [[nodiscard]] std::uint64_t now_tick() const noexcept;

  // shard_io.cpp: recv, send, teardown
  void arm_recv(Conn& c, std::uint32_t slot);
  void on_recv(Conn& c, std::uint32_t slot, const Completion& cqe);
  void on_send(Conn& c, std::uint32_t slot, int res);
  void flush(Conn& c, std::uint32_t slot);
  // urgent: send this turn even under --coalesce (replies, close, FIN, retries).
  void mark_dirty(Conn& c, std::uint32_t slot, bool urgent = true) noexcept;
  void flush_dirty();
  // Ends a connection at once, without a close frame: it is marked dead and its slot is
  // freed at the end of a turn once no operation on it is pending.
  void tear_down(Conn& c, std::uint32_t slot) noexcept;
  void free_slot(Conn& c, std::uint32_t slot) noexcept;  // nothing pending: close the fd, slot reusable

  // shard_ws.cpp: handshake, frames, chat and echo
  void on_bytes(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len);
  void on_handshake_bytes(Conn& c, std::uint32_t slot, const std::uint8_t* data, std::size_t len);
  void on_frames(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len);
  void on_message(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // shard_http.cpp: plain HTTP before an upgrade
  // Answers one request (its body in hand); true when the connection stays open for the
  // next one (keep-alive).
  bool serve_http(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req, std::span<const std::uint8_t> body);
  void fail_handshake(Conn& c, std::uint32_t slot, int status, HandshakeFailure why);
  // An HTTP error answer; then close, unless `keep_alive` (the request stream is intact).
  void respond_error(Conn& c, std::uint32_t slot, int status, bool keep_alive);
  // Makes the spill buffer hold exactly `rest` (bytes not parsed yet). False: out of memory
  // (the connection is torn down).
  bool hold_unparsed(Conn& c, std::uint32_t slot, std::span<const char> rest);
  // shard_ws.cpp: a valid upgrade request; `in` starts with its head of `head_len` bytes.
  void upgrade(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req, std::span<const char> in,
               std::size_t head_len);
  // The app's on_close, once per opened connection (deferred to the end of the turn);
  // then whatever the connection is still subscribed to is dropped.
  void close_app(Conn& c, std::uint32_t slot) noexcept;
  void unsubscribe_all(std::uint32_t slot) noexcept;
  [[nodiscard]] App& app_of(const Conn& c) const noexcept { return *group_.apps[static_cast<std::size_t>(c.app)]; }
  void send_close(Conn& c, std::uint32_t slot, std::uint16_t code, std::string_view reason);
  void send_control(Conn& c, std::uint32_t slot, protocol::Opcode op, std::span<const std::uint8_t> payload);
  // Queues `frame` (len set, holders 0) for this connection only.
  bool send_own(Conn& c, std::uint32_t slot, Frame* frame);
  // The last bytes are queued (an HTTP answer, our close frame): once they are sent, FIN,
  // then wait for the peer's EOF (or the close deadline).
  void end_after_flush(Conn& c, std::uint32_t slot);

  // shard_fanout.cpp: publish and fan-out
 public:
  // Shard thread: encode once and deliver to `topic` on every shard.
  void publish(std::uint32_t topic, Frame* frame);
  [[nodiscard]] FramePool& frames() noexcept { return frames_; }

 private:
  // Queues a delivery for this turn's fan-out (publish, mailboxes, outside threads).
  void defer(Message d);
  // Fans out every deferred delivery, topic by topic in arrival order; runs of small frames
  // for one topic are first copied back to back into one frame (one copy per message per
  // shard), so each subscriber gets one queue entry and one iovec for the run.
  void fanout_pending();
  // `messages`: how many messages the frame carries (a combined run counts each).
  void fanout(std::uint32_t topic, Frame* frame, std::uint32_t messages = 1);
  void enqueue(Conn& c, std::uint32_t slot, Lease* lease) noexcept;
  // `messages`: how many the refused frame carries (counted when the policy drops).
  void refuse(Conn& c, std::uint32_t slot, Refusal why, std::uint32_t messages = 1) noexcept;
  void slow_close(Conn& c, std::uint32_t slot) noexcept;
  void drain_mailboxes();
  void post_wakeups();

  ShardGroup& group_;
  const Config& cfg_;
  unsigned id_;
  int listen_fd_;
  std::unique_ptr<IoBackend> io_owner_;
  IoBackend& io_;
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  __kernel_timespec tick_ts_{};
  __kernel_timespec backoff_ts_{};
  __kernel_timespec coalesce_ts_{};

  ConnTable conns_;
  std::vector<std::uint32_t> dirty_, dead_, rearm_, closing_;  // closing_: on_close owed
  std::vector<std::uint32_t> urgent_;  // --coalesce: connections whose frames must not wait
  std::vector<Message> pending_;      // this turn's deliveries, fanned out at its end
  std::vector<std::uint64_t> order_;   // scratch: pending_ sorted by (topic, arrival)

  FramePool frames_;
  LeasePool leases_{frames_};
  TimerWheel wheel_;
  ShardTopics topics_;
  Subscriptions subs_{conns_, topics_};
  ShardMetrics metrics_;

  std::vector<std::unique_ptr<Mailbox<Message>>> inbox_;  // [sender]
  std::vector<std::vector<Message>> overflow_;             // [target] when its mailbox was full
  std::vector<bool> wake_target_;                            // [target] posted this turn

  ThreadInbox<Message> external_;  // from threads outside the server

  bool coalesce_armed_ = false;
  bool coalesce_due_ = false;
  bool accept_armed_ = false;
  bool accept_backoff_ = false;
  bool stopping_ = false;
  std::uint64_t stop_deadline_ = 0;
  std::uint64_t tick_ms_ = 100;
  std::uint64_t idle_ticks_ = 0, handshake_ticks_ = 0, close_ticks_ = 0;
};

}  // namespace ringcast::engine
