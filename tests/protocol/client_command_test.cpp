// protocol/client_command: the frames the centrifuge SDK sends, several per message, and
// every kind of bad input: not JSON, wrong types, two methods, ids out of range, deep data.
#include "protocol/client_command.hpp"

#include <gtest/gtest.h>

#include <tuple>

#include <string>
#include <vector>

namespace ringcast::protocol::client {
namespace {

// Copies what the parser hands over (its views live during the call only).
struct Got {
  std::uint32_t id;
  Method method;
  std::string channel, token, data, name, version, epoch, rpc_method, delta;
  std::uint64_t offset;
  std::int64_t limit;
  std::uint64_t flag;
  bool recover, positioned, recoverable, join_leave, reverse, has_since;
  std::string subs;  // connect: "channel epoch offset recover;" per entry
};

struct Sink final : CommandSink {
  std::vector<Got> got;
  std::size_t stop_after = SIZE_MAX;
  bool on_command(const Command& c) override {
    got.push_back({c.id, c.method, std::string(c.channel), std::string(c.token), std::string(c.data),
                   std::string(c.name), std::string(c.version), std::string(c.epoch), std::string(c.rpc_method),
                   std::string(c.delta), c.offset, c.limit, c.flag, c.recover, c.positioned, c.recoverable, c.join_leave,
                   c.reverse, c.has_since, {}});
    for (const SubPosition& s : c.subs) {
      got.back().subs += std::string(s.channel) + " " + std::string(s.epoch) + " " + std::to_string(s.offset) +
                         (s.recover ? " recover;" : ";");
    }
    return got.size() < stop_after;
  }
};

struct Parsed {
  CommandParser::Result result;
  std::vector<Got> got;
};
Parsed parse(std::string_view frame) {
  static CommandParser parser;  // reused, as a shard does
  Sink sink;
  CommandParser::Result r = parser.parse(frame, sink);
  return {r, sink.got};
}

TEST(ClientCommand, ConnectAsTheSdkSendsIt) {
  Parsed p = parse(R"({"id":1,"connect":{"token":"eyJ.a.b","data":{"x":[1,2,{"y":null}]},"name":"js","version":"5.0.0"}})");
  ASSERT_EQ(p.result.error, ParseError::none) << p.result.what;
  ASSERT_EQ(p.got.size(), 1u);
  const Got& g = p.got[0];
  EXPECT_EQ(g.id, 1u);
  EXPECT_EQ(g.method, Method::connect);
  EXPECT_EQ(g.token, "eyJ.a.b");
  EXPECT_EQ(g.data, R"({"x":[1,2,{"y":null}]})");  // the client's own bytes
  EXPECT_EQ(g.name, "js");
  EXPECT_EQ(g.version, "5.0.0");
}

TEST(ClientCommand, ConnectRecoveringServerSideSubscriptions) {
  Parsed p = parse(R"({"id":1,"connect":{"token":"t","subs":{"feed:a":{"recover":true,"offset":5,"epoch":"ab",)"
                   R"("future":{"x":[1]}},"feed:b":{"recover":true},"c":{}}}})");
  ASSERT_EQ(p.result.error, ParseError::none) << p.result.what;
  ASSERT_EQ(p.got.size(), 1u);
  EXPECT_EQ(p.got[0].subs, "feed:a ab 5 recover;feed:b  0 recover;c  0;");
  p = parse(R"({"id":2,"connect":{}})");  // the parser's entries do not leak into the next command
  ASSERT_EQ(p.got.size(), 1u);
  EXPECT_EQ(p.got[0].subs, "");
  std::string many = R"({"id":3,"connect":{"subs":{)";
  for (std::size_t i = 0; i <= kMaxConnectSubs; ++i) many += (i == 0 ? "\"c" : ",\"c") + std::to_string(i) + "\":{}";
  EXPECT_EQ(parse(many + "}}}").result.error, ParseError::bad_command);
}

TEST(ClientCommand, RecoveringSubscribeAsTheSdkSendsIt) {
  Parsed p = parse(R"({"id":2,"subscribe":{"channel":"feed:x","recoverable":true,"flag":3,"recover":true,)"
                   R"("offset":18446744073709551615,"epoch":"abcd"}})");
  ASSERT_EQ(p.result.error, ParseError::none) << p.result.what;
  ASSERT_EQ(p.got.size(), 1u);
  const Got& g = p.got[0];
  EXPECT_EQ(g.channel, "feed:x");
  EXPECT_TRUE(g.recover && g.recoverable && !g.positioned);
  EXPECT_EQ(g.offset, UINT64_MAX);
  EXPECT_EQ(g.epoch, "abcd");
  EXPECT_EQ(g.flag, 3u);
  EXPECT_NE(g.flag & kRejectUnrecovered, 0u);
}

// A subscribe or history written back (a held one runs again from these bytes) parses to
// the same.
TEST(ClientCommand, CommandWrittenBackParsesTheSame) {
  struct Keep final : CommandSink {
    std::string written;
    bool on_command(const Command& c) override {
      append_command_line(written, c);
      return true;
    }
  };
  for (std::string_view line :
       {R"({"id":2,"subscribe":{"channel":"feed:\"x\"","recoverable":true,"flag":3,"recover":true,)"
        R"("offset":18446744073709551615,"epoch":"ab\\cd","token":"t.k.n","data":{"a":[1,"\n"]},)"
        R"("positioned":true,"join_leave":true,"delta":"fossil"}})",
        R"({"id":7,"subscribe":{"channel":"c"}})",
        R"({"id":8,"history":{"channel":"feed:x","limit":-1,"reverse":true,"since":{"offset":4,"epoch":"e"}}})",
        R"({"id":9,"history":{"channel":"feed:x","limit":10}})"}) {
    Keep keep;
    static CommandParser parser;
    ASSERT_EQ(parser.parse(line, keep).error, ParseError::none);
    Parsed once = parse(line), again = parse(keep.written);
    ASSERT_EQ(again.result.error, ParseError::none) << keep.written;
    ASSERT_EQ(again.got.size(), 1u);
    const Got &a = once.got[0], &b = again.got[0];
    EXPECT_EQ(std::tie(a.id, a.method, a.channel, a.token, a.data, a.epoch, a.delta, a.offset, a.flag, a.limit),
              std::tie(b.id, b.method, b.channel, b.token, b.data, b.epoch, b.delta, b.offset, b.flag, b.limit))
        << keep.written;
    EXPECT_EQ(std::tie(a.recover, a.positioned, a.recoverable, a.join_leave, a.reverse, a.has_since),
              std::tie(b.recover, b.positioned, b.recoverable, b.join_leave, b.reverse, b.has_since));
  }
}

TEST(ClientCommand, SeveralCommandsPerMessage) {
  Parsed p = parse("{\"id\":2,\"subscribe\":{\"channel\":\"news\",\"recover\":true,\"offset\":18446744073709551615,"
                   "\"epoch\":\"xyz\",\"positioned\":true,\"recoverable\":true,\"join_leave\":true,\"delta\":\"fossil\"}}\n"
                   "\n"
                   "{\"id\":3,\"publish\":{\"channel\":\"chat:index\",\"data\": \"hi\\u00e9\" }}\r\n"
                   "{}\n"
                   "{\"id\":4,\"history\":{\"channel\":\"news\",\"limit\":-1,\"since\":{\"offset\":7,\"epoch\":\"e\"},"
                   "\"reverse\":true}}\n");
  ASSERT_EQ(p.result.error, ParseError::none) << p.result.what;
  ASSERT_EQ(p.got.size(), 4u);
  EXPECT_EQ(p.got[0].method, Method::subscribe);
  EXPECT_EQ(p.got[0].channel, "news");
  EXPECT_TRUE(p.got[0].recover && p.got[0].positioned && p.got[0].recoverable && p.got[0].join_leave);
  EXPECT_EQ(p.got[0].offset, UINT64_MAX);
  EXPECT_EQ(p.got[0].epoch, "xyz");
  EXPECT_EQ(p.got[0].delta, "fossil");
  EXPECT_EQ(p.got[1].method, Method::publish);
  EXPECT_EQ(p.got[1].channel, "chat:index");
  EXPECT_EQ(p.got[1].data, "\"hi\\u00e9\"");  // raw: escapes kept, spaces around trimmed
  EXPECT_EQ(p.got[2].method, Method::none);  // the pong
  EXPECT_EQ(p.got[2].id, 0u);
  EXPECT_EQ(p.got[3].method, Method::history);
  EXPECT_EQ(p.got[3].limit, -1);
  EXPECT_TRUE(p.got[3].has_since);
  EXPECT_EQ(p.got[3].offset, 7u);
  EXPECT_EQ(p.got[3].epoch, "e");
  EXPECT_TRUE(p.got[3].reverse);
}

TEST(ClientCommand, EveryMethodByName) {
  for (Method m : {Method::connect, Method::subscribe, Method::unsubscribe, Method::publish, Method::presence,
                   Method::presence_stats, Method::history, Method::ping, Method::send, Method::rpc, Method::refresh,
                   Method::sub_refresh}) {
    std::string frame = "{\"id\":9,\"" + std::string(method_name(m)) + "\":{}}";
    Parsed p = parse(frame);
    ASSERT_EQ(p.result.error, ParseError::none) << frame;
    ASSERT_EQ(p.got.size(), 1u);
    EXPECT_EQ(p.got[0].method, m) << frame;
  }
}

TEST(ClientCommand, UnknownFieldsAreIgnoredButChecked) {
  Parsed ok = parse(R"({"id":5,"future":{"a":[true,false,1.5e3]},"rpc":{"method":"m","data":[1],"extra":"x"}})");
  ASSERT_EQ(ok.result.error, ParseError::none) << ok.result.what;
  EXPECT_EQ(ok.got[0].rpc_method, "m");
  EXPECT_EQ(ok.got[0].data, "[1]");
  Parsed bad = parse(R"({"id":5,"future":{"a":[tru]},"ping":{}})");
  EXPECT_EQ(bad.result.error, ParseError::not_json);
  EXPECT_TRUE(bad.got.empty());
}

TEST(ClientCommand, NotJson) {
  for (std::string_view frame : {
           std::string_view("hello"),
           std::string_view("[1,2]"),
           std::string_view("\"just a string\""),
           std::string_view("{\"id\":1,"),
           std::string_view("{\"id\":1}}"),
           std::string_view("{\"id\":1} {\"id\":2}"),
           std::string_view("{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":{\"a\":01}}}"),
           std::string_view("{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":{\"a\" 1}}}"),
           std::string_view("{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":\"\xff\"}}"),  // not UTF-8
       }) {
    Parsed p = parse(frame);
    EXPECT_EQ(p.result.error, ParseError::not_json) << frame;
    EXPECT_STRNE(p.result.what, "");
    EXPECT_TRUE(p.got.empty()) << frame;
  }
}

TEST(ClientCommand, BadCommands) {
  for (std::string_view frame : {
           std::string_view(R"({"id":"1","ping":{}})"),
           std::string_view(R"({"id":-1,"ping":{}})"),
           std::string_view(R"({"id":4294967296,"ping":{}})"),
           std::string_view(R"({"id":1,"ping":{},"publish":{}})"),
           std::string_view(R"({"id":1,"subscribe":{"channel":5}})"),
           std::string_view(R"({"id":1,"subscribe":{"channel":"c","recover":"yes"}})"),
           std::string_view(R"({"id":1,"subscribe":{"channel":"c","offset":-3}})"),
           std::string_view(R"({"id":1,"subscribe":"c"})"),
           std::string_view(R"({"id":1,"history":{"since":[1]}})"),
           std::string_view(R"({"id":1,"subscribe":{"channel":"c","flag":-1}})"),
           std::string_view(R"({"id":1,"connect":{"subs":[]}})"),
           std::string_view(R"({"id":1,"connect":{"subs":{"c":true}}})"),
           std::string_view(R"({"id":1,"connect":{"subs":{"c":{"offset":"5"}}}})"),
           std::string_view(R"({"id":1,"connect":{"subs":{"c":{"recover":1}}}})"),
           std::string_view(R"({"id":1,"connect":{"subs":{"c":{"epoch":7}}}})"),
       }) {
    Parsed p = parse(frame);
    EXPECT_EQ(p.result.error, ParseError::bad_command) << frame;
    EXPECT_TRUE(p.got.empty()) << frame;
  }
}

TEST(ClientCommand, TheLinesBeforeABadOneAreHandedOver) {
  Parsed p = parse("{\"id\":1,\"ping\":{}}\n{\"id\":2,\"ping\":{}}\nnope\n{\"id\":3,\"ping\":{}}");
  EXPECT_EQ(p.result.error, ParseError::not_json);
  EXPECT_EQ(p.result.commands, 2u);
  ASSERT_EQ(p.got.size(), 2u);
  EXPECT_EQ(p.got[1].id, 2u);
}

TEST(ClientCommand, TheSinkCanStop) {
  CommandParser parser;
  Sink sink;
  sink.stop_after = 1;
  CommandParser::Result r = parser.parse("{\"id\":1,\"ping\":{}}\n{\"id\":2,\"ping\":{}}", sink);
  EXPECT_EQ(r.error, ParseError::none);
  EXPECT_EQ(r.commands, 1u);
  EXPECT_EQ(sink.got.size(), 1u);
}

TEST(ClientCommand, DeepDataIsRefused) {
  std::string deep = "{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":";
  deep += std::string(100, '[') + std::string(100, ']') + "}}";
  EXPECT_EQ(parse(deep).result.error, ParseError::bad_command);
  std::string ok = "{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":";
  ok += std::string(50, '[') + std::string(50, ']') + "}}";
  EXPECT_EQ(parse(ok).result.error, ParseError::none);
}

TEST(ClientCommand, EmptyAndBlankFrames) {
  EXPECT_EQ(parse("").result.commands, 0u);
  EXPECT_EQ(parse(" \n\r\n\t").result.error, ParseError::none);
}

TEST(ClientCommand, LargeFramesAfterSmallOnes) {
  std::string data(1 << 20, 'a');
  std::string frame = "{\"id\":7,\"publish\":{\"channel\":\"c\",\"data\":\"" + data + "\"}}";
  Parsed p = parse(frame);
  ASSERT_EQ(p.result.error, ParseError::none) << p.result.what;
  EXPECT_EQ(p.got[0].data.size(), data.size() + 2);
  EXPECT_EQ(parse(R"({"id":8,"ping":{}})").got.at(0).id, 8u);
}

TEST(ClientCommand, ScalarDataKeepsItsBytes) {
  for (std::string_view data : {"1", "-2.5e3", "true", "null", "\"s\""}) {
    for (std::string_view tail : {"}}", ",\"channel\":\"c\"}}", " }}"}) {
      std::string frame = "{\"id\":1,\"publish\":{\"channel\":\"c\",\"data\":" + std::string(data) + std::string(tail);
      Parsed p = parse(frame);
      ASSERT_EQ(p.result.error, ParseError::none) << frame << ": " << p.result.what;
      EXPECT_EQ(p.got.at(0).data, data) << frame;
    }
  }
}

}  // namespace
}  // namespace ringcast::protocol::client
