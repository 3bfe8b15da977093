// ringcast-load's reading of the replies to a --channel connection's commands: the line
// answering the last command among the connect reply and others, a subscribe's stream
// position and recovered publications, a refusal, and what is not a reply at all.
#include "bench/load/command_reply.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ringcast::load {
namespace {

using Pubs = std::vector<std::pair<std::string, std::uint64_t>>;

bool read(std::string_view message, std::uint32_t id, CommandReply& r, Pubs& pubs) {
  return read_reply(message, id, r, [&](std::string_view data, std::uint64_t offset) { pubs.emplace_back(data, offset); });
}

TEST(CommandReply, RecoveredSubscribeAfterTheConnectReply) {
  const std::string msg =
      R"({"id":1,"connect":{"client":"c","version":"0.1.0","ping":25,"pong":true}})"
      "\n"
      R"({"id":2,"subscribe":{"recoverable":true,"epoch":"ab12","offset":9,"positioned":true,)"
      R"("publications":[{"data":"xx|p0|s8|t5|","offset":8},{"data":"y\"z","info":{"user":""},"offset":9},)"
      R"({"data":{"k":1},"offset":10}],"recovered":true,"was_recovering":true}})";
  CommandReply r;
  Pubs pubs;
  ASSERT_TRUE(read(msg, 2, r, pubs)) << r.error;
  EXPECT_TRUE(r.found);
  EXPECT_FALSE(r.refused);
  EXPECT_EQ(r.epoch, "ab12");
  EXPECT_EQ(r.offset, 9u);
  EXPECT_TRUE(r.recovered);
  EXPECT_EQ(r.publications, 3u);
  EXPECT_EQ(pubs, (Pubs{{"xx|p0|s8|t5|", 8}, {"y\"z", 9}, {"", 10}})) << "strings unescaped, other data empty";
}

TEST(CommandReply, NotRecoveredAndNotFound) {
  CommandReply r;
  Pubs pubs;
  ASSERT_TRUE(read(R"({"id":2,"subscribe":{"epoch":"e","offset":40,"recovered":false}})", 2, r, pubs));
  EXPECT_TRUE(r.found);
  EXPECT_FALSE(r.recovered);
  EXPECT_EQ(r.offset, 40u);
  EXPECT_TRUE(pubs.empty());
  ASSERT_TRUE(read(R"({"id":1,"connect":{}})", 2, r, pubs)) << "the connect reply alone: not yet";
  EXPECT_FALSE(r.found);
  ASSERT_TRUE(read(R"({"push":{"channel":"x","pub":{"data":"d"}}})", 2, r, pubs)) << "a push is not a reply";
  EXPECT_FALSE(r.found);
  ASSERT_TRUE(read(R"({"id":2,"ping":{}})", 2, r, pubs));
  EXPECT_TRUE(r.found);
  EXPECT_TRUE(r.epoch.empty());
}

TEST(CommandReply, Refused) {
  CommandReply r;
  Pubs pubs;
  ASSERT_TRUE(read("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"error\":{\"code\":112,\"message\":\"unrecoverable position\"}}", 2,
                   r, pubs));
  EXPECT_TRUE(r.found);
  EXPECT_TRUE(r.refused);
  EXPECT_EQ(r.error, "112 unrecoverable position");
}

TEST(CommandReply, MalformedLinesAreNamed) {
  CommandReply r;
  Pubs pubs;
  EXPECT_FALSE(read("not json", 2, r, pubs));
  EXPECT_EQ(r.error, "a reply that is not a JSON object");
  EXPECT_FALSE(read(R"({"id":2,"subscribe":{"offset":"9"}})", 2, r, pubs));
  EXPECT_EQ(r.error, "subscribe result: offset is not a number");
  EXPECT_FALSE(read(R"({"id":2,"subscribe":{"publications":[{"data":"x","offset":1},7]}})", 2, r, pubs));
  EXPECT_EQ(r.error, "malformed recovered publication");
  EXPECT_FALSE(read(R"({"id":2,"subscribe":{"epoch":"e")", 2, r, pubs)) << "cut short";
}

}  // namespace
}  // namespace ringcast::load
