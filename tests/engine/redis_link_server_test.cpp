// RedisLink against a real redis-server (Debian's, started here on a Unix socket of its
// own with no persistence; skipped when it is not installed: scripts/setup.sh --test
// installs it; a failure to start fails):
// the RESP we write is what Redis reads, the replies and pub/sub messages it sends are
// what we parse, and the publish script numbers, keeps and publishes in one order.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/broker/broker_wire.hpp"
#include "engine/broker/redis_link.hpp"
#include "tests/support/redis_server.hpp"

namespace ringcast::engine {
namespace {

namespace resp = protocol::resp;

// A reply as text: scalars as themselves (":" before integers, "-" before errors, "nil"),
// arrays as "[a b c]".
std::string text_of(const resp::Reply& r, std::uint32_t i) {
  const resp::Value& v = r.at(i);
  switch (v.type) {
    case resp::Type::integer: return ":" + std::to_string(v.integer);
    case resp::Type::error: return "-" + std::string(v.str);
    case resp::Type::nil:
    case resp::Type::nil_array: return "nil";
    case resp::Type::array: {
      std::string out = "[";
      for (std::uint32_t k = 0; k < v.integer; ++k) {
        if (k != 0) out += ' ';
        out += text_of(r, r.element(i, k));
      }
      return out + "]";
    }
    default: return std::string(v.str);
  }
}

struct Seen final : RedisLink::Handler {
  std::vector<std::pair<std::uint64_t, std::string>> replies;
  std::vector<std::pair<std::string, std::string>> messages;
  void on_reply(std::uint64_t tag, const resp::Reply& r) override { replies.emplace_back(tag, text_of(r, 0)); }
  void on_message(std::string_view channel, std::string_view payload) override { messages.emplace_back(channel, payload); }
};

// A channel's meta, stream and pub/sub keys, as the nodes name them.
std::array<std::string, 3> channel_keys(std::string_view channel) {
  std::array<std::string, 3> k;
  broker::key_of(k[0], broker::kDefaultPrefix, broker::Key::meta, channel);
  broker::key_of(k[1], broker::kDefaultPrefix, broker::Key::stream, channel);
  broker::key_of(k[2], broker::kDefaultPrefix, broker::Key::pubsub, channel);
  return k;
}

// One connection driven by a RedisLink: writes what it queued, reads until `done`.
struct Conn {
  explicit Conn(const RedisServer& redis) : fd(dial(redis.path())) {}
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  bool command(std::vector<std::string_view> args, std::uint64_t tag) { return link.command(args, tag); }
  template <typename Done>
  bool run(Done&& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      while (!link.out().empty()) {
        const ssize_t n = ::send(fd, link.out().data(), link.out().size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        link.sent(static_cast<std::size_t>(n));
      }
      pollfd p{fd, POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) return false;
      if ((p.revents & POLLIN) == 0) continue;
      std::uint8_t buf[7];  // small reads: replies arrive cut at every place
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      if (std::string e = link.feed({buf, static_cast<std::size_t>(n)}, seen); !e.empty()) {
        ADD_FAILURE() << e;
        return false;
      }
    }
    return true;
  }
  int fd;
  RedisLink link;
  Seen seen;
};

TEST(RedisLinkServer, PublishSubscribeAndAScript) {
  RedisServer redis;
  REQUIRE_REDIS(redis);
  Conn sub(redis), cmd(redis);
  ASSERT_GE(sub.fd, 0);
  ASSERT_GE(cmd.fd, 0);
  ASSERT_TRUE(sub.command({"SUBSCRIBE", "rc:feed:a"}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  EXPECT_EQ(sub.seen.replies[0], (std::pair<std::uint64_t, std::string>{1, "[subscribe rc:feed:a :1]"}));
  const std::string big(70000, 'z');  // more than one read, and past a socket buffer's first fill
  ASSERT_TRUE(cmd.command({"PUBLISH", "rc:feed:a", "first\r\nline"}, 10));
  ASSERT_TRUE(cmd.command({"PUBLISH", "rc:feed:a", big}, 11));
  ASSERT_TRUE(cmd.command({"PUBLISH", "rc:nobody", "x"}, 12));
  ASSERT_TRUE(cmd.command({"NOSUCHCOMMAND"}, 13));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 4; }));
  EXPECT_EQ(cmd.seen.replies[0], (std::pair<std::uint64_t, std::string>{10, ":1"}));  // one subscriber got it
  EXPECT_EQ(cmd.seen.replies[1], (std::pair<std::uint64_t, std::string>{11, ":1"}));
  EXPECT_EQ(cmd.seen.replies[2], (std::pair<std::uint64_t, std::string>{12, ":0"}));
  EXPECT_EQ(cmd.seen.replies[3].first, 13u);
  EXPECT_TRUE(cmd.seen.replies[3].second.starts_with("-ERR unknown command")) << cmd.seen.replies[3].second;
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 2; }));
  EXPECT_EQ(sub.seen.messages[0], (std::pair<std::string, std::string>{"rc:feed:a", "first\r\nline"}));
  EXPECT_EQ(sub.seen.messages[1].second, big);
  // The offset counter and the stream entry in one script: what a publication with
  // history will run, so every node sees one order.
  const std::string_view script =
      "local o = redis.call('INCR', KEYS[1]) "
      "redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[2], o .. '-1', 'd', ARGV[1]) "
      "return {o, redis.call('XLEN', KEYS[2])}";
  for (std::uint64_t t = 20; t < 23; ++t) ASSERT_TRUE(cmd.command({"EVAL", script, "2", "rc:o:a", "rc:s:a", "pub", "2"}, t));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 7; }));
  EXPECT_EQ(cmd.seen.replies[4].second, "[:1 :1]");  // offset 1, one entry
  EXPECT_EQ(cmd.seen.replies[6].second, "[:3 :2]");  // offset 3, trimmed to two entries
  ASSERT_TRUE(cmd.command({"XRANGE", "rc:s:a", "-", "+"}, 30));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 8; }));
  EXPECT_EQ(cmd.seen.replies[7].first, 30u);
  EXPECT_EQ(cmd.seen.replies[7].second, "[[2-1 [d pub]] [3-1 [d pub]]]");
}

TEST(RedisLinkServer, ThePublishScriptNumbersKeepsAndPublishesInOneOrder) {
  RedisServer redis;
  REQUIRE_REDIS(redis);
  Conn sub(redis), cmd(redis);
  const std::array<std::string, 3> keys = channel_keys("feed:a");
  const std::string &meta = keys[0], &stream = keys[1], &pubsub = keys[2];
  ASSERT_TRUE(sub.command({"SUBSCRIBE", pubsub}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  auto publish = [&](std::string_view epoch, std::string_view record, std::uint64_t tag) {
    return cmd.command({"EVAL", broker::kPublishScript, "3", meta, stream, pubsub, epoch, "2", "60", "300", record}, tag);
  };
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(publish("epochAAA", "rec" + std::to_string(i), i));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 3; }));
  EXPECT_EQ(cmd.seen.replies[0].second, "[:1 epochAAA]");
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 3; }));
  for (std::uint64_t i = 1; i <= 3; ++i) {
    broker::Envelope e;
    ASSERT_TRUE(broker::parse_envelope(sub.seen.messages[i - 1].second, e)) << sub.seen.messages[i - 1].second;
    EXPECT_EQ(e.offset, i);
    EXPECT_EQ(e.epoch, "epochAAA") << "the stream's epoch, not the candidate of a later call";
    EXPECT_EQ(e.record, "rec" + std::to_string(i));
  }
  // History keeps the newest two, by offset: recovery from offset 1 reads 2 and 3.
  ASSERT_TRUE(cmd.command({"XRANGE", stream, "2-0", "+"}, 10));
  ASSERT_TRUE(cmd.command({"TTL", stream}, 11));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 5; }));
  EXPECT_EQ(cmd.seen.replies[3].second, "[[2-1 [d rec2]] [3-1 [d rec3]]]");
  EXPECT_GT(std::stoi(cmd.seen.replies[4].second.substr(1)), 0) << "the stream expires";
  // The meta hash gone (idle past its TTL): a new epoch, offsets from 1, the old stream dropped.
  ASSERT_TRUE(cmd.command({"DEL", meta}, 12));
  ASSERT_TRUE(publish("epochBBB", "again", 13));
  ASSERT_TRUE(cmd.command({"XLEN", stream}, 14));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 8; }));
  EXPECT_EQ(cmd.seen.replies[6].second, "[:1 epochBBB]");
  EXPECT_EQ(cmd.seen.replies[7].second, ":1");
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 4; }));
  EXPECT_EQ(sub.seen.messages[3].second, "1:epochBBB:again");
  // Wrong arguments fail before the first write: the offset is not counted.
  ASSERT_TRUE(cmd.command({"EVAL", broker::kPublishScript, "3", meta, stream, pubsub, "e", "2", "", "300", "x"}, 15));
  ASSERT_TRUE(cmd.command({"EVAL", broker::kPublishScript, "3", meta, stream, pubsub, "e:1", "2", "0", "0", "x"}, 16));
  ASSERT_TRUE(cmd.command({"HGET", meta, "o"}, 17));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 11; }));
  EXPECT_TRUE(cmd.seen.replies[8].second.starts_with("-ERR ringcast publish: bad arguments")) << cmd.seen.replies[8].second;
  EXPECT_TRUE(cmd.seen.replies[9].second.starts_with("-ERR ringcast publish")) << cmd.seen.replies[9].second;
  EXPECT_EQ(cmd.seen.replies[10].second, "1");
  // Past 10^14 the offset stays an integer (Lua's own formatting would write 1e+14).
  ASSERT_TRUE(cmd.command({"HSET", meta, "o", "99999999999999"}, 18));
  ASSERT_TRUE(publish("unused", "big", 19));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 13; }));
  EXPECT_EQ(cmd.seen.replies[12].second, "[:100000000000000 epochBBB]");
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 5; }));
  EXPECT_EQ(sub.seen.messages[4].second, "100000000000000:epochBBB:big");
}

// The load script: a stream that is not there gets its meta hash (the epoch subscribers are
// told is the one publications then carry); one that is gives its epoch, top and newest
// records, newest first, and publishes the load's marker after them on the channel;
// EVALSHA runs both by the hash script_sha1 gives.
TEST(RedisLinkServer, TheLoadScriptGivesTheStreamAsRedisHoldsIt) {
  RedisServer redis;
  REQUIRE_REDIS(redis);
  Conn sub(redis), cmd(redis);
  const std::array<std::string, 3> keys = channel_keys("feed:l");
  const std::string &meta = keys[0], &stream = keys[1], &pubsub = keys[2];
  const std::string publish_sha = broker::script_sha1(broker::kPublishScript);
  const std::string load_sha = broker::script_sha1(broker::kLoadScript);
  ASSERT_TRUE(sub.command({"SUBSCRIBE", pubsub}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  std::string marker;
  broker::write_load_marker(marker, "nodeA", 3);
  ASSERT_TRUE(cmd.command({"SCRIPT", "LOAD", broker::kPublishScript}, 1));
  ASSERT_TRUE(cmd.command({"SCRIPT", "LOAD", broker::kLoadScript}, 2));
  ASSERT_TRUE(cmd.command({"EVALSHA", load_sha, "3", meta, stream, pubsub, "10", "epochLLL", "300", marker}, 3));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 3; }));
  EXPECT_EQ(cmd.seen.replies[0].second, publish_sha) << "our hash is Redis's";
  EXPECT_EQ(cmd.seen.replies[1].second, load_sha);
  EXPECT_EQ(cmd.seen.replies[2].second, "[epochLLL 0 []]");
  for (std::uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(cmd.command({"EVALSHA", publish_sha, "3", meta, stream, pubsub, "other", "2", "60", "300",
                             "r" + std::to_string(i)},
                            3 + i));
  }
  broker::write_load_marker(marker, "nodeA", 7);
  ASSERT_TRUE(cmd.command({"EVALSHA", load_sha, "3", meta, stream, pubsub, "10", "unused", "300", marker}, 7));
  ASSERT_TRUE(cmd.command({"EVALSHA", load_sha, "3", meta, stream, pubsub, "0", "unused", "300", marker}, 8));
  ASSERT_TRUE(cmd.command({"EVALSHA", load_sha, "3", meta, stream, pubsub, "10", "unused", "300"}, 9));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 9; }));
  EXPECT_EQ(cmd.seen.replies[3].second, "[:1 epochLLL]") << "the load's epoch, made first";
  EXPECT_EQ(cmd.seen.replies[6].second, "[epochLLL 3 [[3-1 [d r3]] [2-1 [d r2]]]]") << "the newest two kept";
  EXPECT_TRUE(cmd.seen.replies[7].second.starts_with("-ERR ringcast load: bad arguments"));
  EXPECT_TRUE(cmd.seen.replies[8].second.starts_with("-ERR ringcast load: bad arguments")) << "no marker";
  // On the channel: the first load's marker, the three publications, the second's marker.
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 5; }));
  std::string_view node;
  std::uint64_t tag = 0;
  EXPECT_TRUE(broker::parse_load_marker(sub.seen.messages[0].second, node, tag));
  EXPECT_EQ(node, "nodeA");
  EXPECT_EQ(tag, 3u);
  EXPECT_FALSE(broker::parse_load_marker(sub.seen.messages[1].second, node, tag)) << "a publication";
  EXPECT_TRUE(broker::parse_load_marker(sub.seen.messages[4].second, node, tag));
  EXPECT_EQ(tag, 7u);
  EXPECT_FALSE(broker::parse_load_marker("load:x:", node, tag));
  EXPECT_FALSE(broker::parse_load_marker("load:x:7z", node, tag));
  EXPECT_EQ(broker::entry_offset("3-1"), 3u);
  EXPECT_EQ(broker::entry_offset("3-0"), 0u);
  EXPECT_EQ(broker::entry_offset("x-1"), 0u);
}

// A read is the load without its marker; history_remove drops the stream (the position
// stays) and tells the channel's subscribers with the clear marker, in order; a delta
// asked for travels in the envelope only.
TEST(RedisLinkServer, AReadPublishesNothingAndARemoveClears) {
  RedisServer redis;
  REQUIRE_REDIS(redis);
  Conn sub(redis), cmd(redis);
  const std::array<std::string, 3> keys = channel_keys("feed:c");
  const std::string &meta = keys[0], &stream = keys[1], &pubsub = keys[2];
  ASSERT_TRUE(sub.command({"SUBSCRIBE", pubsub}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  const std::string_view publish = broker::kPublishScript, load = broker::kLoadScript;
  ASSERT_TRUE(cmd.command({"EVAL", publish, "3", meta, stream, pubsub, "epochCCC", "5", "60", "300", "r1"}, 1));
  ASSERT_TRUE(cmd.command({"EVAL", load, "3", meta, stream, pubsub, "5", "unused", "300", ""}, 2));
  ASSERT_TRUE(cmd.command({"EVAL", broker::kRemoveHistoryScript, "2", stream, pubsub}, 3));
  ASSERT_TRUE(cmd.command({"EVAL", load, "3", meta, stream, pubsub, "5", "unused", "300", ""}, 4));
  ASSERT_TRUE(cmd.command({"EVAL", publish, "3", meta, stream, pubsub, "other", "5", "60", "300", "r2", "d"}, 5));
  ASSERT_TRUE(cmd.command({"EVAL", load, "3", meta, stream, pubsub, "5", "unused", "300", ""}, 6));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 6; }));
  EXPECT_EQ(cmd.seen.replies[1].second, "[epochCCC 1 [[1-1 [d r1]]]]");
  EXPECT_EQ(cmd.seen.replies[3].second, "[epochCCC 1 []]") << "the records gone, the position kept";
  EXPECT_EQ(cmd.seen.replies[4].second, "[:2 epochCCC]") << "numbering goes on";
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 3; }));
  EXPECT_EQ(sub.seen.messages[0].second, "1:epochCCC:r1");
  EXPECT_EQ(sub.seen.messages[1].second, broker::kClearMarker) << "the reads published nothing";
  EXPECT_EQ(sub.seen.messages[2].second, "2:epochCCC:dr2") << "a delta asked for, in the envelope";
  EXPECT_EQ(cmd.seen.replies[5].second, "[epochCCC 2 [[2-1 [d r2]]]]") << "not in the stream";
}

// Presence: adds and removes by client, counts users as clients come and go, an expired
// entry goes on the next read (from every key), and refreshing one counts it once.
TEST(RedisLinkServer, PresenceScriptsKeepEveryNodesClients) {
  RedisServer redis;
  REQUIRE_REDIS(redis);
  Conn cmd(redis);
  std::string hash, zset, users, alice, bob;
  broker::key_of(hash, broker::kDefaultPrefix, broker::Key::presence, "room:p");
  broker::key_of(zset, broker::kDefaultPrefix, broker::Key::presence_expiry, "room:p");
  broker::key_of(users, broker::kDefaultPrefix, broker::Key::presence_users, "room:p");
  broker::write_presence_value(alice, "alice", R"({"n":1})", "");
  broker::write_presence_value(bob, "bob", "", R"({"c":2})");
  const std::string_view add = broker::kPresenceAddScript, rm = broker::kPresenceRemoveScript;
  const std::string_view stats = broker::kPresenceStatsScript;
  std::vector<std::string> want;
  auto run = [&](std::initializer_list<std::string_view> args, std::string expect) {
    ASSERT_TRUE(cmd.command(args, want.size() + 1));
    want.push_back(std::move(expect));
  };
  run({"EVAL", add, "3", hash, zset, users, "60", "5000", "c1", alice}, ":1");
  run({"EVAL", add, "3", hash, zset, users, "60", "5000", "c2", alice}, ":1");
  run({"EVAL", add, "3", hash, zset, users, "60", "6000", "c2", alice}, ":1");  // a refresh
  run({"EVAL", add, "3", hash, zset, users, "60", "1000", "c3", bob}, ":1");    // expires first
  run({"EVAL", stats, "3", hash, zset, users, "999"}, "[:3 :2]");
  run({"HGET", users, "alice"}, "2");
  run({"EVAL", rm, "3", hash, zset, users, "c2"}, ":1");
  run({"EVAL", rm, "3", hash, zset, users, "c2"}, ":1");  // twice: counted once
  run({"EVAL", broker::kPresenceScript, "3", hash, zset, users, "1000", "10"}, "[c1 " + alice + "]");
  run({"EVAL", broker::kPresenceScript, "3", hash, zset, users, "1000", "0"},
      "-ERR ringcast presence: more than 0 clients: ask presence_stats");
  run({"ZCARD", zset}, ":1");
  run({"HGETALL", users}, "[alice 1]");
  run({"EVAL", stats, "3", hash, zset, users, "1000"}, "[:1 :1]");
  run({"EVAL", add, "3", hash, zset, users, "0", "1", "c4", bob}, "");
  run({"EVAL", stats, "3", hash, zset, users, "soon"}, "");
  run({"EVAL", add, "3", hash, zset, users, "30", "7000", "c1", alice}, ":1");  // a node with a shorter TTL
  run({"TTL", users}, ":60");
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == want.size(); }));
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].empty()) {
      EXPECT_TRUE(cmd.seen.replies[i].second.starts_with("-ERR ringcast presence: bad arguments")) << i;
    } else {
      EXPECT_EQ(cmd.seen.replies[i].second, want[i]) << i;
    }
  }
  broker::PresenceValue v;
  ASSERT_TRUE(broker::parse_presence_value(bob, v));
  EXPECT_EQ(v.user, "bob");
  EXPECT_EQ(v.conn_info, "");
  EXPECT_EQ(v.chan_info, R"({"c":2})");
}

}  // namespace
}  // namespace ringcast::engine
