// ringcast-load's HTTP API publisher: the request it writes, and the reader that splits a
// keep-alive stream of answers, whatever the segment boundaries, into ok and failed ones.
#include "bench/load/api_client.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::load {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string answer(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

TEST(ApiRequest, HeadLengthAndBody) {
  const std::string head = api_publish_head("127.0.0.1:9000", "secret");
  const std::string_view body = R"({"channel":"x","data":"hi"})";
  std::vector<std::uint8_t> out(api_request_size(head, body.size()));
  const std::size_t n = write_api_request(out, head, bytes(body));
  EXPECT_EQ(std::string(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)),
            "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nX-API-Key: secret\r\n"
            "Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"
            R"({"channel":"x","data":"hi"})");
  std::vector<std::uint8_t> small(n - 1);
  EXPECT_EQ(write_api_request(small, head, bytes(body)), 0u) << "never past the buffer";
}

TEST(ApiReplyReader, PipelinedAnswersSplitAtEveryByte) {
  const std::string stream = answer(200, "OK", R"({"result":{}})") + answer(200, "OK", R"({"result":{"offset":7,"epoch":"ab"}})") +
                             answer(200, "OK", R"({"error":{"code":102,"message":"unknown channel"}})") +
                             answer(200, "OK", R"({"result":{}})");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    ApiReplyReader r;
    ApiReplyReader::Counts n;
    ASSERT_TRUE(r.feed(bytes(std::string_view(stream).substr(0, cut)), n)) << cut;
    ASSERT_TRUE(r.feed(bytes(std::string_view(stream).substr(cut)), n)) << cut;
    EXPECT_EQ(n.ok, 3u) << cut;
    EXPECT_EQ(n.errors, 1u) << cut;
    EXPECT_EQ(r.why(), R"({"error":{"code":102,"message":"unknown channel"}})");
  }
}

TEST(ApiReplyReader, ByteAtATime) {
  const std::string stream = answer(401, "Unauthorized", "") + answer(200, "OK", R"({"result":{}})");
  ApiReplyReader r;
  ApiReplyReader::Counts n;
  for (char ch : stream) ASSERT_TRUE(r.feed(bytes(std::string_view(&ch, 1)), n));
  EXPECT_EQ(n.ok, 1u);
  EXPECT_EQ(n.errors, 1u);
  EXPECT_EQ(r.why(), "401 Unauthorized");
}

TEST(ApiReplyReader, StatusAndBodyOfTheFirstFailure) {
  ApiReplyReader r;
  ApiReplyReader::Counts n;
  ASSERT_TRUE(r.feed(bytes(answer(413, "Payload Too Large", "too big") + answer(400, "Bad Request", "x")), n));
  EXPECT_EQ(n.errors, 2u);
  EXPECT_EQ(r.why(), "413 Payload Too Large: too big");
}

TEST(ApiReplyReader, RefusesWhatIsNotAnHttpAnswer) {
  for (const std::string& bad : {std::string("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
                                 std::string("HTTP/1.1 200 OK\r\n\r\n"),  // no length
                                 std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
                                 std::string("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
                                 "HTTP/1.1 200 OK\r\nX: " + std::string(5000, 'a')}) {
    ApiReplyReader r;
    ApiReplyReader::Counts n;
    EXPECT_FALSE(r.feed(bytes(bad), n)) << bad.substr(0, 40);
    EXPECT_FALSE(r.why().empty());
    EXPECT_FALSE(r.feed(bytes(answer(200, "OK", "{}")), n)) << "broken stays broken";
    EXPECT_EQ(n.ok + n.errors, 0u);
  }
}

}  // namespace
}  // namespace ringcast::load
