// Tests of protocol/handshake: the request parser against real client requests and every
// rejection, incremental and byte-at-a-time input, overreads at a guard page, the RFC
// accept key, the response writers, token lists and permessage-deflate offers.
#include "protocol/handshake.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "protocol/base64.hpp"
#include "tests/protocol/sample_requests.hpp"

namespace rp = ringcast::protocol;
using rp::RequestKind;
using rp::Status;

namespace {

// Typical header sets of real clients, written out by hand (header order as they send it).
constexpr std::string_view kChromium = ringcast::samples::kChromium;

constexpr std::string_view kFirefox =
    "GET /chat?room=lobby&x=1 HTTP/1.1\r\n"
    "Host: localhost:9000\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:9000\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

constexpr std::string_view kPythonWebsockets =
    "GET /feed HTTP/1.1\r\n"
    "Host: 127.0.0.1:9000\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "User-Agent: Python/3.11 websockets/10.4\r\n"
    "\r\n";

constexpr std::string_view kNodeWs =
    "GET / HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: E4WSEcseoWr4csPLS2QJHA==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: [::1]:9000\r\n"
    "\r\n";

constexpr std::string_view kPlainGet =
    "GET /index.html?lang=en HTTP/1.1\r\n"
    "Host: 127.0.0.1:9000\r\n"
    "Accept: text/html\r\n"
    "Empty:\r\n"
    "\r\n";

const std::string_view kRealUpgrades[] = {kChromium, kFirefox, kPythonWebsockets, kNodeWs};

rp::RequestParse parse(std::string_view in, rp::HttpRequest& req, std::size_t scanned = 0,
                       rp::HandshakeRules rules = {}) {
  return rp::parse_request(std::span<const char>(in.data(), in.size()), scanned, rules, req);
}

// A minimal valid upgrade around which single faults are placed.
std::string upgrade(std::string_view request_line = "GET /ws HTTP/1.1", std::string_view extra = "",
                    std::string_view version = "13", std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==") {
  std::string s{request_line};
  s += "\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (!key.empty()) s.append("Sec-WebSocket-Key: ").append(key).append("\r\n");
  if (!version.empty()) s.append("Sec-WebSocket-Version: ").append(version).append("\r\n");
  s += extra;
  s += "\r\n";
  return s;
}

// Everything a parse produced, for comparing two parses of the same buffer.
void expect_same(const rp::RequestParse& a, const rp::HttpRequest& ra, const rp::RequestParse& b,
                 const rp::HttpRequest& rb) {
  ASSERT_EQ(a.status, b.status);
  EXPECT_EQ(a.consumed, b.consumed);
  EXPECT_EQ(a.http_status, b.http_status);
  EXPECT_STREQ(a.reason, b.reason);
  if (a.status != Status::ok) return;
  EXPECT_EQ(ra.kind, rb.kind);
  EXPECT_EQ(ra.method.data(), rb.method.data());
  EXPECT_EQ(ra.target, rb.target);
  EXPECT_EQ(ra.path, rb.path);
  EXPECT_EQ(ra.query, rb.query);
  EXPECT_EQ(ra.minor_version, rb.minor_version);
  ASSERT_EQ(ra.num_headers, rb.num_headers);
  for (std::size_t i = 0; i < ra.num_headers; ++i) {
    EXPECT_EQ(ra.headers[i].name.data(), rb.headers[i].name.data());
    EXPECT_EQ(ra.headers[i].value, rb.headers[i].value);
  }
  EXPECT_EQ(ra.key.data(), rb.key.data());
  EXPECT_EQ(ra.host, rb.host);
}

// Two pages, the second PROT_NONE: input placed flush against it faults on any overread.
class GuardPage {
 public:
  GuardPage() {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    base_ = static_cast<char*>(m);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) std::abort();
  }
  ~GuardPage() { munmap(base_, 2 * page_); }
  GuardPage(const GuardPage&) = delete;
  GuardPage& operator=(const GuardPage&) = delete;

  // Copies `s` so that its last byte is the last readable byte.
  std::span<const char> place(std::string_view s) {
    char* at = base_ + page_ - s.size();
    std::memcpy(at, s.data(), s.size());
    return {at, s.size()};
  }
  [[nodiscard]] std::size_t page() const { return page_; }

 private:
  char* base_ = nullptr;
  std::size_t page_ = 0;
};

}  // namespace

TEST(AcceptKey, Rfc6455Example) {
  const rp::AcceptKey k = rp::compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(std::string_view(k.data(), k.size()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(AcceptKey, Rfc6455Section4Example) {  // section 4.2.2 / 1.2 example pair
  const rp::AcceptKey k = rp::compute_accept_key("x3JJHMbDL1EzLkh9GBhXDw==");
  EXPECT_EQ(std::string_view(k.data(), k.size()), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(Base64, RoundTripsEveryLengthAndRejectsNonCanonical) {
  std::uint8_t bytes[40];
  for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + 11);
  for (std::size_t n = 0; n <= sizeof bytes; ++n) {
    char enc[64];
    const std::size_t len = rp::base64_encode({bytes, n}, enc);
    ASSERT_EQ(len, rp::base64_encoded_size(n));
    std::uint8_t dec[40];
    ASSERT_EQ(rp::base64_decode({enc, len}, dec), n);
    EXPECT_EQ(std::memcmp(dec, bytes, n), 0);
  }
  std::uint8_t out[32];
  EXPECT_EQ(rp::base64_decode("Zm9v", out), 3u);
  EXPECT_EQ(rp::base64_decode("Zg==", out), 1u);
  EXPECT_EQ(rp::base64_decode("Zh==", out), rp::kBase64Invalid);  // non-zero padding bits
  EXPECT_EQ(rp::base64_decode("Zm9=", out), rp::kBase64Invalid);
  EXPECT_EQ(rp::base64_decode("Zg=", out), rp::kBase64Invalid);
  EXPECT_EQ(rp::base64_decode("Z===", out), rp::kBase64Invalid);
  EXPECT_EQ(rp::base64_decode("Zg==Zg==", out), rp::kBase64Invalid);
  EXPECT_EQ(rp::base64_decode("Zm 9", out), rp::kBase64Invalid);
  EXPECT_EQ(rp::base64_decode("Zm-_", out), rp::kBase64Invalid);  // base64url alphabet
  char small[3];
  EXPECT_EQ(rp::base64_encode({bytes, 3}, small), 0u);
}

TEST(ParseRequest, RealClientUpgrades) {
  for (std::string_view req : kRealUpgrades) {
    rp::HttpRequest r;
    const rp::RequestParse p = parse(req, r);
    ASSERT_EQ(p.status, Status::ok) << req << p.reason;
    EXPECT_EQ(p.consumed, req.size());
    EXPECT_EQ(r.kind, RequestKind::websocket);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.minor_version, 1);
    EXPECT_EQ(r.version, "13");
    EXPECT_EQ(r.key.size(), 24u);
    EXPECT_FALSE(r.host.empty());
    EXPECT_EQ(r.header("SEC-WEBSOCKET-KEY"), r.key);
  }
}

TEST(ParseRequest, FillsFieldsFromFirefox) {
  rp::HttpRequest r;
  ASSERT_EQ(parse(kFirefox, r).status, Status::ok);
  EXPECT_EQ(r.target, "/chat?room=lobby&x=1");
  EXPECT_EQ(r.path, "/chat");
  EXPECT_EQ(r.query, "room=lobby&x=1");
  EXPECT_EQ(r.host, "localhost:9000");
  EXPECT_EQ(r.origin, "http://localhost:9000");
  EXPECT_EQ(r.connection, "keep-alive, Upgrade");
  EXPECT_EQ(r.upgrade, "websocket");
  EXPECT_EQ(r.key, "x3JJHMbDL1EzLkh9GBhXDw==");
  EXPECT_EQ(r.extensions, "permessage-deflate");
  EXPECT_EQ(r.protocols, "");
  EXPECT_EQ(r.num_headers, 16u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_EQ(r.header("sec-fetch-mode"), "websocket");
  EXPECT_EQ(r.header("X-Absent"), "");
}

TEST(ParseRequest, PythonProtocolsAndNodeIpv6Host) {
  rp::HttpRequest r;
  ASSERT_EQ(parse(kPythonWebsockets, r).status, Status::ok);
  EXPECT_EQ(r.protocols, "chat, superchat");
  EXPECT_EQ(r.path, "/feed");
  EXPECT_EQ(r.query, "");
  ASSERT_EQ(parse(kNodeWs, r).status, Status::ok);
  EXPECT_EQ(r.host, "[::1]:9000");
  EXPECT_EQ(r.target, "/");
}

TEST(ParseRequest, PlainHttpIsKindHttp) {
  rp::HttpRequest r;
  const rp::RequestParse p = parse(kPlainGet, r);
  ASSERT_EQ(p.status, Status::ok);
  EXPECT_EQ(r.kind, RequestKind::http);
  EXPECT_EQ(r.path, "/index.html");
  EXPECT_EQ(r.query, "lang=en");
  EXPECT_EQ(r.header("empty"), "");
  EXPECT_NE(r.header("empty").data(), nullptr);

  // Other methods and HTTP/1.0 without Host are fine as plain requests.
  EXPECT_EQ(parse("POST /publish/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.minor_version, 0);
  // An Upgrade to something else is not a WebSocket handshake.
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.kind, RequestKind::http);
}

TEST(ParseRequest, BodyFramingAndKeepAlive) {
  rp::HttpRequest r;
  ASSERT_EQ(parse("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 1234\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.content_length, 1234u);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.content_length, 0u);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r).status, Status::ok);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", r).status, Status::ok);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 007\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.content_length, 7u);

  struct Bad {
    const char* request;
    int status;
  };
  const Bad cases[] = {
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
  };
  for (const Bad& b : cases) {
    const rp::RequestParse p = parse(b.request, r);
    EXPECT_EQ(p.status, Status::error) << b.request;
    EXPECT_EQ(p.http_status, b.status) << b.request << ": " << p.reason;
  }
  // A WebSocket upgrade carries no body.
  std::string up(kChromium);
  up.insert(up.size() - 2, "Content-Length: 5\r\n");
  const rp::RequestParse p = parse(up, r);
  EXPECT_EQ(p.status, Status::error);
  EXPECT_EQ(p.http_status, 400);
}

TEST(ParseRequest, ConsumedStopsAtHeadAndIgnoresFollowingBytes) {
  const std::string in = std::string(kNodeWs) + "\x81\x85garbage after the head";
  rp::HttpRequest r;
  const rp::RequestParse p = parse(in, r);
  ASSERT_EQ(p.status, Status::ok);
  EXPECT_EQ(p.consumed, kNodeWs.size());
}

TEST(ParseRequest, ValuesAreTrimmedOfOws) {
  rp::HttpRequest r;
  const std::string req = upgrade("GET / HTTP/1.1", "X-Pad: \t  a b \t \r\nX-Tab:\tv\r\n");
  ASSERT_EQ(parse(req, r).status, Status::ok);
  EXPECT_EQ(r.header("x-pad"), "a b");
  EXPECT_EQ(r.header("x-tab"), "v");
}

TEST(ParseRequest, UpgradeTokenListsWithOddCaseAndWhitespace) {
  rp::HttpRequest r;
  std::string s = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: \t, WebSocket ,\r\nConnection: keep-alive ,\tUPGRADE\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  ASSERT_EQ(parse(s, r).status, Status::ok) << parse(s, r).reason;
  EXPECT_EQ(r.kind, RequestKind::websocket);
}

struct Rejection {
  std::string request;
  int status;
};

TEST(ParseRequest, EveryRejectionHasItsStatus) {
  const std::string kKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string kCommon = "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + kKey;
  const std::vector<Rejection> cases = {
      // Request line.
      {upgrade("GET  /ws HTTP/1.1"), 400},
      {upgrade("GET /ws  HTTP/1.1"), 400},
      {upgrade(" GET /ws HTTP/1.1"), 400},
      {upgrade("G\x01T /ws HTTP/1.1"), 400},
      {upgrade("GET /w\x7fs HTTP/1.1"), 400},
      {upgrade("GET /w\ts HTTP/1.1"), 400},
      {upgrade("GET /ws#frag HTTP/1.1"), 400},
      {upgrade("GET ws HTTP/1.1"), 400},
      {upgrade("GET http://h/ws HTTP/1.1"), 400},
      {upgrade("GET /ws HTTP/2.0"), 400},
      {upgrade("GET /ws HTTP/1.x"), 400},
      {upgrade("GET /ws http/1.1"), 400},
      {upgrade("GET /ws HTTP/1.1 "), 400},
      {upgrade("GET /ws"), 400},
      {upgrade("GET"), 400},
      {std::string("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", 29), 400},
      {"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      // Line ends: bare LF, bare CR.
      {"GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\n\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
      {"GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n", 400},
      // Header syntax.
      {upgrade("GET / HTTP/1.1", "Bad Name: v\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "X-Colon : v\r\n"), 400},
      {upgrade("GET / HTTP/1.1", ": v\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "NoColon\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "X-Fold: a\r\n  b\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "X-Fold: a\r\n\tb\r\n"), 400},
      {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
      {upgrade("GET / HTTP/1.1", std::string("X-Nul: a\0b\r\n", 12)), 400},
      {upgrade("GET / HTTP/1.1", "X-Ctl: a\x1b b\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "X-Del: a\x7f\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "X\x80: a\r\n"), 400},
      // Host rules.
      {"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
      // Upgrade validation.
      {upgrade("POST /ws HTTP/1.1"), 405},
      {upgrade("get /ws HTTP/1.1"), 405},
      {upgrade("GET /ws HTTP/1.0"), 400},
      {"GET / HTTP/1.1\r\nHost:\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + kKey +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" + kKey +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" + kKey + "Sec-WebSocket-Version: 13\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgradex\r\n" + kKey +
           "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {upgrade("GET / HTTP/1.1", "", "13", ""), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25jZQ="), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25jZQ"), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25jZR=="), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25j"), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25jZQ==dGhl"), 400},
      {upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbX!sZSBub25jZQ=="), 400},
      {upgrade("GET / HTTP/1.1", "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"), 400},
      {upgrade("GET / HTTP/1.1", "", ""), 426},
      {upgrade("GET / HTTP/1.1", "", "8"), 426},
      {upgrade("GET / HTTP/1.1", "", "13, 8"), 426},
      {upgrade("GET / HTTP/1.1", "", "013"), 426},
  };
  for (const Rejection& c : cases) {
    rp::HttpRequest r;
    const rp::RequestParse p = parse(c.request, r);
    EXPECT_EQ(p.status, Status::error) << c.request;
    EXPECT_EQ(p.http_status, c.status) << c.request;
    EXPECT_NE(p.error, rp::RequestError::none) << c.request;
    EXPECT_EQ(rp::status_of(p.error), p.http_status) << c.request;  // the class and its answer agree
    EXPECT_EQ(p.consumed, 0u);
    EXPECT_GT(std::strlen(p.reason), 0u);
    EXPECT_EQ(r.kind, RequestKind::http);
  }
}

TEST(ParseRequest, TooManyHeadersIs431) {
  std::string extra;
  // upgrade() adds 5 headers.
  for (std::size_t i = 0; i + 5 < rp::kMaxHeaders; ++i) extra += "X-H" + std::to_string(i) + ": v\r\n";
  rp::HttpRequest r;
  ASSERT_EQ(parse(upgrade("GET / HTTP/1.1", extra), r).status, Status::ok);  // exactly kMaxHeaders
  EXPECT_EQ(r.num_headers, rp::kMaxHeaders);
  const rp::RequestParse p = parse(upgrade("GET / HTTP/1.1", extra + "X-One-More: v\r\n"), r);
  EXPECT_EQ(p.status, Status::error);
  EXPECT_EQ(p.http_status, 431);
}

TEST(ParseRequest, TooManyBytesIs431EvenBeforeTheHeadEnds) {
  rp::HandshakeRules rules;
  rules.max_header_bytes = 256;
  rp::HttpRequest r;
  // A slowloris: an endless stream of headers, never CRLFCRLF.
  std::string slow = "GET / HTTP/1.1\r\nHost: h\r\n";
  std::size_t scanned = 0;
  rp::RequestParse p;
  while ((p = parse(slow, r, scanned, rules)).status == Status::need_more) {
    scanned = slow.size();
    slow += "X-Drip: 1\r\n";
    ASSERT_LT(slow.size(), 2 * rules.max_header_bytes);
  }
  EXPECT_EQ(p.http_status, 431);
  EXPECT_GE(slow.size(), rules.max_header_bytes);

  // The limit counts the whole head: exactly at it passes, one byte over fails.
  std::string exact = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  exact += std::string(rules.max_header_bytes - exact.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), rules.max_header_bytes);
  EXPECT_EQ(parse(exact, r, 0, rules).status, Status::ok);
  const std::string over = exact.substr(0, exact.size() - 4) + "a\r\n\r\n";
  p = parse(over, r, 0, rules);
  EXPECT_EQ(p.http_status, 431);
}

TEST(ParseRequest, GarbageIsRejectedBeforeTheHeadEnds) {
  // Bytes that cannot start a request line get 400 without waiting for CRLFCRLF.
  const std::string garbage[] = {
      std::string("\x16\x03\x01\x02\x00\x01\x00", 7),  // TLS ClientHello
      "SSH-2.0-OpenSSH_9.2\r\n",                           // no SP in the request line
      std::string(512, '\0'),
      std::string("\x88\x80\x00\x00\x00\x00", 6),      // a WebSocket close frame
      "GET noslash HTTP/1.1",
      "GET / FTP/1.0",
      "GET /  HTTP/1.1",
      "\r\nGET / HTTP/1.1",
  };
  for (const std::string& g : garbage) {
    rp::HttpRequest r;
    const rp::RequestParse p = parse(g, r);
    EXPECT_EQ(p.status, Status::error) << g;
    EXPECT_EQ(p.http_status, 400) << g;
  }
  // A valid request line arriving a byte at a time is never rejected early.
  const std::string line = "OPTIONS /a/b?c=d HTTP/1.1\r\n";
  for (std::size_t k = 0; k <= line.size(); ++k) {
    rp::HttpRequest r;
    EXPECT_EQ(parse(std::string_view(line).substr(0, k), r).status, Status::need_more) << k;
  }
}

TEST(ParseRequest, EveryPrefixNeedsMoreAndContinuationMatchesOneShot) {
  std::vector<std::string> requests(std::begin(kRealUpgrades), std::end(kRealUpgrades));
  requests.emplace_back(kPlainGet);
  requests.push_back(upgrade("GET / HTTP/1.1", "", "8"));             // ends in 426
  requests.push_back(upgrade("GET / HTTP/1.1", "Bad Name: v\r\n"));   // ends in 400
  for (const std::string& req : requests) {
    rp::HttpRequest one;
    const rp::RequestParse whole = parse(req, one);
    for (std::size_t k = 0; k < req.size(); ++k) {
      rp::HttpRequest part;
      const rp::RequestParse first = parse(std::string_view(req).substr(0, k), part);
      ASSERT_EQ(first.status, Status::need_more) << k;
      rp::HttpRequest cont;
      const rp::RequestParse second = parse(req, cont, k);
      expect_same(whole, one, second, cont);
    }
  }
}

TEST(ParseRequest, ByteAtATime) {
  for (std::string_view req : kRealUpgrades) {
    rp::HttpRequest r;
    rp::RequestParse p;
    std::size_t k = 0;
    for (; k < req.size(); ++k) {
      p = parse(req.substr(0, k + 1), r, k);
      if (p.status != Status::need_more) break;
    }
    EXPECT_EQ(k + 1, req.size());
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.consumed, req.size());
    EXPECT_EQ(r.kind, RequestKind::websocket);
  }
}

TEST(ParseRequest, NoOverreadAtAGuardPage) {
  GuardPage guard;
  std::vector<std::string> requests(std::begin(kRealUpgrades), std::end(kRealUpgrades));
  requests.emplace_back(kPlainGet);
  requests.push_back("GET / HTTP/1.1\r\nHost: h\r\nX: a\r");  // ends on a CR
  requests.push_back("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\r");
  requests.push_back(upgrade("GET / HTTP/1.1", "", "13", "dGhlIHNhbXBsZSBub25jZQ"));
  for (const std::string& req : requests) {
    ASSERT_LE(req.size(), guard.page());
    for (std::size_t k = 0; k <= req.size(); ++k) {
      const std::span<const char> in = guard.place(std::string_view(req).substr(0, k));
      rp::HttpRequest r;
      const rp::RequestParse p = rp::parse_request(in, 0, {}, r);
      if (k < req.size()) {
        EXPECT_EQ(p.status, Status::need_more) << k;
      }
      if (k > 0) {
        const rp::RequestParse c = rp::parse_request(in, k - 1, {}, r);
        EXPECT_EQ(c.status, p.status);
      }
    }
  }
}

TEST(ParseRequest, ScannedBeyondInputIsClamped) {
  rp::HttpRequest r;
  EXPECT_EQ(parse(kNodeWs, r, 1u << 20).status, Status::need_more);  // caller bug: nothing new to scan
}

TEST(HasToken, ListsCaseAndWhitespace) {
  EXPECT_TRUE(rp::has_token("Upgrade", "upgrade"));
  EXPECT_TRUE(rp::has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(rp::has_token(" ,\t,keep-alive ,\tUPGRADE\t, ", "upgrade"));
  EXPECT_FALSE(rp::has_token("keep-alive", "upgrade"));
  EXPECT_FALSE(rp::has_token("upgrade-insecure", "upgrade"));
  EXPECT_FALSE(rp::has_token("up grade", "upgrade"));
  EXPECT_FALSE(rp::has_token("", "upgrade"));
  EXPECT_FALSE(rp::has_token(",,,", "upgrade"));
}

TEST(Responses, UpgradeResponse) {
  char buf[512];
  const std::size_t n = rp::write_upgrade_response(buf, "dGhlIHNhbXBsZSBub25jZQ==", "chat",
                                                   "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n");
  const std::size_t plain = rp::write_upgrade_response(buf, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(std::string_view(buf, plain),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  for (std::size_t size = 0; size < plain; ++size) {
    EXPECT_EQ(rp::write_upgrade_response({buf, size}, "dGhlIHNhbXBsZSBub25jZQ=="), 0u);
  }
  EXPECT_EQ(rp::write_upgrade_response(buf, "k", "chat\r\nX-Evil: 1"), 0u);  // no header injection
}

TEST(Responses, ErrorResponses) {
  char buf[512];
  std::size_t n = rp::write_error_response(buf, 400, "bad key\n");
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 8\r\n"
            "Connection: close\r\n\r\nbad key\n");
  n = rp::write_error_response(buf, 404, {}, true, true);  // HEAD over keep-alive: no body
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n"
            "Connection: keep-alive\r\n\r\n");
  n = rp::write_error_response(buf, 405);
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n"
            "Allow: GET, HEAD\r\nConnection: close\r\n\r\nMethod Not Allowed\n");
  n = rp::write_error_response(buf, 405, {}, true, true, "POST");  // the server API's routes
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n"
            "Allow: POST\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(rp::write_error_response(buf, 405, {}, false, false, "GET\r\nX: y"), 0u);  // no header injection
  n = rp::write_error_response(buf, 426);
  const std::string_view r426(buf, n);
  EXPECT_NE(r426.find("HTTP/1.1 426 Upgrade Required\r\n"), std::string_view::npos);
  EXPECT_NE(r426.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string_view::npos);
  EXPECT_NE(r426.find("\r\nUpgrade: websocket\r\n"), std::string_view::npos);
  EXPECT_NE(r426.find("\r\nConnection: Upgrade, close\r\n"), std::string_view::npos);
  for (int status : {400, 404, 405, 426, 431, 503}) {
    n = rp::write_error_response(buf, status);
    ASSERT_GT(n, 0u);
    const std::string_view resp(buf, n);
    // The response must itself be a well-formed head whose Content-Length matches the body.
    const std::size_t head_end = resp.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string_view::npos);
    const std::string_view body = resp.substr(head_end + 4);
    EXPECT_NE(resp.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string_view::npos);
    EXPECT_EQ(resp.substr(9, 3), std::to_string(status));
    EXPECT_EQ(body, std::string(rp::status_text(status)) + "\n");
    EXPECT_EQ(rp::write_error_response({buf, n - 1}, status), 0u);
  }
  EXPECT_EQ(rp::write_error_response(buf, 42), 0u);
}

TEST(Responses, ResponseHead) {
  char buf[256];
  std::size_t n = rp::write_response_head(buf, 200, "text/html; charset=utf-8", 1234, true);
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 1234\r\n"
            "Connection: keep-alive\r\n\r\n");
  n = rp::write_response_head(buf, 204, "", 0);
  EXPECT_EQ(std::string_view(buf, n), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  n = rp::write_response_head(buf, 404, "text/plain", 0);
  EXPECT_EQ(std::string_view(buf, n),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(rp::write_response_head({buf, 10}, 200, "text/plain", 5), 0u);
  EXPECT_EQ(rp::status_text(431), "Request Header Fields Too Large");
  EXPECT_EQ(rp::status_text(101), "Switching Protocols");
}

TEST(DeflateOffers, ParametersAndDefaults) {
  rp::DeflateOffer o[4];
  ASSERT_EQ(rp::parse_deflate_offers("permessage-deflate", o), 1u);
  EXPECT_FALSE(o[0].server_no_context_takeover);
  EXPECT_FALSE(o[0].client_no_context_takeover);
  EXPECT_EQ(o[0].server_max_window_bits, 15);
  EXPECT_EQ(o[0].client_max_window_bits, 0);

  ASSERT_EQ(rp::parse_deflate_offers("permessage-deflate; client_max_window_bits", o), 1u);
  EXPECT_EQ(o[0].client_max_window_bits, 15);

  ASSERT_EQ(rp::parse_deflate_offers("permessage-deflate;server_no_context_takeover ; client_no_context_takeover;"
                                     " server_max_window_bits=10; client_max_window_bits=\"9\"",
                                     o),
            1u);
  EXPECT_TRUE(o[0].server_no_context_takeover);
  EXPECT_TRUE(o[0].client_no_context_takeover);
  EXPECT_EQ(o[0].server_max_window_bits, 10);
  EXPECT_EQ(o[0].client_max_window_bits, 9);

  ASSERT_EQ(rp::parse_deflate_offers("permessage-deflate; server_max_window_bits = \"1\\2\"", o), 1u);
  EXPECT_EQ(o[0].server_max_window_bits, 12);
  ASSERT_EQ(rp::parse_deflate_offers("PerMessage-Deflate; Server_Max_Window_Bits=8", o), 1u);
  EXPECT_EQ(o[0].server_max_window_bits, 8);
}

TEST(DeflateOffers, SeveralOffersInOrderAndInvalidOnesSkipped) {
  rp::DeflateOffer o[8];
  const std::size_t n = rp::parse_deflate_offers(
      "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16,"
      "permessage-deflate; client_max_window_bits=12, foo; a=\"x, permessage-deflate, y\","
      " permessage-deflate; client_no_context_takeover, permessage-deflate; bogus,"
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover, , permessage-deflate",
      o);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(o[0].client_max_window_bits, 12);
  EXPECT_TRUE(o[1].client_no_context_takeover);
  EXPECT_EQ(o[1].client_max_window_bits, 0);
  EXPECT_FALSE(o[2].client_no_context_takeover);
}

TEST(DeflateOffers, BadValuesMakeAnOfferInvalid) {
  const char* bad[] = {
      "permessage-deflate; server_max_window_bits",       // value required
      "permessage-deflate; server_max_window_bits=7",     // below range
      "permessage-deflate; server_max_window_bits=16",    // above range
      "permessage-deflate; server_max_window_bits=08",    // leading zero
      "permessage-deflate; server_max_window_bits=\"\"",  // empty
      "permessage-deflate; server_max_window_bits=\"151\"",
      "permessage-deflate; client_max_window_bits=",
      "permessage-deflate; client_max_window_bits=0x9",
      "permessage-deflate; client_max_window_bits=\"9",  // unterminated quote
      "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=\"\"",
      "permessage-deflate; unknown_param",
      "permessage-deflate;",
      "permessage-deflate client_no_context_takeover",
      "permessage-deflate; =9",
      "permessage-deflatex",
      "",
  };
  for (const char* ext : bad) {
    rp::DeflateOffer o[2];
    EXPECT_EQ(rp::parse_deflate_offers(ext, o), 0u) << ext;
  }
}

TEST(DeflateOffers, StopsWhenOutputIsFull) {
  rp::DeflateOffer o[2];
  EXPECT_EQ(rp::parse_deflate_offers("permessage-deflate, permessage-deflate, permessage-deflate", o), 2u);
  EXPECT_EQ(rp::parse_deflate_offers("permessage-deflate", std::span<rp::DeflateOffer>{}), 0u);
}
