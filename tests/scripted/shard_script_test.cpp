// The real shard on the scripted backend: exact, repeatable sequences that real sockets
// make timing-dependent (partial sends, a close and a FIN in one batch, an empty buffer
// pool, deadlines), each checked byte for byte on the client's side.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/shard_driver.hpp"

namespace ringcast::engine::test {
namespace {

using protocol::Opcode;

Config small_config() { return scripted_config(); }

Config coalescing(std::chrono::milliseconds window) {
  Config cfg = small_config();
  cfg.coalesce = window;
  return cfg;
}

class ShardScript : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(d.init_error(), ""); }
  void TearDown() override { EXPECT_EQ(d.violation(), ""); }

  // A client upgraded on `path`, with the 101 and anything queued so far delivered.
  std::size_t open(std::string_view path, bool deflate = false) {
    int c = d.connect_ws(path, deflate);
    EXPECT_GE(c, 0);
    d.deliver_all();
    EXPECT_EQ(d.client(static_cast<std::size_t>(c)).in.status(), 101);
    return static_cast<std::size_t>(c);
  }
  // `talker` says `lines` chat lines of 100 B, reading what it gets (others read nothing).
  void flood(std::size_t talker, int lines) {
    d.deliver(talker);
    for (int i = 0; i < lines; ++i) {
      d.send(talker, client_frame(Opcode::text, std::string(100, 'x')));
      d.deliver(talker);
    }
    d.deliver_all();
  }
  std::string last_text(std::size_t c) {
    const auto& m = d.client(c).in.messages();
    return m.empty() ? std::string() : m.back().payload;
  }

  ShardDriver d{small_config()};
};

TEST_F(ShardScript, ChatLineReachesEveryMemberWithTheSenderName) {
  std::size_t a = open("/");
  std::size_t b = open("/");
  std::string a_name = "ID" + std::to_string(d.client(a).port);
  EXPECT_EQ(last_text(a), "ID" + std::to_string(d.client(b).port) + " joined");
  d.send(b, client_frame(Opcode::text, "hello"));
  d.deliver_all();
  EXPECT_EQ(last_text(a), "ID" + std::to_string(d.client(b).port) + ": hello");
  EXPECT_EQ(last_text(b), last_text(a));
  d.reset(a);
  d.deliver_all();
  EXPECT_EQ(last_text(b), a_name + " left");
  EXPECT_EQ(d.shard().live_connections(), 1u);
}

TEST_F(ShardScript, SendsTakenOneByteAtATimeStillFormOneValidStream) {
  std::size_t c = open("/echo");
  for (int i = 0; i < 5; ++i) d.send(c, client_frame(Opcode::binary, std::string(300, static_cast<char>('a' + i))));
  // Each completion takes one byte: the shard must resume mid-frame every time.
  for (int guard = 0; guard < 10000 && d.deliver(c, 1) > 0; ++guard) {
  }
  const auto& m = d.client(c).in.messages();
  ASSERT_EQ(m.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(m[static_cast<std::size_t>(i)].payload, std::string(300, static_cast<char>('a' + i)));
}

TEST_F(ShardScript, CloseAndFinInOneBatchStillGetTheCloseReply) {
  std::size_t c = open("/echo");
  auto close = client_frame(Opcode::close, std::string("\x03\xe8", 2));
  d.io().peer_send(d.client(c).fd, close);
  d.io().peer_eof(d.client(c).fd);  // both arrive before the shard's next turn
  d.settle();
  d.deliver_all();
  EXPECT_TRUE(d.client(c).in.close_seen());
  EXPECT_EQ(d.client(c).in.close_code(), 1000);
  EXPECT_TRUE(d.io().closed(d.client(c).fd));
  EXPECT_EQ(d.shard().live_connections(), 0u);
}

TEST(ShardScriptBuffers, EmptyBufferPoolEndsTheRecvAndTheRestArrivesAfterRearm) {
  Config cfg = small_config();
  cfg.max_backlog = 1 << 20;  // every echo of the burst is queued in one turn
  ShardDriver d(cfg);
  int c = d.connect_ws("/echo");
  ASSERT_GE(c, 0);
  d.deliver_all();
  int fd = d.client(static_cast<std::size_t>(c)).fd;
  // More segments than the shard has receive buffers, all before its next turn.
  constexpr int kFrames = 3000;
  for (int i = 0; i < kFrames; ++i) d.io().peer_send(fd, client_frame(Opcode::text, std::to_string(i)));
  for (int i = 0; i < 20; ++i) {
    d.settle();
    d.deliver_all();
  }
  EXPECT_GT(d.shard().metrics().enobufs.get(), 0u);
  const auto& m = d.client(static_cast<std::size_t>(c)).in.messages();
  ASSERT_EQ(m.size(), static_cast<std::size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) ASSERT_EQ(m[static_cast<std::size_t>(i)].payload, std::to_string(i));
  EXPECT_EQ(d.io().buffers_in_use(), 0u);
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardScript, OneTurnOfManyTopicsReachesEachRoomCombinedAndInOrder) {
  std::size_t a = open("/a");
  std::size_t b = open("/b");
  std::size_t a2 = open("/a");
  d.deliver_all();
  std::size_t a_before = d.client(a).in.messages().size(), b_before = d.client(b).in.messages().size();
  std::size_t a2_before = d.client(a2).in.messages().size();
  std::uint32_t ta = d.group().topics.find("a"), tb = d.group().topics.find("b");
  ASSERT_NE(ta, kNoTopic);
  ASSERT_NE(tb, kNoTopic);
  // Interleaved publishes in one turn, as a feed handler with many symbols makes them.
  for (int i = 0; i < 6; ++i) {
    std::string text(1, i % 2 == 0 ? 'a' : 'b');
    text += std::to_string(i);
    Frame* f = d.shard().frames().acquire(protocol::frame_header_len(text.size()) + text.size());
    ASSERT_NE(f, nullptr);
    f->len = static_cast<std::uint32_t>(protocol::encode_server_frame(
        {f->bytes(), f->capacity}, Opcode::text, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}));
    d.shard().publish(i % 2 == 0 ? ta : tb, f);
  }
  std::uint64_t sends_before = d.shard().metrics().sends.get();
  std::uint64_t out_before = d.shard().metrics().messages_out.get();
  d.settle();
  for (std::size_t c : {a, b, a2}) EXPECT_EQ(d.io().pending_iovecs(d.client(c).fd), 1u) << "not combined";
  d.deliver_all();
  auto texts = [&](std::size_t c, std::size_t from) {
    std::vector<std::string> out;
    const auto& m = d.client(c).in.messages();
    for (std::size_t i = from; i < m.size(); ++i) out.push_back(m[i].payload);
    return out;
  };
  EXPECT_EQ(texts(a, a_before), (std::vector<std::string>{"a0", "a2", "a4"}));
  EXPECT_EQ(texts(b, b_before), (std::vector<std::string>{"b1", "b3", "b5"}));
  EXPECT_EQ(d.shard().metrics().sends.get() - sends_before, 3u);  // one send per member
  EXPECT_EQ(texts(a2, a2_before), texts(a, a_before));
  // Deliveries count messages, not combined frames: 3 to each of a's 2 members, 3 to b.
  EXPECT_EQ(d.shard().metrics().messages_out.get() - out_before, 9u);
}

TEST_F(ShardScript, SlowReaderIsClosedWith1008AndItsBacklogFreed) {
  std::size_t slow = open("/");
  std::size_t talker = open("/");
  // The slow client's send never completes; the talker's lines pile up for it.
  flood(talker, 200);
  EXPECT_TRUE(d.client(slow).in.close_seen());
  EXPECT_EQ(d.client(slow).in.close_code(), 1008);
  EXPECT_LE(d.client(slow).in.total(), 4096u + 1024u);  // the budget, one message, the close
  EXPECT_EQ(d.shard().metrics().slow_clients_closed.get(), 1u);
  d.advance(600);  // the slow client never closes its side: the close deadline reclaims it
  EXPECT_TRUE(d.io().closed(d.client(slow).fd));
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);  // its backlog went back to the pool
  EXPECT_FALSE(d.client(talker).in.close_seen());
}

// A chat room whose topic is subscribed with a policy and options of its own (what a
// namespace sets), on a server whose --slow-policy closes slow subscribers.
class TopicRoom final : public App {
 public:
  TopicRoom(SlowPolicy policy, TopicOptions options) noexcept : policy_(policy), options_(options) {}
  void on_open(Session& s, std::string_view room) override { s.subscribe(room, policy_, options_); }
  void on_message(Session& s, Opcode op, std::span<const std::uint8_t> payload) override {
    chat_.on_message(s, op, payload);
  }
  void on_close(Session& s) noexcept override { chat_.on_close(s); }

 private:
  SlowPolicy policy_;
  TopicOptions options_;
  ChatRoom chat_{false};
};

TEST_F(ShardScript, TopicPolicyDropsWhereTheServerPolicyWouldClose) {
  static TopicRoom room(SlowPolicy::drop, {});  // outlives the fixture's shard, which calls it at teardown
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  std::size_t slow = open("/");
  std::size_t talker = open("/");
  flood(talker, 200);
  EXPECT_FALSE(d.client(slow).in.close_seen());
  EXPECT_EQ(d.shard().metrics().slow_clients_closed.get(), 0u);
  EXPECT_GT(d.shard().metrics().frames_dropped.get(), 100u);
  EXPECT_LE(d.client(slow).in.total(), 4096u + 1024u);  // still bounded by the budget
  EXPECT_EQ(d.client(talker).in.messages().size(), 200u);  // the talker hears every line
}

TEST_F(ShardScript, ConflationKeepsASlowReadersBacklogToTheLatestAndTheFastOneLosesNothing) {
  static TopicRoom room(SlowPolicy::close, {.conflate = true, .min_interval_ms = 0});  // namespace `conflate`
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  std::size_t slow = open("/");
  std::size_t talker = open("/");
  d.deliver(talker);
  for (int i = 0; i < 200; ++i) {
    d.send(talker, client_frame(Opcode::text, "line" + std::to_string(i)));
    d.deliver(talker);  // the talker reads everything; the slow one's first send never completes
  }
  std::string name = "ID" + std::to_string(d.client(talker).port) + ": ";
  const auto& heard = d.client(talker).in.messages();
  ASSERT_EQ(heard.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(heard[static_cast<std::size_t>(i)].payload, name + "line" + std::to_string(i));
  EXPECT_FALSE(d.client(slow).in.close_seen());
  // Its queue: the first line (in flight) and one entry, replaced pass after pass.
  EXPECT_EQ(d.shard().metrics().conflated.get(), 198u);
  EXPECT_EQ(d.shard().metrics().slow_clients_closed.get(), 0u);
  d.deliver_all();
  const auto& got = d.client(slow).in.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, name + "line0");
  EXPECT_EQ(got[1].payload, name + "line199");  // it ends on the latest
  // Read again, it is fast: the next lines reach it one by one.
  for (int i = 200; i < 203; ++i) {
    d.send(talker, client_frame(Opcode::text, "line" + std::to_string(i)));
    d.deliver_all();
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4].payload, name + "line202");
}

TEST_F(ShardScript, ConflationGivesDeflateReadersTheCompressedVariantAppendedAndReplaced) {
  static TopicRoom room(SlowPolicy::close, {.conflate = true, .min_interval_ms = 0});
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  std::size_t slow = open("/", true);
  std::size_t fast = open("/", true);
  std::size_t talker = open("/");
  const std::string pad(200, 'x');  // past --deflate-min-size, compressible
  for (int i = 0; i < 50; ++i) {
    d.send(talker, client_frame(Opcode::text, "line" + std::to_string(i) + pad));
    d.deliver(talker);
    d.deliver(fast);
  }
  std::string name = "ID" + std::to_string(d.client(talker).port) + ": ";
  const auto& heard = d.client(fast).in.messages();
  ASSERT_EQ(heard.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(heard[static_cast<std::size_t>(i)].payload, name + "line" + std::to_string(i) + pad);
    EXPECT_TRUE(heard[static_cast<std::size_t>(i)].compressed);
  }
  EXPECT_EQ(d.shard().metrics().conflated.get(), 48u);
  d.deliver_all();
  const auto& got = d.client(slow).in.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].payload, name + "line49" + pad);  // the latest, in its compressed variant
  EXPECT_TRUE(got[1].compressed);
  EXPECT_FALSE(d.client(talker).in.messages().back().compressed);  // it did not offer deflate
  EXPECT_EQ(d.shard().metrics().messages_deflated.get(), 50u);
}

TEST_F(ShardScript, ConflationOfCombinedRunsKeepsEachReadersVariant) {
  // Four lines per write: one turn's run, combined once per variant; the short one (under
  // --deflate-min-size) stays plain inside the compressed run.
  static TopicRoom room(SlowPolicy::close, {.conflate = true, .min_interval_ms = 0});
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  std::size_t slow_z = open("/", true), slow_plain = open("/"), fast = open("/", true), talker = open("/");
  const std::string pad(200, 'x');
  auto line = [&](int n) { return "line" + std::to_string(n) + (n % 4 == 1 ? std::string("s") : pad); };
  d.deliver(talker);
  for (int n = 0; n < 120; n += 4) {
    std::vector<std::uint8_t> run;
    for (int k = n; k < n + 4; ++k) {
      std::vector<std::uint8_t> f = client_frame(Opcode::text, line(k));
      run.insert(run.end(), f.begin(), f.end());
    }
    d.send(talker, run);
    d.deliver(talker);
    d.deliver(fast);
  }
  const std::string name = "ID" + std::to_string(d.client(talker).port) + ": ";
  const auto& heard = d.client(fast).in.messages();
  ASSERT_EQ(heard.size(), 120u);
  for (int n = 0; n < 120; ++n) {
    EXPECT_EQ(heard[static_cast<std::size_t>(n)].payload, name + line(n));
    EXPECT_EQ(heard[static_cast<std::size_t>(n)].compressed, n % 4 != 1) << n;
  }
  d.deliver_all();
  for (std::size_t c : {slow_z, slow_plain}) {
    const auto& got = d.client(c).in.messages();
    ASSERT_GE(got.size(), 2u);
    EXPECT_EQ(got.back().payload, name + line(119));  // each ends on the latest, in its variant
    EXPECT_EQ(got.back().compressed, c == slow_z);
  }
  EXPECT_GT(d.shard().metrics().conflated.get(), 0u);
  EXPECT_EQ(d.violation(), "");
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);
}

// The namespace's max_frequency "100ms".
TopicRoom& throttled_room() {
  static TopicRoom room(SlowPolicy::close, {.conflate = false, .min_interval_ms = 100});
  return room;
}

TEST_F(ShardScript, MaxFrequencySendsTheLatestOncePerInterval) {
  TopicRoom& room = throttled_room();
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  std::size_t listener = open("/");
  std::size_t talker = open("/");
  const std::size_t before = d.client(listener).in.messages().size();
  for (int i = 0; i < 50; ++i) {  // a line every 10 ms for half a second
    d.send(talker, client_frame(Opcode::text, "line" + std::to_string(i)));
    d.deliver_all();
    d.advance(10);
  }
  d.advance(100);  // the last interval's latest still goes out
  d.deliver_all();
  std::string name = "ID" + std::to_string(d.client(talker).port) + ": line";
  const auto& got = d.client(listener).in.messages();
  ASSERT_GE(got.size(), before + 5);
  ASSERT_LE(got.size(), before + 7);
  int last = -1;
  for (std::size_t k = before; k < got.size(); ++k) {
    ASSERT_TRUE(got[k].payload.starts_with(name)) << got[k].payload;
    int n = std::stoi(got[k].payload.substr(name.size()));
    EXPECT_GT(n, last);
    last = n;
  }
  EXPECT_EQ(last, 49) << "the latest arrives, at the end of its interval";
  EXPECT_EQ(got[before].payload, name + "0") << "an open slot sends at once";
  // Every line the listener and the talker did not get was replaced by a newer one.
  EXPECT_EQ(d.shard().metrics().throttled.get(), 50u - (got.size() - before));
}

TEST(ShardScriptCoalesce, AHeldMaxFrequencyPublicationStillLeavesUnderCoalesce) {
  TopicRoom& room = throttled_room();
  Config cfg = coalescing(std::chrono::milliseconds(20));
  ShardDriver d(cfg);
  d.group().apps[static_cast<std::size_t>(Route::chat_room)] = &room;
  auto l = static_cast<std::size_t>(d.connect_ws("/"));
  auto t = static_cast<std::size_t>(d.connect_ws("/"));
  d.advance(20);
  d.deliver_all();
  for (int i = 0; i < 5; ++i) {
    d.send(t, client_frame(Opcode::text, "line" + std::to_string(i)));
    d.advance(5);
    d.deliver_all();
  }
  for (int i = 0; i < 4; ++i) {  // the slot opens 100 ms after the first; the window follows
    d.advance(50);
    d.deliver_all();
  }
  std::string name = "ID" + std::to_string(d.client(t).port) + ": line";
  const auto& got = d.client(l).in.messages();
  ASSERT_GE(got.size(), 2u);
  // The first window's lines fan out together: their newest goes (the slot is open).
  EXPECT_EQ(got[got.size() - 2].payload, name + "3");
  EXPECT_EQ(got.back().payload, name + "4") << "the held latest never left";
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardScript, SilentConnectionIsDroppedAtTheHandshakeDeadline) {
  int c = d.connect();
  ASSERT_GE(c, 0);
  d.send(static_cast<std::size_t>(c), std::string_view("GET / HTTP/1.1\r\n"));
  d.advance(400);
  EXPECT_FALSE(d.io().closed(d.client(static_cast<std::size_t>(c)).fd));
  d.advance(200);
  EXPECT_TRUE(d.io().closed(d.client(static_cast<std::size_t>(c)).fd));
  EXPECT_EQ(d.shard().live_connections(), 0u);
}

TEST_F(ShardScript, IdleClientIsPingedThenClosedWith1001) {
  std::size_t c = open("/echo");
  d.advance(1100);
  d.deliver_all();
  ASSERT_FALSE(d.client(c).in.messages().empty());
  EXPECT_EQ(d.client(c).in.messages().back().op, Opcode::ping);
  d.advance(1000);
  d.deliver_all();
  EXPECT_TRUE(d.client(c).in.close_seen());
  EXPECT_EQ(d.client(c).in.close_code(), 1001);
}

TEST_F(ShardScript, AnsweredPingKeepsTheClientOpen) {
  std::size_t c = open("/echo");
  for (int i = 0; i < 5; ++i) {
    d.advance(1100);
    d.deliver_all();
    d.send(c, client_frame(Opcode::pong, ""));
  }
  EXPECT_FALSE(d.client(c).in.close_seen());
}

TEST_F(ShardScript, StopClosesEveryoneWith1001AndTheLoopEnds) {
  std::size_t a = open("/");
  std::size_t b = open("/echo");
  d.group().stopping.store(true);
  d.settle();
  d.deliver_all();
  EXPECT_EQ(d.client(a).in.close_code(), 1001);
  EXPECT_EQ(d.client(b).in.close_code(), 1001);
  d.eof(a);
  d.eof(b);
  EXPECT_FALSE(d.running());
  EXPECT_EQ(d.shard().live_connections(), 0u);
}

TEST_F(ShardScript, HttpErrorAnswerIsFollowedByNothing) {
  int c = d.connect();
  ASSERT_GE(c, 0);
  d.send(static_cast<std::size_t>(c),
         std::string_view("GET /a/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nmore bytes"));
  d.deliver_all();
  EXPECT_EQ(d.client(static_cast<std::size_t>(c)).in.statuses(), std::vector<int>{404});
  EXPECT_TRUE(d.io().write_shut(d.client(static_cast<std::size_t>(c)).fd));
  d.eof(static_cast<std::size_t>(c));
  EXPECT_TRUE(d.io().closed(d.client(static_cast<std::size_t>(c)).fd));
}

TEST_F(ShardScript, KeepAliveAnswersPipelinedRequestsInOrderAndReadsBodies) {
  int c = d.connect();
  ASSERT_GE(c, 0);
  auto cc = static_cast<std::size_t>(c);
  // Bodies are framed by Content-Length: "GET /healthz" inside the POST body is not a request.
  d.send(cc, std::string_view("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              "GET /nowhere/x HTTP/1.1\r\nHost: x\r\n\r\n"
                              "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  d.deliver_all();
  EXPECT_EQ(d.client(cc).in.statuses(), (std::vector<int>{200, 405, 404, 200}));
  EXPECT_FALSE(d.io().write_shut(d.client(cc).fd));  // still open for the next request
  // A head and a body split anywhere, the last request asking to close.
  std::string_view req = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (std::size_t i = 0; i < req.size(); i += 7) d.send(cc, req.substr(i, 7));
  d.deliver_all();
  EXPECT_EQ(d.client(cc).in.statuses(), (std::vector<int>{200, 405, 404, 200, 405, 200}));
  EXPECT_TRUE(d.io().write_shut(d.client(cc).fd));
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardScript, HeadAnswersHaveNoBodyEvenForErrors) {
  int c = d.connect();
  auto cc = static_cast<std::size_t>(c);
  d.send(cc, std::string_view("HEAD /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n"
                              "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  d.deliver_all();
  // A body after either HEAD answer would be read as the start of the next answer.
  EXPECT_EQ(d.client(cc).in.statuses(), (std::vector<int>{404, 200, 200}));
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardScript, AnswersAClientNeverReadsAreBoundedEvenOneRequestPerReceive) {
  int c = d.connect();
  auto cc = static_cast<std::size_t>(c);
  int sent = 0;
  for (; sent < 400 && !d.io().closed(d.client(cc).fd); ++sent) {
    d.send(cc, std::string_view("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));  // answers never taken
  }
  // ~100 B per answer against a 4 KiB backlog: closed after about 40 requests, not 400.
  EXPECT_TRUE(d.io().closed(d.client(cc).fd));
  EXPECT_LT(sent, 100);
  EXPECT_EQ(d.shard().live_connections(), 0u);
}

TEST_F(ShardScript, BodiesPastTheLimitAndChunkedBodiesAreRefused) {
  int a = d.connect();
  int b = d.connect();
  ASSERT_GE(b, 0);
  d.send(static_cast<std::size_t>(a), std::string_view("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"));
  d.send(static_cast<std::size_t>(b),
         std::string_view("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  d.deliver_all();
  EXPECT_EQ(d.client(static_cast<std::size_t>(a)).in.statuses(), std::vector<int>{413});
  EXPECT_EQ(d.client(static_cast<std::size_t>(b)).in.statuses(), std::vector<int>{501});
  EXPECT_TRUE(d.io().write_shut(d.client(static_cast<std::size_t>(a)).fd));
  EXPECT_TRUE(d.io().write_shut(d.client(static_cast<std::size_t>(b)).fd));
}

TEST_F(ShardScript, AnIdleKeepAliveConnectionIsClosedAtTheDeadlineWithoutCountingAFailure) {
  int c = d.connect();
  auto cc = static_cast<std::size_t>(c);
  d.advance(400);  // the handshake deadline (500 ms) is near
  d.send(cc, std::string_view("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  d.deliver_all();
  EXPECT_EQ(d.client(cc).in.statuses(), std::vector<int>{200});
  d.advance(400);  // 800 ms: past the first deadline, but each answer sets a new one
  EXPECT_FALSE(d.io().write_shut(d.client(cc).fd) || d.io().closed(d.client(cc).fd));
  d.advance(200);  // 1000 ms: 600 ms idle since the answer
  d.deliver_all();
  EXPECT_TRUE(d.io().closed(d.client(cc).fd));
  EXPECT_EQ(d.shard().metrics().handshake_failures[static_cast<std::size_t>(HandshakeFailure::timeout)].get(), 0u);
}

TEST(ShardScriptCoalesce, BroadcastsWaitForTheTimerAndLeaveInOneSendWhileRepliesDoNot) {
  Config cfg = coalescing(std::chrono::milliseconds(20));
  ShardDriver d(cfg);
  int listener = d.connect_ws("/");
  int talker = d.connect_ws("/");
  ASSERT_GE(talker, 0);
  for (int i = 0; i < 2; ++i) {  // the 101s, then the join notices held by the timer
    d.advance(20);
    d.deliver_all();
  }
  auto l = static_cast<std::size_t>(listener), t = static_cast<std::size_t>(talker);
  std::size_t before = d.client(l).in.messages().size();
  std::uint64_t sends_before = d.shard().metrics().sends.get();
  for (int i = 0; i < 3; ++i) {
    d.send(t, client_frame(Opcode::text, "line" + std::to_string(i)));
    d.advance(5);
    EXPECT_FALSE(d.io().send_pending(d.client(l).fd)) << "a broadcast left before the coalesce timer";
  }
  d.send(t, client_frame(Opcode::ping, "p"));  // a reply: goes out at once, alone
  EXPECT_TRUE(d.io().send_pending(d.client(t).fd));
  EXPECT_FALSE(d.io().send_pending(d.client(l).fd));
  d.deliver(t);
  EXPECT_EQ(d.client(t).in.messages().back().op, Opcode::pong);
  d.advance(5);  // 20 ms after the first line
  ASSERT_TRUE(d.io().send_pending(d.client(l).fd));
  EXPECT_EQ(d.io().pending_iovecs(d.client(l).fd), 1u);  // the window's lines as one frame
  d.deliver(l);
  const auto& m = d.client(l).in.messages();
  ASSERT_EQ(m.size(), before + 3);
  EXPECT_EQ(m.back().payload, "ID" + std::to_string(d.client(t).port) + ": line2");
  // The pong's send, then one per member carrying the three held lines as one frame.
  EXPECT_EQ(d.shard().metrics().sends.get() - sends_before, 3u);
  EXPECT_EQ(d.violation(), "");
}

TEST(ShardScriptCoalesce, AReplyOwedWhileASendIsInFlightLeavesWhenItCompletes) {
  Config cfg = coalescing(std::chrono::milliseconds(1000));
  ShardDriver d(cfg);
  auto c = static_cast<std::size_t>(d.connect_ws("/echo"));
  d.deliver_all();
  d.send(c, client_frame(Opcode::text, "one"));
  ASSERT_TRUE(d.io().send_pending(d.client(c).fd));  // echo "one" in flight, not completed
  d.send(c, client_frame(Opcode::text, "two"));      // its echo is owed at once too
  d.deliver(c);
  ASSERT_TRUE(d.io().send_pending(d.client(c).fd)) << "the second echo waited for the coalesce timer";
  d.deliver(c);
  const auto& m = d.client(c).in.messages();
  ASSERT_GE(m.size(), 2u);
  EXPECT_EQ(m[m.size() - 2].payload, "one");
  EXPECT_EQ(m.back().payload, "two");
  EXPECT_EQ(d.violation(), "");
}

TEST(ShardScriptCoalesce, TheRestOfAPartialSendDoesNotWaitAnotherWindow) {
  Config cfg = coalescing(std::chrono::milliseconds(1000));
  cfg.idle_timeout = std::chrono::milliseconds(0);  // the listener never speaks
  ShardDriver d(cfg);
  auto l = static_cast<std::size_t>(d.connect_ws("/"));
  auto t = static_cast<std::size_t>(d.connect_ws("/"));
  d.advance(1000);
  d.deliver_all();
  d.send(t, client_frame(Opcode::text, "a long enough line"));
  d.advance(1000);  // the window is due: the listener's send goes out
  ASSERT_TRUE(d.io().send_pending(d.client(l).fd));
  d.deliver(l, 3);  // the network takes 3 bytes only
  EXPECT_TRUE(d.io().send_pending(d.client(l).fd)) << "the rest of a due send waited for the next window";
  d.deliver(l);
  EXPECT_EQ(d.client(l).in.messages().back().payload, "ID" + std::to_string(d.client(t).port) + ": a long enough line");
  EXPECT_EQ(d.violation(), "");
}

TEST(ShardScriptCoalesce, ReusedSlotsKeepOneEntryOnTheHeldList) {
  Config cfg = coalescing(std::chrono::milliseconds(1000));
  ShardDriver d(cfg);
  auto keep = static_cast<std::size_t>(d.connect_ws("/"));
  d.advance(1000);
  d.deliver_all();
  // Echo clients come and go in one window (an echo lands on the held list too); the
  // freed slot is taken again each time.
  for (int i = 0; i < 50; ++i) {
    auto c = static_cast<std::size_t>(d.connect_ws("/echo"));
    d.send(c, client_frame(Opcode::text, "hi"));
    d.reset(c);
  }
  // The member that stayed, and at most the one slot every newcomer reused: no duplicates
  // (the list is reserved to the slot count; duplicates would grow it on the fan-out path).
  EXPECT_LE(d.shard().dirty_connections(), 2u);
  std::uint64_t sends_before = d.shard().metrics().sends.get();
  d.advance(1000);
  d.deliver_all();
  // One flush of the window: one send for the member that stayed, none for the departed.
  EXPECT_EQ(d.shard().metrics().sends.get() - sends_before, 1u);
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);
  (void)keep;
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardScript, AMessageAndACloseInOneSegmentStillEchoTheLineToItsSender) {
  std::size_t a = open("/");
  std::size_t b = open("/");
  d.deliver_all();
  auto bytes = client_frame(Opcode::text, "bye");
  auto close = client_frame(Opcode::close, std::string("\x03\xe8", 2));
  bytes.insert(bytes.end(), close.begin(), close.end());
  d.send(a, bytes);
  d.deliver_all();
  std::string line = "ID" + std::to_string(d.client(a).port) + ": bye";
  const auto& ma = d.client(a).in.messages();
  ASSERT_GE(ma.size(), 2u);
  EXPECT_EQ(ma[ma.size() - 2].payload, line);
  EXPECT_EQ(ma.back().op, Opcode::close);
  EXPECT_EQ(last_text(b), "ID" + std::to_string(d.client(a).port) + " left");
}

}  // namespace
}  // namespace ringcast::engine::test
