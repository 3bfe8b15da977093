// HTTP/1.1 request heads and the WebSocket opening handshake (RFC 6455 section 4.2),
// in the style of picohttpparser: the caller owns the bytes and the header array, all
// outputs are views into the caller's buffer, nothing is allocated.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/result.hpp"

namespace ringcast::protocol {

inline constexpr std::size_t kMaxHeaders = 64;

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
};

enum class RequestKind : std::uint8_t {
  websocket,  // a valid WebSocket upgrade
  http,       // a plain HTTP request (no Upgrade): pages, /healthz, /metrics, the router's 404/405
};

struct HttpRequest {
  RequestKind kind = RequestKind::http;
  std::string_view method, target, path, query;  // target = path[?query]
  int minor_version = 1;                         // HTTP/1.<minor>
  std::array<HttpHeader, kMaxHeaders> headers{};
  std::size_t num_headers = 0;

  // Filled for every request (empty when absent):
  std::string_view host, origin, upgrade, connection;
  std::string_view key, version, protocols, extensions;  // Sec-WebSocket-*
  // The body that follows the head: Content-Length bytes (0 when absent).
  std::uint64_t content_length = 0;
  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = false;

  // Case-insensitive lookup of the first header called `name`.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

struct HandshakeRules {
  std::size_t max_header_bytes = 8192;  // request line + headers; more: 431
};

// Why a request was refused, each with its answer's status.
enum class RequestError : std::uint8_t {
  none,
  bad_request,         // 400
  method_not_allowed,  // 405: an upgrade that is not GET
  upgrade_required,    // 426: Sec-WebSocket-Version is not 13
  header_too_large,    // 431
  not_implemented,     // 501: Transfer-Encoding (bodies are framed by Content-Length only)
};
[[nodiscard]] int status_of(RequestError e) noexcept;

struct RequestParse {
  Status status = Status::need_more;
  std::size_t consumed = 0;            // ok: length of the head including the final CRLFCRLF
  int http_status = 0;                 // error: status_of(error)
  const char* reason = "";             // error: a short static explanation for logs
  RequestError error = RequestError::none;
};

// Parses the request head at the start of `in`. `scanned` is how many bytes of `in` an
// earlier need_more call already looked at (the size of `in` at that call; 0 at first),
// so retries after partial input cost O(new). Outputs are reset on entry; the views
// point into `in`, and only headers[0, num_headers) are meaningful.
// Grammar: lines end with CRLF only (a bare LF or CR is 400, the LF as soon as it
// arrives); no empty lines before the request line; origin-form target; HTTP/1.x; token
// header names directly followed by ':'; obs-fold 400; controls other than HTAB 400;
// HTTP/1.1 needs exactly one Host (400); more than kMaxHeaders or a head longer than
// rules.max_header_bytes is 431, the latter as soon as that many bytes lack CRLFCRLF.
// A request whose Upgrade lists `websocket` is validated as a handshake (405 unless GET,
// then 400 unless HTTP/1.1+, non-empty Host, Connection listing `upgrade`; 426 unless
// Sec-WebSocket-Version is 13; 400 unless the key is canonical base64 of 16 bytes); any
// other request, including an Upgrade to something else, is kind http. Bodies: one
// Content-Length of digits only (a repeated one, or one with Transfer-Encoding, is 400:
// the framing would be ambiguous, RFC 9112 section 6.3); Transfer-Encoding alone is 501;
// an upgrade with a body is 400. The caller reads content_length bytes after the head.
[[nodiscard]] RequestParse parse_request(std::span<const char> in, std::size_t scanned,
                                         const HandshakeRules& rules, HttpRequest& out) noexcept;

using AcceptKey = std::array<char, 28>;
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
[[nodiscard]] AcceptKey compute_accept_key(std::string_view sec_websocket_key) noexcept;

// "HTTP/1.1 101 Switching Protocols" with the accept key and, when non-empty, the chosen
// subprotocol and extensions. Returns bytes written, 0 when `out` is too small or a value
// holds CR, LF or NUL (no response splitting).
std::size_t write_upgrade_response(std::span<char> out, std::string_view sec_websocket_key,
                                   std::string_view protocol = {}, std::string_view extensions = {}) noexcept;

// An error answer with `Connection: close` (or `keep-alive` when asked, for an error that
// leaves the request stream intact, e.g. 404 on a well-formed request) and a short text
// body: 400, 404, 405 (adds `Allow: <allow>`), 413, 426 (adds
// `Sec-WebSocket-Version: 13` and `Upgrade: websocket`, so its Connection is
// `Upgrade, close`), 431, 501, 503. The body is text/plain; an empty `body` becomes
// status_text(status) + "\n"; `head_only` (the answer to HEAD) leaves it out but keeps its
// Content-Length. Returns bytes written or 0 (too small, status outside 100..999).
std::size_t write_error_response(std::span<char> out, int status, std::string_view body = {},
                                 bool keep_alive = false, bool head_only = false,
                                 std::string_view allow = "GET, HEAD") noexcept;

// The head of a plain response; the caller sends `content_length` body bytes after it.
// Content-Type is omitted when empty, Content-Length on 1xx and 204. Returns bytes or 0.
std::size_t write_response_head(std::span<char> out, int status, std::string_view content_type,
                                std::size_t content_length, bool keep_alive = false) noexcept;

// The reason phrase of a status ("Not Found"), "Unknown" for codes not listed.
[[nodiscard]] std::string_view status_text(int status) noexcept;

// Comma-separated header tokens (RFC 9110 section 5.6.1), compared case-insensitively.
[[nodiscard]] bool has_token(std::string_view list, std::string_view token) noexcept;

// Calls f(token) for each element of a comma-separated list, whitespace trimmed, empties skipped.
template <typename F>
void for_each_token(std::string_view list, F&& f) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// One permessage-deflate offer (RFC 7692 section 7.1).
struct DeflateOffer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 15;   // 8..15
  bool server_max_window_bits_given = false;  // the offer named it: an acceptance repeats it
  std::uint8_t client_max_window_bits = 0;    // 0: not offered; 8..15 (15 when given without a value)
};

// Parses the permessage-deflate offers in a Sec-WebSocket-Extensions value, in order,
// into `out`; offers with unknown, duplicate or out-of-range parameters are skipped.
// Returns how many were stored.
std::size_t parse_deflate_offers(std::string_view extensions, std::span<DeflateOffer> out) noexcept;

// ringcast's answer to an accepted offer: no context takeover either way, so every
// compressed message stands alone and one codec per thread serves every connection; an
// offer that named server_max_window_bits gets it back (RFC 7692 section 7.1.2.1).
inline constexpr std::string_view kDeflateResponse =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
inline constexpr std::string_view kDeflateResponseWindow =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15";

// The answer to the request's Sec-WebSocket-Extensions (every such header, in order):
// one of the two above for the first valid offer that lets the server compress with a
// 15-bit window (one demanding a smaller server_max_window_bits is declined and the next
// considered, RFC 7692 section 7.1.2.1); empty when none does.
[[nodiscard]] std::string_view accept_deflate(const HttpRequest& req) noexcept;

}  // namespace ringcast::protocol
