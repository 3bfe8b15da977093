// protocol/client_reply: the exact bytes of replies and pushes, and that each parses back
// as JSON with the parser the server uses (a push wrapped as a command's data).
#include "protocol/client_reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::protocol::client {
namespace {

// True when `json` is a JSON value (checked by CommandParser inside a publish).
bool is_json(const std::string& json) {
  struct Keep final : CommandSink {
    std::string data;
    bool on_command(const Command& c) override {
      data = std::string(c.data);
      return true;
    }
  } keep;
  CommandParser parser;
  auto r = parser.parse("{\"publish\":{\"data\":" + json + "}}", keep);
  return r.error == ParseError::none && keep.data == json;
}

TEST(ClientReply, Errors) {
  std::string out;
  append_error(out, 7, ErrorCode::unknown_channel);
  EXPECT_EQ(out, R"({"id":7,"error":{"code":102,"message":"unknown channel"}})");
  EXPECT_TRUE(is_json(out));
  for (std::uint32_t code = 100; code <= 112; ++code) {
    EXPECT_NE(error_message(static_cast<ErrorCode>(code)), "error") << code;
  }
}

TEST(ClientReply, EmptyResults) {
  std::string out;
  append_empty_result(out, 4294967295u, Method::publish);
  EXPECT_EQ(out, R"({"id":4294967295,"publish":{}})");
  out.clear();
  append_empty_result(out, 3, Method::unsubscribe);
  EXPECT_EQ(out, R"({"id":3,"unsubscribe":{}})");
}

TEST(ClientReply, Connect) {
  std::string out;
  append_connect_result(out, 1, {.client = "c-1", .version = "ringcast 0.1", .expiry = {}, .subs = {}, .ping_seconds = 25, .pong = true});
  EXPECT_EQ(out, R"({"id":1,"connect":{"client":"c-1","version":"ringcast 0.1","ping":25,"pong":true}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_connect_result(out, 2, {.client = "c", .version = "v", .expiry = {}, .subs = {}, .ping_seconds = 0, .pong = false});
  EXPECT_EQ(out, R"({"id":2,"connect":{"client":"c","version":"v"}})");
  out.clear();
  append_connect_result(out, 3, {.client = "c", .version = "v", .expiry = {.expires = true, .ttl = 60}, .subs = {}, .ping_seconds = 25, .pong = false});
  EXPECT_EQ(out, R"({"id":3,"connect":{"client":"c","version":"v","expires":true,"ttl":60,"ping":25}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  std::string subs;
  append_server_sub(subs, "news", {});
  std::string_view pubs[] = {R"({"data":1,"offset":8})"};
  append_server_sub(subs, "feed:user#42", {.expiry = {}, .recoverable = true, .positioned = true, .was_recovering = true,
                                           .recovered = true, .epoch = "ab", .offset = 7, .publications = pubs});
  append_connect_result(out, 4, {.client = "c", .version = "v", .expiry = {}, .subs = subs, .ping_seconds = 0, .pong = true});
  EXPECT_EQ(out, R"({"id":4,"connect":{"client":"c","version":"v","subs":{"news":{},"feed:user#42":{"recoverable":true,)"
                 R"("positioned":true,"epoch":"ab","offset":7,"publications":[{"data":1,"offset":8}],"recovered":true,)"
                 R"("was_recovering":true}},"pong":true}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, TokenLifetimes) {
  std::string out;
  append_refresh_result(out, 5, "c", "v", {.expires = true, .ttl = 0});
  EXPECT_EQ(out, R"({"id":5,"refresh":{"client":"c","version":"v","expires":true,"ttl":0}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_refresh_result(out, 5, "c", "v", {});
  EXPECT_EQ(out, R"({"id":5,"refresh":{"client":"c","version":"v"}})");
  out.clear();
  append_expiry_result(out, 6, Method::subscribe, {.expires = true, .ttl = 4294967295u});
  EXPECT_EQ(out, R"({"id":6,"subscribe":{"expires":true,"ttl":4294967295}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_expiry_result(out, 7, Method::sub_refresh, {});
  EXPECT_EQ(out, R"({"id":7,"sub_refresh":{}})");
}

TEST(ClientReply, UnsubscribePush) {
  std::string out;
  append_unsubscribe_push(out, "$private", kUnsubscribeExpired, "subscription expired");
  EXPECT_EQ(out, R"({"push":{"channel":"$private","unsubscribe":{"code":2501,"reason":"subscription expired"}}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, PublicationPush) {
  std::string out;
  append_publication_push(out, "chat:index", {.data = R"({"input":"hi"})", .offset = 42});
  EXPECT_EQ(out, R"({"push":{"channel":"chat:index","pub":{"data":{"input":"hi"},"offset":42}}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_publication_push(out, "c", {.data = "1"});
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":1}}})");
}

TEST(ClientReply, PublicationInfo) {
  std::string out;
  ClientInfo anonymous{.user = "", .client = "c-1", .conn_info = "", .chan_info = ""};
  append_publication_push(out, "c", {.data = "1", .offset = 0, .info = &anonymous});
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":1,"info":{"user":"","client":"c-1"}}}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  ClientInfo full{.user = "42", .client = "c-2", .conn_info = R"({"name":"Ann"})", .chan_info = "[1]"};
  append_publication_push(out, "c", {.data = "1", .offset = 9, .info = &full});
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":1,"info":{"user":"42","client":"c-2",)"
                 R"("conn_info":{"name":"Ann"},"chan_info":[1]},"offset":9}}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, SubscribeResults) {
  std::string out;
  append_subscribe_result(out, 3, {.expiry = {}, .recoverable = true, .positioned = false, .was_recovering = false,
                                   .recovered = false, .epoch = "abcd", .offset = 0, .publications = {}});
  EXPECT_EQ(out, R"({"id":3,"subscribe":{"recoverable":true,"epoch":"abcd","offset":0}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  std::string record;
  append_publication(record, {.data = "[1]", .offset = 8});
  EXPECT_EQ(record, R"({"data":[1],"offset":8})");
  std::string_view pubs[] = {record, record};
  append_subscribe_result(out, 4, {.expiry = {.expires = true, .ttl = 60}, .recoverable = true, .positioned = false,
                                   .was_recovering = true, .recovered = true, .epoch = "e", .offset = 9,
                                   .publications = pubs});
  EXPECT_EQ(out, R"({"id":4,"subscribe":{"expires":true,"ttl":60,"recoverable":true,"epoch":"e","offset":9,)"
                 R"("publications":[{"data":[1],"offset":8},{"data":[1],"offset":8}],"recovered":true,)"
                 R"("was_recovering":true}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_subscribe_result(out, 5, {.expiry = {}, .recoverable = false, .positioned = true, .was_recovering = false,
                                   .recovered = false, .epoch = "e\"", .offset = 1, .publications = {}});
  EXPECT_EQ(out, R"({"id":5,"subscribe":{"positioned":true,"epoch":"e\"","offset":1}})");
  out.clear();
  append_publication_push(out, "c", record);
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":[1],"offset":8}}})");
}

TEST(ClientReply, DeltaForms) {
  // Full and delta carry the data as a string: the SDK decodes against its bytes.
  std::string out;
  append_publication_push(out, "c", {.data = R"({"p":1})", .offset = 3}, DataForm::full);
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":"{\"p\":1}","offset":3}}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_publication_push(out, "c", {.data = "7\n2@0,1:2\"", .offset = 4}, DataForm::delta);
  EXPECT_EQ(out, R"({"push":{"channel":"c","pub":{"data":"7\n2@0,1:2\"","offset":4,"delta":true}}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, RecordData) {
  ClientInfo info{.user = "u", .client = "c", .conn_info = R"({"a":"}"})", .chan_info = ""};
  for (std::string_view data : {R"({"a":[1,{"b":"],}"}],"c":"\\"})", R"("x,}\"y")", "12.5e3", "true", "[[],{}]",
                                R"({ "sp" : [ 1 , 2 ] })"}) {
    for (const ClientInfo* i : {static_cast<const ClientInfo*>(nullptr), static_cast<const ClientInfo*>(&info)}) {
      for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{9}}) {
        std::string record;
        append_publication(record, {.data = data, .offset = offset, .info = i});
        EXPECT_EQ(record_data(record), data) << record;
        std::string full, expected;
        append_record_as_full(full, record);
        append_publication(expected, {.data = data, .offset = offset, .info = i}, DataForm::full);
        EXPECT_EQ(full, expected);
        std::string delta;
        append_record_as_delta(delta, record, "2\n1@0,\"");
        expected.clear();
        append_publication(expected, {.data = "2\n1@0,\"", .offset = offset, .info = i}, DataForm::delta);
        EXPECT_EQ(delta, expected);
        EXPECT_TRUE(is_json(delta)) << delta;
      }
    }
  }
  EXPECT_EQ(record_data(R"({"offset":1})"), "");
  std::string out;
  append_record_as_full(out, R"({"offset":1})");
  EXPECT_EQ(out, R"({"offset":1})");
}

TEST(ClientReply, DeltaSubscribeResult) {
  std::string record, out;
  append_publication(record, {.data = "[1]", .offset = 8});
  std::string_view pubs[] = {record};
  append_subscribe_result(out, 4, {.expiry = {}, .recoverable = true, .positioned = true, .was_recovering = true,
                                   .recovered = true, .epoch = "e", .offset = 7, .publications = pubs, .delta = true});
  EXPECT_EQ(out, R"({"id":4,"subscribe":{"recoverable":true,"positioned":true,"epoch":"e","offset":7,)"
                 R"("publications":[{"data":"[1]","offset":8}],"recovered":true,"was_recovering":true,"delta":true}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, HistoryResults) {
  std::string out;
  append_history_result(out, 6, {}, "ep", 0);
  EXPECT_EQ(out, R"({"id":6,"history":{"epoch":"ep","offset":0}})");
  out.clear();
  std::string_view pubs[] = {R"({"data":1,"offset":2})", R"({"data":2,"offset":3})"};
  append_history_result(out, 7, pubs, "ep", 3);
  EXPECT_EQ(out, R"({"id":7,"history":{"publications":[{"data":1,"offset":2},{"data":2,"offset":3}],)"
                 R"("epoch":"ep","offset":3}})");
  EXPECT_TRUE(is_json(out));
}

TEST(ClientReply, PresenceResults) {
  std::string out;
  append_presence_stats_result(out, 8, 3, 2);
  EXPECT_EQ(out, R"({"id":8,"presence_stats":{"num_clients":3,"num_users":2}})");
  out.clear();
  ClientInfo clients[] = {{.user = "ann", .client = "c1", .conn_info = "{}", .chan_info = ""},
                          {.user = "", .client = "c2", .conn_info = "", .chan_info = "[1]"}};
  append_presence_result(out, 9, clients);
  EXPECT_EQ(out, R"({"id":9,"presence":{"presence":{"c1":{"user":"ann","client":"c1","conn_info":{}},)"
                 R"("c2":{"user":"","client":"c2","chan_info":[1]}}}})");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_presence_result(out, 10, {});
  EXPECT_EQ(out, R"({"id":10,"presence":{"presence":{}}})");
}

TEST(ClientReply, StringsAreEscaped) {
  std::string out;
  append_json_string(out, std::string_view("a\"b\\c\n\r\t\x01\x1f/\xc3\xa9", 13));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f/\xc3\xa9\"");
  EXPECT_TRUE(is_json(out));
  out.clear();
  append_json_string(out, "");
  EXPECT_EQ(out, "\"\"");
}

TEST(ClientReply, ARecordGetsItsOffsetWhereAppendPublicationPutsIt) {
  ClientInfo info{.user = "u", .client = "c", .conn_info = {}, .chan_info = {}};
  for (Publication pub : {Publication{.data = R"({"x":1})", .offset = 0, .info = &info},
                          Publication{.data = R"({"x":1})", .offset = 0, .info = nullptr},
                          Publication{.data = {}, .offset = 0, .info = nullptr}}) {
    std::string record, numbered, with;
    append_publication(record, pub);
    pub.offset = 42;
    append_publication(numbered, pub);
    append_record_with_offset(with, record, 42);
    EXPECT_EQ(with, numbered) << record;
  }
}

}  // namespace
}  // namespace ringcast::protocol::client
