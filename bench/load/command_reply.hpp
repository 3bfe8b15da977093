// One reply of the Centrifugo client protocol, read by a --channel connection from the
// message that answers its connect and subscribe (or ping) commands, one reply per line:
// whether the server refused it and, for a subscribe, where the stream stands (epoch,
// offset) and, after `recover`, whether it recovered and the publications it returned.
// Pure: bytes in, fields out.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ringcast::load {

struct CommandReply {
  bool found = false;      // a line answered command `id`
  bool refused = false;    // ... with an error
  std::string error;       // its message, for the report
  std::string epoch;       // the stream's epoch ("" without history)
  std::uint64_t offset = 0;  // the stream's top
  bool recovered = false;
  std::uint32_t publications = 0;  // returned with the reply
};

// Reads the line answering command `id` in `message` (replies separated by '\n'); each
// returned publication goes to `on_publication(data, offset)` in order. False when a line
// up to it is not JSON of a reply's shape (then `error` says why).
[[nodiscard]] bool read_reply(std::string_view message, std::uint32_t id, CommandReply& out,
                                        const std::function<void(std::string_view, std::uint64_t)>& on_publication);

}  // namespace ringcast::load
