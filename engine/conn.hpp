// One client connection's state inside a shard's slot table. Named by {slot, generation}
// everywhere outside the table (user_data, subscriber lists), never by pointer.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "engine/byte_buffer.hpp"
#include "engine/send_queue.hpp"
#include "engine/timer_wheel.hpp"
#include "engine/topic.hpp"
#include "protocol/message.hpp"

namespace ringcast::engine {

enum class ConnState : std::uint8_t {
  free,       // slot unused
  handshake,  // reading the HTTP request head
  open,       // WebSocket frames flow
  finishing,  // last bytes queued (HTTP answer, close frame): send them, then shut down
  dead,       // being torn down: waiting for in-flight operations, then close + free
};

enum class Endpoint : std::uint8_t { chat, echo };

// Frames one sendmsg covers (iovecs come from the shard's arena). Per-send kernel cost
// dominates small-message fan-out: 32 -> 256 cut server CPU per delivery from ~450 ns to
// ~265 ns (1,000 subscribers, 64 B messages, loopback, before frames were combined).
inline constexpr std::size_t kSendIov = 256;

// The first cache line holds everything fan-out reads and writes (queue indices, state,
// dirty and close flags), so a delivery touches one line of the connection.
struct alignas(64) Conn {
  SendQueue queue;
  ConnState state = ConnState::free;
  bool dirty = false;           // on the shard's dirty list
  bool urgent = false;          // on the shard's urgent list (sent this turn despite --coalesce)
  bool close_sent = false;      // our close frame is queued: nothing else may follow
  Endpoint endpoint = Endpoint::chat;
  std::uint16_t port = 0;  // the peer's port: the client's chat name is ID<port>
  int fd = -1;
  std::uint32_t gen = 0;

  bool recv_armed = false;
  bool send_inflight = false;
  bool flush_when_done = false; // a flush found a send in flight: send the rest on its completion
  bool close_received = false;
  bool ping_sent = false;       // idle probe outstanding
  bool wr_shut = false;         // FIN sent after the last queued byte
  bool rd_shut = false;         // shutdown(RDWR) issued during teardown
  bool peer_eof = false;        // the peer's FIN arrived while our last bytes were queued
  bool in_dead_list = false;
  bool joined = false;          // subscribed to `topic`; "left" is announced once
  bool upgraded = false;        // counted in the connections gauge (WebSocket established)

  std::uint32_t topic = kNoTopic;
  std::uint32_t topic_index = 0;
  std::uint64_t last_input_tick = 0;
  std::uint32_t inflight_entries = 0;  // queue entries the send in flight covers
  std::uint32_t inflight_bytes = 0;    // and their bytes (saturated): less sent = partial

  TimerNode timer;
  protocol::MessageReader reader;
  ByteBuffer head;                   // a request head split across receives (handshake only)
  ByteBuffer assembly;               // a message spanning receive buffers (allocated on the first)
  std::uint32_t head_scanned = 0;
  protocol::Opcode assembly_op = protocol::Opcode::text;

  msghdr msg{};  // the kernel copies it and its iovecs at submit (IORING_FEAT_SUBMIT_STABLE)
};

// Fan-out (engine/fanout.hpp deliver) reads and writes only these: one cache line.
static_assert(offsetof(Conn, queue) == 0 && offsetof(Conn, close_sent) < 64 && offsetof(Conn, dirty) < 64 &&
                  offsetof(Conn, state) < 64,
              "fan-out-hot fields must stay in the connection's first cache line");
// Every slot of the table is allocated and touched at start-up (one per possible
// connection: ~20,000 with the default descriptor limit), so each 64 bytes here costs
// ~1.3 MB of resident memory. 448 = 7 lines; the reader (224), the msghdr (56) and the
// timer node (32) are most of it.
static_assert(sizeof(Conn) == 448, "connection slot size changed: update engine/README.md");

}  // namespace ringcast::engine
