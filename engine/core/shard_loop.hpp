// The loop of a shard: one thread, one I/O backend, one SO_REUSEPORT listener, its own
// connection table, timer wheel and frame pools. It knows connections as sockets with a
// lifecycle (handshake, open, finishing, dead, free), a send queue and a deadline; what
// the bytes mean (HTTP, WebSocket, apps, topics) is the layers above, reached through the
// hooks at the end of this class (engine/shard.hpp implements them).
//
// Loop turn: run_once() (the backend starts what was queued and waits), each completion
// handled, then the upper layers' turn work (mailboxes, closings, fan-out), re-armed
// receives, the urgent sends, one send per dirty connection (under --coalesce: when its
// timer fires), dead slots freed once nothing is pending on them, other shards woken.
// The recv/send half (the socket side of a connection) is engine/net/shard_io.cpp.
#pragma once
#include <linux/time_types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/core/conn.hpp"
#include "engine/core/conn_table.hpp"
#include "engine/core/timer_wheel.hpp"
#include "engine/core/user_data.hpp"
#include "engine/io/backend.hpp"
#include "engine/metrics.hpp"
#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_context.hpp"

namespace ringcast::engine {

class TlsContextStore;

// The SO_REUSEPORT sockets a shard accepts on (-1: none): plain ws, wss, or both. The
// shard owns them.
struct ShardListeners {
  int plain = -1;
  int tls = -1;
};

class ShardLoop : private CompletionSink {
 public:
  // `tls`: the certificate store wss connections start from (needed when listeners.tls is set).
  ShardLoop(const Config& cfg, const std::atomic<bool>& stopping, unsigned id, ShardListeners listeners,
            std::unique_ptr<IoBackend> io, std::size_t prewarm_frames, TlsContextStore* tls = nullptr);
  ShardLoop(const ShardLoop&) = delete;
  ShardLoop& operator=(const ShardLoop&) = delete;

  // On the shard's thread, before run(): backend, pools, eventfd. Returns "" or an error line.
  [[nodiscard]] std::string init();
  // The loop; returns after stop and the drain. It is start(), turn() until it returns
  // false, then close_all_now(); a driver (the scripted backend's tests) may call them itself.
  void run();
  void start();
  [[nodiscard]] bool turn();      // one wait-dispatch round; false once stopped and drained
  void close_all_now() noexcept;  // closes every socket still open (after the stop deadline)
  // Any thread: wake the loop (stop, outside publishers).
  void wake() noexcept;

  [[nodiscard]] IoBackend& backend() noexcept { return io_; }
  [[nodiscard]] const ShardMetrics& metrics() const noexcept { return metrics_; }
  [[nodiscard]] std::uint32_t live_connections() const noexcept { return conns_.live(); }
  [[nodiscard]] std::size_t dirty_connections() const noexcept { return dirty_.size(); }
  [[nodiscard]] std::size_t leases_outstanding() const noexcept { return leases_.outstanding(); }

 protected:
  ~ShardLoop();

  // --- hooks: what the layers above do (called on the shard's thread) ---
  // A new connection, before its first receive: reset its session state, set its deadline.
  virtual void on_accepted(Conn& c, std::uint32_t slot) = 0;
  // Bytes received on a live connection (the buffer goes back after the call).
  virtual void on_input(Conn& c, std::uint32_t slot, std::uint8_t* data, std::size_t len) = 0;
  // The connection's deadline (wheel timer) passed.
  virtual void on_deadline(Conn& c, std::uint32_t slot) = 0;
  // Graceful stop begins: the listener is closed; close what is open.
  virtual void on_stopping() = 0;
  // tear_down() is ending the connection (it is marked dead right after; its slot is freed
  // later).
  virtual void on_ending(Conn& c, std::uint32_t slot) noexcept = 0;
  // Nothing is pending on the connection any more: last call before the slot is reused.
  virtual void on_freed(Conn& c, std::uint32_t slot) noexcept = 0;
  // The turn's work above the sockets, before its sends; `due`: broadcasts may go out now
  // (always, unless --coalesce holds them).
  virtual void before_flush(bool due) = 0;
  // After the turn's sends (wake other shards).
  virtual void after_flush() = 0;
  // The loop has armed its operations (the Redis links start here).
  virtual void on_started() {}
  // A completion tagged Op::broker (the Redis links'); a buffer it carries must be recycled.
  virtual void on_broker(const Completion& c);
  // Backend file-table entries past the connection slots, for the Redis links: set before
  // init(); the first is extra_files_base().
  std::uint32_t extra_files_ = 0;
  [[nodiscard]] std::uint32_t extra_files_base() const noexcept { return static_cast<std::uint32_t>(conns_.capacity()); }
  // Broadcasts wait to be fanned out (they start the --coalesce timer).
  [[nodiscard]] virtual bool broadcasts_pending() const noexcept = 0;
  // A turn at `at_ms` (IoBackend::now_ms): a max-frequency topic's held publication is due
  // then. Armed only when no timer already fires by then.
  void arm_throttle(std::uint64_t at_ms);
  // Flushes of the dirty list so far: what was queued before the current one had its
  // chance to go out (conflation replaces only such entries).
  [[nodiscard]] std::uint32_t flushes() const noexcept { return flushes_; }

  // --- net (engine/net/shard_io.cpp) ---
  // Marks the connection for a send at the end of the turn; urgent: even under --coalesce
  // (replies, close, FIN, retries).
  void mark_dirty(Conn& c, std::uint32_t slot, bool urgent = true) noexcept;
  // Ends a connection at once, without a close frame: it is marked dead and its slot is
  // freed at the end of a turn once no operation on it is pending.
  void tear_down(Conn& c, std::uint32_t slot) noexcept;
  // The last bytes are queued (an HTTP answer, a close frame): once they are sent, FIN,
  // then wait for the peer's EOF (or the close deadline).
  void end_after_flush(Conn& c, std::uint32_t slot);
  // A wss connection still in its TLS handshake (its deadline is a TLS failure).
  [[nodiscard]] bool tls_handshaking(const Conn& c) const noexcept;
  // `ms` in wheel ticks, rounded up (0 stays 0).
  [[nodiscard]] std::uint64_t ticks_for(std::chrono::milliseconds ms) const noexcept;

  const Config& cfg_;
  unsigned id_;
  ConnTable conns_;
  TimerWheel wheel_;
  FramePool frames_;
  LeasePool leases_{frames_};
  ShardMetrics metrics_;
  std::vector<std::uint32_t> dirty_;  // connections with a send due this turn (or window)
  bool stopping_ = false;
  std::uint64_t tick_ms_ = 100;
  std::uint64_t idle_ticks_ = 0, handshake_ticks_ = 0, close_ticks_ = 0;

 private:
  void on_completion(const Completion& c) override;
  void end_of_turn();
  // Listener i: 0 plain, 1 TLS (the accept tag's slot field).
  void arm_accept(std::uint32_t i);
  void arm_tick();
  void arm_wake();
  void on_accept(const Completion& cqe, std::uint32_t i);
  void on_tick();
  void begin_stop();
  [[nodiscard]] std::uint64_t now_tick() const noexcept;

  // net (engine/net/shard_io.cpp)
  void arm_recv(Conn& c, std::uint32_t slot);
  void on_recv(Conn& c, std::uint32_t slot, const Completion& cqe);
  void on_send(Conn& c, std::uint32_t slot, int res);
  void flush(Conn& c, std::uint32_t slot);
  void flush_dirty();
  void free_slot(Conn& c, std::uint32_t slot) noexcept;  // nothing pending: close the fd, slot reusable
  void on_peer_eof(Conn& c, std::uint32_t slot);
  void send_queued(Conn& c, std::uint32_t slot);
  // One send of `iov` (`send` for one iovec, else `sendmsg`), covering `entries` queue entries.
  void start_send(Conn& c, std::uint32_t slot, const iovec* iov, std::size_t n, std::uint32_t entries);

  // TLS (engine/net/shard_tls.cpp): the record layer between the socket and on_input.
  void tls_input(Conn& c, std::uint32_t slot, const std::uint8_t* data, std::size_t len);
  void tls_read(Conn& c, std::uint32_t slot);
  void tls_flush(Conn& c, std::uint32_t slot);
  void tls_failed(Conn& c, std::uint32_t slot);
  void plain_port_tls_hello(Conn& c, std::uint32_t slot);
  static constexpr std::uint8_t kTlsHandshakeRecord = 0x16;  // a TLS record's first byte: handshake
  // Start of end_of_turn: waiting handshakes take what is left of the turn's budget.
  void tls_end_of_turn();
  // FIN once everything queued is out (a finishing connection), keep reading to EOF.
  void send_fin(Conn& c, std::uint32_t slot);

  const std::atomic<bool>& group_stopping_;
  struct Accepting {
    int fd = -1;
    bool armed = false;
    bool backoff = false;  // EMFILE/ENFILE: a timer re-arms it
    bool closed = false;   // stopping: closed once its accept is gone (fd kept: it names the kind)
  };
  // Stopping: closes listener i once no accept holds it, so the socket goes now. A socket
  // an io_uring request still held would outlive the process (the ring is torn down
  // asynchronously) and, in a SO_REUSEPORT group, take connections only to reset them.
  void close_listener(std::uint32_t i) noexcept;
  Accepting accepting_[2];  // [0] plain, [1] TLS
  std::size_t prewarm_frames_;
  std::unique_ptr<IoBackend> io_owner_;
  IoBackend& io_;
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  __kernel_timespec tick_ts_{};
  __kernel_timespec backoff_ts_{};
  __kernel_timespec coalesce_ts_{};
  std::vector<std::uint32_t> dead_, rearm_;
  std::vector<std::uint32_t> urgent_;  // --coalesce: connections whose frames must not wait
  bool coalesce_armed_ = false;
  bool coalesce_due_ = false;
  // --coalesce auto: the last fan-out pass's duration (0 when short) and its end.
  std::int64_t auto_hold_ns_ = 0, last_pass_end_ns_ = 0;
  __kernel_timespec throttle_ts_{};  // read by the backend when the timeout is submitted
  std::uint64_t throttle_until_ = 0;  // the soonest throttle timer in flight (0: none)
  std::uint32_t flushes_ = 0;
  void size_auto_hold(std::int64_t start_ns, std::int64_t end_ns) noexcept;
  std::uint64_t stop_deadline_ = 0;

  // TLS: a full handshake step (key exchange, signature) costs 0.1-1 ms of CPU, so a turn
  // runs at most kHandshakesPerTurn; the rest wait in order (their ciphertext held), and
  // a reconnect storm cannot stall established clients for long.
  TlsContextStore* tls_store_;
  TlsContextRef tls_ctx_;
  static constexpr unsigned kHandshakesPerTurn = 8;
  unsigned tls_budget_ = kHandshakesPerTurn;
  std::vector<ConnRef> tls_waiting_;  // connections with a handshake step held
  std::unique_ptr<std::uint8_t[]> tls_plain_, tls_seal_;  // scratch: a record each
  std::unique_ptr<iovec[]> tls_iov_;                      // scratch: the plaintext to seal
};

}  // namespace ringcast::engine
