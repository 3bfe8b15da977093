// libFuzzer target for protocol/resp: the input is a byte stream from a Redis server (after
// a first byte choosing small or default limits). Invariants: a reply parses whole or not
// at all: its prefixes (one byte short, and half) are need_more; consumed stays inside
// the input; its tree is consistent (each array's subtree ends where its `next` says, within the reply);
// what parsed, encoded again as RESP, parses to the same tree; replies back to back parse
// one by one to the end; nothing crashes, hangs or leaks.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include "protocol/resp.hpp"

namespace {

using namespace ringcast::protocol::resp;

// Writes value `i` (and its subtree) as RESP; returns the index past it.
std::uint32_t write(const Reply& r, std::uint32_t i, std::string& out) {
  const Value& v = r.at(i);
  switch (v.type) {
    case Type::simple: out += "+" + std::string(v.str) + "\r\n"; break;
    case Type::error: out += "-" + std::string(v.str) + "\r\n"; break;
    case Type::integer: out += ":" + std::to_string(v.integer) + "\r\n"; break;
    case Type::bulk: out += "$" + std::to_string(v.str.size()) + "\r\n" + std::string(v.str) + "\r\n"; break;
    case Type::nil: out += "$-1\r\n"; break;
    case Type::nil_array: out += "*-1\r\n"; break;
    case Type::array: {
      out += "*" + std::to_string(v.integer) + "\r\n";
      std::uint32_t e = i + 1;
      for (std::int64_t k = 0; k < v.integer; ++k) e = write(r, e, out);
      FUZZ_CHECK(e == v.next);
      return e;
    }
  }
  FUZZ_CHECK(v.next == i + 1);
  return i + 1;
}

bool same(const Reply& a, const Reply& b) {
  if (a.size() != b.size()) return false;
  for (std::uint32_t i = 0; i < a.size(); ++i) {
    const Value &x = a.at(i), &y = b.at(i);
    if (x.type != y.type || x.str != y.str || x.integer != y.integer || x.next != y.next) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  const Limits limits = bytes[0] & 1 ? Limits{.max_bulk = 64, .max_values = 16, .max_depth = 3, .max_line = 32} : Limits{};
  std::span<const std::uint8_t> in(bytes + 1, size - 1);
  static Reply reply, again;
  for (int replies = 0; !in.empty(); ++replies) {
    const Parse p = parse_reply(in, reply, limits);
    if (p.status != Status::ok) {
      FUZZ_CHECK(p.consumed == 0);
      return 0;
    }
    FUZZ_CHECK(p.consumed > 0 && p.consumed <= in.size());
    FUZZ_CHECK(reply.size() >= 1 && reply.size() <= limits.max_values && reply.root().next == reply.size());
    for (std::size_t cut : {p.consumed - 1, p.consumed / 2}) {
      FUZZ_CHECK(parse_reply(in.first(cut), again, limits).status == Status::need_more);
    }
    std::string text;
    FUZZ_CHECK(write(reply, 0, text) == reply.size());
    const Parse q = parse_reply({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, again, limits);
    FUZZ_CHECK(q.status == Status::ok && q.consumed == text.size() && same(reply, again));
    in = in.subspan(p.consumed);
  }
  return 0;
}
