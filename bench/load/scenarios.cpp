// Worker: the scenarios' traffic. Publishing (fanout's closed-loop windows, rate/chat open-loop
// schedules, connect's burst) and what a received message means (delivery, echo, ack, sequence accounting).
#include <algorithm>
#include <cstring>

#include "bench/load/clock.hpp"
#include "bench/load/worker.hpp"
#include "protocol/frame.hpp"

namespace ringcast::load {

using protocol::Opcode;

void Worker::on_message(Conn& c) {
  Record r;
  std::span<const std::uint8_t> tail = c.tail.bytes();
  if (!opt_.channel.empty()) {
    if (channel_control(c)) return;
    std::uint64_t offset = 0;
    if (channel_names_.size() == 1 && parse_push_offset(tail, offset)) {  // a channel with history numbers every push
      ++res_.offsets;
      if (c.last_offset != 0 && offset > c.last_offset + 1) res_.offset_gaps += offset - c.last_offset - 1;
      if (offset <= c.last_offset) ++res_.offset_repeats;
      c.last_offset = std::max(c.last_offset, offset);
    }
    // A publication push: the record ends its data string, `|"` (info may follow).
    std::size_t end = tail.size();
    while (end >= 2 && !(tail[end - 2] == '|' && tail[end - 1] == '"')) --end;
    tail = tail.first(end >= 2 ? end - 1 : 0);
  }
  const bool parsed = parse_record(tail, r);
  switch (classify(parsed, r, plan_.publishers, Receiver{c.is_sub, c.is_pub, c.pub_id})) {
    case MessageKind::foreign: ++res_.other_messages; return;  // join notices, foreign traffic
    case MessageKind::own_echo:
      ++res_.own_echoes;
      if (c.self_ack) ack(c, r.seq, now_);
      return;
    case MessageKind::not_subscribed: return;
    case MessageKind::delivery: break;
  }
  ++res_.deliveries;
  last_delivery_ns_ = now_;
  res_.delivered_bytes += c.msg_len;
  const SequenceTable::Seen seen = res_.seqs.note(c.sub_slot, r.pub, r.seq);
  if (c.is_slow) {  // what it missed is the point of it: counted apart, and no latency
    ++res_.slow_deliveries;
    res_.slow_gaps += seen.gap;
  } else {
    res_.latency.record(now_ > r.t_ns ? now_ - r.t_ns : 0);
    res_.gaps += seen.gap;
  }
  res_.out_of_order += seen.out_of_order ? 1 : 0;
  if (&c == designated_) {
    if (Conn* p = pub_by_id_[r.pub]; p != nullptr && !p->self_ack) ack(*p, r.seq, now_);
  }
}

void Worker::start_publishing(std::uint64_t now) {
  switch (opt_.scenario) {
    case Scenario::fanout:
      publishing_ = true;
      for (Conn* p : pubs_) {
        p->last_ack_ns = now;
        fill_window(*p, now);
      }
      break;
    case Scenario::rate:
    case Scenario::chat: {
      publishing_ = true;
      // Spread the publishers' phases over one interval so they do not send in lockstep.
      const double interval = 1e9 / plan_.per_pub_rate;
      for (Conn* p : pubs_) {
        p->next_due_ns = now + static_cast<std::uint64_t>(interval * p->pub_id / std::max<std::uint32_t>(plan_.publishers, 1));
      }
      break;
    }
    case Scenario::connect:
      for (Conn* p : pubs_) {
        for (std::uint32_t i = 0; i < opt_.burst && p->state == ConnState::open; ++i) {
          if (!publish_one(*p, now_ns())) ++res_.send_skipped;
        }
      }
      break;
  }
}

bool Worker::publish_one(Conn& c, std::uint64_t now) {
  if (c.state != ConnState::open) return false;
  std::uint8_t* end = payload_.data() + payload_.size() - suffix_.size();
  const std::size_t rec = write_record_before(end, Record{c.pub_id, c.next_seq, now});
  std::size_t body = std::max<std::size_t>(opt_.size, rec);
  if (!channel_prefixes_.empty()) {  // the publish command around it, channels in turn
    const std::string& prefix = channel_prefixes_[(c.pub_id + c.next_seq) % channel_prefixes_.size()];
    std::memcpy(end - body - prefix.size(), prefix.data(), prefix.size());
    body += prefix.size();
  }
  end += suffix_.size();
  body += suffix_.size();
  const std::span<const std::uint8_t> bytes{end - body, body};
  if (c.api) {
    const std::size_t need = api_request_size(api_head_, body);
    std::uint8_t* dst = c.out.reserve(need);
    if (dst == nullptr) return false;
    c.out.commit(write_api_request({dst, need}, api_head_, bytes));
  } else {
    const std::size_t need = protocol::frame_header_len(body, true) + body;
    std::uint8_t* dst = c.out.reserve(need);
    if (dst == nullptr) return false;
    const auto m = static_cast<std::uint32_t>(random());
    protocol::MaskKey mask;
    std::memcpy(mask.data(), &m, 4);
    c.out.commit(protocol::encode_client_frame({dst, need}, Opcode::text, bytes, mask));
  }
  ++c.next_seq;
  ++sent_;
  flush(c);
  return true;
}

void Worker::fill_window(Conn& p, std::uint64_t) {
  while (publishing_ && p.next_seq - 1 - p.acked < opt_.window) {
    if (!publish_one(p, now_ns())) break;
  }
}

void Worker::ack(Conn& p, std::uint32_t seq, std::uint64_t now) {
  if (seq > p.acked) {
    p.acked = seq;
    p.last_ack_ns = now;
  }
  if (publishing_ && opt_.scenario == Scenario::fanout) fill_window(p, now);
}

std::uint64_t Worker::send_due(std::uint64_t now) {
  const double interval = 1e9 / plan_.per_pub_rate;
  std::uint64_t next = now + kMaxWait;
  for (Conn* p : pubs_) {
    if (p->state != ConnState::open) continue;
    if (now > p->next_due_ns + 100 * kMs) {
      // Far behind (server not reading, or generator starved): skip, do not burst.
      res_.send_skipped += static_cast<std::uint64_t>(static_cast<double>(now - p->next_due_ns) / interval);
      p->next_due_ns = now;
    }
    while (p->next_due_ns <= now) {
      if (!publish_one(*p, now_ns())) ++res_.send_skipped;
      p->next_due_ns += static_cast<std::uint64_t>(interval);
    }
    next = std::min(next, p->next_due_ns);
  }
  return next;
}

void Worker::check_stalled_windows(std::uint64_t now) {
  for (Conn* p : pubs_) {
    if (p->state == ConnState::open && p->next_seq - 1 > p->acked && now - p->last_ack_ns > kStall) {
      ++res_.window_resets;  // an ack was lost (a dropped message): do not wedge the run
      p->acked = p->next_seq - 1;
      p->last_ack_ns = now;
      fill_window(*p, now);
    }
  }
}

void Worker::channel_opened(Conn& c) {
  // Anonymous connect, then a second command whose reply says the connection is ready: the
  // subscribe (subscribers), a ping (publishers only).
  std::string cmds = "{\"id\":1,\"connect\":{}}";
  if (c.is_sub) {
    for (std::size_t k = 0; k < channel_names_.size(); ++k) {
      cmds += "\n{\"id\":" + std::to_string(k + 2) + ",\"subscribe\":{\"channel\":\"" + channel_names_[k] + "\"}}";
    }
  } else {
    cmds += "\n{\"id\":2,\"ping\":{}}";
  }
  if (!queue_control(c, Opcode::text, {reinterpret_cast<const std::uint8_t*>(cmds.data()), cmds.size()})) {
    if (res_.first_error.empty()) res_.first_error = "no room for the connect command";
  }
}

bool Worker::channel_control(Conn& c) {
  const std::span<const std::uint8_t> tail = c.tail.bytes();
  const std::string_view text(reinterpret_cast<const char*>(tail.data()), tail.size());
  if (c.msg_len == 2 && text == "{}") {  // the server's ping: answer it
    (void)queue_control(c, Opcode::text, tail);
    return true;
  }
  if (c.channel_ready) return text.starts_with("{\"id\":") && c.msg_len == tail.size();  // a late reply
  // The replies to connect and the subscribes (or ping), in one message: the last line's
  // id is the last command's.
  if (text.find("\"error\"") != std::string_view::npos) {
    if (res_.first_error.empty()) res_.first_error = "the server refused connect or subscribe: " + std::string(text);
    ++res_.connect_failures;
  }
  const std::string last_id = "{\"id\":" + std::to_string(c.is_sub ? channel_names_.size() + 1 : 2) + ",";
  const std::size_t last = text.rfind(last_id);
  if (last != std::string_view::npos && (last == 0 || text[last - 1] == '\n')) {
    c.channel_ready = true;
    ++resolved_;
  }
  return true;
}

}  // namespace ringcast::load
