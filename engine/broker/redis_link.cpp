#include "engine/broker/redis_link.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

bool RedisLink::command(std::span<const std::string_view> args, std::uint64_t tag) {
  const std::size_t n = resp::command_size(args);
  if (tags_.size() >= limits_.max_pending || out().size() + n > limits_.max_out) return false;
  // Reclaim what was sent before growing.
  if (out_head_ != 0 && out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
  }
  const std::size_t at = out_.size();
  out_.resize(at + n);
  (void)resp::encode_command(args, std::span<char>(reinterpret_cast<char*>(out_.data() + at), n));
  tags_.push_back(tag);
  return true;
}

void RedisLink::sent(std::size_t n) noexcept {
  out_head_ += n;
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
  }
}

std::string RedisLink::feed(std::span<const std::uint8_t> bytes, Handler& handler) {
  // Parse straight from `bytes` while nothing is left over; keep only an incomplete tail.
  std::span<const std::uint8_t> in = bytes;
  if (!in_.empty()) {
    in_.insert(in_.end(), bytes.begin(), bytes.end());
    in = in_;
  }
  std::size_t done = 0;
  std::string error;
  while (done < in.size()) {
    const resp::Parse p = resp::parse_reply(in.subspan(done), reply_);
    if (p.status == resp::Status::need_more) break;
    if (p.status == resp::Status::error) {
      error = std::string("Redis sent bad RESP: ") + p.error;
      break;
    }
    done += p.consumed;
    std::string_view push[3];
    if (reply_.bulk_array(push) && push[0] == "message") {
      handler.on_message(push[1], push[2]);
      continue;
    }
    if (tags_.empty()) {
      error = "Redis sent a reply to no command";
      break;
    }
    const std::uint64_t tag = tags_.front();
    tags_.pop_front();
    handler.on_reply(tag, reply_);
  }
  if (!error.empty()) return error;
  if (in.data() == in_.data()) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(done));
    if (in_.empty() && in_.capacity() > (1u << 20)) std::vector<std::uint8_t>().swap(in_);  // after a big reply
  } else if (done < in.size()) {
    in_.assign(in.begin() + static_cast<std::ptrdiff_t>(done), in.end());
  }
  return "";
}

std::vector<std::uint64_t> RedisLink::reset() {
  std::vector<std::uint64_t> dropped(tags_.begin(), tags_.end());
  tags_.clear();
  out_.clear();
  out_head_ = 0;
  in_.clear();
  return dropped;
}

}  // namespace ringcast::engine
