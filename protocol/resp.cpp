#include "protocol/resp.hpp"

#include <cstring>

namespace ringcast::protocol::resp {

namespace {

constexpr char kCrlf[] = "\r\n";

// The line at `pos` up to CRLF: its end (the '\r'), or npos (incomplete), or error.
struct Line {
  std::size_t end = 0;
  Status status = Status::ok;
};

Line find_line(std::span<const std::uint8_t> in, std::size_t pos, std::size_t max_line) noexcept {
  // The '\r' must come within max_line + 1 bytes: past that the line is too long.
  const std::size_t limit = in.size() - pos <= max_line ? in.size() : pos + max_line + 1;
  const void* cr = std::memchr(in.data() + pos, '\r', limit - pos);
  if (cr == nullptr) return {0, limit - pos > max_line ? Status::error : Status::need_more};
  const std::size_t end = static_cast<std::size_t>(static_cast<const std::uint8_t*>(cr) - in.data());
  if (end + 1 >= in.size()) return {0, Status::need_more};
  return {end, in[end + 1] == '\n' ? Status::ok : Status::error};
}

// A decimal integer, optionally negative, no leading '+', no spaces, within int64.
bool parse_int(std::string_view s, std::int64_t& out) noexcept {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > static_cast<std::uint64_t>(INT64_MAX) + (neg ? 1 : 0)) return false;
  out = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
  return true;
}

}  // namespace

struct Parser {
  static Parse run(std::span<const std::uint8_t> in, Reply& out, const Limits& limits) noexcept;
};

Parse Parser::run(std::span<const std::uint8_t> in, Reply& out, const Limits& limits) noexcept {
  std::vector<Value>& values = out.values_;
  values.clear();
  // The arrays still taking elements: each one's index and how many it still takes.
  struct Open {
    std::uint32_t index;
    std::int64_t left;
  };
  Open open[16];
  std::uint32_t depth = 0;
  const std::uint32_t max_depth = limits.max_depth < 16 ? limits.max_depth : 16;
  std::size_t pos = 0;
  auto fail = [](const char* why) { return Parse{Status::error, 0, why}; };
  while (true) {
    if (pos >= in.size()) return {};
    const char kind = static_cast<char>(in[pos]);
    const Line line = find_line(in, pos + 1, limits.max_line);
    if (line.status == Status::need_more) return {};
    if (line.status == Status::error) return fail("a line without CRLF, or longer than the limit");
    const std::string_view text(reinterpret_cast<const char*>(in.data()) + pos + 1, line.end - pos - 1);
    std::size_t after = line.end + 2;
    if (values.size() >= limits.max_values) return fail("more values in one reply than the limit");
    Value v;
    std::int64_t n = 0;
    switch (kind) {
      case '+': v.type = Type::simple; v.str = text; break;
      case '-': v.type = Type::error; v.str = text; break;
      case ':':
        if (!parse_int(text, n)) return fail("an integer that is not one");
        v.type = Type::integer;
        v.integer = n;
        break;
      case '$':
        if (!parse_int(text, n) || n < -1) return fail("a bulk string length that is not one");
        if (n == -1) {
          v.type = Type::nil;
          break;
        }
        if (static_cast<std::uint64_t>(n) > limits.max_bulk) return fail("a bulk string longer than the limit");
        if (const std::size_t have = in.size() - after; have < 2 || have - 2 < static_cast<std::uint64_t>(n)) {
          return {Status::need_more, 0, "", static_cast<std::size_t>(n) + 2 - have};
        }
        if (std::memcmp(in.data() + after + n, kCrlf, 2) != 0) return fail("a bulk string not ended by CRLF");
        v.type = Type::bulk;
        v.str = std::string_view(reinterpret_cast<const char*>(in.data()) + after, static_cast<std::size_t>(n));
        after += static_cast<std::size_t>(n) + 2;
        break;
      case '*':
        if (!parse_int(text, n) || n < -1) return fail("an array length that is not one");
        if (n == -1) {
          v.type = Type::nil_array;
          break;
        }
        if (static_cast<std::uint64_t>(n) > limits.max_values) return fail("an array longer than the limit");
        v.type = Type::array;
        v.integer = n;
        break;
      default: return fail("an unknown RESP type");
    }
    const auto index = static_cast<std::uint32_t>(values.size());
    values.push_back(v);
    pos = after;
    if (v.type == Type::array && n > 0) {
      if (depth == max_depth) return fail("arrays nested deeper than the limit");
      open[depth++] = {index, n};
      continue;
    }
    values[index].next = index + 1;
    // Close every array this value completed.
    while (depth > 0 && --open[depth - 1].left == 0) {
      values[open[depth - 1].index].next = static_cast<std::uint32_t>(values.size());
      --depth;
    }
    if (depth == 0) return {Status::ok, pos, ""};
  }
}

Parse parse_reply(std::span<const std::uint8_t> in, Reply& out, const Limits& limits) {
  return Parser::run(in, out, limits);
}

std::uint32_t Reply::element(std::uint32_t i, std::uint32_t k) const noexcept {
  std::uint32_t e = i + 1;
  while (k-- > 0) e = values_[e].next;
  return e;
}

bool Reply::bulk_array(std::span<std::string_view> out) const noexcept {
  if (values_.empty() || values_[0].type != Type::array || values_[0].integer != static_cast<std::int64_t>(out.size()) ||
      values_.size() != out.size() + 1) {
    return false;
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (values_[k + 1].type != Type::bulk) return false;
    out[k] = values_[k + 1].str;
  }
  return true;
}

namespace {

std::size_t digits(std::size_t n) noexcept {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

char* put_header(char* p, char kind, std::size_t n) noexcept {
  *p++ = kind;
  const std::size_t d = digits(n);
  for (std::size_t i = d; i-- > 0; n /= 10) p[i] = static_cast<char>('0' + n % 10);
  p += d;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

}  // namespace

std::size_t command_size(std::span<const std::string_view> args) noexcept {
  std::size_t n = 3 + digits(args.size());
  for (std::string_view a : args) n += 3 + digits(a.size()) + a.size() + 2;
  return n;
}

std::size_t encode_command(std::span<const std::string_view> args, std::span<char> out) noexcept {
  const std::size_t n = command_size(args);
  if (out.size() < n) return 0;
  char* p = put_header(out.data(), '*', args.size());
  for (std::string_view a : args) {
    p = put_header(p, '$', a.size());
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    p += a.size();
    *p++ = '\r';
    *p++ = '\n';
  }
  return n;
}

}  // namespace ringcast::protocol::resp
