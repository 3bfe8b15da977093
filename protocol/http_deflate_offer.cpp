// permessage-deflate offers in Sec-WebSocket-Extensions (RFC 6455 section 9.1 grammar,
// RFC 7692 section 7.1 parameters). Elements are split on commas outside quoted strings,
// then each is parsed strictly: a syntax error or a bad parameter drops that element only.
#include "protocol/handshake.hpp"
#include "protocol/http_chars.hpp"

namespace ringcast::protocol {
namespace {

using http::iequals;

// End of the list element starting at `i`: the next comma outside a quoted string.
[[nodiscard]] std::size_t element_end(std::string_view s, std::size_t i) noexcept {
  bool quoted = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') ++i;  // quoted-pair: the next byte is literal
      else if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      break;
    }
  }
  return i < s.size() ? i : s.size();
}

// A strict cursor over one element.
class Cursor {
 public:
  explicit Cursor(std::string_view s) noexcept : s_(s) {}
  [[nodiscard]] bool done() const noexcept { return i_ == s_.size(); }
  [[nodiscard]] bool eat(char c) noexcept {
    if (done() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void skip_ows() noexcept {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  [[nodiscard]] std::string_view token() noexcept {
    const std::size_t start = i_;
    while (!done() && http::is(s_[i_], http::kTchar)) ++i_;
    return s_.substr(start, i_ - start);
  }
  // Unescapes a quoted-string into `buf`; false on bad syntax. `len` may exceed the
  // buffer (then only the length is meaningful: the value is too long to be valid).
  [[nodiscard]] bool quoted(char (&buf)[4], std::size_t& len) noexcept {
    len = 0;
    if (!eat('"')) return false;
    while (!done()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (done()) return false;
        c = s_[i_++];
        if (!http::is(c, http::kFieldChar)) return false;
      } else if (!http::is(c, http::kFieldChar) || c == '"') {
        return false;
      }
      if (len < sizeof buf) buf[len] = c;
      ++len;
    }
    return false;
  }
  [[nodiscard]] bool at(char c) const noexcept { return !done() && s_[i_] == c; }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// RFC 7692 section 7.1.2: a decimal 8..15 without leading zeros.
[[nodiscard]] std::uint8_t window_bits(std::string_view v) noexcept {
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return static_cast<std::uint8_t>(v[0] - '0');
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return static_cast<std::uint8_t>(10 + v[1] - '0');
  return 0;
}

enum Seen : unsigned { kServerNct = 1, kClientNct = 2, kServerBits = 4, kClientBits = 8 };

// Applies one parameter; false makes the offer invalid.
[[nodiscard]] bool apply(DeflateOffer& o, unsigned& seen, std::string_view name, bool has_value,
                         std::string_view value) noexcept {
  auto once = [&](Seen bit) {
    if ((seen & bit) != 0) return false;
    seen |= bit;
    return true;
  };
  if (iequals(name, "server_no_context_takeover")) {
    return !has_value && once(kServerNct) && (o.server_no_context_takeover = true);
  }
  if (iequals(name, "client_no_context_takeover")) {
    return !has_value && once(kClientNct) && (o.client_no_context_takeover = true);
  }
  if (iequals(name, "server_max_window_bits")) {
    const std::uint8_t bits = has_value ? window_bits(value) : 0;
    o.server_max_window_bits = bits;
    o.server_max_window_bits_given = true;
    return bits != 0 && once(kServerBits);
  }
  if (iequals(name, "client_max_window_bits")) {
    const std::uint8_t bits = has_value ? window_bits(value) : 15;
    o.client_max_window_bits = bits;
    return bits != 0 && once(kClientBits);
  }
  return false;
}

// Parses one list element; true when it is a valid permessage-deflate offer.
[[nodiscard]] bool parse_offer(std::string_view element, DeflateOffer& o) noexcept {
  Cursor c(element);
  c.skip_ows();
  if (!iequals(c.token(), "permessage-deflate")) return false;
  unsigned seen = 0;
  for (;;) {
    c.skip_ows();
    if (c.done()) return true;
    if (!c.eat(';')) return false;
    c.skip_ows();
    const std::string_view name = c.token();
    if (name.empty()) return false;
    c.skip_ows();
    bool has_value = false;
    std::string_view value;
    char buf[4];
    if (c.eat('=')) {
      c.skip_ows();
      has_value = true;
      if (c.at('"')) {
        std::size_t len = 0;
        if (!c.quoted(buf, len)) return false;
        value = len <= sizeof buf ? std::string_view{buf, len} : std::string_view{"bad"};
      } else {
        value = c.token();
        if (value.empty()) return false;
      }
    }
    if (!apply(o, seen, name, has_value, value)) return false;
  }
}

}  // namespace

std::size_t parse_deflate_offers(std::string_view extensions, std::span<DeflateOffer> out) noexcept {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i <= extensions.size() && n < out.size()) {
    const std::size_t end = element_end(extensions, i);
    DeflateOffer offer;
    if (parse_offer(extensions.substr(i, end - i), offer)) out[n++] = offer;
    i = end + 1;
  }
  return n;
}

std::string_view accept_deflate(const HttpRequest& req) noexcept {
  static_assert(kDeflateResponseWindow.ends_with("=15"), "the window ringcast compresses with");
  for (std::size_t h = 0; h < req.num_headers; ++h) {
    if (!iequals(req.headers[h].name, "sec-websocket-extensions")) continue;
    std::string_view rest = req.headers[h].value;
    // Offers one by one, so a long header of declined ones is still read to its end.
    while (!rest.empty()) {
      const std::size_t end = element_end(rest, 0);
      DeflateOffer offer;
      if (parse_offer(rest.substr(0, end), offer) && offer.server_max_window_bits >= 15) {
        return offer.server_max_window_bits_given ? kDeflateResponseWindow : kDeflateResponse;
      }
      rest = end < rest.size() ? rest.substr(end + 1) : std::string_view{};
    }
  }
  return {};
}

}  // namespace ringcast::protocol
