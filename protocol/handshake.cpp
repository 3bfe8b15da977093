// Request-head parsing and handshake validation. Line ends are strictly CRLF: a bare LF
// is answered 400 as soon as it is seen (RFC 9112 section 2.2 allows rejecting it, and
// one line-end rule leaves no room for request smuggling). Empty lines before the
// request line are not skipped (400). The target must be origin-form ("/path?query").
#include "protocol/handshake.hpp"

#include <cstring>

// The one-shot SHA1()/EVP_Digest paths of OpenSSL 3 fetch the algorithm and allocate a
// context on every call; the low-level API hashes on the stack.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "protocol/base64.hpp"
#include "protocol/http_chars.hpp"

namespace ringcast::protocol {
namespace {

using http::iequals;

[[gnu::cold]] RequestParse fail(RequestError error, const char* reason) noexcept {
  return RequestParse{Status::error, 0, status_of(error), reason, error};
}

struct HeadScan {
  Status status;
  std::size_t head_len;  // ok: bytes up to and including CRLFCRLF
};

// Looks for the end of the head among bytes [from, limit). Every LF must follow a CR;
// LFs before `from` were already checked by an earlier call.
[[nodiscard]] HeadScan find_head_end(const char* in, std::size_t from, std::size_t limit) noexcept {
  std::size_t i = from;
  while (i < limit) {
    const void* hit = std::memchr(in + i, '\n', limit - i);
    if (hit == nullptr) break;
    const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - in);
    if (lf == 0 || in[lf - 1] != '\r') return {Status::error, 0};
    if (lf >= 3 && in[lf - 2] == '\n') return {Status::ok, lf + 1};  // in[lf-3] is '\r' (checked)
    i = lf + 1;
  }
  return {Status::need_more, 0};
}

// Checks the part of the request line that has arrived so far, so bytes that cannot start
// an HTTP request (TLS, SSH, a WebSocket frame, NULs) get 400 at once rather than
// holding a connection until the handshake deadline. The line is short and bounded by
// max_header_bytes, so rescanning it per read costs little.
[[nodiscard]] bool request_line_prefix_ok(const char* in, std::size_t len) noexcept {
  std::size_t i = 0;
  while (i < len && http::is(in[i], http::kTchar)) ++i;
  if (i == len) return true;
  if (i == 0 || in[i] != ' ') return false;
  if (++i == len) return true;
  if (in[i] != '/') return false;
  while (i < len && http::is(in[i], http::kTargetChar)) ++i;
  if (i == len) return true;
  if (in[i] != ' ') return false;
  constexpr std::string_view kVersion = "HTTP/1.";
  for (std::size_t k = 0; k < kVersion.size() && ++i < len; ++k) {
    if (in[i] != kVersion[k]) return false;
  }
  return true;
}

// True when some byte of `w` is a control (< 0x20 or 0x7f). An exact existence test
// (the borrow trick only blurs *which* byte), so a clean word is skipped whole.
[[nodiscard]] constexpr bool has_control(std::uint64_t w) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
  const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
  const std::uint64_t del = w ^ (kOnes * 0x7f);
  return ((below_space | ((del - kOnes) & ~del & kHighs))) != 0;
}

// Skips field-value bytes; stops at the first other byte (the CR ending the line at the
// latest). Eight bytes a word while a whole word fits before `end`: values such as
// User-Agent are the bulk of a browser's head.
[[nodiscard]] const char* skip_field_chars(const char* p, const char* end) noexcept {
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (has_control(w)) break;
    p += 8;
  }
  while (http::is(*p, http::kFieldChar)) ++p;
  return p;
}

void reset(HttpRequest& r) noexcept {
  // The header array is not cleared: only [0, num_headers) is meaningful.
  r.kind = RequestKind::http;
  r.method = r.target = r.path = r.query = {};
  r.minor_version = 1;
  r.num_headers = 0;
  r.host = r.origin = r.upgrade = r.connection = {};
  r.key = r.version = r.protocols = r.extensions = {};
  r.content_length = 0;
  r.keep_alive = false;
}

// What the body framing headers said (kept apart from the public request).
struct Framing {
  std::string_view content_length, transfer_encoding;
  bool repeated_length = false;
};

// 1*DIGIT that fits 62 bits (larger is refused as a body anyway); false otherwise.
[[nodiscard]] bool parse_length(std::string_view v, std::uint64_t& out) noexcept {
  if (v.empty() || v.size() > 18) return false;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// Records the well-known headers; false on a duplicate that must be rejected.
[[nodiscard]] bool note_known_header(HttpRequest& r, Framing& f, const HttpHeader& h) noexcept {
  // Values always point into the buffer, so data() != nullptr means "seen", even when empty.
  auto first = [&](std::string_view& slot) {
    if (slot.data() == nullptr) slot = h.value;
  };
  switch (h.name.size()) {
    case 4:
      if (iequals(h.name, "host")) {
        if (r.host.data() != nullptr) return false;  // RFC 9112 section 3.2: exactly one Host
        first(r.host);
      }
      break;
    case 6:
      if (iequals(h.name, "origin")) first(r.origin);
      break;
    case 7:
      if (iequals(h.name, "upgrade")) first(r.upgrade);
      break;
    case 10:
      if (iequals(h.name, "connection")) first(r.connection);
      break;
    case 14:
      if (iequals(h.name, "content-length")) {
        f.repeated_length = f.repeated_length || f.content_length.data() != nullptr;
        first(f.content_length);
      }
      break;
    case 17:
      if (iequals(h.name, "sec-websocket-key")) {
        if (r.key.data() != nullptr) return false;  // RFC 6455 section 11.3.1: not repeated
        first(r.key);
      } else if (iequals(h.name, "transfer-encoding")) {
        first(f.transfer_encoding);
      }
      break;
    case 21:
      if (iequals(h.name, "sec-websocket-version")) first(r.version);
      break;
    case 22:
      if (iequals(h.name, "sec-websocket-protocol")) first(r.protocols);
      break;
    case 24:
      if (iequals(h.name, "sec-websocket-extensions")) first(r.extensions);
      break;
    default:
      break;
  }
  return true;
}

[[nodiscard]] bool is_websocket_key(std::string_view key) noexcept {
  if (key.size() != 24) return false;
  std::uint8_t raw[18];
  return base64_decode(key, raw) == 16;
}

// RFC 6455 section 4.2.1 checks, in the order that gives a client the most useful answer.
[[nodiscard]] RequestParse validate_upgrade(const HttpRequest& r, std::size_t head_len) noexcept {
  if (r.method != "GET") return fail(RequestError::method_not_allowed, "websocket upgrade must be GET");
  if (r.content_length != 0) return fail(RequestError::bad_request, "websocket upgrade with a body");
  if (r.minor_version < 1) return fail(RequestError::bad_request, "websocket upgrade needs HTTP/1.1");
  if (r.host.empty()) return fail(RequestError::bad_request, "websocket upgrade without Host");
  if (!has_token(r.connection, "upgrade")) return fail(RequestError::bad_request, "Connection lacks the upgrade token");
  if (r.version != "13") return fail(RequestError::upgrade_required, "Sec-WebSocket-Version is not 13");
  if (!is_websocket_key(r.key)) return fail(RequestError::bad_request, "Sec-WebSocket-Key is not 16 bytes of base64");
  return RequestParse{Status::ok, head_len, 0, ""};
}

// Parses a complete head [0, len) whose last four bytes are CRLFCRLF and whose every LF
// follows a CR. Each scanning loop stops at a CR at the latest, so no bounds checks.
[[nodiscard]] RequestParse parse_head(const char* in, std::size_t len, HttpRequest& r) noexcept {
  const char* p = in;
  const char* const end = in + len;

  const char* const method = p;
  while (http::is(*p, http::kTchar)) ++p;
  if (p == method || *p != ' ') return fail(RequestError::bad_request, "bad method");
  r.method = {method, static_cast<std::size_t>(p - method)};
  ++p;

  const char* const target = p;
  const char* query = nullptr;
  while (http::is(*p, http::kTargetChar)) {
    if (*p == '?' && query == nullptr) query = p;
    ++p;
  }
  if (p == target || *target != '/' || *p != ' ') return fail(RequestError::bad_request, "bad request target");
  r.target = {target, static_cast<std::size_t>(p - target)};
  if (query != nullptr) {
    r.path = {target, static_cast<std::size_t>(query - target)};
    r.query = {query + 1, static_cast<std::size_t>(p - query - 1)};
  } else {
    r.path = r.target;
  }
  ++p;

  constexpr std::string_view kHttp1 = "HTTP/1.";
  if (end - p < 10 || std::memcmp(p, kHttp1.data(), kHttp1.size()) != 0 || p[7] < '0' || p[7] > '9' ||
      p[8] != '\r' || p[9] != '\n') {
    return fail(RequestError::bad_request, "bad HTTP version");
  }
  r.minor_version = p[7] - '0';
  p += 10;

  Framing framing;
  while (p < end - 2) {
    if (*p == ' ' || *p == '\t') return fail(RequestError::bad_request, "obsolete line folding");
    const char* const name = p;
    while (http::is(*p, http::kTchar)) ++p;
    if (p == name || *p != ':') return fail(RequestError::bad_request, "bad header name");
    const std::string_view name_view{name, static_cast<std::size_t>(p - name)};
    ++p;
    const char* const value = p;
    p = skip_field_chars(p, end);
    if (*p != '\r' || p[1] != '\n') return fail(RequestError::bad_request, "bad byte in header value");
    if (r.num_headers == kMaxHeaders) return fail(RequestError::header_too_large, "too many headers");
    HttpHeader& h = r.headers[r.num_headers++];
    h.name = name_view;
    h.value = http::trim_ows({value, static_cast<std::size_t>(p - value)});
    if (!note_known_header(r, framing, h)) return fail(RequestError::bad_request, "duplicate Host or Sec-WebSocket-Key");
    p += 2;
  }

  if (r.minor_version >= 1 && r.host.data() == nullptr) return fail(RequestError::bad_request, "HTTP/1.1 request without Host");
  if (framing.transfer_encoding.data() != nullptr) {
    if (framing.content_length.data() != nullptr) return fail(RequestError::bad_request, "both Content-Length and Transfer-Encoding");
    return fail(RequestError::not_implemented, "Transfer-Encoding is not supported (send Content-Length)");
  }
  if (framing.repeated_length) return fail(RequestError::bad_request, "repeated Content-Length");
  if (framing.content_length.data() != nullptr && !parse_length(framing.content_length, r.content_length)) {
    return fail(RequestError::bad_request, "bad Content-Length");
  }
  r.keep_alive = r.minor_version >= 1 ? !has_token(r.connection, "close") : has_token(r.connection, "keep-alive");
  if (has_token(r.upgrade, "websocket")) {
    r.kind = RequestKind::websocket;
    return validate_upgrade(r, len);
  }
  return RequestParse{Status::ok, len, 0, ""};
}

}  // namespace

int status_of(RequestError e) noexcept {
  switch (e) {
    case RequestError::none: return 0;
    case RequestError::bad_request: return 400;
    case RequestError::method_not_allowed: return 405;
    case RequestError::upgrade_required: return 426;
    case RequestError::header_too_large: return 431;
    case RequestError::not_implemented: return 501;
  }
  return 400;
}

std::string_view HttpRequest::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < num_headers; ++i) {
    if (iequals(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

RequestParse parse_request(std::span<const char> in, std::size_t scanned, const HandshakeRules& rules,
                           HttpRequest& out) noexcept {
  reset(out);
  const std::size_t limit = in.size() < rules.max_header_bytes ? in.size() : rules.max_header_bytes;
  // Checked first on every path, so a split read reaches the same verdict as one read.
  if (!request_line_prefix_ok(in.data(), limit)) return fail(RequestError::bad_request, "not an HTTP request line");
  const HeadScan scan = find_head_end(in.data(), scanned < limit ? scanned : limit, limit);
  if (scan.status == Status::error) return fail(RequestError::bad_request, "line ends with a bare LF");
  if (scan.status == Status::need_more) {
    if (in.size() >= rules.max_header_bytes) return fail(RequestError::header_too_large, "request head too large");
    return RequestParse{};
  }
  RequestParse res = parse_head(in.data(), scan.head_len, out);
  if (res.status == Status::error) out.kind = RequestKind::http;
  return res;
}

AcceptKey compute_accept_key(std::string_view sec_websocket_key) noexcept {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, sec_websocket_key.data(), sec_websocket_key.size());
  SHA1_Update(&ctx, kGuid.data(), kGuid.size());
  std::uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1_Final(digest, &ctx);
  AcceptKey key{};
  static_assert(base64_encoded_size(SHA_DIGEST_LENGTH) == std::tuple_size_v<AcceptKey>);
  (void)base64_encode(digest, key);
  return key;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  bool found = false;
  for_each_token(list, [&](std::string_view item) { found = found || iequals(item, token); });
  return found;
}

}  // namespace ringcast::protocol
