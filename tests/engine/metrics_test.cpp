// engine/metrics: the Prometheus text sums every shard's block, and each family names its
// labels the way the README and dashboards read them.
#include "engine/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/api_json.hpp"
#include "protocol/client_command.hpp"

namespace ringcast::engine {
namespace {

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(Metrics, SumsShardsAndLabelsTheChannelFamilies) {
  ShardMetrics a, b;
  a.connections.add(2);
  b.connections.add(3);
  a.client_commands[static_cast<std::size_t>(protocol::client::Method::subscribe)].add(4);
  b.client_commands[static_cast<std::size_t>(protocol::client::Method::subscribe)].add(1);
  b.client_commands[static_cast<std::size_t>(protocol::client::Method::none)].add(7);
  a.client_errors[109 - 100].add();
  b.token_failures[static_cast<std::size_t>(TokenFailure::other_channel)].add(2);
  a.publications_api.add(5);
  a.api_calls[static_cast<std::size_t>(protocol::api::Method::broadcast)][static_cast<std::size_t>(ApiStatus::unauthorized)]
      .add();
  std::vector<const ShardMetrics*> shards{&a, &b};
  std::string text = render_metrics(shards, "uring");
  EXPECT_TRUE(has(text, "ringcast_connections 5"));
  EXPECT_TRUE(has(text, "ringcast_client_commands_total{method=\"subscribe\"} 5"));
  EXPECT_TRUE(has(text, "ringcast_client_commands_total{method=\"pong\"} 7"));
  EXPECT_TRUE(has(text, "ringcast_client_errors_total{code=\"109\"} 1"));
  EXPECT_TRUE(has(text, "ringcast_client_errors_total{code=\"112\"} 0"));
  EXPECT_TRUE(has(text, "ringcast_token_failures_total{reason=\"other_channel\"} 2"));
  EXPECT_TRUE(has(text, "ringcast_publications_total{source=\"api\"} 5"));
  EXPECT_TRUE(has(text, "ringcast_publications_total{source=\"client\"} 0"));
  EXPECT_TRUE(has(text, "ringcast_api_calls_total{method=\"broadcast\",status=\"401\"} 1"));
  EXPECT_EQ(text.find("ringcast_api_calls_total{method=\"publish\""), std::string::npos);  // zero: not written
}

}  // namespace
}  // namespace ringcast::engine
