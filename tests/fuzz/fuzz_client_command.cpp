// libFuzzer target for protocol/client_command: the input is one WebSocket message of
// client commands. Invariants: the sink sees exactly `commands` commands; every `data` the
// parser hands over is JSON (wrapped in a publish again it parses, to the same bytes); a
// frame parsed twice gives the same answer; every `data` read as a subscribe's
// (protocol/subscribe_data) gives the same answer twice; nothing crashes or reads out of
// bounds.
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/client_command.hpp"
#include "protocol/subscribe_data.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol::client;


struct Collect final : CommandSink {
  std::vector<std::string> data;
  std::vector<std::uint32_t> ids;
  bool on_command(const Command& c) override {
    data.emplace_back(c.data);
    ids.push_back(c.id);
    return true;
  }
};

CommandParser& parser() {
  static CommandParser p;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(bytes), size);
  Collect first, second;
  CommandParser::Result a = parser().parse(frame, first);
  CommandParser::Result b = parser().parse(frame, second);
  FUZZ_CHECK(a.commands == first.data.size());
  FUZZ_CHECK(a.commands == b.commands && a.error == b.error);
  FUZZ_CHECK(first.data == second.data && first.ids == second.ids);
  FUZZ_CHECK((a.error == ParseError::none) == (a.what[0] == '\0'));
  for (const std::string& d : first.data) {
    if (d.empty()) continue;
    std::string again = "{\"id\":1,\"publish\":{\"data\":" + d + "}}";
    Collect c;
    CommandParser::Result r = parser().parse(again, c);
    FUZZ_CHECK(r.error == ParseError::none || r.error == ParseError::bad_command);  // bad: too deep
    if (r.error == ParseError::none) FUZZ_CHECK(c.data.size() == 1 && c.data[0] == d);
    SubscribeData x, y;
    const bool ok = read_subscribe_data(d, x);
    FUZZ_CHECK(ok == read_subscribe_data(d, y) && x.max_frequency == y.max_frequency);
    FUZZ_CHECK(ok || x.max_frequency.empty());
  }
  return 0;
}
