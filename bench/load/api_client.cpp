#include "bench/load/api_client.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringcast::load {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string api_head(std::string_view host_header, std::string_view key, std::string_view method) {
  std::string h = "POST /api/";
  h += method;
  h += " HTTP/1.1\r\nHost: ";
  h += host_header;
  h += "\r\nX-API-Key: ";
  h += key;
  h += "\r\nContent-Type: application/json\r\nContent-Length: ";
  return h;
}

std::size_t api_request_size(std::string_view head, std::size_t body_len) noexcept {
  return head.size() + 20 + 4 + body_len;  // 20: the longest decimal length
}

std::size_t write_api_request(std::span<std::uint8_t> out, std::string_view head,
                              std::span<const std::uint8_t> body) noexcept {
  if (out.size() < api_request_size(head, body.size())) return 0;
  char* p = reinterpret_cast<char*>(out.data());
  std::memcpy(p, head.data(), head.size());
  p += head.size();
  p = std::to_chars(p, p + 20, body.size()).ptr;
  std::memcpy(p, "\r\n\r\n", 4);
  p += 4;
  if (!body.empty()) std::memcpy(p, body.data(), body.size());
  p += body.size();
  return static_cast<std::size_t>(p - reinterpret_cast<char*>(out.data()));
}

bool ApiReplyReader::feed(std::span<const std::uint8_t> in, Counts& counts) {
  while (!broken_ && !in.empty()) {
    if (in_body_) {
      const std::size_t n = std::min(body_left_, in.size());
      const std::size_t keep = std::min(n, kKeepBody - std::min(kKeepBody, body_.size()));
      body_.append(reinterpret_cast<const char*>(in.data()), keep);
      body_left_ -= n;
      in = in.subspan(n);
      if (body_left_ == 0) end_answer(counts);
      continue;
    }
    // The head: bytes up to the blank line, searched from where the last chunk ended.
    const std::size_t from = head_.size() >= 3 ? head_.size() - 3 : 0;
    const std::size_t take = std::min(in.size(), kMaxHead + 4 - head_.size());
    head_.append(reinterpret_cast<const char*>(in.data()), take);
    const std::size_t end = head_.find("\r\n\r\n", from);
    if (end == std::string::npos) {
      if (head_.size() > kMaxHead) {
        broken_ = true;
        why_ = "API answer head longer than 4096 bytes";
      }
      in = in.subspan(take);
      continue;
    }
    // Bytes past the blank line belong to the body or the next answer: give them back.
    const std::size_t used = take - (head_.size() - (end + 4));
    head_.resize(end);
    in = in.subspan(used);
    if (!end_head()) break;
    if (body_left_ == 0) end_answer(counts);
  }
  return !broken_;
}

bool ApiReplyReader::end_head() {
  const std::string_view h(head_);
  const std::size_t eol = std::min(h.find("\r\n"), h.size());
  const std::string_view status_line = h.substr(0, eol);
  int status = 0;
  if (!status_line.starts_with("HTTP/1.1 ") || status_line.size() < 12 ||
      std::from_chars(status_line.data() + 9, status_line.data() + 12, status).ptr != status_line.data() + 12) {
    broken_ = true;
    why_ = "not an HTTP/1.1 answer: " + std::string(status_line.substr(0, 80));
    return false;
  }
  bool has_length = false;
  std::size_t length = 0;
  for (std::size_t pos = eol + 2; pos < h.size();) {
    const std::size_t next = std::min(h.find("\r\n", pos), h.size());
    const std::string_view line = h.substr(pos, next - pos);
    pos = next + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !iequals(line.substr(0, colon), "content-length")) continue;
    const std::string_view v = trim(line.substr(colon + 1));
    has_length = std::from_chars(v.data(), v.data() + v.size(), length).ptr == v.data() + v.size() && !v.empty();
  }
  if (!has_length) {
    broken_ = true;
    why_ = "API answer without a valid Content-Length: " + std::string(status_line);
    return false;
  }
  status_ = status;
  body_left_ = length;
  body_.clear();
  status_text_ = status_line.substr(9);
  head_.clear();
  in_body_ = true;
  return true;
}

void ApiReplyReader::end_answer(Counts& counts) {
  in_body_ = false;
  const bool error = status_ != 200 || std::string_view(body_).starts_with("{\"error\"");
  if (!error) {
    ++counts.ok;
    return;
  }
  ++counts.errors;
  if (!why_.empty()) return;
  why_ = status_ == 200 ? body_ : status_text_;
  if (status_ != 200 && !body_.empty()) why_ += ": " + body_;
}

}  // namespace ringcast::load
