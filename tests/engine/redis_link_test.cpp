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
  const std::string stream = "*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n+OK\r\n-ERR no\r\n$5\r\nab\r\nc\r\n"
                             "*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$3\r\nyyy\r\n:7\r\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    for (std::size_t cut2 = cut; cut2 <= stream.size(); cut2 += 7) {  // three pieces
      RedisLink link;
      const std::string_view sub[] = {"SUBSCRIBE", "x"};
      const std::string_view ping[] = {"PING"};
      ASSERT_TRUE(link.command(sub, 1));
      for (std::uint64_t t = 2; t <= 5; ++t) ASSERT_TRUE(link.command(ping, t));
      Seen seen;
      const std::string_view all(stream);
      ASSERT_EQ(link.feed(bytes(all.substr(0, cut)), seen), "");
      ASSERT_EQ(link.feed(bytes(all.substr(cut, cut2 - cut)), seen), "");
      ASSERT_EQ(link.feed(bytes(all.substr(cut2)), seen), "");
      ASSERT_EQ(seen.replies.size(), 5u) << "cut at " << cut << " and " << cut2;
      EXPECT_EQ(seen.replies[1].second, "OK");
      EXPECT_EQ(seen.replies[2].second, "error:ERR no");
      EXPECT_EQ(seen.replies[3].second, "ab\r\nc");
      EXPECT_EQ(seen.replies[4], (std::pair<std::uint64_t, std::string>{5, "7"}));
      ASSERT_EQ(seen.messages.size(), 1u);
      EXPECT_EQ(seen.messages[0].second, "yyy");
    }
  }
}

TEST(RedisLink, SubscribeAnswersOncePerChannelAndOnlyASubscriberGetsPushes) {
  RedisLink link;
  Seen seen;
  // Not subscribed: a reply that looks like a push (HMGET of three fields) is a reply.
  const std::string_view hmget[] = {"HMGET", "h", "a", "b", "c"};
  ASSERT_TRUE(link.command(hmget, 1));
  ASSERT_EQ(link.feed(bytes("*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n"), seen), "");
  ASSERT_EQ(seen.replies.size(), 1u);
  EXPECT_TRUE(seen.messages.empty());
  const std::string_view sub[] = {"SUBSCRIBE", "a", "b"};
  const std::string_view ping[] = {"PING"};
  ASSERT_TRUE(link.command(sub, 2));
  ASSERT_TRUE(link.command(ping, 3));
  EXPECT_EQ(link.pending(), 2u);
  ASSERT_EQ(link.feed(bytes("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n"
                            "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
                      seen),
            "");
  ASSERT_EQ(seen.replies.size(), 4u);
  EXPECT_EQ(seen.replies[1].first, 2u);
  EXPECT_EQ(seen.replies[2].first, 2u) << "both confirmations answer the SUBSCRIBE";
  EXPECT_EQ(seen.replies[3].first, 3u) << "the pong is the PING's";
  ASSERT_EQ(seen.messages.size(), 1u);
  const std::string_view all_channels[] = {"UNSUBSCRIBE"};
  EXPECT_FALSE(link.command(all_channels, 4)) << "its replies cannot be counted";
}

TEST(RedisLink, ARefusedSubscribeAnswersOnceForAllItsChannels) {
  RedisLink link;
  Seen seen;
  const std::string_view sub[] = {"SUBSCRIBE", "a", "b", "c"};
  const std::string_view ping[] = {"PING"};
  ASSERT_TRUE(link.command(sub, 1));
  ASSERT_TRUE(link.command(ping, 2));
  ASSERT_EQ(link.feed(bytes("-NOPERM no permissions\r\n+PONG\r\n"), seen), "");
  ASSERT_EQ(seen.replies.size(), 2u);
  EXPECT_EQ(seen.replies[0], (std::pair<std::uint64_t, std::string>{1, "error:NOPERM no permissions"}));
  EXPECT_EQ(seen.replies[1], (std::pair<std::uint64_t, std::string>{2, "PONG"})) << "the next reply is still the PING's";
  EXPECT_EQ(link.pending(), 0u);
}

TEST(RedisLink, PartialSendsKeepTheBufferBounded) {
  RedisLink link(RedisLink::Limits{.max_pending = 1u << 20, .max_out = 4096});
  const std::string_view ping[] = {"PING"};  // 14 bytes each
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(link.command(ping, static_cast<std::uint64_t>(i)));
    link.sent(link.out().size() > 1 ? link.out().size() - 1 : 0);  // the network always leaves a byte
  }
  EXPECT_LT(link.out().size(), 64u);
  EXPECT_LT(link.buffered(), 2u * 4096u) << "the sent part is dropped as the buffer fills";
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
