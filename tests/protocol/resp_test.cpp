// RESP2: every reply type, nesting, replies cut anywhere (need_more, never a wrong parse),
// several replies back to back, what Redis never sends (refused), the limits, and commands
// encoded as Redis reads them.
#include "protocol/resp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::protocol::resp {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

Parse parse(std::string_view s, Reply& r, const Limits& l = {}) { return parse_reply(bytes(s), r, l); }

std::string simple_of(std::size_t n) {  // "+" and n bytes, no CRLF yet
  std::string s(n + 1, 'a');
  s[0] = '+';
  return s;
}

TEST(Resp, ScalarReplies) {
  Reply r;
  Parse p = parse("+OK\r\n", r);
  ASSERT_EQ(p.status, Status::ok);
  EXPECT_EQ(p.consumed, 5u);
  EXPECT_EQ(r.root().type, Type::simple);
  EXPECT_EQ(r.root().str, "OK");
  ASSERT_EQ(parse("-ERR unknown command 'FOO'\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().type, Type::error);
  EXPECT_EQ(r.root().str, "ERR unknown command 'FOO'");
  ASSERT_EQ(parse(":-9223372036854775808\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().integer, INT64_MIN);
  ASSERT_EQ(parse(":9223372036854775807\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().integer, INT64_MAX);
  ASSERT_EQ(parse("$5\r\nhe\r\no\r\n", r).status, Status::ok);  // bulk strings are binary
  EXPECT_EQ(r.root().type, Type::bulk);
  EXPECT_EQ(r.root().str, "he\r\no");
  ASSERT_EQ(parse("$0\r\n\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().str, "");
  ASSERT_EQ(parse("$-1\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().type, Type::nil);
  ASSERT_EQ(parse("*-1\r\n", r).status, Status::ok);
  EXPECT_EQ(r.root().type, Type::nil_array);
}

TEST(Resp, PubSubMessageAndSubscribeConfirmation) {
  Reply r;
  const std::string msg = "*3\r\n$7\r\nmessage\r\n$9\r\nrc:feed:x\r\n$11\r\n{\"px\":1.25}\r\n";
  const std::string two_replies = msg + "+PONG\r\n";  // the reply's views point into it
  Parse p = parse(two_replies, r);
  ASSERT_EQ(p.status, Status::ok);
  EXPECT_EQ(p.consumed, msg.size()) << "one reply at a time";
  std::string_view parts[3];
  ASSERT_TRUE(r.bulk_array(parts));
  EXPECT_EQ(parts[0], "message");
  EXPECT_EQ(parts[1], "rc:feed:x");
  EXPECT_EQ(parts[2], "{\"px\":1.25}");
  std::string_view two[2];
  EXPECT_FALSE(r.bulk_array(two)) << "three elements, not two";
  ASSERT_EQ(parse("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", r).status, Status::ok);
  EXPECT_FALSE(r.bulk_array(parts)) << "its count is an integer";
  EXPECT_EQ(r.at(r.element(0, 2)).integer, 1);
}

TEST(Resp, NestedArraysSkipBySubtree) {
  // XRANGE's shape: [[id, [field, value]], [id, [field, value]]], and an empty array.
  Reply r;
  ASSERT_EQ(parse("*3\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nd\r\n$2\r\nhi\r\n*0\r\n*2\r\n$3\r\n2-0\r\n*-1\r\n", r).status,
            Status::ok);
  ASSERT_EQ(r.root().type, Type::array);
  EXPECT_EQ(r.root().integer, 3);
  const std::uint32_t first = r.element(0, 0), empty = r.element(0, 1), last = r.element(0, 2);
  EXPECT_EQ(r.at(r.element(first, 0)).str, "1-0");
  const std::uint32_t fields = r.element(first, 1);
  EXPECT_EQ(r.at(r.element(fields, 1)).str, "hi");
  EXPECT_EQ(r.at(empty).type, Type::array);
  EXPECT_EQ(r.at(empty).integer, 0);
  EXPECT_EQ(r.at(r.element(last, 0)).str, "2-0");
  EXPECT_EQ(r.at(r.element(last, 1)).type, Type::nil_array);
  EXPECT_EQ(r.root().next, r.size());
}

TEST(Resp, EveryCutIsNeedMoreThenTheWholeParses) {
  const std::string whole = "*2\r\n*3\r\n:1\r\n$4\r\nab\r\n\r\n+x\r\n-e\r\n";
  Reply r;
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    EXPECT_EQ(parse(whole.substr(0, cut), r).status, Status::need_more) << "cut at " << cut;
  }
  Parse p = parse(whole, r);
  ASSERT_EQ(p.status, Status::ok);
  EXPECT_EQ(p.consumed, whole.size());
  EXPECT_EQ(r.at(r.element(r.element(0, 0), 1)).str, "ab\r\n");
}

TEST(Resp, WhatRedisNeverSendsIsRefused) {
  Reply r;
  for (std::string_view bad : {"?x\r\n", ":12a\r\n", ":\r\n", ":+1\r\n", ":99999999999999999999\r\n",
                               "$-2\r\n", "$3\r\nabcd\r\n", "$x\r\n", "*-5\r\n", "+OK\rX", "*1\r\n!\r\n",
                               ":9223372036854775808\r\n"}) {
    EXPECT_EQ(parse(bad, r).status, Status::error) << bad;
  }
}

TEST(Resp, LimitsStopWithoutGrowing) {
  Reply r;
  const Limits small{.max_bulk = 8, .max_values = 4, .max_depth = 2, .max_line = 16};
  EXPECT_EQ(parse("$9\r\n", r, small).status, Status::error) << "a bulk past max_bulk, before its bytes come";
  EXPECT_EQ(parse("*5\r\n", r, small).status, Status::error);
  EXPECT_EQ(parse("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", r, small).status, Status::error) << "5 values";
  EXPECT_EQ(parse("*1\r\n*1\r\n*1\r\n:1\r\n", r, small).status, Status::error) << "depth 3";
  EXPECT_EQ(parse("*1\r\n*1\r\n:1\r\n", r, small).status, Status::ok);
  EXPECT_EQ(parse(simple_of(17), r, small).status, Status::error) << "a line past max_line";
  EXPECT_EQ(parse(simple_of(10), r, small).status, Status::need_more);
  EXPECT_EQ(parse("*1000000000\r\n", r).status, Status::error);
}

TEST(Resp, CommandsAreArraysOfBulkStrings) {
  const std::string_view args[] = {"PUBLISH", "rc:feed:x", "", "a\r\nb"};
  std::vector<char> out(command_size(args));
  ASSERT_EQ(encode_command(args, out), out.size());
  EXPECT_EQ(std::string(out.begin(), out.end()), "*4\r\n$7\r\nPUBLISH\r\n$9\r\nrc:feed:x\r\n$0\r\n\r\n$4\r\na\r\nb\r\n");
  EXPECT_EQ(encode_command(args, std::span<char>(out.data(), out.size() - 1)), 0u);
  // What we encode, we parse back.
  Reply r;
  ASSERT_EQ(parse(std::string_view(out.data(), out.size()), r).status, Status::ok);
  EXPECT_EQ(r.at(r.element(0, 3)).str, "a\r\nb");
  const std::string big(12345, 'z');
  const std::string_view one[] = {big};
  EXPECT_EQ(command_size(one), 4u + 8u + big.size() + 2u);
}

}  // namespace
}  // namespace ringcast::protocol::resp
