// Where the broker is: `--broker redis://HOST[:PORT][/DB]`, several comma-separated for
// client-side sharding, and which of them carries a channel (a consistent hash of its
// name, so adding an address moves only the channels the new one takes).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::engine {

struct RedisAddress {
  std::string host;         // a name, an IPv4 address, or an IPv6 one (without brackets)
  std::uint16_t port = 6379;
  std::uint32_t db = 0;     // SELECTed after connecting when not 0
  std::string url;          // as written, for log lines
};

// Parses one address. Returns "" or one line saying what is wrong.
[[nodiscard]] std::string parse_redis_address(std::string_view url, RedisAddress& out);

// Parses a comma-separated list of addresses (at least one, each different); "" or one line.
[[nodiscard]] std::string parse_broker_list(std::string_view list, std::vector<RedisAddress>& out);

// The address (0..n-1, n >= 1) that carries `channel`: jump consistent hash (Lamping and
// Veach, 2014) of the name's 64-bit FNV-1a hash. Every node computes the same answer when
// every node lists the same addresses in the same order; an address added at the end
// takes only its share of the channels. (Duplicates are refused as written: "localhost"
// and "127.0.0.1" are two addresses to the parser.)
[[nodiscard]] std::uint32_t broker_shard(std::string_view channel, std::uint32_t n) noexcept;

}  // namespace ringcast::engine
