// What the server API's disconnect and unsubscribe ask of every shard's client-protocol
// connections (HttpHost::command_all -> ClientProtocol::on_command), as bytes: the
// connections of `user` (only `client` if set; none in `keep`), with a close code and
// reason, or the channel to unsubscribe them from. `resubscribe` (the broker's feed):
// every subscriber of `channel`, whoever its user, gets the unsubscribe push with `code`
// and `reason` and subscribes again.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::engine {

struct UserCommand {
  enum class Kind : std::uint8_t { disconnect, unsubscribe, resubscribe };
  Kind kind = Kind::disconnect;
  std::uint16_t code = 0;
  std::string_view user, client, channel, reason;
  std::vector<std::string_view> keep;  // disconnect's whitelist of client ids
};

// [kind][code, 2][count of fields, 4] then each field as [length, 4][bytes]: user, client,
// channel, reason, keep...
inline void encode(const UserCommand& c, std::string& out) {
  auto u32 = [&](std::size_t v) {
    auto n = static_cast<std::uint32_t>(v);
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
  };
  out.clear();
  out += static_cast<char>(c.kind);
  out.append(reinterpret_cast<const char*>(&c.code), sizeof c.code);
  u32(4 + c.keep.size());
  for (std::string_view f : {c.user, c.client, c.channel, c.reason}) {
    u32(f.size());
    out += f;
  }
  for (std::string_view f : c.keep) {
    u32(f.size());
    out += f;
  }
}

// False when `in` is not what encode() wrote. Views into `in`.
inline bool decode(std::span<const std::uint8_t> in, UserCommand& c) {
  const char* p = reinterpret_cast<const char*>(in.data());
  std::size_t left = in.size();
  auto take = [&](void* to, std::size_t n) {
    if (left < n) return false;
    std::memcpy(to, p, n);
    p += n;
    left -= n;
    return true;
  };
  std::uint8_t kind = 0;
  std::uint32_t fields = 0;
  if (!take(&kind, 1) || kind > 2 || !take(&c.code, 2) || !take(&fields, 4) || fields < 4 || fields - 4 > left / 4) {
    return false;
  }
  c.kind = static_cast<UserCommand::Kind>(kind);
  c.keep.clear();
  for (std::uint32_t i = 0; i < fields; ++i) {
    std::uint32_t n = 0;
    if (!take(&n, 4) || n > left) return false;
    std::string_view f(p, n);
    p += n;
    left -= n;
    if (i == 0) c.user = f;
    else if (i == 1) c.client = f;
    else if (i == 2) c.channel = f;
    else if (i == 3) c.reason = f;
    else c.keep.push_back(f);
  }
  return left == 0;
}

}  // namespace ringcast::engine
