// protocol/api_json: the server API's publish and broadcast bodies, and its answers.
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

TEST(ApiJson, PublishKeepsTheDataBytes) {
  RequestParser p;
  Publish out;
  auto r = p.parse_publish(Method::publish, R"({"channel": "news", "data": { "a" : [1, 2.5] }, "tags": {"k": "v"}})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(out.channels.size(), 1u);
  EXPECT_EQ(out.channels[0], "news");
  EXPECT_EQ(out.data, R"({ "a" : [1, 2.5] })");
  r = p.parse_publish(Method::publish, R"({"data":"text","channel":"c"})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.data, "\"text\"");
  r = p.parse_publish(Method::publish, R"({"channel":"c"})", out);  // missing data: the caller's 107
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.data.empty());
}

TEST(ApiJson, BroadcastChannels) {
  RequestParser p;
  Publish out;
  auto r = p.parse_publish(Method::broadcast, R"({"channels":["a","b:c"],"data":1})", out);
  ASSERT_EQ(r.error, ParseError::none) << r.what;
  ASSERT_EQ(out.channels.size(), 2u);
  EXPECT_EQ(out.channels[1], "b:c");
  EXPECT_EQ(out.data, "1");
  r = p.parse_publish(Method::broadcast, R"({"channels":["a"],"data":1,"channels":["b"]})", out);
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_EQ(out.channels, (std::vector<std::string_view>{"b"}));  // a repeated key: the last holds
  r = p.parse_publish(Method::broadcast, R"({"channel":"a","data":1})", out);  // "channel" is not broadcast's
  ASSERT_EQ(r.error, ParseError::none);
  EXPECT_TRUE(out.channels.empty());
  std::string many = R"({"data":1,"channels":[)";
  for (std::size_t i = 0; i <= RequestParser::kMaxBroadcastChannels; ++i) many += i ? ",\"x\"" : "\"x\"";
  many += "]}";
  EXPECT_EQ(p.parse_publish(Method::broadcast, many, out).error, ParseError::wrong_type);
}

TEST(ApiJson, BadBodies) {
  RequestParser p;
  Publish out;
  for (std::string_view body : {"", "not json", "[1]", R"({"channel":"a","data":1} x)", R"({"channel":"a","data":})",
                                "{\"channel\":\"\xff\",\"data\":1}", R"({"channel":"a","data":1,"tags":{)"}) {
    EXPECT_EQ(p.parse_publish(Method::publish, body, out).error, ParseError::not_json) << body;
  }
  for (std::string_view body : {R"({"channel":7,"data":1})", R"({"channels":"a","data":1})"}) {
    EXPECT_EQ(p.parse_publish(body.find("channels") != std::string_view::npos ? Method::broadcast : Method::publish,
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
