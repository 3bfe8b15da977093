// Per-connection streaming message decoder (RFC 6455 sections 5.4-5.6): raw socket bytes
// in, events out. Unmasks payloads in place in the caller's buffer, assembles the
// fragment sequence, validates text as UTF-8 chunk by chunk (fail-fast), checks control
// frames and close payloads, and maps every violation to the close code to send.
//
// The reader never asks the caller to keep bytes: a partial header or a control frame
// split across reads is copied into the reader's own small buffers (<= 139 bytes), so a
// provided receive buffer can go back to the ring as soon as next() returns need_more.
//
// Event payloads point either into the caller's buffer (data chunks, and control frames
// that arrived whole) or into the reader (control frames that were split); either way
// they stay valid until the next call to next(). Chunking rules:
//   - a message with an empty payload yields one data event with first && last;
//   - a zero-length fragment that is not final yields no event;
//   - a non-empty frame yields one data event per call that brings payload bytes.
// An error event consumes all of the input; a close event consumes up to the end of the
// close frame. Either way the reader is finished afterwards.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/frame.hpp"
#include "protocol/result.hpp"
#include "protocol/utf8.hpp"

namespace ringcast::protocol {

struct MessageRules {
  std::uint64_t max_message = 16u << 20;  // a message (all fragments) past this: close 1009
  std::uint8_t allowed_rsv = 0;           // RSV bits a negotiated extension permits
  bool require_mask = true;               // false only when decoding server frames (load generator)
};

enum class EventKind : std::uint8_t {
  need_more,  // all of the input was consumed; call again when more bytes arrive
  data,       // a chunk of a text/binary message's payload (unmasked, in the caller's buffer)
  ping,       // a whole ping; answer with a pong carrying `payload`
  pong,       // a whole pong (solicited or not)
  close,      // a valid close frame from the peer: close_code / close_reason
  error,      // protocol violation: send close `error_code` and stop reading
};

struct Event {
  EventKind kind = EventKind::need_more;
  std::size_t consumed = 0;  // bytes of the input this call used; always advance by this much

  // data
  Opcode message_opcode = Opcode::text;  // text or binary: the type of the whole message
  bool first = false;                    // first chunk of a message
  bool last = false;                     // message complete (text fully UTF-8 checked)
  std::uint8_t message_rsv = 0;          // RSV bits of the message's first frame (extensions);
                                         // with any set, text is not UTF-8 checked here
  std::span<const std::uint8_t> payload; // data chunk, or the whole ping/pong/close payload

  // close
  std::uint16_t close_code = 1005;  // 1005 when the close frame had no payload
  std::string_view close_reason;

  // error
  CloseCode error_code = CloseCode::none;
  const char* error_reason = "";
};

class MessageReader {
 public:
  explicit MessageReader(const MessageRules& rules = {}) noexcept : rules_(rules) {}

  // Decodes from the start of `in`. Call repeatedly, advancing by event.consumed, until
  // need_more. After close or error the reader is finished: further input is ignored.
  [[nodiscard]] Event next(std::span<std::uint8_t> in) noexcept;

  [[nodiscard]] bool finished() const noexcept { return state_ == State::finished; }
  [[nodiscard]] bool in_message() const noexcept { return message_open_; }
  void set_rules(const MessageRules& rules) noexcept { rules_ = rules; }

 private:
  enum class State : std::uint8_t { header, payload, finished };

  // Text is checked as it arrives unless an extension transformed it (RSV bits on the
  // message: compressed); then the caller checks what it decodes.
  [[nodiscard]] bool checks_utf8() const noexcept { return message_opcode_ == Opcode::text && message_rsv_ == 0; }

  // After a header: checks it against the fragment sequence and arms the payload state.
  // Returns true when `ev` is an event to deliver now (an error or an empty frame).
  [[nodiscard]] bool open_frame(std::span<std::uint8_t> in, std::size_t pos, Event& ev) noexcept;
  [[nodiscard]] Event control_event(std::uint8_t* payload, std::size_t len, std::size_t consumed,
                                    std::size_t input_size) noexcept;
  [[nodiscard]] Event fail(CloseCode code, const char* reason, std::size_t consumed) noexcept;

  MessageRules rules_;
  State state_ = State::header;
  FrameHeader frame_{};
  std::uint64_t frame_left_ = 0;      // payload bytes of the current frame still to come
  std::uint64_t message_bytes_ = 0;   // payload bytes of the open message so far
  std::uint32_t mask_phase_ = 0;
  bool message_open_ = false;         // inside a fragmented text/binary message
  bool message_first_pending_ = false;  // next data chunk is the message's first
  Opcode message_opcode_ = Opcode::text;
  std::uint8_t message_rsv_ = 0;
  Utf8Validator utf8_;
  std::uint8_t header_len_ = 0;       // bytes held in header_buf_
  std::uint8_t header_buf_[kMaxHeaderLen] = {};
  std::uint8_t control_len_ = 0;      // bytes held in control_buf_
  std::uint8_t control_buf_[kMaxControlPayload] = {};
};

}  // namespace ringcast::protocol
