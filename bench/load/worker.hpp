// One generator thread: an io_uring, its share of the connections (global index i goes to
// thread i % threads), and the scenario's sending rules. It follows RunPlan::phase and
// leaves its totals in result() when run() returns.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "bench/load/accounting.hpp"
#include "bench/load/connection.hpp"
#include "bench/load/histogram.hpp"
#include "bench/load/run_state.hpp"
#include "bench/load/tls_link.hpp"
#include "bench/load/uring.hpp"
#include "protocol/deflate_codec.hpp"

namespace ringcast::load {

struct WorkerResult {
  Histogram latency;    // publisher send -> subscriber receive
  Histogram handshake;  // connect start -> 101 received
  std::uint64_t deliveries = 0, delivered_bytes = 0, own_echoes = 0, other_messages = 0;
  std::uint64_t gaps = 0, out_of_order = 0;
  std::uint64_t offsets = 0, offset_gaps = 0, offset_repeats = 0;  // --channel with history
  std::uint64_t api_answers = 0, api_errors = 0;                   // --api-key publishers
  std::uint64_t slow_deliveries = 0, slow_gaps = 0;                // --slow subscribers (not in gaps)
  std::uint64_t connect_failures = 0, disconnects = 0, protocol_errors = 0;
  std::uint64_t send_skipped = 0, window_resets = 0;
  // Subscribers' WebSocket bytes after the upgrade (frames as sent: compressed ones so);
  // --deflate: connections that negotiated it, messages that came compressed.
  std::uint64_t wire_bytes = 0, deflate_connections = 0, compressed_messages = 0;
  // --reconnect-at: subscribers dropped, and how their new subscribe ended.
  std::uint64_t storm_dropped = 0, storm_recovered = 0, storm_unrecovered = 0, storm_failed = 0;
  std::uint64_t recovered_publications = 0;  // publications the replies returned (deliveries too)
  std::uint64_t storm_start_ns = 0, storm_last_ns = 0;  // the drop, the last reply
  Histogram recovery;                        // each subscriber's drop -> subscribe reply
  std::uint32_t opened = 0;
  std::string first_error;  // the first failure's reason, for the report
  std::string tls_session;  // TLS runs: version and cipher of the first connection established
  std::vector<std::uint32_t> published;  // [pub id] messages sent, for this thread's publishers
  SequenceTable seqs;                    // [sub slot][pub id] highest sequence seen
  std::uint32_t sub_slots = 0;
};

class Worker {
 public:
  Worker(RunPlan& plan, std::uint32_t index, std::uint32_t threads);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Thread body; returns when the plan reaches Phase::close and connections are closed.
  void run();
  [[nodiscard]] WorkerResult& result() noexcept { return res_; }
  [[nodiscard]] LiveCounters& live() noexcept { return live_; }
  // After run(): messages published (`published[pub id]`, all threads) that an opened
  // subscriber of this thread (the --slow ones, or the others) never received past its
  // last sequence number.
  [[nodiscard]] std::uint64_t count_missing(const std::vector<std::uint32_t>& published, bool slow = false) const;

 private:
  static constexpr std::uint64_t kMs = 1'000'000;
  static constexpr std::uint64_t kTick = 100 * kMs;         // housekeeping: handshake deadlines, stalled windows
  static constexpr std::uint64_t kMaxWait = 20 * kMs;       // a phase change is noticed within this
  static constexpr std::uint64_t kStall = 2000 * kMs;       // a closed-loop window with no ack this long is reset
  static constexpr std::uint64_t kCloseGrace = 1000 * kMs;  // close handshakes get this long, then shutdown
  static constexpr unsigned kRecvBufSize = 2048;            // small: a broadcast burst takes one per connection
  static constexpr std::size_t kTlsChunk = 16384;           // TLS: plaintext decrypted per step (one record)

  enum Op : std::uint64_t { kConnect = 1, kSend = 2, kRecv = 3, kCancel = 4 };
  static std::uint64_t tag(Op op, std::uint32_t idx) noexcept { return (std::uint64_t{op} << 32) | idx; }

  // Connection life.
  void start_connects(std::uint64_t now);
  void give_up_connects();
  void on_connect(Conn& c, int res);
  void on_recv(Conn& c, const io_uring_cqe& cqe);
  void on_send(Conn& c, int res);
  void arm_recv(Conn& c);
  void flush(Conn& c);
  void send_bytes(Conn& c, std::span<const std::uint8_t> bytes);
  void received(Conn& c, std::uint8_t* data, std::size_t len);  // plaintext, by state
  void peer_closed(Conn& c, int res);  // the server's EOF (res 0), recv error or TLS close_notify

  // TLS (--tls, wss://): flush() only marks a connection; flush_tls_all() runs once per loop
  // turn, before submitting, so a turn's frames leave as one encryption and one send.
  void flush_tls(Conn& c);
  void flush_tls_all();
  void tls_bytes(Conn& c, const std::uint8_t* data, std::size_t len);
  void tls_failed(Conn& c);

  void handshake_bytes(Conn& c, const std::uint8_t* data, std::size_t len);
  void opened(Conn& c);  // the 101 arrived (or, for an API publisher, the TCP connect)
  void api_bytes(Conn& c, std::span<const std::uint8_t> in);  // answers to an API publisher
  void frame_bytes(Conn& c, std::span<std::uint8_t> in);
  // A data chunk of the message being read; a compressed one is inflated at its end.
  // False: the connection was finished (a message that does not inflate).
  bool message_bytes(Conn& c, const protocol::Event& ev);
  // Inflates a whole compressed message into inflated_ (checked: size, stream, UTF-8);
  // false: the connection was finished, the reason counted.
  bool inflated(Conn& c, std::span<const std::uint8_t> compressed, protocol::Opcode op);
  void message_chunk(Conn& c, std::span<const std::uint8_t> chunk);
  void on_message(Conn& c);
  void deliver(Conn& c, const Record& r, std::size_t bytes, bool recovered);  // a subscriber's publication
  void note_offset(Conn& c, std::uint64_t offset);                          // --channel with history
  void fail(Conn& c, const char* reason);
  void finish(Conn& c);
  void release_if_idle(Conn& c);
  void expire_handshakes(std::uint64_t now);
  void dial(std::uint32_t idx, std::uint64_t now);  // TCP connect of conns_[idx]
  // --reconnect-at: drop every ready subscriber; dial the dropped ones again as their
  // descriptors are released; a reconnected one is settled by its reply or its failure.
  void start_storm(std::uint64_t now);
  void requeue(Conn& c);
  void storm_settled(Conn& c, bool answered);
  void begin_close(std::uint64_t now);
  bool queue_control(Conn& c, protocol::Opcode op, std::span<const std::uint8_t> payload);

  // Publishing.
  void start_publishing(std::uint64_t now);
  bool publish_one(Conn& c, std::uint64_t now);
  void fill_window(Conn& c, std::uint64_t now);
  void ack(Conn& pub, std::uint32_t seq, std::uint64_t now);
  std::uint64_t send_due(std::uint64_t now);  // open loop; returns the next due time
  void check_stalled_windows(std::uint64_t now);

  void publish_live(std::uint64_t now);
  [[nodiscard]] std::uint64_t random() noexcept;

  RunPlan& plan_;
  const Options& opt_;
  std::uint32_t index_;
  Ring ring_;
  BufRing bufs_;
  std::vector<Conn> conns_;
  std::vector<Conn*> pubs_;        // this thread's publishers
  std::vector<Conn*> pub_by_id_;   // [pub id] -> local publisher or nullptr
  Conn* designated_ = nullptr;     // --ack sub: the subscriber that acks local publishers
  std::vector<std::uint32_t> rearm_;  // connections whose multishot recv ended on ENOBUFS
  std::vector<std::uint8_t> payload_;  // [prefix] filler + record [suffix], rewritten per message
  std::vector<std::string> channel_names_;     // --channel/--channels
  std::vector<std::string> channel_prefixes_;  // each one's publish command up to its data string
  std::vector<std::uint32_t> slow_rearm_;      // --slow readers waiting for the next tick
  std::string suffix_;                 // --channel: what closes it after the record (`"}}`)
  std::string api_head_;               // --api-key: the request head up to Content-Length's value
  // --channel: the connection's connect (and subscribe) replies, server pings.
  void channel_opened(Conn& c);
  [[nodiscard]] bool channel_control(Conn& c);
  void subscribed(Conn& c, std::string_view reply);  // the message answering its commands
  bool tls_ = false;
  TlsContext tls_ctx_;
  std::vector<std::uint32_t> tls_dirty_;  // connections flush() marked this turn
  std::unique_ptr<std::uint8_t[]> tls_plain_;  // kTlsChunk bytes: decrypted data, one record at a time
  // --deflate: one inflater for every connection (the server keeps no context) and its output.
  std::unique_ptr<protocol::Inflater> inflater_;
  std::vector<std::uint8_t> inflated_;
  std::uint32_t next_to_connect_ = 0;
  std::vector<std::uint32_t> redial_;  // --reconnect-at: dropped connections to dial again
  std::uint64_t storm_left_ = 0;       // dropped, not settled yet
  bool storm_seen_ = false;
  std::uint32_t connecting_ = 0;   // connects + handshakes in flight
  std::uint32_t connect_limit_ = 0;
  std::uint32_t resolved_ = 0;     // connections open or failed
  std::uint32_t open_ = 0;
  std::uint64_t rng_ = 0;
  std::uint64_t now_ = 0;          // time of the current completion batch
  Phase seen_ = Phase::connect;
  bool publishing_ = false;
  std::uint64_t close_deadline_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t last_delivery_ns_ = 0;
  std::uint64_t last_open_ns_ = 0;
  WorkerResult res_;
  LiveCounters live_;
};

}  // namespace ringcast::load
