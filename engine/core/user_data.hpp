// The 64-bit io_uring user_data tag: operation, connection generation and slot.
// A completion for a slot whose generation moved on is stale and is ignored.
#pragma once
#include <cstdint>

namespace ringcast::engine {

enum class Op : std::uint8_t {
  accept = 1,    // multishot accept on the shard's listener
  accept_backoff,// timeout before re-arming accept after EMFILE/ENFILE
  recv,          // multishot recv into the provided buffer ring
  send,          // one sendmsg covering a connection's queued frames
  tick,          // the timer wheel's periodic timeout
  wake,          // eventfd read: outside publishers or stop()
  mailbox,       // MSG_RING from another shard: its mailbox has items
  cancel,        // async cancel (completion ignored)
  coalesce,      // timeout: broadcast frames held by --coalesce are due
  throttle,      // timeout: a max-frequency topic's held publication may be due
  broker,        // a Redis link's operation (engine/broker/redis_conn.hpp: slot and gen say which)
};

struct Tag {
  Op op;
  std::uint32_t gen;   // low 24 bits used
  std::uint32_t slot;
};

[[nodiscard]] constexpr std::uint64_t pack(Op op, std::uint32_t gen = 0, std::uint32_t slot = 0) noexcept {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) | (std::uint64_t{gen & 0xFFFFFFu} << 32) | slot;
}

[[nodiscard]] constexpr Tag unpack(std::uint64_t data) noexcept {
  return Tag{static_cast<Op>(data >> 56), static_cast<std::uint32_t>((data >> 32) & 0xFFFFFFu),
             static_cast<std::uint32_t>(data)};
}

}  // namespace ringcast::engine
