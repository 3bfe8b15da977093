// protocol/api_json: the server API's publish, broadcast and history bodies, and its answers.
#include "protocol/api_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace ringcast::protocol::api {
namespace {

TEST(ApiJson, Methods) {
  EXPECT_EQ(method_of("publish"), Method::publish);
  EXPECT_EQ(method_of("broadcast"), Method::broadcast);
  EXPECT_EQ(method_of("history_remove"), Method::history_remove);
  EXPECT_EQ(method_of("Publish"), Method::unknown);
  EXPECT_EQ(method_of(""), Method::unknown);
}

TEST(ApiJson, PublishAsksForADelta) {
  RequestParser p;
  Request out;
  auto r = p.parse(Method::publish, R"({"channel":"c","data":1,"delta":true})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  EXPECT_TRUE(out.delta);
  r = p.parse(Method::broadcast, R"({"channels":["a"],"data":1,"delta":true})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  EXPECT_TRUE(out.delta);
  r = p.parse(Method::publish, R"({"channel":"c","data":1})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_FALSE(out.delta);  // not kept from the request before
  r = p.parse(Method::publish, R"({"channel":"c","data":1,"delta":"yes"})", out);
  EXPECT_EQ(r.error, ParseError::wrong_type);
}

TEST(ApiJson, PublishKeepsTheDataBytes) {
  RequestParser p;
  Request out;
  auto r = p.parse(Method::publish, R"({"channel": "news", "data": { "a" : [1, 2.5] }, "tags": {"k": "v"}})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(out.channels.size(), 1u);
  EXPECT_EQ(out.channels[0], "news");
  EXPECT_EQ(out.data, R"({ "a" : [1, 2.5] })");
  r = p.parse(Method::publish, R"({"data":"text","channel":"c"})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.data, "\"text\"");
  r = p.parse(Method::publish, R"({"channel":"c"})", out);  // missing data: the caller's 107
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.data.empty());
}

TEST(ApiJson, HistoryRequests) {
  RequestParser p;
  Request out;
  auto r = p.parse(Method::history, R"({"channel":"c","limit":-1,"reverse":true,"since":{"offset":7,"epoch":"ab","x":[1]}})",
                   out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(out.channels.size(), 1u);
  EXPECT_EQ(out.limit, -1);
  EXPECT_TRUE(out.reverse && out.has_since);
  EXPECT_EQ(out.since_offset, 7u);
  EXPECT_EQ(out.since_epoch, "ab");
  r = p.parse(Method::history, R"({"channel":"c"})", out);  // the parser starts afresh
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.limit == 0 && !out.reverse && !out.has_since && out.since_epoch.empty());
  r = p.parse(Method::publish, R"({"channel":"c","data":1,"limit":5})", out);  // not publish's: ignored
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.limit, 0);
  for (std::string_view bad : {R"({"channel":"c","limit":"5"})", R"({"channel":"c","since":3})",
                               R"({"channel":"c","since":{"offset":-1}})", R"({"channel":"c","reverse":1})"}) {
    EXPECT_EQ(p.parse(Method::history, bad, out).error, ParseError::wrong_type) << bad;
  }
  r = p.parse(Method::channels, R"({"pattern":"news:*"})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.pattern, "news:*");
  std::string answer;
  ChannelCount counts[] = {{.channel = "a\"b", .clients = 2}, {.channel = "c", .clients = 1}};
  append_channels_result(answer, counts);
  EXPECT_EQ(answer, R"({"result":{"channels":{"a\"b":{"num_clients":2},"c":{"num_clients":1}}}})");
  answer.clear();
  append_info_result(answer, {.uid = "u", .name = "n", .version = "1", .clients = 3, .channels = 2, .uptime_seconds = 9});
  EXPECT_EQ(answer, R"({"result":{"nodes":[{"uid":"u","name":"n","version":"1","num_clients":3,"num_channels":2,)"
                    R"("uptime":9}]}})");
  answer.clear();
  std::string_view pubs[] = {R"({"data":1,"offset":3})"};
  append_history_result(answer, pubs, "ep", 3);
  EXPECT_EQ(answer, R"({"result":{"publications":[{"data":1,"offset":3}],"epoch":"ep","offset":3}})");
  answer.clear();
  append_publish_result(answer, 9, "ep");
  EXPECT_EQ(answer, R"({"result":{"offset":9,"epoch":"ep"}})");
}

TEST(ApiJson, DisconnectAndUnsubscribe) {
  RequestParser p;
  Request out;
  auto r = p.parse(Method::disconnect, R"({"user":"u","client":"c","whitelist":["a","b"],"disconnect":{"code":4000,"reason":"r"}})",
                   out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  EXPECT_EQ(out.user, "u");
  EXPECT_EQ(out.client, "c");
  EXPECT_EQ(out.whitelist, (std::vector<std::string_view>{"a", "b"}));
  EXPECT_TRUE(out.has_disconnect);
  EXPECT_EQ(out.disconnect_code, 4000u);
  EXPECT_EQ(out.disconnect_reason, "r");
  r = p.parse(Method::unsubscribe, R"({"user":"u","channel":"ns:c"})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.user == "u" && out.channels.size() == 1 && !out.has_disconnect && out.whitelist.empty());
  r = p.parse(Method::publish, R"({"user":5,"channel":"c","data":1})", out);  // not publish's: checked, ignored
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.user.empty());
  for (std::string_view bad : {R"({"user":1})", R"({"whitelist":[1]})", R"({"disconnect":{"code":-1}})",
                               R"({"disconnect":{"code":4294967296}})", R"({"disconnect":{"reason":2}})"}) {
    EXPECT_EQ(p.parse(Method::disconnect, bad, out).error, ParseError::wrong_type) << bad;
  }
}

TEST(ApiJson, BatchCommands) {
  RequestParser p;
  std::vector<BatchCommand> cmds;
  auto r = p.parse_batch(R"({"commands":[{"publish":{"channel":"c","data":1}},{"frob":[1]},{"info":{}}],"parallel":true})",
                         cmds);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].method, Method::publish);
  EXPECT_EQ(cmds[0].params, R"({"channel":"c","data":1})");
  EXPECT_EQ(cmds[1].method, Method::unknown);
  EXPECT_EQ(cmds[1].name, "frob");
  EXPECT_EQ(cmds[1].params, "[1]");
  EXPECT_EQ(cmds[2].method, Method::info);
  RequestParser item;
  Request out;
  ASSERT_EQ(item.parse(cmds[0].method, cmds[0].params, out).error, ParseError::none);  // views stay valid
  EXPECT_EQ(out.data, "1");
  EXPECT_EQ(cmds[0].params, R"({"channel":"c","data":1})");
  for (std::string_view bad : {R"({"commands":{}})", R"({"commands":[1]})", R"({"commands":[{}]})",
                               R"({"commands":[{"a":{},"b":{}}]})"}) {
    EXPECT_EQ(p.parse_batch(bad, cmds).error, ParseError::wrong_type) << bad;
    EXPECT_TRUE(cmds.empty());
  }
  EXPECT_EQ(p.parse_batch(R"({"commands":[)", cmds).error, ParseError::not_json);
}

TEST(ApiJson, BroadcastChannels) {
  RequestParser p;
  Request out;
  auto r = p.parse(Method::broadcast, R"({"channels":["a","b:c"],"data":1})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(out.channels.size(), 2u);
  EXPECT_EQ(out.channels[1], "b:c");
  EXPECT_EQ(out.data, "1");
  r = p.parse(Method::broadcast, R"({"channels":["a"],"data":1,"channels":["b"]})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.channels, (std::vector<std::string_view>{"b"}));  // a repeated key: the last holds
  r = p.parse(Method::broadcast, R"({"channel":"a","data":1})", out);  // "channel" is not broadcast's
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.channels.empty());
  std::string many = R"({"data":1,"channels":[)";
  for (std::size_t i = 0; i <= RequestParser::kMaxBroadcastChannels; ++i) many += i ? ",\"x\"" : "\"x\"";
  many += "]}";
  EXPECT_EQ(p.parse(Method::broadcast, many, out).error, ParseError::wrong_type);
}

TEST(ApiJson, BadBodies) {
  RequestParser p;
  Request out;
  for (std::string_view body : {"", "not json", "[1]", R"({"channel":"a","data":1} x)", R"({"channel":"a","data":})",
                                "{\"channel\":\"\xff\",\"data\":1}", R"({"channel":"a","data":1,"tags":{)"}) {
    EXPECT_EQ(p.parse(Method::publish, body, out).error, ParseError::not_json) << body;
  }
  for (std::string_view body : {R"({"channel":7,"data":1})", R"({"channels":"a","data":1})"}) {
    EXPECT_EQ(p.parse(body.find("channels") != std::string_view::npos ? Method::broadcast : Method::publish,
                              body, out).error,
              ParseError::wrong_type)
        << body;
  }
}

TEST(ApiJson, Answers) {
  std::string out;
  append_empty_result(out);
  EXPECT_EQ(out, R"({"result":{}})");
  out.clear();
  append_error(out, client::ErrorCode::unknown_channel);
  EXPECT_EQ(out, R"({"error":{"code":102,"message":"unknown channel"}})");
}

}  // namespace
}  // namespace ringcast::protocol::api
