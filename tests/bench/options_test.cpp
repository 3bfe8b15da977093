// ringcast-load's command line where it decides how a run is split: --processes, the
// shares split_run hands each generator process, --server-pid and --source lists; and
// where it decides on TLS (wss:// or --tls, --tls-version) and the target it names.
#include "bench/load/options.hpp"
#include "bench/load/target.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace ringcast::load {
namespace {

struct Parsed {
  bool ok = false;
  Options opt;
  std::string error;
};

Parsed parse(std::initializer_list<const char*> args) {
  std::vector<char*> argv{const_cast<char*>("ringcast-load")};
  for (const char* a : args) argv.push_back(const_cast<char*>(a));
  Parsed p;
  bool help = false;
  p.ok = parse_options(static_cast<int>(argv.size()), argv.data(), p.opt, p.error, help);
  return p;
}

TEST(Options, ProcessesOnlyForConnect) {
  Parsed p = parse({"connect", "-c", "24000", "--processes", "2", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.processes, 2u);
  p = parse({"fanout", "--processes", "2", "ws://127.0.0.1:9000/"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "--processes: only the connect scenario runs in several processes");
  p = parse({"connect", "-c", "3", "--processes", "4", "ws://127.0.0.1:9000/"});
  EXPECT_FALSE(p.ok);
  EXPECT_FALSE(parse({"connect", "--processes", "0", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_FALSE(parse({"connect", "--processes", "65", "ws://127.0.0.1:9000/"}).ok);
}

TEST(Options, ServerPidsAndSourcesAreLists) {
  Parsed p = parse({"connect", "--server-pid", "11,12", "--server-pid=13", "--source", "127.0.0.1,127.0.0.2",
                    "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.server_pids, (std::vector<pid_t>{11, 12, 13}));
  EXPECT_EQ(p.opt.sources, (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
  for (const char* bad : {"", "1,", ",1", "1,,2", "x", "0"}) {
    EXPECT_FALSE(parse({"connect", "--server-pid", bad, "ws://127.0.0.1:9000/"}).ok) << bad;
  }
  EXPECT_FALSE(parse({"connect", "--source", "127.0.0.1,", "ws://127.0.0.1:9000/"}).ok);
}

TEST(Options, SeveralTargetsAndAPublishTarget) {
  Parsed p = parse({"rate", "--channel", "c", "--publish-to", "ws://127.0.0.1:9001/connection/websocket",
                    "ws://127.0.0.1:9002/connection/websocket,ws://127.0.0.1:9003/connection/websocket"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.urls, (std::vector<std::string>{"ws://127.0.0.1:9002/connection/websocket",
                                                  "ws://127.0.0.1:9003/connection/websocket"}));
  EXPECT_EQ(p.opt.publish_url, "ws://127.0.0.1:9001/connection/websocket");
  p = parse({"rate", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.urls, (std::vector<std::string>{"ws://127.0.0.1:9000/"}));
  EXPECT_TRUE(p.opt.publish_url.empty());
  EXPECT_FALSE(parse({"rate", "--channel", "c", "ws://127.0.0.1:9000/,"}).ok);
  EXPECT_FALSE(parse({"rate", "--channel", "c", "--publish-to", "", "ws://127.0.0.1:9000/"}).ok);
  p = parse({"rate", "ws://127.0.0.1:9000/,ws://127.0.0.1:9001/"});  // chat rooms live on one server
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "several URLs and --publish-to: only with --channel (nodes of one cluster)");
  EXPECT_FALSE(parse({"rate", "--channel", "c", "ws://127.0.0.1:9000/,wss://127.0.0.1:9001/"}).ok);
  EXPECT_FALSE(parse({"chat", "--channel", "c", "--publish-to", "ws://127.0.0.1:9001/", "ws://127.0.0.1:9000/"}).ok);
}

TEST(SplitRun, OneProcessIsTheWholeRun) {
  Parsed p = parse({"fanout", "-c", "1000", "-p", "3", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok);
  const std::vector<Share> s = split_run(p.opt);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].subscribers, 1000u);
  EXPECT_EQ(s[0].publishers, 3u);
  EXPECT_EQ(s[0].pub_base, 0u);
  EXPECT_EQ(s[0].pub_total, 3u);
}

TEST(SplitRun, RemaindersGoToTheFirstAndPublisherIdsStayContiguous) {
  Parsed p = parse({"connect", "-c", "10", "-p", "5", "--processes", "3", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok);
  const std::vector<Share> s = split_run(p.opt);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].subscribers, 4u);
  EXPECT_EQ(s[1].subscribers, 3u);
  EXPECT_EQ(s[2].subscribers, 3u);
  EXPECT_EQ(s[0].publishers, 2u);
  EXPECT_EQ(s[1].publishers, 2u);
  EXPECT_EQ(s[2].publishers, 1u);
  EXPECT_EQ(s[0].pub_base, 0u);
  EXPECT_EQ(s[1].pub_base, 2u);
  EXPECT_EQ(s[2].pub_base, 4u);
  for (const Share& x : s) EXPECT_EQ(x.pub_total, 5u);
}

TEST(SplitRun, FewerPublishersThanProcesses) {
  Parsed p = parse({"connect", "-c", "24000", "-p", "1", "--processes", "3", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok);
  const std::vector<Share> s = split_run(p.opt);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].subscribers + s[1].subscribers + s[2].subscribers, 24000u);
  EXPECT_EQ(s[0].subscribers, 8000u);
  EXPECT_EQ(s[0].publishers, 1u);
  EXPECT_EQ(s[1].publishers, 0u);
  EXPECT_EQ(s[2].publishers, 0u);
  EXPECT_EQ(s[1].pub_base, 1u);  // no ids of its own: the base is past the last one used
  EXPECT_EQ(s[2].pub_total, 1u);
}

TEST(SplitRun, ChatClientsPublishToo) {
  Parsed p = parse({"chat", "-c", "7", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok);
  const std::vector<Share> s = split_run(p.opt);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].subscribers, 7u);
  EXPECT_EQ(s[0].publishers, 7u);
  EXPECT_EQ(s[0].pub_total, 7u);
}

TEST(Options, TlsFromTheSchemeOrTheFlag) {
  Parsed p = parse({"fanout", "wss://127.0.0.1:9443/room"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(p.opt.tls);
  p = parse({"fanout", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_FALSE(p.opt.tls);
  p = parse({"fanout", "--tls", "--tls-version", "1.3", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(p.opt.tls);
  EXPECT_EQ(p.opt.tls_version, 13);
  p = parse({"fanout", "--tls-version", "1.2", "ws://127.0.0.1:9000/"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "--tls-version: only with --tls or a wss:// URL");
  EXPECT_FALSE(parse({"fanout", "--tls-version", "1.1", "wss://127.0.0.1:9443/"}).ok);
}

TEST(Options, DeflateAndJsonPayload) {
  Parsed p = parse({"fanout", "--deflate", "--payload", "json", "-s", "1024", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(p.opt.deflate);
  EXPECT_TRUE(p.opt.json_payload);
  p = parse({"fanout", "ws://127.0.0.1:9000/"});
  EXPECT_FALSE(p.opt.deflate);
  EXPECT_FALSE(p.opt.json_payload);
  EXPECT_TRUE(parse({"fanout", "--payload=x", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_EQ(parse({"fanout", "--payload", "xml", "ws://127.0.0.1:9000/"}).error, "--payload: expected x or json, got 'xml'");
}

TEST(Options, ApiKeyNeedsAChannelAndAPublishingScenario) {
  Parsed p = parse({"fanout", "--channel", "feed:x", "--api-key", "k", "ws://127.0.0.1:9000/connection/websocket"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.api_key, "k");
  EXPECT_TRUE(parse({"rate", "--channel", "x", "--api-key", "k", "ws://127.0.0.1:9000/"}).ok);
  p = parse({"fanout", "--api-key", "k", "ws://127.0.0.1:9000/"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "--api-key: only with --channel, in the fanout and rate scenarios");
  EXPECT_FALSE(parse({"chat", "--channel", "x", "--api-key", "k", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_FALSE(parse({"connect", "--channel", "x", "--api-key", "k", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_FALSE(parse({"fanout", "--channel", "x", "--api-key", "", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_FALSE(parse({"fanout", "--channel", "x", "--api-key", "a\r\nX: y", "ws://127.0.0.1:9000/"}).ok);
}

TEST(Options, ChannelsAndSlowReaders) {
  Parsed p = parse({"fanout", "-c", "50", "--channel", "px:s", "--channels", "100", "--slow", "5", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.channels, 100u);
  EXPECT_EQ(p.opt.slow, 5u);
  EXPECT_EQ(parse({"fanout", "--channels", "2", "ws://127.0.0.1:9000/"}).error, "--channels: only with --channel");
  EXPECT_FALSE(parse({"fanout", "--channel", "x", "--channels", "0", "ws://127.0.0.1:9000/"}).ok);
  EXPECT_FALSE(parse({"fanout", "-c", "5", "--slow", "5", "ws://127.0.0.1:9000/"}).ok) << "at least one fast";
  EXPECT_FALSE(parse({"chat", "--slow", "1", "ws://127.0.0.1:9000/"}).ok);
}

TEST(Options, ReconnectStormNeedsOneChannelInTheRateScenario) {
  Parsed p = parse({"rate", "-d", "5", "--channel", "feed:x", "--reconnect-at", "2.5", "ws://127.0.0.1:9000/"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.opt.reconnect_at, 2.5);
  const std::string why = "--reconnect-at: only in the rate scenario with one --channel, without --slow, before --duration ends";
  EXPECT_EQ(parse({"rate", "-d", "5", "--reconnect-at", "1", "ws://127.0.0.1:9000/"}).error, why);
  EXPECT_EQ(parse({"fanout", "-d", "5", "--channel", "x", "--reconnect-at", "1", "ws://127.0.0.1:9000/"}).error, why);
  EXPECT_EQ(parse({"rate", "-d", "5", "--channel", "x", "--channels", "2", "--reconnect-at", "1", "ws://127.0.0.1:9000/"}).error, why);
  EXPECT_EQ(parse({"rate", "-d", "5", "--channel", "x", "--reconnect-at", "5", "ws://127.0.0.1:9000/"}).error, why);
  EXPECT_EQ(parse({"rate", "-c", "9", "-d", "5", "--channel", "x", "--slow", "1", "--reconnect-at", "1", "ws://127.0.0.1:9000/"}).error, why);
  EXPECT_FALSE(parse({"rate", "--channel", "x", "--reconnect-at", "0", "ws://127.0.0.1:9000/"}).ok);
  // Elsewhere: to another node of the cluster, so there must be one.
  const std::string elsewhere = "--reconnect-elsewhere: with --reconnect-at and several URLs";
  EXPECT_EQ(parse({"rate", "-d", "5", "--channel", "x", "--reconnect-at", "2", "--reconnect-elsewhere",
                   "ws://127.0.0.1:9000/"}).error, elsewhere);
  EXPECT_EQ(parse({"rate", "-d", "5", "--channel", "x", "--reconnect-elsewhere",
                   "ws://127.0.0.1:9000/,ws://127.0.0.1:9001/"}).error, elsewhere);
  EXPECT_TRUE(parse({"rate", "-d", "5", "--channel", "x", "--reconnect-at", "2", "--reconnect-elsewhere",
                     "ws://127.0.0.1:9000/,ws://127.0.0.1:9001/"}).opt.reconnect_elsewhere);
}

TEST(Target, WssDefaultsTo443AndNamesTheHost) {
  Target t;
  ASSERT_EQ(resolve_target("wss://localhost/feed", false, t), "");
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.port, 443);
  EXPECT_EQ(t.host, "localhost");
  EXPECT_EQ(t.path, "/feed");
  ASSERT_EQ(resolve_target("wss://[::1]:9443", false, t), "");
  EXPECT_EQ(t.port, 9443);
  EXPECT_EQ(t.host, "::1");
  ASSERT_EQ(resolve_target("ws://127.0.0.1:9000/", false, t), "");
  EXPECT_FALSE(t.tls);
  EXPECT_NE(resolve_target("https://127.0.0.1/", false, t), "");
}

}  // namespace
}  // namespace ringcast::load
