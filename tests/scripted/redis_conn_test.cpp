// RedisConn on the scripted backend: connect, SELECT, commands and replies, a lost
// connection failing its commands and closing its socket only once nothing is pending,
// the connect timeout, and the back-off between attempts.
#include "engine/broker/redis_conn.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/scripted_backend.hpp"

namespace ringcast::engine {
namespace {

struct Recorder final : RedisConn::Owner, CompletionSink {
  RedisConn* conn = nullptr;
  int ready = 0;
  std::vector<std::uint64_t> lost, replies;
  std::vector<std::string> messages;
  void on_ready(RedisConn&) override { ++ready; }
  void on_lost(RedisConn&, std::span<const std::uint64_t> tags) override { lost.insert(lost.end(), tags.begin(), tags.end()); }
  void on_reply(RedisConn&, std::uint64_t tag, const protocol::resp::Reply&) override { replies.push_back(tag); }
  void on_message(RedisConn&, std::string_view channel, std::string_view payload) override {
    messages.push_back(std::string(channel) + "=" + std::string(payload));
  }
  void on_completion(const Completion& c) override { conn->on_completion(c); }
};

class RedisConnTest : public ::testing::Test {
 protected:
  RedisConnTest() {
    EXPECT_EQ(io.init({.entries = 64, .recv_buffers = 16, .recv_buffer_size = 4096, .files = 8}), "");
    RedisConn::Endpoint ep;
    auto* in = reinterpret_cast<sockaddr_in*>(&ep.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(6390);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ep.len = sizeof(sockaddr_in);
    address.host = "127.0.0.1";
    address.port = 6390;
    address.url = "redis://127.0.0.1:6390/3";
    address.db = 3;
    conn = std::make_unique<RedisConn>(io, rec, address, ep, 0, 5, "test");
    rec.conn = conn.get();
  }
  ~RedisConnTest() override { EXPECT_EQ(io.violation(), ""); }

  void turn() {
    for (int i = 0; i < 8 && io.has_completions(); ++i) (void)io.run_once(rec);
    conn->flush();
  }
  // The socket the last connect dialled (the newest fd the backend saw connect).
  int dialled() const {
    for (int fd = 1023; fd > 2; --fd) {
      if (io.connect_pending(fd)) return fd;
    }
    return -1;
  }
  std::string sent(int fd) {
    std::vector<std::uint8_t> out;
    io.complete_send(fd, SIZE_MAX, out);
    turn();
    return {out.begin(), out.end()};
  }
  static std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  }
  int connect_ready() {
    conn->start();
    const int fd = dialled();
    EXPECT_GE(fd, 0);
    EXPECT_EQ(io.connect_port(fd), 6390);
    io.complete_connect(fd, 0);
    turn();
    EXPECT_EQ(conn->state(), RedisConn::State::selecting);
    EXPECT_EQ(sent(fd), "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
    io.peer_send(fd, bytes("+OK\r\n"));
    turn();
    EXPECT_EQ(conn->state(), RedisConn::State::ready);
    EXPECT_EQ(rec.ready, 1);
    return fd;
  }

  void failed_connect_and_timeout(bool failure_first) {
    conn->start();
    const int fd = dialled();
    ASSERT_GE(fd, 0);
    if (failure_first) io.complete_connect(fd, -ECONNREFUSED);
    io.advance(RedisConn::kConnectTimeoutMs);
    if (!failure_first) io.complete_connect(fd, -ECONNREFUSED);
    turn();
    turn();
    EXPECT_TRUE(io.closed(fd));
    ASSERT_EQ(conn->state(), RedisConn::State::waiting);
    io.advance(RedisConn::kBackoffFirstMs);
    turn();
    EXPECT_GE(dialled(), 0) << "it connects again";
  }

  ScriptedBackend io;
  Recorder rec;
  RedisAddress address;
  std::unique_ptr<RedisConn> conn;
};

TEST_F(RedisConnTest, SelectsThenCarriesCommandsAndMessages) {
  const int fd = connect_ready();
  const std::string_view publish[] = {"PUBLISH", "ch", "hi"};
  ASSERT_TRUE(conn->command(publish, 7));
  ASSERT_TRUE(conn->command(publish, 8));
  conn->flush();
  EXPECT_EQ(sent(fd), "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nhi\r\n*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nhi\r\n");
  io.peer_send(fd, bytes(":1\r\n:0"));
  turn();
  EXPECT_EQ(rec.replies, (std::vector<std::uint64_t>{7}));
  io.peer_send(fd, bytes("\r\n"));
  turn();
  EXPECT_EQ(rec.replies, (std::vector<std::uint64_t>{7, 8}));
  const std::string_view subscribe[] = {"SUBSCRIBE", "a"};
  ASSERT_TRUE(conn->command(subscribe, 9));
  conn->flush();
  (void)sent(fd);
  io.peer_send(fd, bytes("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$3\r\nxyz\r\n"));
  turn();
  EXPECT_EQ(rec.messages, (std::vector<std::string>{"a=xyz"}));
  EXPECT_EQ(io.buffers_in_use(), 0u);
}

TEST_F(RedisConnTest, ALostConnectionFailsItsCommandsAndComesBackAfterABackOff) {
  const int fd = connect_ready();
  const std::string_view ping[] = {"PING"};
  ASSERT_TRUE(conn->command(ping, 1));
  conn->flush();  // in flight when the peer goes
  ASSERT_TRUE(conn->command(ping, 2));
  io.peer_eof(fd);
  turn();
  // The send in flight still holds the socket: closed only once it has ended.
  EXPECT_EQ(rec.lost, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_FALSE(conn->command(ping, 3));  // down: refused at once
  EXPECT_TRUE(io.write_shut(fd));
  std::vector<std::uint8_t> out;
  io.fail_send(fd, EPIPE);
  turn();
  EXPECT_TRUE(io.closed(fd));
  EXPECT_EQ(conn->state(), RedisConn::State::waiting);
  // The first back-off is 50-100 ms.
  io.advance(49);
  turn();
  EXPECT_EQ(dialled(), -1);
  io.advance(51);
  turn();
  const int again = dialled();
  ASSERT_GE(again, 0);
  EXPECT_NE(again, fd);
  io.complete_connect(again, 0);
  turn();
  EXPECT_EQ(sent(again), "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
  io.peer_send(again, bytes("+OK\r\n"));
  turn();
  EXPECT_EQ(rec.ready, 2);
  EXPECT_EQ(conn->reconnects(), 1u);
}

TEST_F(RedisConnTest, AConnectThatHangsTimesOutAndTheBackOffDoubles) {
  conn->start();
  int fd = dialled();
  ASSERT_GE(fd, 0);
  io.advance(RedisConn::kConnectTimeoutMs);
  turn();  // the timeout cancels the connect, whose completion closes the socket
  turn();
  EXPECT_FALSE(io.connect_pending(fd));
  EXPECT_TRUE(io.closed(fd));
  std::uint64_t backoff = RedisConn::kBackoffFirstMs;
  for (int attempt = 0; attempt < 8; ++attempt) {
    io.advance(backoff / 2 - 1);
    turn();
    EXPECT_EQ(dialled(), -1) << "attempt " << attempt;
    io.advance(backoff / 2 + 1);
    turn();
    fd = dialled();
    ASSERT_GE(fd, 0) << "attempt " << attempt;
    io.complete_connect(fd, -ECONNREFUSED);
    turn();
    EXPECT_TRUE(io.closed(fd));
    backoff = std::min(backoff * 2, RedisConn::kBackoffMaxMs);
  }
  EXPECT_EQ(rec.ready, 0);
}

// The connect's failure and its timeout in one batch, in either order: the link still
// closes and tries again (a timer that fired before its cancel must not leave it closing).
TEST_F(RedisConnTest, AFailedConnectBeforeItsTimeoutInOneBatch) { failed_connect_and_timeout(true); }
TEST_F(RedisConnTest, AFailedConnectAfterItsTimeoutInOneBatch) { failed_connect_and_timeout(false); }

TEST_F(RedisConnTest, AnIdleLinkPingsAndAStalledRedisIsLeft) {
  const int fd = connect_ready();
  io.advance(RedisConn::kPingMs - 1);
  conn->tick(io.now_ms());
  turn();
  EXPECT_EQ(sent(fd), "") << "not yet";
  io.advance(1);
  conn->tick(io.now_ms());
  turn();
  EXPECT_EQ(sent(fd), "*1\r\n$4\r\nPING\r\n");
  io.peer_send(fd, bytes("+PONG\r\n"));
  turn();
  EXPECT_TRUE(rec.replies.empty()) << "its own PING is not the owner's";
  // A command Redis never answers: the link goes after kReplyTimeoutMs, the command failed.
  const std::string_view publish[] = {"PUBLISH", "ch", "x"};
  ASSERT_TRUE(conn->command(publish, 9));
  conn->flush();
  (void)sent(fd);
  io.advance(RedisConn::kReplyTimeoutMs - 1);
  conn->tick(io.now_ms());
  EXPECT_EQ(conn->state(), RedisConn::State::ready);
  io.advance(1);
  conn->tick(io.now_ms());
  turn();
  EXPECT_EQ(rec.lost, (std::vector<std::uint64_t>{9}));
  EXPECT_TRUE(io.closed(fd));
}

TEST_F(RedisConnTest, ARefusedSelectDropsTheConnection) {
  conn->start();
  const int fd = dialled();
  io.complete_connect(fd, 0);
  turn();
  (void)sent(fd);
  io.peer_send(fd, bytes("-ERR DB index is out of range\r\n"));
  turn();
  EXPECT_EQ(rec.ready, 0);
  EXPECT_NE(conn->state(), RedisConn::State::ready);
  EXPECT_TRUE(io.closed(fd));
}

}  // namespace
}  // namespace ringcast::engine
