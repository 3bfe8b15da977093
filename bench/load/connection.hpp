// One client connection's state: where it is in its life, what it is for (subscriber,
// publisher or both), its frame decoder, its send halves and, while publishing, its window.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/load/api_client.hpp"
#include "bench/load/payload.hpp"
#include "bench/load/send_buffer.hpp"
#include "bench/load/tls_link.hpp"
#include "protocol/handshake.hpp"
#include "protocol/message.hpp"
#include "bench/load/target.hpp"

namespace ringcast::load {

enum class ConnState : std::uint8_t {
  idle,         // not started
  connecting,   // TCP connect in flight
  handshaking,  // TLS handshake (wss) and/or request sent, waiting for the 101
  open,
  closing,      // our close frame is out; waiting for the server's
  done,         // finished (cleanly or not); fd released once no operation is in flight
};

// Lives only until the 101 arrives: the handshake's bytes are not per-connection memory.
struct HandshakeState {
  protocol::AcceptKey expect{};
  std::uint32_t len = 0;
  char buf[4096];
};

// What the server may send: unmasked frames, no extension, messages up to 16 MiB; with
// permessage-deflate negotiated, RSV1 on a message's first frame (compressed).
inline constexpr protocol::MessageRules kServerFrames{.max_message = 16u << 20, .allowed_rsv = 0, .require_mask = false};
inline constexpr protocol::MessageRules kServerFramesDeflate{
    .max_message = 16u << 20, .allowed_rsv = protocol::kRsv1, .require_mask = false};

struct Conn {
  int fd = -1;
  ConnState state = ConnState::idle;
  bool is_sub = false;
  bool is_pub = false;
  bool is_slow = false;       // --slow: reads one receive per tick while publishing
  bool recv_armed = false;
  bool failed = false;        // never opened
  bool channel_ready = false; // --channel: its connect (and subscribe) answered
  std::uint8_t ops = 0;       // io_uring operations in flight on this fd
  std::uint32_t sub_slot = 0; // row in the thread's sequence table
  std::uint32_t pub_id = 0;
  const Target* target = nullptr;  // the server it dials (RunPlan::target_of)
  std::uint64_t started_ns = 0;

  protocol::MessageReader reader{kServerFrames};
  std::uint32_t msg_len = 0;  // bytes of the message being received
  MessageTail tail;           // its last bytes, where the record is
  std::vector<std::uint8_t> compressed;  // --deflate: a compressed message until its last frame
  std::uint64_t last_offset = 0;  // --channel with history: the last publication offset seen
  std::string control;            // --channel, until ready: the whole reply message (the tail would cut it)

  // --reconnect-at: the storm drops the connection, then it dials again and recovers.
  bool redial = false;            // dropped: dial again once its descriptor is released
  bool recovering = false;        // dialled again: its subscribe asks to recover, not answered yet
  std::uint64_t dropped_ns = 0;
  std::string epoch;              // the channel's epoch from its last subscribe reply
  SendBuffer out;                   // frames (plaintext under TLS: encrypted at flush)
  std::unique_ptr<HandshakeState> hs;
  std::unique_ptr<TlsLink> tls;     // TLS runs only: from the TCP connect until the fd is closed
  std::unique_ptr<ApiReplyReader> api;  // --api-key publishers: HTTP, no WebSocket upgrade
  std::uint32_t api_answered = 0;   // answers so far (they come in request order)
  bool tls_dirty = false;           // queued for the worker's end-of-turn TLS flush

  // Publisher state.
  std::uint32_t next_seq = 1;     // the sequence number the next message gets
  std::uint32_t acked = 0;        // closed loop: highest sequence known delivered
  bool self_ack = false;          // closed loop: its own echo releases the window
  std::uint64_t next_due_ns = 0;  // open loop: when the next message is due
  std::uint64_t last_ack_ns = 0;
};

}  // namespace ringcast::load
