// Response heads: the 101 upgrade, error answers and plain response heads. Every writer
// either writes the whole response or returns 0; nothing is allocated.
#include <charconv>

#include "protocol/handshake.hpp"

namespace ringcast::protocol {
namespace {

// Appends into a fixed span; any overflow poisons the writer so the caller returns 0.
class Writer {
 public:
  explicit Writer(std::span<char> out) noexcept : out_(out) {}

  Writer& put(std::string_view s) noexcept {
    if (ok_ && out_.size() - pos_ >= s.size()) {
      s.copy(out_.data() + pos_, s.size());
      pos_ += s.size();
    } else {
      ok_ = false;
    }
    return *this;
  }

  Writer& put(std::size_t n) noexcept {
    char digits[20];
    const auto r = std::to_chars(digits, digits + sizeof digits, n);
    return put(std::string_view{digits, static_cast<std::size_t>(r.ptr - digits)});
  }

  [[nodiscard]] std::size_t done() const noexcept { return ok_ ? pos_ : 0; }

 private:
  std::span<char> out_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// A header value given by the caller must not smuggle in a line end (response splitting).
[[nodiscard]] bool safe_value(std::string_view v) noexcept {
  for (const char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

[[nodiscard]] bool valid_status(int status) noexcept { return status >= 100 && status <= 999; }

void status_line(Writer& w, int status) noexcept {
  w.put("HTTP/1.1 ").put(static_cast<std::size_t>(status)).put(" ").put(status_text(status)).put("\r\n");
}

}  // namespace

std::string_view status_text(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::size_t write_upgrade_response(std::span<char> out, std::string_view sec_websocket_key,
                                   std::string_view protocol, std::string_view extensions) noexcept {
  if (!safe_value(protocol) || !safe_value(extensions)) return 0;
  const AcceptKey accept = compute_accept_key(sec_websocket_key);
  Writer w(out);
  w.put("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
      .put(std::string_view{accept.data(), accept.size()})
      .put("\r\n");
  if (!protocol.empty()) w.put("Sec-WebSocket-Protocol: ").put(protocol).put("\r\n");
  if (!extensions.empty()) w.put("Sec-WebSocket-Extensions: ").put(extensions).put("\r\n");
  w.put("\r\n");
  return w.done();
}

std::size_t write_error_response(std::span<char> out, int status, std::string_view body, bool keep_alive,
                                 bool head_only, std::string_view allow) noexcept {
  if (!valid_status(status) || !safe_value(allow)) return 0;
  // An empty body becomes the status text, so a human looking at the answer sees why.
  const std::string_view text = body.empty() ? status_text(status) : body;
  const bool default_body = body.empty();
  Writer w(out);
  status_line(w, status);
  w.put("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
      .put(text.size() + (default_body ? 1 : 0))
      .put("\r\n");
  if (status == 405) w.put("Allow: ").put(allow).put("\r\n");
  if (status == 426) {
    // RFC 9110 section 15.5.22: a 426 names the protocol to upgrade to.
    w.put("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nConnection: Upgrade, close\r\n");
  } else {
    w.put(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  }
  w.put("\r\n");
  if (!head_only) {
    w.put(text);
    if (default_body) w.put("\n");
  }
  return w.done();
}

std::size_t write_response_head(std::span<char> out, int status, std::string_view content_type,
                                std::size_t content_length, bool keep_alive) noexcept {
  if (!valid_status(status) || !safe_value(content_type)) return 0;
  Writer w(out);
  status_line(w, status);
  if (!content_type.empty()) w.put("Content-Type: ").put(content_type).put("\r\n");
  // RFC 9110 section 8.6: no Content-Length on 1xx and 204.
  if (status >= 200 && status != 204) w.put("Content-Length: ").put(content_length).put("\r\n");
  w.put(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
  return w.done();
}

}  // namespace ringcast::protocol
