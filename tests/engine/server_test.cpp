// The engine in-process through its embedding API: publish() from an outside thread and a
// client's message both reach every subscriber on every shard, in publish order; rooms are
// separate; stop() closes everyone with 1001 and returns; with --broker, publish() reaches
// another node's members through a real redis-server.
#include "engine/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/raw_client.hpp"  // tests/engine/raw_client.hpp
#include "tests/support/redis_server.hpp"

namespace ringcast::engine {
namespace {

using namespace std::chrono_literals;
using test::RawClient;

// Appends instead of operator+ (GCC 12 at -O3 reports a false -Wrestrict on the latter).
std::string cat(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s;
  s.reserve(a.size() + b.size() + c.size());
  s.append(a).append(b).append(c);
  return s;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config cfg;
    cfg.port = 0;
    cfg.threads = 2;
    server = std::make_unique<Server>(cfg);
    std::string err = server->start();
    if (err.find("io_uring") != std::string::npos) GTEST_SKIP() << err;
    ASSERT_EQ(err, "");
  }
  // Clients in `room`, with the join notices already read.
  std::vector<std::unique_ptr<RawClient>> join(const std::string& room, int n) {
    std::vector<std::unique_ptr<RawClient>> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(std::make_unique<RawClient>(server->port(), cat("/", room)));
      EXPECT_TRUE(out.back()->ok());
    }
    if (out.empty()) return out;
    // Everyone has seen the last join once it arrives (per-publisher order holds across shards).
    std::string last = cat("ID", std::to_string(out.back()->port()), " joined");
    for (auto& c : out) {
      for (;;) {
        auto f = c->next(5000ms);
        if (!f.has_value()) {
          ADD_FAILURE() << "no '" << last << "'";
          break;
        }
        if (f->payload == last) break;
      }
    }
    return out;
  }
  std::unique_ptr<Server> server;
};

TEST_F(ServerTest, OutsidePublishReachesEveryClientInOrder) {
  auto clients = join("news", 16);
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(server->publish("news", cat("n", std::to_string(i))));
  for (auto& c : clients) {
    std::vector<std::string> got;
    while (got.size() < kMessages) {
      auto f = c->next(5000ms);
      ASSERT_TRUE(f.has_value()) << "stalled after " << got.size();
      got.push_back(f->payload);
    }
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], cat("n", std::to_string(i)));
  }
}

TEST_F(ServerTest, ClientMessagesCrossShardsInOrder) {
  auto clients = join("chat", 16);
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(clients[0]->send_text(cat("m", std::to_string(i))));
  for (auto& c : clients) {
    std::vector<std::string> got;
    while (got.size() < kMessages) {
      auto f = c->next(5000ms);
      ASSERT_TRUE(f.has_value()) << "stalled after " << got.size();
      got.push_back(f->payload);
    }
    std::string prefix = got[0].substr(0, got[0].find(' ') + 1);  // "ID<port>: "
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], cat(prefix, "m", std::to_string(i)));
  }
  std::string metrics = server->metrics_text();
  EXPECT_NE(metrics.find("ringcast_messages_in_total 200"), std::string::npos) << metrics;
}

TEST_F(ServerTest, RoomsAreSeparate) {
  auto a = join("a", 3);
  auto b = join("b", 3);
  ASSERT_TRUE(server->publish("a", "for a"));
  for (auto& c : a) {
    auto f = c->next(5000ms);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->payload, "for a");
  }
  for (auto& c : b) EXPECT_TRUE(c->texts_until_quiet(200ms).empty());
}

TEST_F(ServerTest, StopClosesEveryoneWithGoingAway) {
  auto clients = join("", 6);
  server->stop();
  for (auto& c : clients) {
    auto f = c->next(5000ms);
    ASSERT_TRUE(f.has_value());
    ASSERT_EQ(f->opcode, protocol::Opcode::close);
    ASSERT_GE(f->payload.size(), 2u);
    EXPECT_EQ((static_cast<unsigned char>(f->payload[0]) << 8) | static_cast<unsigned char>(f->payload[1]), 1001);
    EXPECT_FALSE(c->next(5000ms).has_value());
    EXPECT_TRUE(c->eof());  // the server half-closed after its close frame
  }
  clients.clear();  // our side closes: the drain completes
  server->wait();
  EXPECT_FALSE(server->running());
  EXPECT_FALSE(server->publish("", "late"));
}

// A port nobody listens on now (a small race with other processes: the test then fails).
std::uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(s);
  return port;
}

// --broker: publish() on one node reaches a room's members on another, in order, through
// a real redis-server (the message goes to Redis from shard 0, not to local shards).
TEST(ServerBrokerTest, OutsidePublishReachesAnotherNodesRoomInOrder) {
  const std::uint16_t redis_port = free_port();
  RedisServer redis(redis_port);
  REQUIRE_REDIS(redis);
  std::unique_ptr<Server> nodes[2];
  for (auto& n : nodes) {
    Config cfg;
    cfg.port = 0;
    cfg.threads = 2;
    ASSERT_EQ(parse_broker_list(cat("redis://127.0.0.1:", std::to_string(redis_port)), cfg.client.broker), "");
    n = std::make_unique<Server>(cfg);
    std::string err = n->start();
    if (err.find("io_uring") != std::string::npos) GTEST_SKIP() << err;
    ASSERT_EQ(err, "");
  }
  RawClient member(nodes[1]->port(), "/news");
  ASSERT_TRUE(member.ok());
  // Until node 1's feed is on the room, what node 0 publishes reaches nobody (at most once).
  bool heard = false;
  for (int i = 0; i < 100 && !heard; ++i) {
    ASSERT_TRUE(nodes[0]->publish("news", "ping"));
    for (auto f = member.next(50ms); f.has_value(); f = member.next(50ms)) heard = heard || f->payload == "ping";
  }
  ASSERT_TRUE(heard) << "node 1 never heard node 0's publish";
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(nodes[0]->publish("news", cat("n", std::to_string(i))));
  std::vector<std::string> got;
  while (got.size() < kMessages) {
    auto f = member.next(5000ms);
    ASSERT_TRUE(f.has_value()) << "stalled after " << got.size();
    if (f->payload != "ping") got.push_back(f->payload);
  }
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], cat("n", std::to_string(i)));
  const std::string metrics = nodes[0]->metrics_text();
  EXPECT_EQ(metrics.find("ringcast_broker_published_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ringcast_broker_published_total"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace ringcast::engine
