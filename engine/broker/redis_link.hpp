// One Redis connection's conversation, without its socket: commands go out as RESP bytes
// (out(), then sent(n)), and what comes back (feed()) is matched to them in order, since
// Redis answers in order. A connection that subscribed also gets pub/sub messages, told
// apart from replies: ["message", channel, payload] goes to on_message; (UN)SUBSCRIBE
// answers once per channel it names, each confirmation to its tag (or once, with an error). The owner (the broker,
// on its shard's ring) moves the bytes and decides when to reconnect: after reset() the
// link starts empty. Handlers must not call feed() or reset() (asserted).
// Bounded: at most `max_pending` commands unanswered and `max_out` bytes unsent
// (command() refuses past them, so a slow or gone Redis makes publishes fail fast), and a
// reply larger than the RESP limits drops the link.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/resp.hpp"

namespace ringcast::engine {

class RedisLink {
 public:
  class Handler {
   public:
    // A command's reply (an error reply too: Type::error), with the tag it was sent with.
    virtual void on_reply(std::uint64_t tag, const protocol::resp::Reply& reply) = 0;
    // A pub/sub message on a channel this connection subscribed to.
    virtual void on_message(std::string_view channel, std::string_view payload) = 0;

   protected:
    ~Handler() = default;
  };

  struct Limits {
    std::size_t max_pending = 65536;  // commands sent or queued, not answered yet
    std::size_t max_out = 8u << 20;   // bytes queued, not sent yet
  };

  explicit RedisLink(const Limits& limits) : limits_(limits) {}
  RedisLink() : RedisLink(Limits{}) {}

  // Queues a command; its reply comes to on_reply(tag), or is dropped by reset(). False
  // (nothing queued) past the limits, or for an (UN)SUBSCRIBE naming no channel.
  [[nodiscard]] bool command(std::span<const std::string_view> args, std::uint64_t tag);
  [[nodiscard]] std::size_t pending() const noexcept { return tags_.size(); }  // commands, not replies

  // The bytes to send next, and how many of them went out.
  [[nodiscard]] std::span<const std::uint8_t> out() const noexcept {
    return {out_.data() + out_head_, out_.size() - out_head_};
  }
  void sent(std::size_t n) noexcept;
  // Bytes the send buffer holds, sent ones not dropped yet included: under twice max_out.
  [[nodiscard]] std::size_t buffered() const noexcept { return out_.size(); }

  // What the connection received. Returns "" or why the link must be dropped (a protocol
  // error, a reply nobody asked for); handlers run before it returns.
  [[nodiscard]] std::string feed(std::span<const std::uint8_t> bytes, Handler& handler);

  // The connection is gone: unsent and unanswered commands are dropped (their tags are
  // returned, oldest first, for the owner to fail them), buffers emptied.
  std::vector<std::uint64_t> reset();

 private:
  Limits limits_;
  std::vector<std::uint8_t> out_;
  std::size_t out_head_ = 0;
  std::vector<std::uint8_t> in_;
  struct Pending {
    std::uint64_t tag;
    std::uint32_t replies;  // still owed: 1, or one per channel of an (UN)SUBSCRIBE
  };
  std::deque<Pending> tags_;
  protocol::resp::Reply reply_;
  std::size_t want_ = 0;     // the kept tail is parsed again once it has this many bytes
  bool subscribed_ = false;  // in subscribe mode: a ["message", ...] is a push, not a reply
  bool feeding_ = false;
};

}  // namespace ringcast::engine
