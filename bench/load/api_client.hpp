// A publisher that speaks the server HTTP API (--api-key): POST /api/publish requests on
// one keep-alive HTTP/1.1 connection, pipelined up to the window, and a reader that counts
// the answers as they arrive (the answers come back in request order, RFC 9112 9.3.2).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::load {

// The request head of POST /api/<method> up to its Content-Length value, the same for
// every request of a run.
[[nodiscard]] std::string api_head(std::string_view host_header, std::string_view key, std::string_view method);
[[nodiscard]] inline std::string api_publish_head(std::string_view host_header, std::string_view key) {
  return api_head(host_header, key, "publish");
}

// Bytes of one request around a body of `body_len` bytes at most (head, length, CRLFs).
[[nodiscard]] std::size_t api_request_size(std::string_view head, std::size_t body_len) noexcept;

// Writes head + Content-Length + body into `out` (at least api_request_size() bytes);
// returns the bytes written.
std::size_t write_api_request(std::span<std::uint8_t> out, std::string_view head,
                              std::span<const std::uint8_t> body) noexcept;

// Splits a byte stream of HTTP responses into answers. An answer is ok when its status is
// 200 and its body is not a JSON `error` object (the API's errors come as 200 with
// {"error":{...}}; a wrong key as 401).
class ApiReplyReader {
 public:
  struct Counts {
    std::uint32_t ok = 0, errors = 0;
  };
  // Consumes `in`; adds what completed to `counts`. Returns false once the stream is not
  // HTTP this reader understands (then why() says what), and from then on.
  bool feed(std::span<const std::uint8_t> in, Counts& counts);
  // The first failed answer ("401 ..." or its body's start) or why the stream broke.
  [[nodiscard]] const std::string& why() const noexcept { return why_; }

 private:
  static constexpr std::size_t kMaxHead = 4096;  // ringcast's answer heads are ~100 bytes
  static constexpr std::size_t kKeepBody = 160;  // enough of an error body to report it

  bool end_head();
  void end_answer(Counts& counts);

  std::string head_;
  std::string body_;         // its first kKeepBody bytes
  std::string status_text_;  // "401 Unauthorized"
  std::size_t body_left_ = 0;
  int status_ = 0;
  bool in_body_ = false;
  bool broken_ = false;
  std::string why_;
};

}  // namespace ringcast::load
