// The one address a run may talk to: a ws:// or wss:// URL resolved once at start. Non-loopback
// addresses are refused unless the user says --allow-remote (a load generator aimed at
// the wrong host is a denial-of-service tool).
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::load {

struct Target {
  std::string url;          // as given
  std::string host_header;  // Host: value (host[:port])
  std::string host;         // the host alone (IPv6 without brackets): TLS SNI when a name
  bool tls = false;         // wss:// (--tls also turns TLS on for a ws:// URL)
  std::string path;         // request target, "/" at least
  std::uint16_t port = 80;  // 443 for wss://
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = 0;
  std::vector<sockaddr_storage> sources;  // --source: local addresses (port 0), round robin
};

// Parses ws[s]://host[:port][/path] (IPv6 as [::1]) and resolves it. Returns "" on success,
// else a one-line reason.
[[nodiscard]] std::string resolve_target(std::string_view url, bool allow_remote, Target& out);

// Parses numeric local addresses into out.sources (after resolve_target: they must be of
// the target's family, and loopback unless allow_remote). Returns "" or a one-line reason.
[[nodiscard]] std::string resolve_sources(const std::vector<std::string>& addrs, bool allow_remote, Target& out);

}  // namespace ringcast::load
