// Fuzzes parse_request: one-shot and split in two with the `scanned` continuation must
// agree; every view points into the head; errors carry one of the documented statuses.
// Also drives parse_deflate_offers, the Origin check and the response writers with what
// the parser found.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/handshake.hpp"
#include "protocol/origin.hpp"

namespace rp = ringcast::protocol;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_inside(std::string_view v, const char* begin, std::size_t len) {
  if (v.data() == nullptr) return check(v.empty());
  check(v.data() >= begin && v.data() + v.size() <= begin + len);
}

bool same(const rp::RequestParse& a, const rp::RequestParse& b) {
  return a.status == b.status && a.consumed == b.consumed && a.http_status == b.http_status &&
         std::strcmp(a.reason, b.reason) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> in(reinterpret_cast<const char*>(data), size);
  const char* const base = in.data();
  rp::HandshakeRules rules;
  rp::HttpRequest whole;
  const rp::RequestParse one = rp::parse_request(in, 0, rules, whole);

  check(one.consumed <= size);
  switch (one.status) {
    case rp::Status::ok: {
      check(one.consumed >= 4 && std::memcmp(base + one.consumed - 4, "\r\n\r\n", 4) == 0);
      check(whole.num_headers <= rp::kMaxHeaders);
      for (std::string_view v : {whole.method, whole.target, whole.path, whole.query, whole.host, whole.origin,
                                 whole.upgrade, whole.connection, whole.key, whole.version, whole.protocols,
                                 whole.extensions}) {
        check_inside(v, base, one.consumed);
      }
      for (std::size_t i = 0; i < whole.num_headers; ++i) {
        check(!whole.headers[i].name.empty());
        check_inside(whole.headers[i].name, base, one.consumed);
        check_inside(whole.headers[i].value, base, one.consumed);
      }
      char out[1024];
      if (whole.kind == rp::RequestKind::websocket) {
        check(whole.key.size() == 24 && whole.version == "13");
        check(rp::write_upgrade_response(out, whole.key) > 0);
      }
      // The Origin check: an origin always matches itself as a pattern, and "*" allows all.
      const std::string patterns[] = {std::string(whole.origin), std::string(whole.host)};
      check(rp::origin_allowed(whole.origin, whole.host, std::span<const std::string>(patterns, 1)));
      const std::string any[] = {"*"};
      check(rp::origin_allowed(whole.origin, whole.host, any));
      (void)rp::origin_allowed(whole.host, whole.origin, patterns);
      rp::DeflateOffer offers[4];
      const std::size_t n = rp::parse_deflate_offers(whole.extensions, offers);
      check(n <= 4);
      for (std::size_t i = 0; i < n; ++i) {
        check(offers[i].server_max_window_bits >= 8 && offers[i].server_max_window_bits <= 15);
        check(offers[i].client_max_window_bits == 0 ||
              (offers[i].client_max_window_bits >= 8 && offers[i].client_max_window_bits <= 15));
      }
      break;
    }
    case rp::Status::error: {
      check(one.consumed == 0);
      const int s = one.http_status;
      check(s == 400 || s == 405 || s == 426 || s == 431);
      char out[512];
      check(rp::write_error_response(out, s) > 0);
      break;
    }
    case rp::Status::need_more:
      check(one.consumed == 0 && size < rules.max_header_bytes);
      break;
  }

  // Split at a point derived from the input, then continue from it.
  const std::size_t split = size == 0 ? 0 : (std::size_t{data[0]} * 131 + size) % (size + 1);
  rp::HttpRequest part;
  const rp::RequestParse first = rp::parse_request(in.first(split), 0, rules, part);
  if (first.status == rp::Status::need_more) {
    rp::HttpRequest cont;
    const rp::RequestParse second = rp::parse_request(in, split, rules, cont);
    check(same(one, second));
    if (second.status == rp::Status::ok) {
      check(cont.num_headers == whole.num_headers && cont.target == whole.target && cont.kind == whole.kind);
    }
  } else {
    check(same(one, first));  // the answer was decided inside the prefix
  }

  // Offers and token lists straight from arbitrary bytes.
  const std::string_view text(base, size);
  rp::DeflateOffer offers[8];
  check(rp::parse_deflate_offers(text, offers) <= 8);
  (void)rp::has_token(text, "upgrade");
  return 0;
}
