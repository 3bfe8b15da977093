// Worker: the scenarios' traffic. Publishing (fanout's closed-loop windows, rate/chat open-loop
// schedules, connect's burst) and what a received message means (delivery, echo, ack, sequence accounting).
#include <algorithm>
#include <cstring>

#include "bench/load/clock.hpp"
#include "bench/load/command_reply.hpp"
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
    if (channel_names_.size() == 1 && parse_push_offset(tail, offset)) note_offset(c, offset);  // history numbers every push
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
  deliver(c, r, c.msg_len, false);
}

void Worker::note_offset(Conn& c, std::uint64_t offset) {
  ++res_.offsets;
  if (c.last_offset != 0 && offset > c.last_offset + 1) res_.offset_gaps += offset - c.last_offset - 1;
  if (offset <= c.last_offset) ++res_.offset_repeats;
  c.last_offset = std::max(c.last_offset, offset);
}

void Worker::deliver(Conn& c, const Record& r, std::size_t bytes, bool recovered) {
  ++res_.deliveries;
  last_delivery_ns_ = now_;
  res_.delivered_bytes += bytes;
  const SequenceTable::Seen seen = res_.seqs.note(c.sub_slot, r.pub, r.seq);
  if (c.is_slow) {  // what it missed is the point of it: counted apart, and no latency
    ++res_.slow_deliveries;
    res_.slow_gaps += seen.gap;
  } else {
    // A recovered publication waited in history while the client was away: no latency.
    if (recovered) ++res_.recovered_publications;
    else res_.latency.record(now_ > r.t_ns ? now_ - r.t_ns : 0);
    res_.gaps += seen.gap;
  }
  res_.out_of_order += seen.out_of_order ? 1 : 0;
  if (&c == designated_ && !recovered) {
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
  // subscribe (subscribers), a ping (publishers only). A storm's second connection
  // subscribes with recover from where its first one stood.
  std::string cmds = "{\"id\":1,\"connect\":{}}";
  if (c.is_sub) {
    for (std::size_t k = 0; k < channel_names_.size(); ++k) {
      cmds += "\n{\"id\":" + std::to_string(k + 2) + ",\"subscribe\":{\"channel\":\"" + channel_names_[k] + "\"";
      if (c.recovering) {
        cmds += ",\"recover\":true,\"epoch\":\"" + c.epoch + "\",\"offset\":" + std::to_string(c.last_offset);
      }
      cmds += "}}";
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
    c.control.clear();
    return true;
  }
  if (c.channel_ready) return text.starts_with("{\"id\":") && c.msg_len == tail.size();  // a late reply
  const std::string reply = std::move(c.control);
  c.control = std::string{};  // its memory goes with the reply
  subscribed(c, reply);
  return true;
}

void Worker::subscribed(Conn& c, std::string_view reply) {
  // The replies to connect and the subscribes (or ping), in one message: the last line's
  // id is the last command's.
  if (reply.find("\"error\"") != std::string_view::npos) {
    if (res_.first_error.empty()) res_.first_error = "the server refused connect or subscribe: " + std::string(reply);
    if (!c.recovering) ++res_.connect_failures;  // a storm's refusal counts as storm_failed
  }
  const auto last = static_cast<std::uint32_t>(c.is_sub ? channel_names_.size() + 1 : 2);
  const bool one_channel = c.is_sub && channel_names_.size() == 1;
  CommandReply r;
  const bool ok = read_reply(reply, last, r, [&](std::string_view data, std::uint64_t offset) {
    // A recovered publication: its record ends the data; its offset continues the stream.
    Record rec;
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    if (parse_record(bytes, rec) && rec.pub < plan_.publishers) deliver(c, rec, data.size(), true);
    else ++res_.other_messages;
    if (one_channel && offset != 0) note_offset(c, offset);
  });
  if (!ok) {
    ++res_.protocol_errors;
    if (res_.first_error.empty()) res_.first_error = "unreadable reply (" + r.error + "): " + std::string(reply.substr(0, 200));
  }
  if (!r.found) return;  // not answered yet (or unreadable: the run ends without it)
  c.channel_ready = true;
  if (one_channel && !r.refused) {
    c.epoch = r.epoch;
    c.last_offset = std::max(c.last_offset, r.offset);  // what comes next is past the top it was told
  }
  if (!c.recovering) {
    ++resolved_;
    return;
  }
  if (r.refused) ++res_.storm_failed;
  else if (r.recovered) ++res_.storm_recovered;
  else ++res_.storm_unrecovered;
  storm_settled(c, true);
}

}  // namespace ringcast::load
