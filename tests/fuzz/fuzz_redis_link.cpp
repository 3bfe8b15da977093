// libFuzzer target for engine/broker/redis_link: the input is a conversation, the first
// byte how many commands were sent (its top two bits: the first one a SUBSCRIBE of that
// many channels, answered once per channel, or once with an error), the rest what Redis sent back, cut into pieces at the
// places the next bytes say. Invariants: every reply goes to a command, oldest first, and
// never more replies than commands; however the bytes are cut, the same replies, messages
// and error (or none) come out; reset hands back exactly the unanswered tags; nothing
// crashes or leaks.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/broker/redis_link.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using ringcast::engine::RedisLink;
namespace resp = ringcast::protocol::resp;

struct Seen final : RedisLink::Handler {
  std::vector<std::uint64_t> tags;
  std::vector<bool> errors;  // [i]: reply i was an error reply
  std::vector<std::pair<std::string, std::string>> messages;
  void on_reply(std::uint64_t tag, const resp::Reply& r) override {
    FUZZ_CHECK(r.size() >= 1);
    tags.push_back(tag);
    errors.push_back(r.root().type == resp::Type::error);
  }
  void on_message(std::string_view channel, std::string_view payload) override { messages.emplace_back(channel, payload); }
};

// Feeds `in` in pieces of the sizes `cuts` gives (cycled; 0 taken as 1).
struct Run {
  Seen seen;
  std::string error;
  std::vector<std::uint64_t> dropped;
};

Run run(std::size_t commands, std::size_t channels, std::span<const std::uint8_t> in, std::span<const std::uint8_t> cuts) {
  Run r;
  RedisLink link(RedisLink::Limits{.max_pending = 64, .max_out = 1u << 20});
  const std::string_view ping[] = {"PING"};
  const std::string_view subscribe[] = {"SUBSCRIBE", "a", "b", "c"};
  for (std::uint64_t t = 1; t <= commands; ++t) {
    FUZZ_CHECK(t == 1 && channels != 0 ? link.command(std::span(subscribe).first(channels + 1), t) : link.command(ping, t));
  }
  std::size_t k = 0;
  while (!in.empty() && r.error.empty()) {
    std::size_t n = cuts.empty() ? in.size() : (cuts[k++ % cuts.size()] % 64) + 1;
    n = n < in.size() ? n : in.size();
    r.error = link.feed(in.first(n), r.seen);
    in = in.subspan(n);
  }
  r.dropped = link.reset();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t commands = bytes[0] % 33;
  const std::size_t channels = commands == 0 ? 0 : bytes[0] >> 6;
  const std::size_t ncuts = bytes[1] % 8;
  if (size < 2 + ncuts) return 0;
  const std::span<const std::uint8_t> cuts(bytes + 2, ncuts);
  const std::span<const std::uint8_t> in(bytes + 2 + ncuts, size - 2 - ncuts);
  const Run whole = run(commands, channels, in, {});
  const Run pieces = run(commands, channels, in, cuts);
  for (const Run* r : {&whole, &pieces}) {
    // The replies the commands are owed, oldest first: the SUBSCRIBE's once per channel,
    // or one error for all of them.
    std::vector<std::pair<std::uint64_t, std::size_t>> owed;  // tag, replies still owed
    for (std::uint64_t t = 1; t <= commands; ++t) owed.emplace_back(t, t == 1 && channels != 0 ? channels : 1);
    std::size_t next = 0;
    for (std::size_t i = 0; i < r->seen.tags.size(); ++i) {
      FUZZ_CHECK(next < owed.size() && r->seen.tags[i] == owed[next].first);
      if (r->seen.errors[i] || --owed[next].second == 0) ++next;
    }
    // reset() returns every command not fully answered, in order.
    std::vector<std::uint64_t> rest;
    for (std::size_t j = next; j < owed.size(); ++j) rest.push_back(owed[j].first);
    FUZZ_CHECK(r->dropped == rest);
  }
  // Cutting the bytes changes nothing.
  FUZZ_CHECK(whole.error == pieces.error);
  FUZZ_CHECK(whole.seen.tags == pieces.seen.tags);
  FUZZ_CHECK(whole.seen.messages == pieces.seen.messages);
  return 0;
}
