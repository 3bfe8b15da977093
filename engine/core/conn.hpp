// One client connection's state inside a shard's slot table. Named by {slot, generation}
// everywhere outside the table (user_data, subscriber lists), never by pointer.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/core/byte_buffer.hpp"
#include "engine/net/send_queue.hpp"
#include "engine/net/tls_ptr.hpp"
#include "engine/core/timer_wheel.hpp"
#include "engine/pubsub/subscription.hpp"
#include "protocol/message.hpp"

namespace ringcast::engine {

enum class ConnState : std::uint8_t {
  free,       // slot unused
  handshake,  // reading the HTTP request head
  open,       // WebSocket frames flow
  finishing,  // last bytes queued (HTTP answer, close frame): send them, then shut down
  dead,       // being torn down: waiting for in-flight operations, then close + free
};


// Frames one sendmsg covers (iovecs come from the shard's arena). Per-send kernel cost
// dominates small-message fan-out: 32 -> 256 cut server CPU per delivery from ~450 ns to
// ~265 ns (1,000 subscribers, 64 B messages, loopback, before frames were combined).
inline constexpr std::size_t kSendIov = 256;

// The first cache line holds everything fan-out reads and writes (queue indices, state,
// dirty and close flags), so a delivery touches one line of the connection. The rest is
// grouped by the layer that owns it.
struct alignas(64) Conn {
  // --- fan-out's line ---
  SendQueue queue;
  ConnState state = ConnState::free;  // core: the lifecycle
  bool dirty = false;           // net: on the shard's dirty list
  bool urgent = false;          // net: on the urgent list (sent this turn despite --coalesce)
  bool close_sent = false;      // ws: our close frame is queued: nothing else may follow
  bool deflate = false;         // ws: permessage-deflate negotiated
  std::uint8_t app = 0;         // ws: its route, which names its app (ShardGroup::apps)
  std::uint16_t port = 0;       // app: the peer's port: the client's chat name is ID<port>
  int fd = -1;                  // core
  std::uint32_t gen = 0;        // core: bumped when the slot is freed (stale tags miss)

  // --- core: lifecycle ---
  bool in_dead_list = false;
  // --- net: the socket's operations (bits: one byte; they change once per operation) ---
  bool recv_armed : 1 = false;
  bool send_inflight : 1 = false;
  bool flush_when_done : 1 = false; // a flush found a send in flight: send the rest on its completion
  bool wr_shut : 1 = false;         // FIN sent after the last queued byte
  bool rd_shut : 1 = false;         // shutdown(RDWR) issued during teardown
  bool peer_eof : 1 = false;        // the peer's FIN arrived while our last bytes were queued
  bool input_seen : 1 = false;      // its first bytes arrived (a TLS hello on the ws port shows there)
  // --- ws: the session ---
  bool ping_sent = false;       // idle probe outstanding
  bool upgraded = false;        // counted in the connections gauge (WebSocket established)
  bool app_open = false;        // the app's on_open ran: on_close is owed, once
  bool served_http = false;     // ws: a keep-alive connection between requests (its deadline is no failure)
  bool http_waiting = false;    // ws: its request's answer waits for Redis (HttpHost::defer_answer)
  std::uint8_t app_state = 0;   // app: its own (Session::app_state)
  protocol::Opcode assembly_op = protocol::Opcode::text;
  std::uint16_t head_scanned = 0;  // < kMaxHead (8 KiB)
  // --- pubsub: the first subscription (more: engine/pubsub/subscriptions.hpp) ---
  Subscription sub;

  // --- net ---
  std::uint32_t inflight_entries = 0;  // queue entries the send in flight covers
  std::uint32_t inflight_bytes = 0;    // and their bytes (saturated): less sent = partial
  std::uint32_t extra_row = 0;  // pubsub: 1 + its row of further subscriptions; 0: none
  // --- ws ---
  std::uint64_t last_input_tick = 0;
  TimerNode timer;              // core: handshake, idle/ping and close deadlines
  protocol::MessageReader reader;
  ByteBuffer head;              // bytes not parsed yet before the upgrade: a split head, a body, pipelined requests
  ByteBuffer assembly;          // a message spanning receive buffers (allocated on the first)
  TlsPtr tls;                   // net: the TLS session of a wss connection; null: plain
};

// A connection named across turns: a slot whose generation moved on is another connection.
struct ConnRef {
  std::uint32_t slot;
  std::uint32_t gen;
};

// Fan-out (engine/pubsub/fanout.hpp deliver) reads and writes only these: one cache line.
static_assert(offsetof(Conn, queue) == 0 && offsetof(Conn, close_sent) < 64 && offsetof(Conn, dirty) < 64 &&
                  offsetof(Conn, state) < 64,
              "fan-out-hot fields must stay in the connection's first cache line");
// A slot becomes resident when a connection first uses it (engine/core/conn_table.hpp),
// so this is most of what one more idle connection costs. 384 = 6 lines; the reader
// (224) and the timer node (32) are most of it. A wss connection adds its TlsStream and
// OpenSSL's session (engine/README.md has the figure).
static_assert(sizeof(Conn) == 384, "connection slot size changed: update engine/README.md");

}  // namespace ringcast::engine
