#include "bench/load/handshake_client.hpp"

#include <array>
#include <cstring>

#include "protocol/base64.hpp"
#include "protocol/http_chars.hpp"

namespace ringcast::load {

namespace http = protocol::http;

std::size_t write_upgrade_request(std::span<char> out, std::string_view host, std::string_view path,
                                  std::string_view key, std::string_view extensions) noexcept {
  const std::string_view parts[] = {"GET ", path, " HTTP/1.1\r\nHost: ", host,
                                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key,
                                    "\r\nSec-WebSocket-Version: 13\r\n",
                                    extensions.empty() ? "" : "Sec-WebSocket-Extensions: ", extensions,
                                    extensions.empty() ? "" : "\r\n", "\r\n"};
  std::size_t n = 0;
  for (std::string_view p : parts) {
    if (p.empty()) continue;  // no extensions: a null view, which memcpy must not see
    if (out.size() - n < p.size()) return 0;
    std::memcpy(out.data() + n, p.data(), p.size());
    n += p.size();
  }
  return n;
}

void make_key(std::uint64_t r0, std::uint64_t r1, char (&key)[24]) noexcept {
  std::array<std::uint8_t, 16> raw;
  std::memcpy(raw.data(), &r0, 8);
  std::memcpy(raw.data() + 8, &r1, 8);
  (void)protocol::base64_encode(raw, std::span<char>(key, 24));
}

ResponseCheck check_upgrade_response(std::string_view in, const protocol::AcceptKey& expect,
                                     bool offered_deflate) noexcept {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (in.size() > 8192) return {ResponseStatus::error, 0, "response head larger than 8 KiB"};
    return {};
  }
  std::string_view head = in.substr(0, end + 2);  // every line ends with CRLF
  std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols": the code follows "HTTP/1.x "; the phrase is optional.
  const bool is_101 = status_line.starts_with("HTTP/1.") && status_line.size() >= 12 &&
                      status_line.substr(8, 4) == " 101" && (status_line.size() == 12 || status_line[12] == ' ');
  if (!is_101) return {ResponseStatus::error, 0, "server did not answer 101 Switching Protocols"};
  bool upgrade = false, connection = false, accept = false, deflate = false;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {ResponseStatus::error, 0, "malformed response header"};
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = http::trim_ows(line.substr(colon + 1));
    if (http::iequals(name, "upgrade")) upgrade = http::iequals(value, "websocket");
    else if (http::iequals(name, "connection")) connection = protocol::has_token(value, "upgrade");
    else if (http::iequals(name, "sec-websocket-accept")) {
      accept = value == std::string_view(expect.data(), expect.size());
      if (!accept) return {ResponseStatus::error, 0, "wrong Sec-WebSocket-Accept"};
    } else if (http::iequals(name, "sec-websocket-extensions")) {
      // One accepted extension; the answer's syntax is an offer's (RFC 7692 section 7.1).
      if (!offered_deflate) return {ResponseStatus::error, 0, "server accepted an extension that was not offered"};
      protocol::DeflateOffer answer[2];
      if (deflate || protocol::parse_deflate_offers(value, answer) != 1 || value.find(',') != std::string_view::npos) {
        return {ResponseStatus::error, 0, "server answered permessage-deflate with a malformed or repeated extension"};
      }
      if (!answer[0].server_no_context_takeover) {
        return {ResponseStatus::error, 0, "server kept its deflate context (no server_no_context_takeover)"};
      }
      deflate = true;
    }
  }
  if (!upgrade) return {ResponseStatus::error, 0, "response lacks Upgrade: websocket"};
  if (!connection) return {ResponseStatus::error, 0, "response lacks Connection: upgrade"};
  if (!accept) return {ResponseStatus::error, 0, "response lacks Sec-WebSocket-Accept"};
  return {ResponseStatus::ok, end + 4, "", deflate};
}

}  // namespace ringcast::load
