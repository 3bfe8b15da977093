// ringcast-load's half of the opening handshake: the request it writes (with the deflate
// offer or without) and its reading of the server's 101, permessage-deflate answers included.
#include "bench/load/handshake_client.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::load {
namespace {

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's example key

std::string response(std::string_view extra) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
         std::string(extra) + "\r\n";
}

ResponseCheck check(std::string_view extra, bool offered = true) {
  return check_upgrade_response(response(extra), protocol::compute_accept_key(kKey), offered);
}

TEST(HandshakeClient, RequestOffersDeflateOnlyWhenAsked) {
  char buf[512];
  std::string plain(buf, write_upgrade_request(buf, "127.0.0.1:9000", "/room", kKey));
  EXPECT_EQ(plain.find("Sec-WebSocket-Extensions"), std::string::npos);
  EXPECT_TRUE(plain.ends_with("Sec-WebSocket-Version: 13\r\n\r\n"));
  std::string offer(buf, write_upgrade_request(buf, "127.0.0.1:9000", "/room", kKey, kDeflateOffer));
  EXPECT_NE(offer.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"), std::string::npos);
  EXPECT_TRUE(offer.ends_with("\r\n\r\n"));
  EXPECT_EQ(write_upgrade_request({buf, 64}, "127.0.0.1:9000", "/room", kKey, kDeflateOffer), 0u) << "too small";
}

TEST(HandshakeClient, PlainAndDeflateAnswers) {
  ResponseCheck plain = check("", false);
  ASSERT_EQ(plain.status, ResponseStatus::ok) << plain.reason;
  EXPECT_FALSE(plain.deflate);
  EXPECT_EQ(check("", true).status, ResponseStatus::ok) << "an offer the server declined";
  ResponseCheck z = check("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                          "client_no_context_takeover\r\n");
  ASSERT_EQ(z.status, ResponseStatus::ok) << z.reason;
  EXPECT_TRUE(z.deflate);
  EXPECT_EQ(z.consumed, response("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                                 "client_no_context_takeover\r\n").size());
}

TEST(HandshakeClient, DeflateAnswersItCannotServeAreRefused) {
  const char* sane = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
  EXPECT_EQ(check(sane, true).status, ResponseStatus::ok);
  EXPECT_EQ(check(sane, false).status, ResponseStatus::error) << "accepted without an offer";
  // Its context kept: one inflater per thread could not read the next message.
  EXPECT_EQ(check("Sec-WebSocket-Extensions: permessage-deflate\r\n").status, ResponseStatus::error);
  EXPECT_EQ(check("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n").status, ResponseStatus::error);
  EXPECT_EQ(check("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover, permessage-deflate\r\n").status,
            ResponseStatus::error);
  EXPECT_EQ(check("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n")
                .status,
            ResponseStatus::error);
  EXPECT_EQ(check("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; bogus=1\r\n").status,
            ResponseStatus::error);
}

}  // namespace
}  // namespace ringcast::load
