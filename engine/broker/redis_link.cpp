#include "engine/broker/redis_link.hpp"

#include <cassert>

#include "protocol/http_chars.hpp"

namespace ringcast::engine {

namespace resp = protocol::resp;

bool RedisLink::command(std::span<const std::string_view> args, std::uint64_t tag) {
  if (args.empty()) return false;
  // (UN)SUBSCRIBE answer once per channel: each confirmation goes to the command's tag.
  // Without channels the count is unknown (every channel it holds): refused.
  const bool subscribe = protocol::http::iequals(args[0], "subscribe");
  const bool unsubscribe = protocol::http::iequals(args[0], "unsubscribe");
  if ((subscribe || unsubscribe) && args.size() < 2) return false;
  const std::size_t n = resp::command_size(args);
  if (tags_.size() >= limits_.max_pending || out().size() + n > limits_.max_out) return false;
  if (out_head_ > out_.size() / 2) {  // the sent half goes before the buffer grows
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
  }
  const std::size_t at = out_.size();
  out_.resize(at + n);
  (void)resp::encode_command(args, std::span<char>(reinterpret_cast<char*>(out_.data() + at), n));
  tags_.push_back({tag, subscribe || unsubscribe ? static_cast<std::uint32_t>(args.size() - 1) : 1});
  subscribed_ = subscribed_ || subscribe;
  return true;
}

void RedisLink::sent(std::size_t n) noexcept {
  assert(n <= out().size());
  out_head_ += n < out().size() ? n : out().size();
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
  }
}

std::string RedisLink::feed(std::span<const std::uint8_t> bytes, Handler& handler) {
  assert(!feeding_ && "no feed() or reset() from inside a handler");
  feeding_ = true;
  // Parse straight from `bytes` while nothing is left over; keep only an incomplete tail.
  const bool buffered = !in_.empty();
  std::span<const std::uint8_t> in = bytes;
  if (buffered) {
    in_.insert(in_.end(), bytes.begin(), bytes.end());
    in = in_;
  }
  std::size_t done = 0;
  std::string error;
  // A reply known to need more bytes than have come is not parsed again until they have
  // (a big bulk string arriving in pieces is parsed once, not once per piece).
  while (done < in.size() && (done != 0 || !buffered || in.size() >= want_)) {
    const resp::Parse p = resp::parse_reply(in.subspan(done), reply_);
    if (p.status == resp::Status::need_more) {
      want_ = in.size() - done + p.need;  // what the kept tail must reach
      break;
    }
    if (p.status == resp::Status::error) {
      error = std::string("Redis sent bad RESP: ") + p.error;
      break;
    }
    done += p.consumed;
    want_ = 0;
    std::string_view push[3];
    if (subscribed_ && reply_.bulk_array(push) && push[0] == "message") {
      handler.on_message(push[1], push[2]);
      continue;
    }
    if (tags_.empty()) {
      error = "Redis sent a reply to no command";
      break;
    }
    Pending& front = tags_.front();
    const std::uint64_t tag = front.tag;
    // An (UN)SUBSCRIBE that fails (an ACL, say) answers one error for all its channels.
    if (--front.replies == 0 || reply_.root().type == resp::Type::error) tags_.pop_front();
    handler.on_reply(tag, reply_);
  }
  feeding_ = false;
  if (!error.empty()) return error;
  if (buffered) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(done));
    if (in_.empty() && in_.capacity() > (1u << 20)) std::vector<std::uint8_t>().swap(in_);  // after a big reply
  } else if (done < in.size()) {
    in_.assign(in.begin() + static_cast<std::ptrdiff_t>(done), in.end());
  }
  return "";
}

std::vector<std::uint64_t> RedisLink::reset() {
  assert(!feeding_ && "no feed() or reset() from inside a handler");
  std::vector<std::uint64_t> dropped;
  dropped.reserve(tags_.size());
  for (const Pending& p : tags_) dropped.push_back(p.tag);
  tags_.clear();
  out_.clear();
  out_head_ = 0;
  in_.clear();
  want_ = 0;
  subscribed_ = false;
  return dropped;
}

}  // namespace ringcast::engine
