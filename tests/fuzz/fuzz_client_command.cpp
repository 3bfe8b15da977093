// libFuzzer target for protocol/client_command: the input is one WebSocket message of
// client commands. Invariants: the sink sees exactly `commands` commands; every `data` the
// parser hands over is JSON (wrapped in a publish again it parses, to the same bytes); a
// frame parsed twice gives the same answer; every `data` read as a subscribe's
// (protocol/subscribe_data) gives the same answer twice; a subscribe or a history written
// back (append_command_line: a held one runs again from it) parses to the same fields;
// nothing crashes or reads out of bounds.
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/client_command.hpp"
#include "protocol/subscribe_data.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol::client;


// A subscribe's or history's fields, as strings, to compare a command with its
// written-back self.
std::string fields(const Command& c) {
  std::string f(method_name(c.method));
  for (std::string_view v : {c.channel, c.token, c.data, c.epoch, c.delta}) f.append(v).append(1, '\0');
  f += std::to_string(c.id) + "/" + std::to_string(c.offset) + "/" + std::to_string(c.flag) + "/" +
       std::to_string(c.limit) + "/";
  for (bool b : {c.recover, c.positioned, c.recoverable, c.join_leave, c.reverse, c.has_since}) f += b ? '1' : '0';
  return f;
}

struct Collect final : CommandSink {
  std::vector<std::string> data;
  std::vector<std::uint32_t> ids;
  std::vector<std::pair<std::string, std::string>> subscribes;  // written back, fields
  bool on_command(const Command& c) override {
    data.emplace_back(c.data);
    ids.push_back(c.id);
    if (c.method == Method::subscribe || c.method == Method::history) {
      std::string line;
      append_command_line(line, c);
      subscribes.emplace_back(std::move(line), fields(c));
    }
    return true;
  }
};

struct Fields final : CommandSink {
  std::string got;
  bool on_command(const Command& c) override {
    got = fields(c);
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
  for (const auto& [line, want] : first.subscribes) {
    Fields f;
    CommandParser::Result r = parser().parse(line, f);
    FUZZ_CHECK(r.error == ParseError::none && r.commands == 1);
    FUZZ_CHECK(f.got == want);
  }
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
