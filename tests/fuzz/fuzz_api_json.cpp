// libFuzzer target for protocol/api_json: the input is a server API body, parsed as a
// publish, a broadcast, a history, a channels, a disconnect request and a batch. Invariants: every
// `data` handed over is JSON (published again in a body of ours it parses, to the same
// bytes), and so is every batch command's parameters; a publish or history names at most
// one channel, a broadcast at most kMaxBroadcastChannels and a batch at most
// kMaxBatchCommands commands; only history reads limit, since and reverse, only channels
// a pattern, only disconnect (or unsubscribe) a user; the same body gives the same answer twice; nothing crashes or reads out of
// bounds.
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/api_json.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol::api;


RequestParser& parser() {
  static RequestParser p;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(bytes), size);
  for (Method m : {Method::publish, Method::broadcast, Method::history, Method::channels, Method::disconnect}) {
    Request out;
    RequestParser::Result a = parser().parse(m, body, out);
    std::string data(out.data);
    std::vector<std::string> channels(out.channels.begin(), out.channels.end());
    FUZZ_CHECK(channels.size() <= RequestParser::kMaxBroadcastChannels);
    FUZZ_CHECK(m == Method::broadcast || channels.size() <= 1);
    FUZZ_CHECK(m == Method::history || (out.limit == 0 && !out.has_since && !out.reverse));
    FUZZ_CHECK(m == Method::channels || out.pattern.empty());
    FUZZ_CHECK(m == Method::disconnect || (out.user.empty() && out.whitelist.empty() && !out.has_disconnect));
    RequestParser::Result b = parser().parse(m, body, out);
    FUZZ_CHECK(a.error == b.error);
    if (a.error != ParseError::none || data.empty()) continue;
    FUZZ_CHECK(std::string(out.data) == data && out.channels.size() == channels.size());
    std::string again = "{\"channel\":\"c\",\"data\":" + data + "}";
    Request back;
    FUZZ_CHECK(parser().parse(Method::publish, again, back).error == ParseError::none);
    FUZZ_CHECK(std::string(back.data) == data);
  }
  // As a batch: each command's parameters are JSON, kept as the body's own bytes.
  std::vector<BatchCommand> cmds;
  if (parser().parse_batch(body, cmds).error == ParseError::none) {
    FUZZ_CHECK(cmds.size() <= RequestParser::kMaxBatchCommands);
    static RequestParser item;
    for (const BatchCommand& c : cmds) {
      FUZZ_CHECK(!c.params.empty() && c.params.data() != nullptr);
      std::string again = "{\"channel\":\"c\",\"data\":" + std::string(c.params) + "}";
      Request back;
      FUZZ_CHECK(item.parse(Method::publish, again, back).error == ParseError::none);
      FUZZ_CHECK(back.data == c.params);
    }
  }
  return 0;
}
