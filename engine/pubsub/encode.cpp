#include "engine/pubsub/encode.hpp"

#include <cstring>

namespace ringcast::engine {

Frame* encode_frame(FramePool* pool, protocol::Opcode op, std::span<const std::uint8_t> payload,
                    std::string_view prefix, std::uint8_t rsv) noexcept {
  std::size_t n = prefix.size() + payload.size();
  std::size_t size = protocol::frame_header_len(n) + n;
  Frame* f = pool != nullptr ? pool->acquire(size) : make_heap_frame(size);
  if (f == nullptr) return nullptr;
  std::size_t h = protocol::encode_server_header(f->bytes(), op, n, true, rsv);
  if (!prefix.empty()) std::memcpy(f->bytes() + h, prefix.data(), prefix.size());
  if (!payload.empty()) std::memcpy(f->bytes() + h + prefix.size(), payload.data(), payload.size());
  f->len = static_cast<std::uint32_t>(h + n);
  return f;
}

}  // namespace ringcast::engine
