// MessageReader: event sequences for whole, split and byte-at-a-time input; fragments
// with interleaved control frames; every rejection with its close code; fail-fast UTF-8;
// client/server round trips; and no heap allocation inside next().
#include "protocol/message.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/close.hpp"

// Counts global operator new calls so a test can prove next() never allocates. Out of
// line, so the compiler does not pair an inlined free() with a builtin new.
namespace {
std::atomic<std::size_t> g_allocations{0};
}
[[gnu::noinline]] void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ringcast::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr MaskKey kMask{0x37, 0xfa, 0x21, 0x3d};
constexpr std::uint8_t kClobber = 0xEE;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes client_frame(Opcode op, const Bytes& payload, bool fin = true, std::uint8_t rsv = 0, MaskKey mask = kMask) {
  Bytes out(frame_header_len(payload.size(), true) + payload.size());
  out.resize(encode_client_frame(out, op, payload, mask, fin, rsv));
  return out;
}
Bytes client_frame(Opcode op, std::string_view payload, bool fin = true) { return client_frame(op, bytes(payload), fin); }

Bytes server_frame(Opcode op, const Bytes& payload, bool fin = true) {
  Bytes out(frame_header_len(payload.size()) + payload.size());
  out.resize(encode_server_frame(out, op, payload, fin));
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes close_frame(std::uint16_t code, std::string_view reason) {
  std::uint8_t buf[125];
  const std::size_t n = encode_close_payload(buf, code, reason);
  return client_frame(Opcode::close, Bytes(buf, buf + n));
}

// One event, with its payload copied out before the caller's buffer is clobbered.
struct Rec {
  EventKind kind = EventKind::need_more;
  Opcode opcode = Opcode::text;
  bool first = false;
  bool last = false;
  std::uint8_t rsv = 0;
  Bytes payload;
  std::uint16_t close_code = 0;
  std::string reason;
  CloseCode error = CloseCode::none;
  std::size_t piece = 0;   // which input piece produced the event
  std::size_t offset = 0;  // where in that piece the call started

  bool operator==(const Rec&) const = default;
};

// Feeds `pieces` in order the way a connection would, checking the call contract, and
// overwrites each piece once next() says need_more (the reader must hold what it needs).
std::vector<Rec> feed(MessageReader& reader, std::vector<Bytes> pieces) {
  std::vector<Rec> out;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    Bytes& piece = pieces[k];
    std::size_t off = 0;
    for (;;) {
      const std::span<std::uint8_t> rest(piece.data() + off, piece.size() - off);
      const Event ev = reader.next(rest);
      EXPECT_LE(ev.consumed, rest.size());
      if (ev.kind == EventKind::need_more) {
        EXPECT_EQ(ev.consumed, rest.size()) << "need_more must consume everything";
        break;
      }
      EXPECT_GT(ev.consumed, 0u) << "an event without progress";
      if (ev.kind == EventKind::error) {
        EXPECT_EQ(ev.consumed, rest.size()) << "an error consumes all input";
      }
      Rec r;
      r.kind = ev.kind;
      r.piece = k;
      r.offset = off;
      if (ev.kind == EventKind::data) {
        r.opcode = ev.message_opcode;
        r.first = ev.first;
        r.last = ev.last;
        r.rsv = ev.message_rsv;
        // Data chunks are always in place, inside this call's input.
        if (!ev.payload.empty()) {
          EXPECT_GE(ev.payload.data(), rest.data());
          EXPECT_LE(ev.payload.data() + ev.payload.size(), rest.data() + ev.consumed);
        }
      }
      r.payload.assign(ev.payload.begin(), ev.payload.end());
      if (ev.kind == EventKind::close) {
        r.close_code = ev.close_code;
        r.reason = std::string(ev.close_reason);
      }
      if (ev.kind == EventKind::error) r.error = ev.error_code;
      out.push_back(std::move(r));
      off += ev.consumed;
    }
    std::fill(piece.begin(), piece.end(), kClobber);
  }
  return out;
}

std::vector<Rec> feed_whole(const Bytes& stream, const MessageRules& rules = {}) {
  MessageReader reader(rules);
  return feed(reader, {stream});
}

std::vector<Bytes> split_at(const Bytes& stream, std::vector<std::size_t> cuts) {
  std::vector<Bytes> pieces;
  std::size_t start = 0;
  cuts.push_back(stream.size());
  for (const std::size_t c : cuts) {
    pieces.emplace_back(stream.begin() + static_cast<long>(start), stream.begin() + static_cast<long>(c));
    start = c;
  }
  return pieces;
}

std::vector<Bytes> bytewise(const Bytes& stream) {
  std::vector<Bytes> pieces;
  for (const std::uint8_t b : stream) pieces.push_back(Bytes{b});
  return pieces;
}

// What the application sees, independent of chunking: whole messages and control frames
// in arrival order. Also checks the first/last bookkeeping of data chunks.
struct Msg {
  EventKind kind;
  Opcode opcode;
  std::uint8_t rsv;
  Bytes payload;
  std::uint16_t close_code;
  std::string reason;
  CloseCode error;
  bool operator==(const Msg&) const = default;
};

std::vector<Msg> assemble(const std::vector<Rec>& events) {
  std::vector<Msg> out;
  bool open = false;
  Msg cur{};
  for (const Rec& e : events) {
    if (e.kind != EventKind::data) {
      out.push_back(Msg{e.kind, Opcode::text, 0, e.payload, e.close_code, e.reason, e.error});
      continue;
    }
    EXPECT_EQ(e.first, !open) << "first flag out of step";
    if (e.first) cur = Msg{EventKind::data, e.opcode, e.rsv, {}, 0, {}, CloseCode::none};
    EXPECT_EQ(e.opcode, cur.opcode);
    cur.payload.insert(cur.payload.end(), e.payload.begin(), e.payload.end());
    open = !e.last;
    if (e.last) out.push_back(cur);
  }
  EXPECT_FALSE(open) << "stream ended inside a message";
  return out;
}

Msg data_msg(Opcode op, const Bytes& payload) { return Msg{EventKind::data, op, 0, payload, 0, {}, CloseCode::none}; }
Msg control_msg(EventKind kind, const Bytes& payload) {
  return Msg{kind, Opcode::text, 0, payload, 0, {}, CloseCode::none};
}

// The stream decoded whole, at every single split point, and one byte at a time must
// give the same messages; returns the whole-buffer result.
std::vector<Msg> expect_split_invariant(const Bytes& stream, const MessageRules& rules = {}) {
  const std::vector<Msg> whole = assemble(feed_whole(stream, rules));
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    MessageReader reader(rules);
    EXPECT_EQ(assemble(feed(reader, split_at(stream, {cut}))), whole) << "split at " << cut;
  }
  MessageReader reader(rules);
  EXPECT_EQ(assemble(feed(reader, bytewise(stream))), whole) << "byte at a time";
  return whole;
}

void expect_rejected(const Bytes& stream, CloseCode code, const MessageRules& rules = {}) {
  const std::vector<Rec> events = feed_whole(stream, rules);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, EventKind::error);
  EXPECT_EQ(events.back().error, code);
  // And the same verdict when the bytes trickle in.
  MessageReader reader(rules);
  const std::vector<Rec> slow = feed(reader, bytewise(stream));
  ASSERT_FALSE(slow.empty());
  EXPECT_EQ(slow.back().kind, EventKind::error);
  EXPECT_EQ(slow.back().error, code);
  EXPECT_TRUE(reader.finished());
}

TEST(Message, SingleMaskedTextFrame) {
  const Bytes stream = client_frame(Opcode::text, "Hello");
  const std::vector<Rec> ev = feed_whole(stream);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, EventKind::data);
  EXPECT_EQ(ev[0].opcode, Opcode::text);
  EXPECT_TRUE(ev[0].first);
  EXPECT_TRUE(ev[0].last);
  EXPECT_EQ(ev[0].payload, bytes("Hello"));
}

TEST(Message, UnmasksInPlace) {
  Bytes stream = client_frame(Opcode::binary, bytes("in place"));
  MessageReader reader;
  const Event ev = reader.next(stream);
  ASSERT_EQ(ev.kind, EventKind::data);
  EXPECT_EQ(ev.consumed, stream.size());
  EXPECT_EQ(ev.payload.data(), stream.data() + 6);
  EXPECT_EQ(Bytes(stream.begin() + 6, stream.end()), bytes("in place"));
}

TEST(Message, LengthEncodingsAndBoundaries) {
  for (const std::size_t len : {0ul, 1ul, 125ul, 126ul, 127ul, 65535ul, 65536ul, 70001ul}) {
    Bytes payload(len);
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + len);
    const Bytes stream = client_frame(Opcode::binary, payload);
    const std::vector<Msg> whole = assemble(feed_whole(stream));
    EXPECT_EQ(whole, std::vector<Msg>{data_msg(Opcode::binary, payload)}) << len;
    MessageReader reader;
    EXPECT_EQ(assemble(feed(reader, bytewise(stream))), whole) << len;
    // A cut inside the header and a cut inside the payload (mask phase must carry over).
    for (const std::size_t cut : {1ul, 3ul, 7ul, stream.size() - 1, stream.size() / 2 + 1}) {
      if (cut >= stream.size()) continue;
      MessageReader split;
      EXPECT_EQ(assemble(feed(split, split_at(stream, {cut}))), whole) << len << " cut " << cut;
    }
  }
}

TEST(Message, NonMinimalLengthEncoding) {
  // "abc" announced with the 64-bit length form.
  Bytes stream{0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 3, kMask[0], kMask[1], kMask[2], kMask[3], 'a', 'b', 'c'};
  (void)unmask(stream.data() + 14, 3, kMask);
  EXPECT_EQ(expect_split_invariant(stream), std::vector<Msg>{data_msg(Opcode::binary, bytes("abc"))});
}

TEST(Message, EmptyMessagesGiveOneEvent) {
  for (const Opcode op : {Opcode::text, Opcode::binary}) {
    const std::vector<Rec> ev = feed_whole(client_frame(op, ""));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::data);
    EXPECT_EQ(ev[0].opcode, op);
    EXPECT_TRUE(ev[0].first && ev[0].last);
    EXPECT_TRUE(ev[0].payload.empty());
  }
  // An empty message made of empty fragments is still one event.
  const std::vector<Rec> ev = feed_whole(cat({client_frame(Opcode::text, "", false),
                                              client_frame(Opcode::continuation, "", false),
                                              client_frame(Opcode::continuation, "", true)}));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].first && ev[0].last);
  EXPECT_TRUE(ev[0].payload.empty());
}

TEST(Message, EmptyNonFinalFragmentsGiveNoEvent) {
  const Bytes stream = cat({client_frame(Opcode::text, "", false), client_frame(Opcode::continuation, "ab", false),
                            client_frame(Opcode::continuation, "", false), client_frame(Opcode::continuation, "c", false),
                            client_frame(Opcode::continuation, "", true)});
  const std::vector<Rec> ev = feed_whole(stream);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].payload, bytes("ab"));
  EXPECT_TRUE(ev[0].first);
  EXPECT_FALSE(ev[0].last);
  EXPECT_EQ(ev[1].payload, bytes("c"));
  EXPECT_FALSE(ev[1].first || ev[1].last);
  EXPECT_TRUE(ev[2].payload.empty());
  EXPECT_TRUE(ev[2].last && !ev[2].first);
  expect_split_invariant(stream);
}

TEST(Message, FragmentsWithInterleavedControlFrames) {
  const Bytes stream = cat({client_frame(Opcode::text, "Hel", false), client_frame(Opcode::ping, "p1"),
                            client_frame(Opcode::continuation, "lo", false), client_frame(Opcode::pong, ""),
                            client_frame(Opcode::ping, std::string(125, 'x')),
                            client_frame(Opcode::continuation, "!", true), client_frame(Opcode::binary, "b")});
  const std::vector<Rec> ev = feed_whole(stream);
  std::vector<EventKind> kinds;
  for (const Rec& e : ev) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<EventKind>{EventKind::data, EventKind::ping, EventKind::data, EventKind::pong,
                                           EventKind::ping, EventKind::data, EventKind::data}));
  EXPECT_EQ(ev[1].payload, bytes("p1"));
  EXPECT_TRUE(ev[3].payload.empty());
  const std::vector<Msg> want{control_msg(EventKind::ping, bytes("p1")), control_msg(EventKind::pong, {}),
                              control_msg(EventKind::ping, bytes(std::string(125, 'x'))),
                              data_msg(Opcode::text, bytes("Hello!")), data_msg(Opcode::binary, bytes("b"))};
  EXPECT_EQ(expect_split_invariant(stream), want);
}

TEST(Message, SplitControlFrameIsHeldByTheReader) {
  // feed() clobbers each piece after need_more, so a wrong payload means the reader
  // kept pointing at the caller's bytes instead of its own copy.
  const Bytes payload = bytes(std::string(125, 'p'));
  const Bytes stream = client_frame(Opcode::ping, payload);
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    MessageReader reader;
    const std::vector<Rec> ev = feed(reader, split_at(stream, {cut}));
    ASSERT_EQ(ev.size(), 1u) << cut;
    EXPECT_EQ(ev[0].kind, EventKind::ping);
    EXPECT_EQ(ev[0].payload, payload) << cut;
  }
}

TEST(Message, MultiFrameStreamAtEverySplit) {
  Bytes big(300);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i);
  const Bytes stream =
      cat({client_frame(Opcode::binary, big, false), client_frame(Opcode::ping, "?"),
           client_frame(Opcode::continuation, Bytes{1, 2, 3}, true), client_frame(Opcode::text, "h\xC3\xA9llo"),
           client_frame(Opcode::text, "", true), client_frame(Opcode::pong, "pong"), close_frame(1000, "bye")});
  Bytes whole_big = big;
  whole_big.insert(whole_big.end(), {1, 2, 3});
  std::vector<Msg> want{control_msg(EventKind::ping, bytes("?")), data_msg(Opcode::binary, whole_big),
                        data_msg(Opcode::text, bytes("h\xC3\xA9llo")), data_msg(Opcode::text, {}),
                        control_msg(EventKind::pong, bytes("pong"))};
  Msg close = control_msg(EventKind::close, bytes("\x03\xE8" "bye"));
  close.close_code = 1000;
  close.reason = "bye";
  want.push_back(close);
  EXPECT_EQ(expect_split_invariant(stream), want);

  // Every pair of split points on a shorter stream (three pieces).
  const Bytes small = cat({client_frame(Opcode::text, "ab", false), client_frame(Opcode::ping, "p"),
                           client_frame(Opcode::continuation, "\xE2\x82\xAC", true), close_frame(1001, "")});
  const std::vector<Msg> small_whole = expect_split_invariant(small);
  ASSERT_EQ(small_whole.size(), 3u);
  for (std::size_t a = 0; a <= small.size(); ++a) {
    for (std::size_t b = a; b <= small.size(); ++b) {
      MessageReader reader;
      EXPECT_EQ(assemble(feed(reader, split_at(small, {a, b}))), small_whole) << a << "," << b;
    }
  }
}

TEST(Message, CloseFinishesTheReader) {
  Bytes stream = cat({close_frame(1000, "done"), client_frame(Opcode::text, "after")});
  MessageReader reader;
  const Event ev = reader.next(stream);
  ASSERT_EQ(ev.kind, EventKind::close);
  EXPECT_EQ(ev.close_code, 1000);
  EXPECT_EQ(ev.close_reason, "done");
  EXPECT_EQ(ev.consumed, close_frame(1000, "done").size());
  EXPECT_TRUE(reader.finished());
  const Event after = reader.next(std::span<std::uint8_t>(stream).subspan(ev.consumed));
  EXPECT_EQ(after.kind, EventKind::need_more);
  EXPECT_EQ(after.consumed, stream.size() - ev.consumed);
}

TEST(Message, ClosePayloads) {
  std::vector<Rec> ev = feed_whole(client_frame(Opcode::close, ""));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, EventKind::close);
  EXPECT_EQ(ev[0].close_code, 1005);
  ev = feed_whole(close_frame(4000, "app"));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].close_code, 4000);
  EXPECT_EQ(ev[0].reason, "app");

  expect_rejected(client_frame(Opcode::close, Bytes{0x03}), CloseCode::protocol_error);
  expect_rejected(client_frame(Opcode::close, Bytes{0x03, 0xED}), CloseCode::protocol_error);   // 1005
  expect_rejected(client_frame(Opcode::close, Bytes{0x03, 0xE7}), CloseCode::protocol_error);   // 999
  expect_rejected(client_frame(Opcode::close, Bytes{0x03, 0xE8, 0xFF}), CloseCode::invalid_payload);
  // With bytes after the bad close frame, the error still consumes everything.
  expect_rejected(cat({client_frame(Opcode::close, Bytes{0x03}), client_frame(Opcode::text, "x")}),
                  CloseCode::protocol_error);
  // Close inside a fragmented message is allowed and ends the reader.
  ev = feed_whole(cat({client_frame(Opcode::text, "a", false), close_frame(1001, "")}));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].kind, EventKind::close);
  EXPECT_EQ(ev[1].close_code, 1001);
}

TEST(Message, SequenceViolations) {
  expect_rejected(client_frame(Opcode::continuation, "x"), CloseCode::protocol_error);
  expect_rejected(cat({client_frame(Opcode::text, "a", false), client_frame(Opcode::text, "b")}),
                  CloseCode::protocol_error);
  expect_rejected(cat({client_frame(Opcode::binary, "a", false), client_frame(Opcode::binary, "b")}),
                  CloseCode::protocol_error);
  expect_rejected(cat({client_frame(Opcode::text, "a", false), client_frame(Opcode::binary, "b")}),
                  CloseCode::protocol_error);
  // A complete message leaves no message open, so a continuation after it is an error.
  expect_rejected(cat({client_frame(Opcode::text, "a"), client_frame(Opcode::continuation, "b")}),
                  CloseCode::protocol_error);
}

TEST(Message, HeaderRejections) {
  const Bytes unmasked{0x81, 0x01, 'a'};
  expect_rejected(unmasked, CloseCode::protocol_error);
  MessageRules client_side;
  client_side.require_mask = false;
  expect_rejected(client_frame(Opcode::text, "a"), CloseCode::protocol_error, client_side);
  for (const std::uint8_t op : {0x3, 0x7, 0xB, 0xF}) {
    expect_rejected(Bytes{static_cast<std::uint8_t>(0x80 | op), 0x80, 0, 0, 0, 0}, CloseCode::protocol_error);
  }
  expect_rejected(client_frame(Opcode::text, Bytes{'a'}, true, kRsv1), CloseCode::protocol_error);
  expect_rejected(client_frame(Opcode::ping, std::string(126, 'x')), CloseCode::protocol_error);
  expect_rejected(client_frame(Opcode::ping, "x", false), CloseCode::protocol_error);
  expect_rejected(Bytes{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, CloseCode::protocol_error);
}

TEST(Message, AllowedRsvReported) {
  MessageRules rules;
  rules.allowed_rsv = kRsv1;
  const std::vector<Rec> ev = feed_whole(cat({client_frame(Opcode::binary, Bytes{1}, false, kRsv1),
                                              client_frame(Opcode::continuation, Bytes{2}, true, 0)}),
                                         rules);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].rsv, kRsv1);
  EXPECT_EQ(ev[1].rsv, kRsv1);  // the message's, not the frame's
}

// RFC 7692 section 6: with the extension, RSV1 marks a message's first frame; on a
// continuation or a control frame it is a protocol error. A compressed text message is
// not UTF-8 until inflated: the reader leaves it to the caller.
TEST(Message, Rsv1OnlyOnAMessagesFirstFrame) {
  MessageRules rules;
  rules.allowed_rsv = kRsv1;
  auto first_error = [&](const Bytes& wire) {
    Bytes in = wire;
    MessageReader r(rules);
    std::span<std::uint8_t> rest(in);
    for (;;) {
      const Event ev = r.next(rest);
      rest = rest.subspan(ev.consumed);
      if (ev.kind == EventKind::error) return std::string(ev.error_reason) + " " + std::to_string(static_cast<int>(ev.error_code));
      if (ev.kind == EventKind::need_more) return std::string("none");
    }
  };
  EXPECT_EQ(first_error(cat({client_frame(Opcode::text, Bytes{'a'}, false, kRsv1),
                             client_frame(Opcode::continuation, Bytes{'b'}, true, kRsv1)})),
            "RSV bit on a continuation frame 1002");
  EXPECT_EQ(first_error(client_frame(Opcode::ping, Bytes{'p'}, true, kRsv1)), "RSV bit on a control frame 1002");
  EXPECT_EQ(first_error(client_frame(Opcode::close, Bytes{0x03, 0xE8}, true, kRsv1)), "RSV bit on a control frame 1002");
  // Compressed bytes are not UTF-8, whole or fragmented; plain text still is checked.
  EXPECT_EQ(first_error(client_frame(Opcode::text, Bytes{0xF2, 0x48, 0xCD, 0xC9}, true, kRsv1)), "none");
  EXPECT_EQ(first_error(cat({client_frame(Opcode::text, Bytes{0xF2, 0xFF}, false, kRsv1),
                             client_frame(Opcode::continuation, Bytes{0xC0}, true, 0)})),
            "none");
  EXPECT_EQ(first_error(client_frame(Opcode::text, Bytes{0xFF}, true, 0)), "text is not UTF-8 1007");
}

TEST(Message, MessageTooBigAtTheHeader) {
  MessageRules rules;
  rules.max_message = 100;
  // Only the header is fed: the verdict must not wait for the payload.
  Bytes header(kMaxHeaderLen);
  header.resize(encode_client_header(header.data(), Opcode::binary, 101, kMask));
  MessageReader reader(rules);
  const Event ev = reader.next(header);
  EXPECT_EQ(ev.kind, EventKind::error);
  EXPECT_EQ(ev.error_code, CloseCode::message_too_big);

  // Cumulative: 60 + 40 fits exactly, 60 + 41 does not (detected at the second header).
  const Bytes sixty(60, 'a');
  std::vector<Rec> ok = feed_whole(cat({client_frame(Opcode::binary, sixty, false),
                                        client_frame(Opcode::continuation, Bytes(40, 'b'))}),
                                   rules);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_TRUE(ok[1].last);
  expect_rejected(cat({client_frame(Opcode::binary, sixty, false), client_frame(Opcode::continuation, Bytes(41, 'b'))}),
                  CloseCode::message_too_big, rules);
  Bytes second_header(kMaxHeaderLen);
  second_header.resize(encode_client_header(second_header.data(), Opcode::continuation, 41, kMask));
  const std::vector<Rec> ev2 = feed_whole(cat({client_frame(Opcode::binary, sixty, false), second_header}), rules);
  ASSERT_EQ(ev2.size(), 2u);
  EXPECT_EQ(ev2[0].kind, EventKind::data);
  EXPECT_EQ(ev2[1].error, CloseCode::message_too_big);
  // A limit lowered below what an open message already holds rejects its next fragment.
  {
    MessageReader lowered;
    Bytes first = client_frame(Opcode::binary, sixty, false);
    ASSERT_EQ(lowered.next(first).kind, EventKind::data);
    MessageRules tighter = rules;
    tighter.max_message = 10;
    lowered.set_rules(tighter);
    Bytes next = client_frame(Opcode::continuation, Bytes{'c'});
    EXPECT_EQ(lowered.next(next).error_code, CloseCode::message_too_big);
  }
  // The size limit is per message: many 60-byte messages are fine.
  EXPECT_EQ(feed_whole(cat({client_frame(Opcode::binary, sixty), client_frame(Opcode::binary, sixty)}), rules).size(),
            2u);
}

TEST(Message, Utf8SplitAcrossFragmentsAtEveryByte) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E z";  // 1-, 2-, 3-, 4-byte code points
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    const Bytes stream = cat({client_frame(Opcode::text, text.substr(0, cut), false),
                              client_frame(Opcode::continuation, text.substr(cut), true)});
    const std::vector<Msg> want{data_msg(Opcode::text, bytes(text))};
    EXPECT_EQ(assemble(feed_whole(stream)), want) << cut;
    MessageReader reader;
    EXPECT_EQ(assemble(feed(reader, bytewise(stream))), want) << cut;
  }
}

TEST(Message, Utf8FailsFastInTheCallThatBringsTheBadByte) {
  // Header, then the payload one byte per call: the error must come with the 0xFF.
  const std::string text = std::string(40, 'a') + "\xFF" + std::string(40, 'b');
  for (const bool fragmented : {false, true}) {
    const Bytes stream = fragmented ? cat({client_frame(Opcode::text, "xyz", false),
                                           client_frame(Opcode::continuation, text, true)})
                                    : client_frame(Opcode::text, text);
    const std::size_t bad_at = stream.size() - 41;  // index of 0xFF in the stream
    MessageReader reader;
    const std::vector<Rec> ev = feed(reader, bytewise(stream));
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev.back().kind, EventKind::error);
    EXPECT_EQ(ev.back().error, CloseCode::invalid_payload);
    EXPECT_EQ(ev.back().piece, bad_at) << "error must come with the bad byte";
  }
  // A truncated sequence that can never complete fails before the message ends: E2 28.
  const Bytes stream = client_frame(Opcode::text, "ok\xE2\x28 and more text");
  MessageReader reader;
  const std::vector<Rec> ev = feed(reader, bytewise(stream));
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().error, CloseCode::invalid_payload);
  EXPECT_EQ(ev.back().piece, 6u + 3u);
}

TEST(Message, Utf8IncompleteAtMessageEnd) {
  expect_rejected(client_frame(Opcode::text, "abc\xE2\x82"), CloseCode::invalid_payload);
  expect_rejected(cat({client_frame(Opcode::text, "\xE2", false), client_frame(Opcode::continuation, "\x82")}),
                  CloseCode::invalid_payload);
  // Ended by an empty final fragment.
  expect_rejected(cat({client_frame(Opcode::text, "\xE2\x82", false), client_frame(Opcode::continuation, "")}),
                  CloseCode::invalid_payload);
  expect_rejected(client_frame(Opcode::text, "\xED\xA0\x80"), CloseCode::invalid_payload);  // surrogate
  expect_rejected(client_frame(Opcode::text, "\xC0\xAF"), CloseCode::invalid_payload);      // overlong
  // Binary messages are not UTF-8 checked.
  EXPECT_EQ(feed_whole(client_frame(Opcode::binary, "\xFF\xE2")).back().kind, EventKind::data);
}

TEST(Message, InputIgnoredAfterError) {
  Bytes stream = cat({client_frame(Opcode::continuation, "x"), client_frame(Opcode::text, "fine")});
  MessageReader reader;
  const Event ev = reader.next(stream);
  EXPECT_EQ(ev.kind, EventKind::error);
  EXPECT_EQ(ev.consumed, stream.size());
  EXPECT_TRUE(reader.finished());
  Bytes more = client_frame(Opcode::text, "more");
  const Event after = reader.next(more);
  EXPECT_EQ(after.kind, EventKind::need_more);
  EXPECT_EQ(after.consumed, more.size());
}

// Random messages, fragmented at random points with pings in between.
struct Generated {
  Bytes client_stream;
  Bytes server_stream;
  std::vector<Msg> want;
};

Generated generate(std::uint32_t seed, std::size_t messages) {
  std::mt19937 rng(seed);
  const std::string_view alphabet[] = {"a", "Z", " ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9D\x84\x9E", "\xE5\xBC\xB9"};
  Generated g;
  auto emit = [&](Opcode op, const Bytes& payload, bool fin) {
    const MaskKey key{static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                      static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
    const Bytes c = client_frame(op, payload, fin, 0, key);
    const Bytes s = server_frame(op, payload, fin);
    g.client_stream.insert(g.client_stream.end(), c.begin(), c.end());
    g.server_stream.insert(g.server_stream.end(), s.begin(), s.end());
  };
  for (std::size_t m = 0; m < messages; ++m) {
    const bool text = rng() % 2 == 0;
    const std::size_t target = rng() % 10 == 0 ? rng() % 70000 : rng() % 300;
    Bytes payload;
    while (payload.size() < target) {
      if (text) {
        const std::string_view cp = alphabet[rng() % std::size(alphabet)];
        payload.insert(payload.end(), cp.begin(), cp.end());
      } else {
        payload.push_back(static_cast<std::uint8_t>(rng()));
      }
    }
    // Cut anywhere, even inside a code point: validation must carry across fragments.
    std::size_t at = 0;
    bool first = true;
    do {
      const std::size_t n = std::min<std::size_t>(payload.size() - at, rng() % 3 == 0 ? payload.size() : rng() % 64);
      const bool fin = at + n == payload.size();
      emit(first ? (text ? Opcode::text : Opcode::binary) : Opcode::continuation,
           Bytes(payload.begin() + static_cast<long>(at), payload.begin() + static_cast<long>(at + n)), fin);
      at += n;
      first = false;
      if (!fin && rng() % 4 == 0) {
        Bytes ping(rng() % 126);
        for (auto& b : ping) b = static_cast<std::uint8_t>(rng());
        emit(Opcode::ping, ping, true);
        g.want.push_back(control_msg(EventKind::ping, ping));
      }
      if (fin) break;
    } while (true);
    g.want.push_back(data_msg(text ? Opcode::text : Opcode::binary, payload));
  }
  return g;
}

std::vector<Bytes> random_pieces(const Bytes& stream, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0; at < stream.size();) {
    at += 1 + rng() % (rng() % 2 ? 16 : 4096);
    if (at < stream.size()) cuts.push_back(at);
  }
  return split_at(stream, cuts);
}

TEST(Message, RoundTripClientToServer) {
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    const Generated g = generate(seed, 40);
    EXPECT_EQ(assemble(feed_whole(g.client_stream)), g.want) << seed;
    MessageReader reader;
    EXPECT_EQ(assemble(feed(reader, random_pieces(g.client_stream, seed * 7))), g.want) << seed;
  }
}

TEST(Message, RoundTripServerToClient) {
  MessageRules rules;
  rules.require_mask = false;
  for (std::uint32_t seed = 11; seed <= 18; ++seed) {
    const Generated g = generate(seed, 40);
    EXPECT_EQ(assemble(feed_whole(g.server_stream, rules)), g.want) << seed;
    MessageReader reader(rules);
    EXPECT_EQ(assemble(feed(reader, random_pieces(g.server_stream, seed * 5))), g.want) << seed;
  }
}

TEST(Message, NextDoesNotAllocate) {
  const Generated g = generate(99, 30);
  std::vector<Bytes> pieces = random_pieces(g.client_stream, 3);
  MessageReader reader;
  std::size_t events = 0;
  const std::size_t before = g_allocations.load();
  for (Bytes& piece : pieces) {
    std::span<std::uint8_t> rest(piece);
    for (;;) {
      const Event ev = reader.next(rest);
      rest = rest.subspan(ev.consumed);
      if (ev.kind == EventKind::need_more) break;
      ++events;
    }
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_GE(events, 30u);
  // The counter is live: a vector allocation moves it.
  std::vector<int>* probe = new std::vector<int>(4);
  EXPECT_GT(g_allocations.load(), before);
  delete probe;
}

}  // namespace
}  // namespace ringcast::protocol
