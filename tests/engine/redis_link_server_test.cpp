// RedisLink against a real redis-server (Debian's, started here on 127.0.0.1 with no
// persistence; skipped when it is not installed: scripts/setup.sh --test installs it):
// the RESP we write is what Redis reads, the replies and pub/sub messages it sends are
// what we parse, and the publish script numbers, keeps and publishes in one order.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/broker/broker_wire.hpp"
#include "engine/broker/redis_link.hpp"

namespace ringcast::engine {
namespace {

namespace resp = protocol::resp;

std::uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  (void)::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  (void)::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

int dial(std::uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

class RedisServer {
 public:
  RedisServer() : port_(free_port()) {
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && pid_ > 0; ++i) {  // up to 5 s to listen
      if (int s = dial(port_); s >= 0) {
        ::close(s);
        up_ = true;
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;  // it exited: not installed, or refused
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~RedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] bool up() const noexcept { return up_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
  bool up_ = false;
};

struct Seen final : RedisLink::Handler {
  std::vector<std::pair<std::uint64_t, std::string>> replies;
  std::vector<std::pair<std::string, std::string>> messages;
  void on_reply(std::uint64_t tag, const resp::Reply& r) override {
    const resp::Value& v = r.root();
    std::string what = v.type == resp::Type::integer ? ":" + std::to_string(v.integer)
                       : v.type == resp::Type::array ? "*" + std::to_string(v.integer)
                       : v.type == resp::Type::error ? "-" + std::string(v.str)
                                                      : std::string(v.str);
    if (v.type == resp::Type::array && v.integer > 0) {  // its last element, as text
      const resp::Value& last = r.at(r.element(0, static_cast<std::uint32_t>(v.integer - 1)));
      what += " " + (last.type == resp::Type::integer ? std::to_string(last.integer) : std::string(last.str));
    }
    replies.emplace_back(tag, what);
  }
  void on_message(std::string_view channel, std::string_view payload) override { messages.emplace_back(channel, payload); }
};

// One connection driven by a RedisLink: writes what it queued, reads until `done`.
struct Conn {
  explicit Conn(std::uint16_t port) : fd(dial(port)) {}
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
  if (!redis.up()) GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh --test installs it)";
  Conn sub(redis.port()), cmd(redis.port());
  ASSERT_GE(sub.fd, 0);
  ASSERT_GE(cmd.fd, 0);
  ASSERT_TRUE(sub.command({"SUBSCRIBE", "rc:feed:a"}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  EXPECT_EQ(sub.seen.replies[0], (std::pair<std::uint64_t, std::string>{1, "*3 1"}));  // subscribed, 1 channel
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
  EXPECT_EQ(cmd.seen.replies[4].second, "*2 1");  // offset 1, one entry
  EXPECT_EQ(cmd.seen.replies[6].second, "*2 2");  // offset 3, trimmed to two entries
  ASSERT_TRUE(cmd.command({"XRANGE", "rc:s:a", "-", "+"}, 30));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 8; }));
  EXPECT_EQ(cmd.seen.replies[7].first, 30u);
  EXPECT_TRUE(cmd.seen.replies[7].second.starts_with("*2 ")) << "entries 2-1 and 3-1: " << cmd.seen.replies[7].second;
}

TEST(RedisLinkServer, ThePublishScriptNumbersKeepsAndPublishesInOneOrder) {
  RedisServer redis;
  if (!redis.up()) GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh --test installs it)";
  Conn sub(redis.port()), cmd(redis.port());
  std::string meta, stream, pubsub;
  broker::key_of(meta, broker::kDefaultPrefix, broker::Key::meta, "feed:a");
  broker::key_of(stream, broker::kDefaultPrefix, broker::Key::stream, "feed:a");
  broker::key_of(pubsub, broker::kDefaultPrefix, broker::Key::pubsub, "feed:a");
  ASSERT_TRUE(sub.command({"SUBSCRIBE", pubsub}, 1));
  ASSERT_TRUE(sub.run([&] { return sub.seen.replies.size() == 1; }));
  auto publish = [&](std::string_view epoch, std::string_view record, std::uint64_t tag) {
    return cmd.command({"EVAL", broker::kPublishScript, "3", meta, stream, pubsub, epoch, "2", "60", "300", record}, tag);
  };
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(publish("epochAAA", "rec" + std::to_string(i), i));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 3; }));
  EXPECT_EQ(cmd.seen.replies[0].second, "*2 epochAAA");
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
  EXPECT_EQ(cmd.seen.replies[3].second, "*2 ") << "two entries";
  EXPECT_GT(std::stoi(cmd.seen.replies[4].second.substr(1)), 0);
  // The meta hash gone (idle past its TTL): a new epoch, offsets from 1, the old stream dropped.
  ASSERT_TRUE(cmd.command({"DEL", meta}, 12));
  ASSERT_TRUE(publish("epochBBB", "again", 13));
  ASSERT_TRUE(cmd.command({"XLEN", stream}, 14));
  ASSERT_TRUE(cmd.run([&] { return cmd.seen.replies.size() == 8; }));
  EXPECT_EQ(cmd.seen.replies[6].second, "*2 epochBBB");
  EXPECT_EQ(cmd.seen.replies[7].second, ":1");
  ASSERT_TRUE(sub.run([&] { return sub.seen.messages.size() == 4; }));
  EXPECT_EQ(sub.seen.messages[3].second, "1:epochBBB:again");
}

}  // namespace
}  // namespace ringcast::engine
