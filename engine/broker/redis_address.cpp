#include "engine/broker/redis_address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace ringcast::engine {

namespace {

bool parse_number(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty() || s.size() > 10) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && out <= max;
}

bool host_chars(std::string_view h) {
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_';
    if (!ok) return false;
  }
  return !h.empty();
}

// 'text' (built by append: GCC 12's -Wrestrict misfires on "literal" + std::string).
std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  return out.append(1, '\'').append(text).append(1, '\'');
}

}  // namespace

std::string parse_redis_address(std::string_view url, RedisAddress& out) {
  out = RedisAddress{};
  out.url = std::string(url);
  const std::string quoted = quote(url);
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return quoted + ": expected redis://HOST[:PORT][/DB]";
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('@') != std::string_view::npos) return quoted + ": user and password are not supported";
  std::string_view db;
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    std::uint64_t n = 0;
    if (!parse_number(db, 15, n)) return quoted + ": the database is a number 0..15";
    out.db = static_cast<std::uint32_t>(n);
  }
  std::string_view port;
  if (rest.starts_with('[')) {  // [IPv6]:PORT
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return quoted + ": an IPv6 host needs its closing ']'";
    out.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return quoted + ": expected ':PORT' after the IPv6 host";
    if (!rest.empty()) port = rest.substr(1);
    unsigned char addr[16];
    if (inet_pton(AF_INET6, out.host.c_str(), addr) != 1) return quoted + ": not an IPv6 address";
  } else {
    const std::size_t colon = rest.find(':');
    const std::string_view host = rest.substr(0, colon);
    if (!host_chars(host)) return quoted + ": missing or invalid host";
    out.host = std::string(host);
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (!port.empty() || rest.ends_with(':')) {
    std::uint64_t n = 0;
    if (!parse_number(port, 65535, n) || n == 0) return quoted + ": the port is a number 1..65535";
    out.port = static_cast<std::uint16_t>(n);
  }
  return "";
}

std::string parse_broker_list(std::string_view list, std::vector<RedisAddress>& out) {
  out.clear();
  while (true) {
    const std::size_t comma = list.find(',');
    RedisAddress a;
    if (std::string err = parse_redis_address(list.substr(0, comma), a); !err.empty()) return err;
    for (const RedisAddress& b : out) {
      if (b.host == a.host && b.port == a.port && b.db == a.db) return quote(a.url) + " is listed twice";
    }
    out.push_back(std::move(a));
    if (comma == std::string_view::npos) return "";
    list.remove_prefix(comma + 1);
  }
}

std::uint32_t broker_shard(std::string_view channel, std::uint32_t n) noexcept {
  std::uint64_t key = 14695981039346656037ull;  // FNV-1a
  for (char c : channel) {
    key ^= static_cast<unsigned char>(c);
    key *= 1099511628211ull;
  }
  // Jump consistent hash: follow the key's jumps while they stay below n.
  std::int64_t b = -1, j = 0;
  while (j < static_cast<std::int64_t>(n)) {
    b = j;
    key = key * 2862933555777941757ull + 1;
    j = static_cast<std::int64_t>(static_cast<double>(b + 1) *
                                  (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<std::uint32_t>(b < 0 ? 0 : b);
}

}  // namespace ringcast::engine
