// Encoding a server frame once: header + payload into one Frame that every subscriber's
// send queue can point at.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/net/frame_pool.hpp"
#include "protocol/frame.hpp"

namespace ringcast::engine {

// One unfragmented frame whose payload is `prefix` then `payload`, in a frame from `pool`
// (nullptr: a heap frame, for threads outside the server). `rsv`: its RSV bits (RSV1: a
// permessage-deflate payload). Returns nullptr when memory ran out; otherwise len is set
// and holders is 0.
[[nodiscard]] Frame* encode_frame(FramePool* pool, protocol::Opcode op, std::span<const std::uint8_t> payload,
                                  std::string_view prefix = {}, std::uint8_t rsv = 0) noexcept;

[[nodiscard]] inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace ringcast::engine
