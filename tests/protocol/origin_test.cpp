// protocol/origin: same-origin upgrades pass, others only by an allowed pattern.
#include "protocol/origin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::protocol {
namespace {

TEST(Origin, NoOriginAndSameOriginPass) {
  std::vector<std::string> none;
  EXPECT_TRUE(origin_allowed("", "127.0.0.1:9000", none));  // not a browser
  EXPECT_TRUE(origin_allowed("http://127.0.0.1:9000", "127.0.0.1:9000", none));
  EXPECT_TRUE(origin_allowed("https://Chat.Example.com", "chat.example.COM", none));
  EXPECT_TRUE(origin_allowed("http://[::1]:9000", "[::1]:9000", none));
}

TEST(Origin, OtherOriginsAreRefused) {
  std::vector<std::string> none;
  EXPECT_FALSE(origin_allowed("http://evil.example", "127.0.0.1:9000", none));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:9001", "127.0.0.1:9000", none));  // another port
  EXPECT_FALSE(origin_allowed("http://127.0.0.1", "127.0.0.1:9000", none));
  EXPECT_FALSE(origin_allowed("null", "127.0.0.1:9000", none));  // a sandboxed frame or file://
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:9000", "", none));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:9000/x", "127.0.0.1:9000", none));
  EXPECT_FALSE(origin_allowed("127.0.0.1:9000", "127.0.0.1:9000", none));  // no scheme
}

TEST(Origin, AllowedPatterns) {
  std::vector<std::string> allowed{"https://*.example.com", "http://localhost:3000"};
  EXPECT_TRUE(origin_allowed("https://app.example.com", "api.example.net", allowed));
  EXPECT_TRUE(origin_allowed("https://a.b.EXAMPLE.com", "api.example.net", allowed));
  EXPECT_TRUE(origin_allowed("http://localhost:3000", "127.0.0.1:9000", allowed));
  EXPECT_FALSE(origin_allowed("https://example.com", "api.example.net", allowed));  // no subdomain
  EXPECT_FALSE(origin_allowed("https://app.example.com.evil", "api.example.net", allowed));
  EXPECT_FALSE(origin_allowed("http://localhost:30000", "127.0.0.1:9000", allowed));
  std::vector<std::string> any{"*"};
  EXPECT_TRUE(origin_allowed("null", "127.0.0.1:9000", any));
}

TEST(Origin, GlobIsLinearOnHostileInput) {
  std::string text(10000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("**", ""));
  EXPECT_TRUE(glob_match("a*", "a"));
  EXPECT_FALSE(glob_match("a", ""));
}

TEST(Origin, ExactGlobKeepsCase) {
  EXPECT_TRUE(glob_match("News:*", "news:btc"));
  EXPECT_FALSE(glob_match_exact("News:*", "news:btc"));
  EXPECT_TRUE(glob_match_exact("news:*", "news:btc"));
  EXPECT_TRUE(glob_match_exact("*:btc", "ticker:btc"));
  EXPECT_FALSE(glob_match_exact("*:eth", "ticker:btc"));
}

}  // namespace
}  // namespace ringcast::protocol
