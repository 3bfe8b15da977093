// HttpHost::command_subscribers on the real shard (scripted backend): the command runs at
// its place in the topic's order, for the connections subscribed at that point: a join
// queued before it is attached and answered first, a publication queued before it
// reaches them, and none queued after it does.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/ws/http_app.hpp"
#include "tests/support/shard_driver.hpp"

namespace ringcast::engine::test {
namespace {

using protocol::Opcode;

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// On "/t" a connection joins topic "t" in order (its reply: "joined"). A text message
// "go" queues, in one call, the sender's join, a publication, the command and another
// publication. The command answers "cmd" and unsubscribes.
class OrderApp final : public App {
 public:
  void on_open(Session& s, std::string_view room) override {
    if (room == "t") (void)s.subscribe_in_order("t", bytes("joined"));
  }
  void on_message(Session& s, Opcode, std::span<const std::uint8_t> payload) override {
    if (host == nullptr || std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()) != "go") {
      return;
    }
    ASSERT_TRUE(s.subscribe_in_order("t", bytes("joined")));
    const std::uint32_t t = s.find_topic("t");
    ASSERT_TRUE(host->publish_text(t, "before", true));
    ASSERT_TRUE(host->command_subscribers(t, Route::chat_room, bytes("cmd")));
    ASSERT_TRUE(host->publish_text(t, "after", true));
  }
  void on_close(Session&) noexcept override {}
  void on_command(Session& s, std::span<const std::uint8_t> command) override {
    s.reply(Opcode::text, command);
    (void)s.unsubscribe(s.find_topic("t"));
  }
  void on_second(HttpHost& h) override { host = &h; }
  HttpHost* host = nullptr;
};

std::vector<std::string> texts(ShardDriver& d, std::size_t c) {
  std::vector<std::string> out;
  for (const auto& m : d.client(c).in.messages()) {
    if (m.op == Opcode::text) out.push_back(m.payload);
  }
  return out;
}

TEST(TopicCommand, RunsAtItsPlaceInTheTopicsOrder) {
  ShardDriver d{scripted_config()};
  ASSERT_EQ(d.init_error(), "");
  OrderApp app;
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &app;
  // The shard hands its host to the apps once a second (on the steady clock).
  for (int i = 0; i < 40 && app.host == nullptr; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d.advance(50);
  }
  ASSERT_NE(app.host, nullptr);
  const int a = d.connect_ws("/t");   // subscribed before anything
  const int b = d.connect_ws("/other");  // joins with "go", in the same call as the command
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  d.deliver_all();
  d.send(static_cast<std::size_t>(b), client_frame(Opcode::text, "go"));
  d.deliver_all();
  EXPECT_EQ(texts(d, static_cast<std::size_t>(a)), (std::vector<std::string>{"joined", "before", "cmd"}));
  EXPECT_EQ(texts(d, static_cast<std::size_t>(b)), (std::vector<std::string>{"joined", "before", "cmd"}));
  EXPECT_EQ(d.violation(), "");
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = nullptr;
}

}  // namespace
}  // namespace ringcast::engine::test
