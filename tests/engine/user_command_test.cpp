#include "engine/app/user_command.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::engine {
namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(UserCommand, RoundTrips) {
  UserCommand c{.kind = UserCommand::Kind::disconnect, .code = 4001, .user = "alice", .client = "",
                .channel = "", .reason = "bye", .keep = {"k1", "k2"}};
  std::string wire;
  encode(c, wire);
  UserCommand back;
  ASSERT_TRUE(decode(bytes(wire), back));
  EXPECT_EQ(back.kind, UserCommand::Kind::disconnect);
  EXPECT_EQ(back.code, 4001);
  EXPECT_EQ(back.user, "alice");
  EXPECT_EQ(back.reason, "bye");
  EXPECT_EQ(back.keep, (std::vector<std::string_view>{"k1", "k2"}));
  UserCommand u{.kind = UserCommand::Kind::unsubscribe, .code = 0, .user = "bob", .client = "c", .channel = "ns:x",
                .reason = "", .keep = {}};
  encode(u, wire);
  ASSERT_TRUE(decode(bytes(wire), back));
  EXPECT_EQ(back.kind, UserCommand::Kind::unsubscribe);
  EXPECT_EQ(back.channel, "ns:x");
  EXPECT_EQ(back.client, "c");
  EXPECT_TRUE(back.keep.empty());
}

TEST(UserCommand, EveryTruncationAndExtraByteIsRefused) {
  UserCommand c{.kind = UserCommand::Kind::disconnect, .code = 3503, .user = "alice", .client = "x",
                .channel = "", .reason = "force disconnect", .keep = {"k"}};
  std::string wire;
  encode(c, wire);
  UserCommand back;
  for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(decode(bytes(wire.substr(0, n)), back)) << n;
  EXPECT_FALSE(decode(bytes(wire + "z"), back));
  std::string bad_kind = wire;
  bad_kind[0] = 7;
  EXPECT_FALSE(decode(bytes(bad_kind), back));
}

}  // namespace
}  // namespace ringcast::engine
