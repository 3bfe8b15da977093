// The broker's keys and envelopes: what every node writes and reads through Redis.
#include "engine/broker/broker_wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::engine::broker {
namespace {

TEST(BrokerWire, KeysNameTheChannel) {
  std::string k;
  key_of(k, kDefaultPrefix, Key::pubsub, "ticker:BTC-USD");
  EXPECT_EQ(k, "ringcast.p.ticker:BTC-USD");
  key_of(k, "x", Key::stream, "");
  EXPECT_EQ(k, "x.s.");
}

TEST(BrokerWire, EnvelopesRoundTripAndOddOnesAreRefused) {
  std::string out;
  write_envelope(out, 42, "ab12cd34", R"({"data":{"p":1},"offset":42})");
  EXPECT_EQ(out, R"(42:ab12cd34:{"data":{"p":1},"offset":42})");
  Envelope e;
  ASSERT_TRUE(parse_envelope(out, e));
  EXPECT_EQ(e.offset, 42u);
  EXPECT_EQ(e.epoch, "ab12cd34");
  EXPECT_EQ(e.record, R"({"data":{"p":1},"offset":42})");
  EXPECT_FALSE(e.delta);
  write_envelope(out, 7, "ab12cd34", R"({"data":1})", true);  // the publisher asked for a delta
  EXPECT_EQ(out, R"(7:ab12cd34:d{"data":1})");
  ASSERT_TRUE(parse_envelope(out, e));
  EXPECT_TRUE(e.delta);
  EXPECT_EQ(e.record, R"({"data":1})");
  write_envelope(out, 0, "", "a:b:c");  // no history: the record may hold colons
  ASSERT_TRUE(parse_envelope(out, e));
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.record, "a:b:c");
  for (std::string_view bad : {"", "12", "12:ep", ":ep:x", "x:ep:r", "+1:ep:r", "0:ep:r", "3::r",
                               "123456789012345678901:ep:r", "18446744073709551616:ep:r"}) {
    EXPECT_FALSE(parse_envelope(bad, e)) << bad;
  }
}

// Topics map to their keys and back: a channel's to .p., a room's (the default room "" too)
// to .r.; a room key naming a channel topic, or another prefix's key, is none of ours.
TEST(BrokerWire, TopicsAndTheirPubsubKeys) {
  std::string key, topic;
  pubsub_key_of_topic(key, "rc", "\x01news");
  EXPECT_EQ(key, "rc.p.news");
  ASSERT_TRUE(topic_of_pubsub_key(topic, "rc", key));
  EXPECT_EQ(topic, "\x01news");
  for (std::string_view room : {"lobby", ""}) {
    pubsub_key_of_topic(key, "rc", room);
    EXPECT_EQ(key, "rc.r." + std::string(room));
    ASSERT_TRUE(topic_of_pubsub_key(topic, "rc", key));
    EXPECT_EQ(topic, room);
  }
  EXPECT_EQ(broker_name("\x01news"), "news");
  EXPECT_EQ(broker_name("lobby"), "lobby");
  for (std::string_view bad : {"rc.r.\x01news", "rc.p.", "rc.m.x", "other.p.x", "rc", "rcxp.x"}) {
    EXPECT_FALSE(topic_of_pubsub_key(topic, "rc", bad)) << bad;
  }
}

// A room's message names its sender's node, so that node skips its own (delivered at once).
TEST(BrokerWire, RoomMessagesCarryTheirNode) {
  std::string out;
  write_room_message(out, "n0de", false, "ID1: ", "hi: there");
  EXPECT_EQ(out, "tn0de:ID1: hi: there");
  RoomMessage m;
  ASSERT_TRUE(parse_room_message(out, m));
  EXPECT_EQ(m.node, "n0de");
  EXPECT_FALSE(m.binary);
  EXPECT_EQ(m.bytes, "ID1: hi: there");
  write_room_message(out, "n0de", true, {}, std::string_view("\0\xff", 2));
  ASSERT_TRUE(parse_room_message(out, m));
  EXPECT_TRUE(m.binary);
  EXPECT_EQ(m.bytes, std::string_view("\0\xff", 2));
  for (std::string_view bad : {"", "x", "tnonode", "Xn:abc"}) EXPECT_FALSE(parse_room_message(bad, m)) << bad;
}

// A load's marker travels the channel beside its publications: neither is taken for the other.
TEST(BrokerWire, LoadMarkersAreNoEnvelopes) {
  std::string out;
  write_load_marker(out, "n0de1d", 12);
  EXPECT_EQ(out, "load:n0de1d:12");
  std::string_view node;
  std::uint64_t tag = 0;
  ASSERT_TRUE(parse_load_marker(out, node, tag));
  EXPECT_EQ(node, "n0de1d");
  EXPECT_EQ(tag, 12u);
  Envelope e;
  EXPECT_FALSE(parse_envelope(out, e));
  write_envelope(out, 3, "load", "load:x:1");
  EXPECT_FALSE(parse_load_marker(out, node, tag));
  for (std::string_view bad : {"load:", "load:n", "load:n:", "load:n:1x", "load:n:-1", "Load:n:1"}) {
    EXPECT_FALSE(parse_load_marker(bad, node, tag)) << bad;
  }
}

// A presence value counts its parts, so any bytes may be in them.
TEST(BrokerWire, PresenceValuesCountTheirParts) {
  std::string out;
  write_presence_value(out, "a:1", R"({"x":":"})", R"({"c":1})");
  EXPECT_EQ(out, R"(3:a:19:{"x":":"}{"c":1})");
  PresenceValue v;
  ASSERT_TRUE(parse_presence_value(out, v));
  EXPECT_EQ(v.user, "a:1");
  EXPECT_EQ(v.conn_info, R"({"x":":"})");
  EXPECT_EQ(v.chan_info, R"({"c":1})");
  write_presence_value(out, "", "", "");
  EXPECT_EQ(out, "0:0:");
  ASSERT_TRUE(parse_presence_value(out, v));
  EXPECT_TRUE(v.user.empty() && v.conn_info.empty() && v.chan_info.empty());
  for (std::string_view bad : {"", "5:abc", "x:1:", "3:abc", "3:abc9:{}", "-1:a0:", "12345678901:a"}) {
    EXPECT_FALSE(parse_presence_value(bad, v)) << bad;
  }
}

}  // namespace
}  // namespace ringcast::engine::broker
