// permessage-deflate's codec: RFC 7692's own examples, round trips of every size class,
// the limit (exactly at it, one past, a deflate bomb stopping there without growing past
// it), corrupt streams; and the negotiation: which offers ringcast accepts.
#include "protocol/deflate_codec.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/handshake.hpp"

namespace ringcast::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(Inflater, TheRfcsExamples) {
  Inflater in;
  ASSERT_TRUE(in.ready());
  Bytes out;
  // Section 7.2.3.1: "Hello", one compressed block.
  EXPECT_EQ(in.inflate(Bytes{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, out, 100), Inflater::Result::ok);
  EXPECT_EQ(text(out), "Hello");
  // 7.2.3.3: no compression (a stored block).
  EXPECT_EQ(in.inflate(Bytes{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, out, 100),
            Inflater::Result::ok);
  EXPECT_EQ(text(out), "Hello");
  // 7.2.3.4: a block with BFINAL set, then the byte that makes the tail an empty block.
  EXPECT_EQ(in.inflate(Bytes{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, out, 100), Inflater::Result::ok);
  EXPECT_EQ(text(out), "Hello");
  // ... and without that byte: the final block ends the message.
  EXPECT_EQ(in.inflate(Bytes{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, out, 100), Inflater::Result::ok);
  EXPECT_EQ(text(out), "Hello");
  // 7.2.3.2: with no context takeover, the second "Hello" is compressed alone again.
  EXPECT_EQ(in.inflate(Bytes{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, out, 100), Inflater::Result::ok);
  EXPECT_EQ(text(out), "Hello");
  // An empty message.
  EXPECT_EQ(in.inflate(Bytes{0x00}, out, 100), Inflater::Result::ok);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(in.inflate(Bytes{}, out, 100), Inflater::Result::ok);
  EXPECT_TRUE(out.empty());
}

TEST(Deflater, RoundTripsEverySize) {
  Deflater de;
  Inflater in;
  std::mt19937 rng(1);
  for (std::size_t n : {0u, 1u, 5u, 125u, 126u, 1000u, 65535u, 65536u, 300000u, 4u << 20}) {
    for (bool random : {false, true}) {
      Bytes msg(n);
      for (std::size_t i = 0; i < n; ++i) msg[i] = random ? static_cast<std::uint8_t>(rng()) : static_cast<std::uint8_t>("{\"p\":\"101.25\",\"v\":7}"[i % 21]);
      Bytes z, back;
      ASSERT_TRUE(de.deflate(msg, z)) << n;
      ASSERT_FALSE(z.size() >= 4 && z[z.size() - 4] == 0 && z[z.size() - 3] == 0 && z[z.size() - 2] == 0xff &&
                   z[z.size() - 1] == 0xff)
          << "the tail is removed";
      if (!random && n >= 1000) {
        EXPECT_LT(z.size() * 10, n) << "JSON-like text compresses";
      }
      ASSERT_EQ(in.inflate(z, back, n), Inflater::Result::ok) << n;
      EXPECT_EQ(back, msg) << n;
    }
  }
  Bytes z, back;
  ASSERT_TRUE(de.deflate(bytes("Hello"), z));
  EXPECT_EQ(z, (Bytes{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})) << "RFC 7692 section 7.2.3.1, byte for byte";
}

TEST(Inflater, StopsAtTheLimit) {
  Deflater de;
  Inflater in;
  Bytes msg(1000, 'a'), z, out;
  ASSERT_TRUE(de.deflate(msg, z));
  EXPECT_EQ(in.inflate(z, out, 1000), Inflater::Result::ok);
  EXPECT_EQ(in.inflate(z, out, 999), Inflater::Result::too_big);
  // A bomb: 64 MiB of zeros in ~64 KiB, against a 1 MiB limit.
  Bytes zeros(64u << 20, 0), bomb;
  ASSERT_TRUE(de.deflate(zeros, bomb));
  ASSERT_LT(bomb.size(), 100u << 10);
  Bytes capped;
  EXPECT_EQ(in.inflate(bomb, capped, 1u << 20), Inflater::Result::too_big);
  EXPECT_LE(capped.capacity(), (1u << 20) + 1) << "never grown past the limit";
  // Still usable afterwards.
  EXPECT_EQ(in.inflate(z, out, 1000), Inflater::Result::ok);
  EXPECT_EQ(out, msg);
}

TEST(Inflater, CorruptStreams) {
  Inflater in;
  Bytes out;
  EXPECT_EQ(in.inflate(Bytes{0xff, 0xff, 0xff}, out, 100), Inflater::Result::corrupt) << "reserved block type";
  EXPECT_EQ(in.inflate(Bytes{0x00, 0x05, 0x00, 0x00, 0x00, 'x'}, out, 100), Inflater::Result::corrupt) << "LEN != ~NLEN";
  // A back-reference before the start (no context is kept between messages).
  Deflater de;
  Bytes z;
  ASSERT_TRUE(de.deflate(bytes("abcabcabcabcabcabc"), z));
  EXPECT_EQ(in.inflate(Bytes(z.begin() + 1, z.end()), out, 100), Inflater::Result::corrupt);
  // Cut short anywhere before its flush boundary: not a shorter message.
  Bytes hello;
  ASSERT_TRUE(de.deflate(bytes("Hello, permessage-deflate, Hello again"), hello));
  for (std::size_t cut = 1; cut < hello.size(); ++cut) {
    EXPECT_EQ(in.inflate(Bytes(hello.begin(), hello.begin() + static_cast<long>(cut)), out, 100), Inflater::Result::corrupt)
        << "cut at " << cut << " of " << hello.size();
  }
  EXPECT_EQ(in.inflate(Bytes{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, out, 100), Inflater::Result::ok) << "reset after";
  EXPECT_EQ(text(out), "Hello");
}

HttpRequest with_extensions(std::initializer_list<std::string_view> values) {
  HttpRequest r;
  for (std::string_view v : values) r.headers[r.num_headers++] = {"Sec-WebSocket-Extensions", v};
  return r;
}

TEST(AcceptDeflate, OffersBrowsersAndLibrariesMake) {
  for (std::string_view offer : {"permessage-deflate; client_max_window_bits",  // Chromium, Firefox, ws, websockets
                                 "permessage-deflate",
                                 "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                                 "permessage-deflate; server_max_window_bits=15",
                                 "x-webkit-deflate-frame, permessage-deflate"}) {
    EXPECT_TRUE(!accept_deflate(with_extensions({offer})).empty()) << offer;
  }
  EXPECT_TRUE(accept_deflate(with_extensions({})).empty());
  EXPECT_TRUE(accept_deflate(with_extensions({"x-webkit-deflate-frame"})).empty());
  EXPECT_EQ(accept_deflate(with_extensions({"permessage-deflate"})), kDeflateResponse);
  EXPECT_EQ(accept_deflate(with_extensions({"permessage-deflate; server_max_window_bits=15"})), kDeflateResponseWindow)
      << "an accepted server_max_window_bits is repeated";
}

TEST(AcceptDeflate, DeclinesWhatTheRfcSaysAndTakesTheNextOffer) {
  // A smaller server window than ringcast compresses with, then one it can take.
  EXPECT_TRUE(accept_deflate(with_extensions({"permessage-deflate; server_max_window_bits=10"})).empty());
  EXPECT_EQ(accept_deflate(with_extensions({"permessage-deflate; server_max_window_bits=10, permessage-deflate"})),
            kDeflateResponse);
  EXPECT_EQ(accept_deflate(with_extensions({"permessage-deflate; server_max_window_bits=10", "permessage-deflate"})),
            kDeflateResponse)
      << "offers across header lines";
  // Unknown, duplicated and out-of-range parameters decline that offer (RFC 7692 section 5).
  for (std::string_view bad : {"permessage-deflate; foo", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                               "permessage-deflate; client_max_window_bits=7", "permessage-deflate; server_max_window_bits",
                               "permessage-deflate; client_max_window_bits=016", "permessage-deflate; server_no_context_takeover=1"}) {
    EXPECT_TRUE(accept_deflate(with_extensions({bad})).empty()) << bad;
  }
  EXPECT_FALSE(accept_deflate(with_extensions({"permessage-deflate; client_max_window_bits=\"10\""})).empty())
      << "a quoted value";
}

}  // namespace
}  // namespace ringcast::protocol
