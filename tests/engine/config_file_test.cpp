#include "engine/config_file.hpp"

#include <gtest/gtest.h>

namespace ringcast::engine {
namespace {

TEST(ConfigFile, DefaultsDenyWhatAClientMightDo) {
  ClientProtocolConfig cfg;
  EXPECT_FALSE(cfg.allow_anonymous_connect_without_token);
  EXPECT_EQ(cfg.channel_limit, 128u);
  EXPECT_EQ(cfg.ping_interval, std::chrono::seconds(25));
  const ChannelOptions* o = cfg.options_for("news");
  ASSERT_NE(o, nullptr);
  EXPECT_FALSE(o->allow_subscribe_for_client);
  EXPECT_FALSE(o->allow_publish_for_subscriber);
}

TEST(ConfigFile, ReadsCentrifugoV6Shape) {
  ClientProtocolConfig cfg;
  ConfigFileResult r = apply_config_file(R"({
    "client": {"allow_anonymous_connect_without_token": true, "channel_limit": 7, "ping_interval": "500ms",
               "expired_close_delay": "0s", "expired_sub_close_delay": "2s",
               "allowed_origins": ["https://*.example.com", "http://localhost:3000"],
               "token": {"hmac_secret_key": "s", "audience": "aud", "issuer": "iss", "rsa_public_key": "",
                         "expire_at_seconds": 1},
               "subscription_token": {"enabled": true, "hmac_secret_key": "sub-s"}},
    "channel": {"max_length": 64,
                "without_namespace": {"allow_subscribe_for_client": true},
                "namespaces": [{"name": "ticker", "allow_subscribe_for_anonymous": true, "history_size": 10,
                                "history_ttl": "30s",
                                "proxy_subscribe": true},
                               {"name": "chat.v2", "allow_publish_for_client": true}]},
    "http_server": {"port": 8000},
    "http_api": {"key": "api-key", "insecure": false, "handler_prefix": "/api"}
  })", cfg);
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(cfg.allow_anonymous_connect_without_token);
  EXPECT_EQ(cfg.channel_limit, 7u);
  EXPECT_EQ(cfg.channel_max_length, 64u);
  EXPECT_EQ(cfg.ping_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(cfg.expired_close_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(cfg.allowed_origins, (std::vector<std::string>{"https://*.example.com", "http://localhost:3000"}));
  EXPECT_EQ(cfg.expired_sub_close_delay, std::chrono::seconds(2));
  EXPECT_EQ(cfg.token.hmac_secret_key, "s");
  EXPECT_EQ(cfg.token.audience, "aud");
  EXPECT_EQ(cfg.token.issuer, "iss");
  EXPECT_EQ(cfg.subscription_token_config().hmac_secret_key, "sub-s");
  EXPECT_TRUE(cfg.options_for("news")->allow_subscribe_for_client);
  ASSERT_NE(cfg.options_for("ticker:AAPL"), nullptr);
  EXPECT_EQ(cfg.options_for("ticker:AAPL")->name, "ticker");
  EXPECT_TRUE(cfg.options_for("ticker:AAPL")->allow_subscribe_for_anonymous);
  EXPECT_EQ(cfg.options_for("$ticker:private")->name, "ticker");  // private: the namespace follows '$'
  EXPECT_TRUE(cfg.options_for("chat.v2:room")->allow_publish_for_client);
  EXPECT_EQ(cfg.options_for("nowhere:x"), nullptr);
  EXPECT_EQ(cfg.options_for("tick:x"), nullptr);  // a prefix of a name is not the name
  EXPECT_EQ(cfg.http_api.key, "api-key");
  EXPECT_FALSE(cfg.http_api.insecure);
  std::vector<std::string> ignored{"client.token.expire_at_seconds", "channel.namespaces[0].proxy_subscribe", "http_server",
                                   "http_api.handler_prefix"};
  EXPECT_EQ(r.ignored, ignored);
}

TEST(ConfigFile, SubscriptionTokensShareTheConnectionKeyUnlessSeparate) {
  ClientProtocolConfig cfg;
  ASSERT_EQ(apply_config_file(R"({"client": {"token": {"hmac_secret_key": "k"},
                                              "subscription_token": {"hmac_secret_key": "unused"}}})", cfg).error, "");
  EXPECT_EQ(cfg.subscription_token_config().hmac_secret_key, "k");
}

TEST(ConfigFile, ReadsHistoryAndRecovery) {
  ClientProtocolConfig cfg;
  ASSERT_EQ(apply_config_file(R"({"client": {"recovery_max_publication_limit": 50},
      "channel": {"history_meta_ttl": "1h", "namespaces": [
        {"name": "feed", "history_size": 100, "history_ttl": "300s", "force_recovery": true, "allow_positioning": true},
        {"name": "price", "history_size": 1, "history_ttl": "1h", "allow_recovery": true, "force_positioning": true,
         "force_recovery_mode": "cache", "presence": true, "allow_presence_for_subscriber": true,
         "allow_presence_for_anonymous": true, "allow_history_for_client": true}]}})", cfg).error, "");
  EXPECT_EQ(cfg.recovery_max_publication_limit, 50u);
  EXPECT_EQ(cfg.history_meta_ttl, std::chrono::hours(1));
  const ChannelOptions* feed = cfg.options_for("feed:btc");
  ASSERT_NE(feed, nullptr);
  EXPECT_TRUE(feed->has_history());
  EXPECT_EQ(feed->history_size, 100u);
  EXPECT_EQ(feed->history_ttl, std::chrono::seconds(300));
  EXPECT_TRUE(feed->force_recovery && feed->allow_positioning && !feed->allow_recovery && !feed->cache_recovery);
  const ChannelOptions* price = cfg.options_for("price:btc");
  ASSERT_NE(price, nullptr);
  EXPECT_TRUE(price->allow_recovery && price->force_positioning && price->cache_recovery && !price->force_recovery);
  EXPECT_TRUE(price->presence && price->allow_presence_for_subscriber && price->allow_presence_for_anonymous &&
              !price->allow_presence_for_client && price->allow_history_for_client && !feed->presence);
  EXPECT_FALSE(cfg.options_for("other")->has_history());
}

TEST(ConfigFile, ReadsCommandRateLimitsInCentrifugoProShape) {
  ClientProtocolConfig cfg;
  ConfigFileResult r = apply_config_file(R"({"client": {"rate_limit": {"client_command": {"enabled": true,
      "total": {"enabled": true, "buckets": [{"interval": "1s", "rate": 20}, {"interval": "60s", "rate": 50}]},
      "default": {"buckets": [{"interval": "1s", "rate": 60}]},
      "publish": {"enabled": true, "buckets": [{"interval": "500ms", "rate": 1}]},
      "history": {"enabled": false, "buckets": [{"interval": "1s", "rate": 1}]},
      "rpc": {"buckets": [], "method_overrides": []}}, "user_command": {}}},
      "channel": {"namespaces": [{"name": "chat", "max_publication_size": 200, "conflate": true}]}})", cfg);
  ASSERT_TRUE(r.error.empty()) << r.error;
  const RateLimits& rl = cfg.rate_limit;
  EXPECT_TRUE(rl.enabled);
  ASSERT_EQ(rl.total.size(), 2u);
  EXPECT_EQ(rl.total[1].interval_ns, 60'000'000'000);
  EXPECT_EQ(rl.total[1].rate, 50u);
  ASSERT_EQ(rl.fallback.size(), 1u);
  using M = protocol::client::Method;
  ASSERT_EQ(rl.own[static_cast<std::size_t>(M::publish)].size(), 1u);
  EXPECT_EQ(rl.own[static_cast<std::size_t>(M::publish)][0].interval_ns, 500'000'000);
  EXPECT_TRUE(rl.has_own[static_cast<std::size_t>(M::history)]);
  EXPECT_TRUE(rl.own[static_cast<std::size_t>(M::history)].empty()) << "disabled: total only";
  // 2 total, publish's 1, default's copy for subscribe, presence, presence_stats, refresh, sub_refresh.
  EXPECT_EQ(rl.cells(), 2u + 1u + 5u);
  for (const std::string& key : r.ignored) EXPECT_TRUE(key.find("user_command") != std::string::npos ||
                                                         key.find("method_overrides") != std::string::npos) << key;
  const ChannelOptions* o = cfg.options_for("chat:room");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->max_publication_size, 200u);
  EXPECT_TRUE(o->conflate);
  EXPECT_FALSE(cfg.options_for("room")->conflate);
  EXPECT_EQ(cfg.options_for("room")->max_publication_size, 0u);
}

TEST(ConfigFile, ConflationTakesOnlyTheCacheModesRecovery) {
  ClientProtocolConfig cfg;
  ConfigFileResult r = apply_config_file(R"({"channel": {"without_namespace": {"conflate": true, "history_size": 1,
      "history_ttl": "5s", "force_recovery": true, "force_recovery_mode": "cache", "max_frequency": "250ms"}}})", cfg);
  EXPECT_EQ(r.error, "config: channel.without_namespace: max_frequency skips offsets: no recovery or positioning with it");
  ClientProtocolConfig ok;
  r = apply_config_file(R"({"channel": {"without_namespace": {"conflate": true, "history_size": 1,
      "history_ttl": "5s", "force_recovery": true, "force_recovery_mode": "cache"}}})", ok);
  EXPECT_EQ(r.error, "") << "the price at once fits conflation";
  EXPECT_TRUE(ok.without_namespace.conflate && ok.without_namespace.cache_recovery);
  ClientProtocolConfig freq;
  r = apply_config_file(R"({"channel": {"without_namespace": {"max_frequency": "250ms"}}})", freq);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(freq.without_namespace.topic_options().min_interval_ms, 250u);
}

TEST(ConfigFile, DeltasNeedHistory) {
  ClientProtocolConfig cfg;
  ConfigFileResult r = apply_config_file(R"({"channel": {"namespaces": [{"name": "book", "history_size": 10,
      "history_ttl": "60s", "allowed_delta_types": ["fossil"], "delta_publish": true}, {"name": "off",
      "history_size": 10, "history_ttl": "60s", "allowed_delta_types": []}]}})", cfg);
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(cfg.options_for("book:btc")->delta && cfg.options_for("book:btc")->delta_publish);
  EXPECT_TRUE(cfg.options_for("book:btc")->topic_options().delta);
  EXPECT_FALSE(cfg.options_for("off:x")->delta);  // an empty list allows none
}

TEST(ConfigFile, ErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {"[]", "config: (top level): expected an object"},
      {"{", "config: not JSON"},
      {R"({"client": {"channel_limit": 0}})", "config: client.channel_limit: expected a whole number from 1"},
      {R"({"client": {"ping_interval": "soon"}})", "config: client.ping_interval: expected a duration"},
      {R"({"client": {"ping_interval": "0s"}})", "config: client.ping_interval: expected a duration"},
      {R"({"channel": {"without_namespace": {"allow_publish_for_client": 1}}})",
       "config: channel.without_namespace.allow_publish_for_client: expected true or false"},
      {R"({"channel": {"namespaces": [{"name": "ok"}, 3]}})", "config: channel.namespaces[1]: expected an object"},
      {R"({"channel": {"namespaces": [{"name": "a:b"}]}})", "config: channel.namespaces[0].name: 'a:b' is not"},
      {R"({"channel": {"namespaces": [{}]}})", "config: channel.namespaces[0].name: '' is not"},
      {R"({"client": {"token": "s"}})", "config: client.token: expected an object"},
      {R"({"client": {"token": {"hmac_secret_key": 1}}})", "config: client.token.hmac_secret_key: expected a string"},
      {R"({"client": {"token": {"rsa_public_key": "-----BEGIN"}}})", "config: client.token.rsa_public_key: not supported"},
      {R"({"client": {"token": {"enabled": true}}})", ""},  // only subscription_token has the switch: ignored
      {R"({"client": {"subscription_token": {"enabled": 1}}})", "config: client.subscription_token.enabled: expected"},
      {R"({"channel": {"without_namespace": {"history_size": 10}}})",
       "config: channel.without_namespace: history_size and history_ttl must be set together"},
      {R"({"channel": {"namespaces": [{"name": "ab", "history_ttl": "10s"}]}})",
       "config: channel.namespaces[0]: history_size and history_ttl must be set together"},
      {R"({"channel": {"namespaces": [{"name": "ab", "force_recovery": true}]}})",
       "config: channel.namespaces[0]: recovery and positioning need history"},
      {R"({"channel": {"without_namespace": {"allow_positioning": true}}})", "config: channel.without_namespace: recovery"},
      {R"({"channel": {"without_namespace": {"force_recovery_mode": "latest"}}})",
       "config: channel.without_namespace.force_recovery_mode: expected \"stream\" or \"cache\""},
      {R"({"channel": {"without_namespace": {"history_size": -1}}})", "config: channel.without_namespace.history_size: expected"},
      {R"({"channel": {"history_meta_ttl": "0s"}})", "config: channel.history_meta_ttl: expected a duration"},
      {R"({"client": {"recovery_max_publication_limit": 0}})", "config: client.recovery_max_publication_limit: expected"},
      {R"({"client": {"rate_limit": {"client_command": {"publish": {"buckets": [{"interval": "1s"}]}}}}})",
       "config: client.rate_limit.client_command.publish.buckets[0]: a bucket needs interval and rate"},
      {R"({"client": {"rate_limit": {"client_command": {"total": {"buckets": [{"interval": "1s", "rate": 0}]}}}}})",
       "config: client.rate_limit.client_command.total.buckets[0].rate: expected a whole number from 1"},
      {R"({"client": {"rate_limit": {"client_command": {"default": {"buckets": {}}}}}})",
       "config: client.rate_limit.client_command.default.buckets: expected an array"},
      {R"({"client": {"rate_limit": {"client_command": {"enabled": "yes"}}}})",
       "config: client.rate_limit.client_command.enabled: expected true or false"},
      {R"({"channel": {"without_namespace": {"conflate": true, "history_size": 5, "history_ttl": "5s",
          "force_positioning": true}}})", "config: channel.without_namespace: conflate skips offsets"},
      {R"({"channel": {"without_namespace": {"max_frequency": "100ms", "history_size": 5, "history_ttl": "5s",
          "force_recovery": true}}})", "config: channel.without_namespace: max_frequency skips offsets"},
      {R"({"channel": {"without_namespace": {"online_push_interval": "5s"}}})",
       "config: channel.without_namespace: online_push_interval counts presence"},
      {R"({"channel": {"without_namespace": {"presence": true, "online_push_interval": "500ms"}}})",
       "config: channel.without_namespace.online_push_interval: at least 1s"},
      {R"({"channel": {"without_namespace": {"max_frequency": "2m"}}})",
       "config: channel.without_namespace.max_frequency: at most 1m"},
      {R"({"channel": {"without_namespace": {"max_publication_size": -5}}})",
       "config: channel.without_namespace.max_publication_size: expected"},
      {R"({"channel": {"without_namespace": {"allowed_delta_types": ["fossil"]}}})",
       "config: channel.without_namespace: allowed_delta_types needs history"},
      {R"({"channel": {"without_namespace": {"allowed_delta_types": "fossil"}}})",
       "config: channel.without_namespace.allowed_delta_types: expected an array of strings"},
      {R"({"channel": {"without_namespace": {"allowed_delta_types": ["fossil", "xdelta"], "history_size": 5,
          "history_ttl": "5s"}}})", "config: channel.without_namespace.allowed_delta_types: the only delta type"},
      {R"({"channel": {"without_namespace": {"allowed_delta_types": ["fossil"], "history_size": 5, "history_ttl": "5s",
          "conflate": true, "force_recovery": true, "force_recovery_mode": "cache"}}})",
       "config: channel.without_namespace: allowed_delta_types cannot go with conflate"},
      {R"({"channel": {"without_namespace": {"delta_publish": true}}})",
       "config: channel.without_namespace: delta_publish needs allowed_delta_types"},
      {R"({"channel": {"without_namespace": {"allowed_delta_types": ["fossil"], "history_size": 5, "history_ttl": "5s",
          "presence": true, "online_push_interval": "2s"}}})",
       "config: channel.without_namespace: allowed_delta_types cannot go with online_push_interval"},
  };
  for (const Case& c : cases) {
    ClientProtocolConfig cfg;
    ConfigFileResult r = apply_config_file(c.json, cfg);
    EXPECT_TRUE(r.error.starts_with(c.error)) << c.json << " -> " << r.error;
  }
}

}  // namespace
}  // namespace ringcast::engine
