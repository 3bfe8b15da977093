#include "engine/pubsub/presence.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

std::map<std::string, std::string> users(const Presence& p, std::string_view channel) {
  std::map<std::string, std::string> out;
  p.for_each(channel, [&](std::string_view id, const Presence::Client& c) { out[std::string(id)] = c.user; });
  return out;
}

TEST(Presence, CountsClientsAndDistinctUsers) {
  Presence p;
  EXPECT_EQ(p.stats("c").clients, 0u);
  p.add("c", "1", {.user = "ann", .conn_info = "", .chan_info = ""});
  p.add("c", "2", {.user = "ann", .conn_info = "", .chan_info = ""});
  p.add("c", "3", {.user = "", .conn_info = "", .chan_info = ""});
  p.add("other", "1", {.user = "ann", .conn_info = "", .chan_info = ""});
  Presence::Stats s = p.stats("c");
  EXPECT_EQ(s.clients, 3u);
  EXPECT_EQ(s.users, 2u);
  EXPECT_EQ(users(p, "c"), (std::map<std::string, std::string>{{"1", "ann"}, {"2", "ann"}, {"3", ""}}));
  p.remove("c", "1");
  EXPECT_EQ(p.stats("c").users, 2u);  // ann is still there through 2
  p.remove("c", "2");
  EXPECT_EQ(p.stats("c").users, 1u);
  p.remove("c", "2");  // twice: nothing
  p.remove("nowhere", "2");
  EXPECT_EQ(p.stats("c").clients, 1u);
  EXPECT_EQ(p.stats("other").clients, 1u);
}

TEST(Presence, AddingAgainReplacesTheEntry) {
  Presence p;
  p.add("c", "1", {.user = "ann", .conn_info = "", .chan_info = ""});
  p.add("c", "1", {.user = "bob", .conn_info = "{}", .chan_info = ""});
  EXPECT_EQ(p.stats("c").clients, 1u);
  EXPECT_EQ(p.stats("c").users, 1u);
  EXPECT_EQ(users(p, "c"), (std::map<std::string, std::string>{{"1", "bob"}}));
  p.remove("c", "1");
  Presence::Stats s = p.stats("c");
  EXPECT_EQ(s.clients + s.users, 0u);
}

TEST(Presence, ThreadsOnOneChannelBalanceOut) {
  Presence p;
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = std::to_string(t);
        id += ':';
        id += std::to_string(i);
        p.add("c", id, {.user = std::to_string(i % 7), .conn_info = "", .chan_info = ""});
        if (i % 2 == 1) p.remove("c", id);
        (void)p.stats("c");
      }
    });
  }
  for (auto& th : threads) th.join();
  Presence::Stats s = p.stats("c");
  EXPECT_EQ(s.clients, static_cast<std::size_t>(kThreads * kEach / 2));
  EXPECT_EQ(s.users, 7u);
}

}  // namespace
}  // namespace ringcast::engine
