#include "bench/load/target.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace ringcast::load {
namespace {

bool is_loopback(const sockaddr_storage& a) noexcept {
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    // ::ffff:127.x.y.z is loopback too.
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

std::string resolve_target(std::string_view url, bool allow_remote, Target& out) {
  out = Target{};
  out.url = std::string(url);
  out.tls = url.starts_with("wss://");
  const std::string_view scheme = out.tls ? "wss://" : "ws://";
  if (!url.starts_with(scheme)) return "target must start with ws:// or wss:// (got '" + std::string(url) + "')";
  if (out.tls) out.port = 443;
  std::string_view rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path.find_first_of(" \r\n") != std::string::npos) return "bad characters in the URL path";

  std::string host;
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "unterminated [IPv6] address in the URL";
    host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "expected :port after ]";
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return "no host in the URL";
  if (!port_text.empty()) {
    unsigned long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return "bad port '" + std::string(port_text) + "'";
      port = port * 10 + static_cast<unsigned long>(c - '0');
      if (port > 65535) return "port out of range";
    }
    if (port == 0) return "port 0 is not a destination";
    out.port = static_cast<std::uint16_t>(port);
  }
  out.host_header = std::string(authority);
  out.host = host;

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(out.port).c_str(), &hints, &res);
  if (rc != 0) return "cannot resolve '" + host + "': " + gai_strerror(rc);
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.addr_len = res->ai_addrlen;
  out.family = res->ai_family;
  freeaddrinfo(res);
  if (!allow_remote && !is_loopback(out.addr)) {
    return "'" + host + "' is not a loopback address; pass --allow-remote to load a remote server";
  }
  return "";
}

std::string resolve_sources(const std::vector<std::string>& addrs, bool allow_remote, Target& out) {
  out.sources.clear();
  for (const std::string& a : addrs) {
    sockaddr_storage s{};
    std::string text = a;
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (inet_pton(AF_INET, text.c_str(), &reinterpret_cast<sockaddr_in*>(&s)->sin_addr) == 1) {
      s.ss_family = AF_INET;
    } else if (inet_pton(AF_INET6, text.c_str(), &reinterpret_cast<sockaddr_in6*>(&s)->sin6_addr) == 1) {
      s.ss_family = AF_INET6;
    } else {
      return "--source: '" + a + "' is not a numeric IPv4 or IPv6 address";
    }
    if (s.ss_family != out.family) return "--source: '" + a + "' is not of the target's address family";
    if (!allow_remote && !is_loopback(s)) return "--source: '" + a + "' is not a loopback address";
    out.sources.push_back(s);
  }
  return "";
}

}  // namespace ringcast::load
