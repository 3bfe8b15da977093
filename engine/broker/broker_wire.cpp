#include "engine/broker/broker_wire.hpp"

#include <charconv>

namespace ringcast::engine::broker {

void key_of(std::string& out, std::string_view prefix, Key k, std::string_view channel) {
  out.clear();
  out.reserve(prefix.size() + 3 + channel.size());
  out.append(prefix).append(1, '.').append(1, static_cast<char>(k)).append(1, '.').append(channel);
}

const std::string_view kPublishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-1', 'd', ARGV[5])
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
redis.call('PUBLISH', KEYS[3], offset .. ':' .. epoch .. ':' .. ARGV[5])
return {offset, epoch}
)lua";

bool parse_envelope(std::string_view payload, Envelope& out) noexcept {
  const std::size_t a = payload.find(':');
  if (a == std::string_view::npos || a == 0 || a > 20) return false;
  const std::size_t b = payload.find(':', a + 1);
  if (b == std::string_view::npos) return false;
  std::uint64_t offset = 0;
  const auto [end, ec] = std::from_chars(payload.data(), payload.data() + a, offset);
  if (ec != std::errc{} || end != payload.data() + a) return false;
  const std::string_view epoch = payload.substr(a + 1, b - a - 1);
  if ((offset == 0) != epoch.empty()) return false;  // history numbers and names its stream
  out = {offset, epoch, payload.substr(b + 1)};
  return true;
}

void write_envelope(std::string& out, std::uint64_t offset, std::string_view epoch, std::string_view record) {
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, offset);
  (void)ec;
  out.clear();
  out.append(digits, end).append(1, ':').append(epoch).append(1, ':').append(record);
}

}  // namespace ringcast::engine::broker
