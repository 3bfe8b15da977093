// CLI parsing: defaults, every flag, both value syntaxes, and each kind of bad input.
#include "engine/cli.hpp"

#include <gtest/gtest.h>

namespace ringcast::engine {
namespace {

CliOptions parse(std::vector<std::string_view> args) { return parse_cli(args); }

TEST(Cli, DefaultsAreTheChatRoom) {
  CliOptions o = parse({});
  EXPECT_TRUE(o.error.empty());
  EXPECT_EQ(o.action, CliOptions::Action::run);
  EXPECT_EQ(o.config.host, "127.0.0.1");
  EXPECT_EQ(o.config.port, 9000);
  EXPECT_EQ(o.config.max_message, 16u << 20);
  EXPECT_EQ(o.config.max_backlog, 1u << 20);
  EXPECT_EQ(o.config.slow_policy, SlowPolicy::close);
  EXPECT_EQ(o.config.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(o.config.handshake_timeout, std::chrono::seconds(10));
  EXPECT_TRUE(o.config.announce);
  EXPECT_TRUE(o.config.deflate);
  EXPECT_EQ(o.config.deflate_min_size, 128u);
  EXPECT_EQ(o.config.coalesce.count(), 0);
  EXPECT_FALSE(o.config.pin_threads);
  EXPECT_EQ(o.config.backend, BackendKind::automatic);
}

TEST(Cli, EveryFlagInBothSyntaxes) {
  CliOptions o = parse({"--host", "::1", "--port=0", "--threads", "3", "--max-message=64k", "--max-backlog", "2M",
                        "--slow-policy=drop", "--idle-timeout", "1500ms", "--handshake-timeout=2", "--log-level",
                        "debug", "--simd=scalar", "--announce=off", "--coalesce", "25ms", "--pin=on",
                        "--backend", "epoll", "--deflate", "off", "--deflate-min-size=1k"});
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_EQ(o.config.host, "::1");
  EXPECT_EQ(o.config.port, 0);
  EXPECT_EQ(o.config.threads, 3u);
  EXPECT_EQ(o.config.max_message, 64u << 10);
  EXPECT_EQ(o.config.max_backlog, 2u << 20);
  EXPECT_EQ(o.config.slow_policy, SlowPolicy::drop);
  EXPECT_EQ(o.config.idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(o.config.handshake_timeout, std::chrono::seconds(2));
  EXPECT_EQ(o.log_level, LogLevel::debug);
  ASSERT_TRUE(o.simd.has_value());
  EXPECT_EQ(*o.simd, protocol::SimdLevel::scalar);
  EXPECT_FALSE(o.config.announce);
  EXPECT_EQ(o.config.coalesce, std::chrono::milliseconds(25));
  EXPECT_FALSE(o.config.coalesce_auto);
  EXPECT_TRUE(parse({"--coalesce", "auto"}).config.coalesce_auto);
  EXPECT_TRUE(parse({"--coalesce=auto"}).config.coalescing());
  EXPECT_TRUE(o.config.pin_threads);
  EXPECT_TRUE(parse({"--announce", "off", "--announce", "on"}).config.announce);
  EXPECT_EQ(o.config.backend, BackendKind::epoll);
  EXPECT_FALSE(o.config.deflate);
  EXPECT_EQ(o.config.deflate_min_size, 1024u);
  EXPECT_EQ(parse({"--deflate-min-size", "0"}).config.deflate_min_size, 0u) << "0: compress everything";
}

TEST(Cli, BackendChoices) {
  struct Case {
    std::vector<std::string_view> args;
    BackendKind kind;
  };
  const Case cases[] = {
      {{"--backend", "auto"}, BackendKind::automatic}, {{"--backend=auto"}, BackendKind::automatic},
      {{"--backend", "uring"}, BackendKind::uring},    {{"--backend=uring"}, BackendKind::uring},
      {{"--backend", "epoll"}, BackendKind::epoll},    {{"--backend=epoll"}, BackendKind::epoll},
      {{"--backend", "epoll", "--backend", "auto"}, BackendKind::automatic},  // the last one wins
  };
  for (const Case& c : cases) {
    CliOptions o = parse(c.args);
    ASSERT_TRUE(o.error.empty()) << o.error;
    EXPECT_EQ(o.config.backend, c.kind) << c.args.back();
  }
  for (std::string_view bad : {"bogus", "EPOLL", "io_uring", ""}) {
    CliOptions o = parse({"--backend", bad});
    EXPECT_EQ(o.error, "invalid value '" + std::string(bad) + "' for --backend (auto, uring or epoll)") << bad;
  }
  EXPECT_NE(parse({"--backend"}).error.find("needs a value"), std::string::npos);
  EXPECT_NE(cli_help().find("--backend auto|uring|epoll"), std::string_view::npos);
}

TEST(Cli, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"}).action, CliOptions::Action::help);
  EXPECT_EQ(parse({"--port", "1", "--version"}).action, CliOptions::Action::version);
  EXPECT_NE(cli_help().find("--max-backlog"), std::string_view::npos);
  EXPECT_NE(cli_help().find("--announce on|off"), std::string_view::npos);
}

TEST(Cli, BadInputNamesTheProblem) {
  struct Case {
    std::vector<std::string_view> args;
    std::string_view mention;
  };
  const Case cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--port"}, "needs a value"},
      {{"--port", "70000"}, "70000"},
      {{"--port", "-1"}, "-1"},
      {{"--threads", "0"}, "--threads"},
      {{"--max-message", "12q"}, "12q"},
      {{"--slow-policy", "maybe"}, "maybe"},
      {{"--idle-timeout", "soon"}, "soon"},
      {{"--handshake-timeout", "0"}, "--handshake-timeout"},
      {{"--log-level", "loud"}, "loud"},
      {{"--announce", "maybe"}, "on or off"},
      {{"--announce"}, "needs a value"},
      {{"--coalesce", "11s"}, "auto, or 0 to 10s"},
      {{"--coalesce", "Auto"}, "Auto"},
      {{"--coalesce", "soon"}, "soon"},
      {{"--pin", "yes"}, "on or off"},
      {{"--deflate", "yes"}, "on or off"},
      {{"--deflate-min-size", "big"}, "big"},
      {{"--simd", "mmx"}, "mmx"},
      {{"--host", "not an address"}, "not an address"},
      {{"stray"}, "stray"},
  };
  for (const Case& c : cases) {
    CliOptions o = parse(c.args);
    EXPECT_NE(o.error.find(c.mention), std::string::npos) << "error was: " << o.error;
  }
}

TEST(Cli, SizesAndDurations) {
  EXPECT_EQ(parse_size("1G"), std::size_t{1} << 30);
  EXPECT_EQ(parse_size("10"), 10u);
  EXPECT_FALSE(parse_size("").has_value());
  EXPECT_FALSE(parse_size("k").has_value());
  EXPECT_EQ(parse_duration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(parse_duration("720h"), std::chrono::hours(720));
  EXPECT_EQ(parse_duration("0"), std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_duration("1.5s").has_value());
}

}  // namespace
}  // namespace ringcast::engine
