// Streaming message assembly (RFC 6455 sections 5.4-5.6). One call delivers at most one
// event; the common case (a whole small masked frame in the buffer) is: decode the
// header in place, unmask, validate, return a span of the caller's bytes.
#include "protocol/message.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/close.hpp"
#include "protocol/unmask.hpp"

namespace ringcast::protocol {

Event MessageReader::fail(CloseCode code, const char* reason, std::size_t consumed) noexcept {
  state_ = State::finished;
  Event ev;
  ev.kind = EventKind::error;
  ev.consumed = consumed;
  ev.error_code = code;
  ev.error_reason = reason;
  return ev;
}

Event MessageReader::control_event(std::uint8_t* payload, std::size_t len, std::size_t consumed,
                                   std::size_t input_size) noexcept {
  state_ = State::header;
  Event ev;
  ev.consumed = consumed;
  ev.payload = std::span<const std::uint8_t>(payload, len);
  switch (frame_.opcode) {
    case Opcode::ping: ev.kind = EventKind::ping; return ev;
    case Opcode::pong: ev.kind = EventKind::pong; return ev;
    default: break;  // close: the only other control opcode decode_frame_header lets through
  }
  const CloseParse close = parse_close_payload(ev.payload);
  if (close.status != Status::ok) {
    return fail(close.error,
                close.error == CloseCode::invalid_payload ? "close reason not UTF-8" : "invalid close payload",
                input_size);
  }
  state_ = State::finished;
  ev.kind = EventKind::close;
  ev.close_code = close.code;
  ev.close_reason = close.reason;
  return ev;
}

bool MessageReader::open_frame(std::span<std::uint8_t> in, std::size_t pos, Event& ev) noexcept {
  frame_left_ = frame_.payload_len;
  mask_phase_ = 0;
  state_ = State::payload;

  // permessage-deflate (RFC 7692 section 6): RSV1 marks a message's first frame only.
  if (frame_.rsv != 0 && (is_control(frame_.opcode) || frame_.opcode == Opcode::continuation)) {
    ev = fail(CloseCode::protocol_error,
              is_control(frame_.opcode) ? "RSV bit on a control frame" : "RSV bit on a continuation frame", in.size());
    return true;
  }
  if (is_control(frame_.opcode)) {
    if (frame_left_ != 0) return false;
    ev = control_event(in.data() + pos, 0, pos, in.size());
    return true;
  }

  if (frame_.opcode == Opcode::continuation) {
    if (!message_open_) {
      ev = fail(CloseCode::protocol_error, "continuation without a message", in.size());
      return true;
    }
  } else {
    if (message_open_) {
      ev = fail(CloseCode::protocol_error, "new message inside a fragmented message", in.size());
      return true;
    }
    message_open_ = true;
    message_first_pending_ = true;
    message_opcode_ = frame_.opcode;
    message_rsv_ = frame_.rsv;
    message_bytes_ = 0;
    utf8_.reset();
  }
  // Cumulative size checked before any payload byte is read; the first test keeps the
  // subtraction safe when set_rules() lowered the limit mid-message.
  if (message_bytes_ > rules_.max_message || frame_left_ > rules_.max_message - message_bytes_) {
    ev = fail(CloseCode::message_too_big, "message too big", in.size());
    return true;
  }
  message_bytes_ += frame_left_;

  if (frame_left_ != 0) return false;
  state_ = State::header;
  if (!frame_.fin) return false;  // empty non-final fragment: nothing to deliver
  if (checks_utf8() && !utf8_.finish()) {
    ev = fail(CloseCode::invalid_payload, "text ends mid code point", in.size());
    return true;
  }
  ev = Event{};
  ev.kind = EventKind::data;
  ev.consumed = pos;
  ev.message_opcode = message_opcode_;
  ev.message_rsv = message_rsv_;
  ev.first = message_first_pending_;
  ev.last = true;
  ev.payload = std::span<const std::uint8_t>(in.data() + pos, 0);
  message_open_ = false;
  message_first_pending_ = false;
  return true;
}

Event MessageReader::next(std::span<std::uint8_t> in) noexcept {
  const std::size_t size = in.size();
  Event ev;
  ev.consumed = size;  // the need_more answer, and all a finished reader ever says
  if (state_ == State::finished) return ev;

  // Straight path for the common case: a whole FIN text/binary frame with RSV 0 and a
  // 7-bit length, between messages, nothing held. Anything else takes the loop below.
  if (state_ == State::header && header_len_ == 0 && !message_open_ && size >= 2) {
    const std::uint8_t b0 = in[0];
    const std::uint8_t b1 = in[1];
    const std::uint8_t mask_bit = rules_.require_mask ? 0x80 : 0x00;
    const std::size_t len = b1 & 0x7F;
    const std::size_t header = mask_bit != 0 ? 6 : 2;
    if ((b0 == 0x81 || b0 == 0x82) && (b1 & 0x80) == mask_bit && len < 126 && len <= rules_.max_message &&
        size >= header + len) {
      std::uint8_t* p = in.data() + header;
      if (mask_bit != 0) {
        MaskKey key;
        std::memcpy(key.data(), in.data() + 2, 4);
        (void)unmask(p, len, key);
      }
      if (b0 == 0x81 && !is_valid_utf8(p, len)) return fail(CloseCode::invalid_payload, "text is not UTF-8", size);
      ev.kind = EventKind::data;
      ev.consumed = header + len;
      ev.message_opcode = static_cast<Opcode>(b0 & 0x0F);
      ev.first = true;
      ev.last = true;
      ev.payload = std::span<const std::uint8_t>(p, len);
      return ev;
    }
  }

  const FrameRules frame_rules{rules_.require_mask, rules_.allowed_rsv, UINT64_MAX};
  std::size_t pos = 0;
  for (;;) {
    if (state_ == State::header) {
      if (pos == size) return ev;
      FrameParse r;
      std::size_t used = 0;
      if (header_len_ == 0) {
        r = decode_frame_header(in.subspan(pos), frame_rules, frame_);
        if (r.status == Status::need_more) {
          // Keep the partial header so the caller's buffer can be recycled.
          header_len_ = static_cast<std::uint8_t>(size - pos);
          std::memcpy(header_buf_, in.data() + pos, header_len_);
          return ev;
        }
        used = r.consumed;
      } else {
        // Top up the held prefix; 14 bytes always hold a whole header, so need_more
        // here means every input byte went into header_buf_.
        const std::size_t take = std::min(size - pos, kMaxHeaderLen - header_len_);
        std::memcpy(header_buf_ + header_len_, in.data() + pos, take);
        r = decode_frame_header(std::span<const std::uint8_t>(header_buf_, header_len_ + take), frame_rules, frame_);
        if (r.status == Status::need_more) {
          header_len_ = static_cast<std::uint8_t>(header_len_ + take);
          return ev;
        }
        used = r.consumed - header_len_;
        header_len_ = 0;
      }
      if (r.status == Status::error) return fail(r.code, r.reason, size);
      pos += used;
      Event now;
      if (open_frame(in, pos, now)) return now;
      continue;
    }

    const std::size_t avail = size - pos;
    if (is_control(frame_.opcode)) {
      if (control_len_ == 0 && avail >= frame_left_) {
        // Whole control payload in the caller's buffer: unmask and deliver in place.
        const auto n = static_cast<std::size_t>(frame_left_);
        std::uint8_t* p = in.data() + pos;
        if (frame_.masked) (void)unmask(p, n, frame_.mask);
        frame_left_ = 0;
        return control_event(p, n, pos + n, size);
      }
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(frame_left_, avail));
      if (take != 0) std::memcpy(control_buf_ + control_len_, in.data() + pos, take);  // in may be empty (null)
      control_len_ = static_cast<std::uint8_t>(control_len_ + take);
      frame_left_ -= take;
      pos += take;
      if (frame_left_ != 0) return ev;  // need_more: all input is held in control_buf_
      const std::size_t n = control_len_;
      control_len_ = 0;
      if (frame_.masked) (void)unmask(control_buf_, n, frame_.mask);
      return control_event(control_buf_, n, pos, size);
    }

    // Data payload: unmask and validate this call's share in place.
    if (avail == 0) return ev;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_left_, avail));
    std::uint8_t* p = in.data() + pos;
    if (frame_.masked) mask_phase_ = unmask(p, n, frame_.mask, mask_phase_);
    frame_left_ -= n;
    pos += n;
    const bool last = frame_left_ == 0 && frame_.fin;
    if (checks_utf8()) {
      // A whole message in one chunk needs no streaming state: use the one-shot check.
      const bool valid = (message_first_pending_ && last) ? is_valid_utf8(p, n)
                                                          : utf8_.feed(p, n) && (!last || utf8_.finish());
      if (!valid) return fail(CloseCode::invalid_payload, "text is not UTF-8", size);
    }
    if (frame_left_ == 0) state_ = State::header;

    Event data;
    data.kind = EventKind::data;
    data.consumed = pos;
    data.message_opcode = message_opcode_;
    data.message_rsv = message_rsv_;
    data.first = message_first_pending_;
    data.last = last;
    data.payload = std::span<const std::uint8_t>(p, n);
    message_first_pending_ = false;
    if (last) message_open_ = false;
    return data;
  }
}

}  // namespace ringcast::protocol
