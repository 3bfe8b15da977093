#include "engine/broker/broker_wire.hpp"

#include <openssl/evp.h>

#include <cassert>
#include <charconv>

#include "engine/pubsub/channel_topic.hpp"

namespace ringcast::engine::broker {

void key_of(std::string& out, std::string_view prefix, Key k, std::string_view channel) {
  out.clear();
  out.reserve(prefix.size() + 3 + channel.size());
  out.append(prefix).append(1, '.').append(1, static_cast<char>(k)).append(1, '.').append(channel);
}

void pubsub_key_of_topic(std::string& out, std::string_view prefix, std::string_view topic) {
  const bool channel = topic.starts_with(kChannelTopicPrefix);
  key_of(out, prefix, channel ? Key::pubsub : Key::room, broker_name(topic));
}

std::string_view broker_name(std::string_view topic) noexcept {
  return topic.starts_with(kChannelTopicPrefix) ? topic.substr(kChannelTopicPrefix.size()) : topic;
}

bool topic_of_pubsub_key(std::string& out, std::string_view prefix, std::string_view key) {
  if (key.size() < prefix.size() + 3 || !key.starts_with(prefix) || key[prefix.size()] != '.' ||
      key[prefix.size() + 2] != '.') {
    return false;
  }
  const std::string_view name = key.substr(prefix.size() + 3);
  const char k = key[prefix.size() + 1];
  if (k == static_cast<char>(Key::pubsub) && !name.empty()) {
    (void)channel_topic(out, name);
  } else if (k == static_cast<char>(Key::room) && !name.starts_with(kChannelTopicPrefix)) {
    out.assign(name);
  } else {
    return false;
  }
  return true;
}

void write_room_message(std::string& out, std::string_view node, bool binary, std::string_view prefix,
                        std::string_view bytes) {
  assert(node.find(':') == std::string_view::npos);
  out.assign(1, binary ? 'b' : 't').append(node).append(1, ':').append(prefix).append(bytes);
}

bool parse_room_message(std::string_view payload, RoomMessage& out) noexcept {
  if (payload.empty() || (payload[0] != 't' && payload[0] != 'b')) return false;
  const std::size_t colon = payload.find(':');
  if (colon == std::string_view::npos) return false;
  out = {payload.substr(1, colon - 1), payload[0] == 'b', payload.substr(colon + 1)};
  return true;
}

// Redis keeps a script's writes when a later call fails: every argument is checked before
// the first one. Offsets are formatted with %d (Lua would write 1e+14 from there on).
const std::string_view kPublishScript = R"lua(
local size, ttl, meta_ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not size or size < 1 or not ttl or ttl < 0 or not meta_ttl or meta_ttl < 0 or ARGV[1] == '' or
   string.find(ARGV[1], ':', 1, true) then
  return redis.error_reply('ERR ringcast publish: bad arguments')
end
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
local offset = string.format('%d', redis.call('HINCRBY', KEYS[1], 'o', 1))
redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-1', 'd', ARGV[5])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
if meta_ttl > 0 then redis.call('EXPIRE', KEYS[1], meta_ttl) end
redis.call('PUBLISH', KEYS[3], offset .. ':' .. epoch .. ':' .. (ARGV[6] == 'd' and 'd' or '') .. ARGV[5])
return {tonumber(offset), epoch}
)lua";

const std::string_view kLoadScript = R"lua(
local count, meta_ttl = tonumber(ARGV[1]), tonumber(ARGV[3])
if not count or count < 1 or not meta_ttl or meta_ttl < 0 or ARGV[2] == '' or not ARGV[4] or
   string.find(ARGV[2], ':', 1, true) then
  return redis.error_reply('ERR ringcast load: bad arguments')
end
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[2]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
if meta_ttl > 0 then redis.call('EXPIRE', KEYS[1], meta_ttl) end
local top = redis.call('HGET', KEYS[1], 'o')
local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', count)
if ARGV[4] ~= '' then redis.call('PUBLISH', KEYS[3], ARGV[4]) end
return {epoch, top, entries}
)lua";

const std::string_view kRemoveHistoryScript = R"lua(
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], 'clear')
return 1
)lua";

namespace {
// What every presence script but the add starts with. KEYS: presence, presence_expiry,
// presence_users (user -> its clients, so the stats are two HLENs, not a walk). Expired
// entries go before any read, from all three keys: a dead node's clients fade within the TTL.
constexpr std::string_view kPresenceLua = R"lua(
local function user_of(v)
  local colon = string.find(v, ':', 1, true)
  local n = colon and tonumber(string.sub(v, 1, colon - 1))
  return n and string.sub(v, colon + 1, colon + n) or v
end
local function drop(id)
  local v = redis.call('HGET', KEYS[1], id)
  if not v then return end
  redis.call('HDEL', KEYS[1], id)
  local user = user_of(v)
  if redis.call('HINCRBY', KEYS[3], user, -1) <= 0 then redis.call('HDEL', KEYS[3], user) end
end
local function expire(now)
  if not tonumber(now) then return false end
  local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, id in ipairs(gone) do drop(id) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
  return true
end
)lua";

std::string presence_script(std::string_view body) { return std::string(kPresenceLua).append(body); }

const std::string g_presence_add = presence_script(R"lua(
local ttl = tonumber(ARGV[1])
if not ttl or ttl < 1 or not tonumber(ARGV[2]) or not ARGV[4] then
  return redis.error_reply('ERR ringcast presence: bad arguments')
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) == 1 then redis.call('HINCRBY', KEYS[3], user_of(ARGV[4]), 1) end
for i = 1, 3 do  -- only lengthened: a node with a shorter TTL must not cut others' entries short
  if redis.call('PTTL', KEYS[i]) < ttl * 1000 then redis.call('PEXPIRE', KEYS[i], ttl * 1000) end
end
return 1
)lua");
const std::string g_presence_remove = presence_script(R"lua(
drop(ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
)lua");
const std::string g_presence = presence_script(R"lua(
if not expire(ARGV[1]) or not tonumber(ARGV[2]) then return redis.error_reply('ERR ringcast presence: bad arguments') end
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[2]) then
  return redis.error_reply('ERR ringcast presence: more than ' .. ARGV[2] .. ' clients: ask presence_stats')
end
return redis.call('HGETALL', KEYS[1])
)lua");
const std::string g_presence_stats = presence_script(R"lua(
if not expire(ARGV[1]) then return redis.error_reply('ERR ringcast presence: bad arguments') end
return {redis.call('HLEN', KEYS[1]), redis.call('HLEN', KEYS[3])}
)lua");
}  // namespace

const std::string_view kPresenceAddScript = g_presence_add;
const std::string_view kPresenceRemoveScript = g_presence_remove;
const std::string_view kPresenceScript = g_presence;
const std::string_view kPresenceStatsScript = g_presence_stats;

void write_presence_value(std::string& out, std::string_view user, std::string_view conn_info,
                          std::string_view chan_info) {
  out.assign(std::to_string(user.size())).append(1, ':').append(user);
  out.append(std::to_string(conn_info.size())).append(1, ':').append(conn_info).append(chan_info);
}

namespace {
// "<n>:" then n bytes, from the front of `in` (advanced past them).
bool take_counted(std::string_view& in, std::string_view& out) noexcept {
  const std::size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 10) return false;
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(in.data(), in.data() + colon, n);
  if (ec != std::errc{} || end != in.data() + colon || n > in.size() - colon - 1) return false;
  out = in.substr(colon + 1, n);
  in.remove_prefix(colon + 1 + n);
  return true;
}
}  // namespace

bool parse_presence_value(std::string_view value, PresenceValue& out) noexcept {
  PresenceValue v;
  if (!take_counted(value, v.user) || !take_counted(value, v.conn_info)) return false;
  v.chan_info = value;
  out = v;
  return true;
}

std::string_view script_text(Script s) noexcept {
  switch (s) {
    case Script::publish: return kPublishScript;
    case Script::load: return kLoadScript;
    case Script::remove_history: return kRemoveHistoryScript;
    case Script::presence_add: return kPresenceAddScript;
    case Script::presence_remove: return kPresenceRemoveScript;
    case Script::presence: return kPresenceScript;
    case Script::presence_stats: return kPresenceStatsScript;
  }
  return {};
}

std::string script_sha1(std::string_view script) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(script.data(), script.size(), digest, &n, EVP_sha1(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::uint64_t entry_offset(std::string_view id) noexcept {
  std::uint64_t offset = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), offset);
  if (ec != std::errc{} || std::string_view(end, static_cast<std::size_t>(id.data() + id.size() - end)) != "-1") return 0;
  return offset;
}

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
  std::string_view record = payload.substr(b + 1);
  const bool delta = record.starts_with('d');
  if (delta) record.remove_prefix(1);
  out = {offset, epoch, record, delta};
  return true;
}

void write_envelope(std::string& out, std::uint64_t offset, std::string_view epoch, std::string_view record,
                    bool delta) {
  assert(epoch.find(':') == std::string_view::npos && (offset == 0) == epoch.empty() && !record.starts_with('d'));
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, offset);
  (void)ec;
  out.clear();
  out.append(digits, end).append(1, ':').append(epoch).append(1, ':');
  if (delta) out += 'd';
  out.append(record);
}

void write_load_marker(std::string& out, std::string_view node, std::uint64_t tag) {
  assert(node.find(':') == std::string_view::npos);
  out.assign("load:").append(node).append(1, ':').append(std::to_string(tag));
}

bool parse_load_marker(std::string_view payload, std::string_view& node, std::uint64_t& tag) noexcept {
  constexpr std::string_view kHead = "load:";
  if (!payload.starts_with(kHead)) return false;
  const std::string_view rest = payload.substr(kHead.size());
  const std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  const auto [end, ec] = std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), tag);
  if (ec != std::errc{} || end != rest.data() + rest.size()) return false;
  node = rest.substr(0, colon);
  return true;
}

}  // namespace ringcast::engine::broker
