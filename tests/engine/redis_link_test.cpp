// The Redis conversation without a socket: commands out as RESP, replies matched to their
// tags in order however the bytes are cut, pub/sub messages apart from replies, the
// limits that make a gone Redis fail fast, and reset after a lost connection.
#include "engine/broker/redis_link.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringcast::engine {
namespace {

namespace resp = protocol::resp;

struct Seen final : RedisLink::Handler {
  std::vector<std::pair<std::uint64_t, std::string>> replies;  // tag, the reply's first string or integer
  std::vector<std::pair<std::string, std::string>> messages;
  void on_reply(std::uint64_t tag, const resp::Reply& r) override {
    const resp::Value& v = r.root();
    std::string what = v.type == resp::Type::integer ? std::to_string(v.integer)
                       : v.type == resp::Type::array ? "array" + std::to_string(v.integer)
                                                      : std::string(v.str);
    if (v.type == resp::Type::error) what = "error:" + what;
    replies.emplace_back(tag, what);
  }
  void on_message(std::string_view channel, std::string_view payload) override {
    messages.emplace_back(channel, payload);
  }
};

std::span<const std::uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

std::string out_text(const RedisLink& link) {
  return {reinterpret_cast<const char*>(link.out().data()), link.out().size()};
}

TEST(RedisLink, CommandsGoOutAsRespAndRepliesFindTheirTags) {
  RedisLink link;
  const std::string_view sub[] = {"SUBSCRIBE", "rc:a"};
  const std::string_view pub[] = {"PUBLISH", "rc:a", "hi"};
  ASSERT_TRUE(link.command(sub, 1));
  ASSERT_TRUE(link.command(pub, 2));
  EXPECT_EQ(out_text(link), "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nrc:a\r\n*3\r\n$7\r\nPUBLISH\r\n$4\r\nrc:a\r\n$2\r\nhi\r\n");
  link.sent(10);
  EXPECT_EQ(out_text(link).substr(0, 8), "BSCRIBE\r");
  link.sent(link.out().size());
  EXPECT_TRUE(link.out().empty());
  EXPECT_EQ(link.pending(), 2u);
  Seen seen;
  // The confirmation answers the SUBSCRIBE; a message in between goes to on_message.
  ASSERT_EQ(link.feed(bytes("*3\r\n$9\r\nsubscribe\r\n$4\r\nrc:a\r\n:1\r\n"
                            "*3\r\n$7\r\nmessage\r\n$4\r\nrc:a\r\n$5\r\nfirst\r\n:1\r\n"), seen), "");
  ASSERT_EQ(seen.replies.size(), 2u);
  EXPECT_EQ(seen.replies[0], (std::pair<std::uint64_t, std::string>{1, "array3"}));
  EXPECT_EQ(seen.replies[1], (std::pair<std::uint64_t, std::string>{2, "1"}));
  ASSERT_EQ(seen.messages.size(), 1u);
  EXPECT_EQ(seen.messages[0], (std::pair<std::string, std::string>{"rc:a", "first"}));
  EXPECT_EQ(link.pending(), 0u);
}

TEST(RedisLink, RepliesCutAnywhereArriveWholeAndInOrder) {
  const std::string stream = "+OK\r\n-ERR no\r\n$5\r\nab\r\nc\r\n*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$3\r\nyyy\r\n:7\r\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    RedisLink link;
    const std::string_view ping[] = {"PING"};
    for (std::uint64_t t = 1; t <= 4; ++t) ASSERT_TRUE(link.command(ping, t));
    Seen seen;
    ASSERT_EQ(link.feed(bytes(std::string_view(stream).substr(0, cut)), seen), "");
    ASSERT_EQ(link.feed(bytes(std::string_view(stream).substr(cut)), seen), "");
    ASSERT_EQ(seen.replies.size(), 4u) << "cut at " << cut;
    EXPECT_EQ(seen.replies[0].second, "OK");
    EXPECT_EQ(seen.replies[1].second, "error:ERR no");
    EXPECT_EQ(seen.replies[2].second, "ab\r\nc");
    EXPECT_EQ(seen.replies[3], (std::pair<std::uint64_t, std::string>{4, "7"}));
    ASSERT_EQ(seen.messages.size(), 1u);
    EXPECT_EQ(seen.messages[0].second, "yyy");
  }
}

TEST(RedisLink, WhatCannotBeTrustedDropsTheLink) {
  Seen seen;
  RedisLink link;
  EXPECT_EQ(link.feed(bytes("+OK\r\n"), seen), "Redis sent a reply to no command");
  RedisLink bad;
  EXPECT_EQ(bad.feed(bytes("?\r\n"), seen), "Redis sent bad RESP: an unknown RESP type");
  RedisLink huge;
  EXPECT_EQ(huge.feed(bytes("$999999999\r\n"), seen), "Redis sent bad RESP: a bulk string longer than the limit");
}

TEST(RedisLink, LimitsRefuseAndResetDropsEverything) {
  RedisLink link(RedisLink::Limits{.max_pending = 2, .max_out = 64});
  const std::string_view ping[] = {"PING"};
  const std::string big(100, 'x');
  const std::string_view too_big[] = {"PUBLISH", "c", big};
  EXPECT_FALSE(link.command(too_big, 9)) << "past max_out";
  ASSERT_TRUE(link.command(ping, 1));
  ASSERT_TRUE(link.command(ping, 2));
  EXPECT_FALSE(link.command(ping, 3)) << "past max_pending";
  Seen seen;
  ASSERT_EQ(link.feed(bytes("+PO"), seen), "");  // a reply cut short when the link dies
  EXPECT_EQ(link.reset(), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_TRUE(link.out().empty());
  EXPECT_EQ(link.pending(), 0u);
  ASSERT_TRUE(link.command(ping, 4));
  ASSERT_EQ(link.feed(bytes("+PONG\r\n"), seen), "") << "nothing of the old connection is left";
  ASSERT_EQ(seen.replies.size(), 1u);
  EXPECT_EQ(seen.replies[0], (std::pair<std::uint64_t, std::string>{4, "PONG"}));
}

}  // namespace
}  // namespace ringcast::engine
