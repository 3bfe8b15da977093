// The shard's TLS glue (engine/net/shard_tls.cpp, the wss half of shard_io.cpp's sends,
// the two listeners of shard_loop.cpp) on the scripted backend, against an OpenSSL client
// on memory BIOs: exact sequences of partial sends, handshake storms, stalled and
// misdirected hellos, a member that never reads, and the close handshake down to the FIN.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/shard_driver.hpp"

namespace ringcast::engine::test {
namespace {

using protocol::Opcode;

Config tls_config() { return scripted_config(32); }

std::size_t tls_failures(ShardDriver& d, TlsFailure f) {
  return d.shard().metrics().tls_failures[static_cast<std::size_t>(f)].get();
}

// A wss client upgraded on `path`, with its 101 and anything queued so far delivered.
std::size_t open_wss(ShardDriver& d, std::string_view path) {
  int c = d.connect_wss(path);
  EXPECT_GE(c, 0);
  d.deliver_all();
  auto i = static_cast<std::size_t>(c);
  EXPECT_TRUE(d.client(i).tls->established());
  EXPECT_EQ(d.client(i).in.status(), 101);
  return i;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 251) & 0xFF);
  return s;
}

class ShardTlsScript : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(d.init_error(), ""); }
  void TearDown() override { EXPECT_EQ(d.violation(), ""); }

  ShardDriver d{tls_config(), true};
};

// --- a. partial sends of ciphertext with nothing left in the queue --------------------

// The network takes `piece(i)` bytes per completion until no send is pending; returns the
// completions it took (a stall shows as fewer bytes than the shard meant to send).
template <class Piece>
std::size_t trickle(ShardDriver& d, std::size_t c, Piece piece) {
  std::size_t i = 0;
  while (d.io().send_pending(d.client(c).fd) && i < 2'000'000) d.deliver(c, piece(i++));
  return i;
}

TEST(ShardTlsScriptEcho, EchoesReachTheClientWhenEverySendCompletesOneByteAtATime) {
  Config cfg = tls_config();
  cfg.max_message = 1 << 20;
  cfg.max_backlog = 1 << 20;
  ShardDriver d(cfg, true);
  ASSERT_EQ(d.init_error(), "");
  std::size_t c = open_wss(d, "/echo");
  const std::uint64_t clock = d.io().now_ms();
  const auto& m = d.client(c).in.messages();

  // A small echo: one record, sealed at once; the queue is empty from the first byte on.
  d.send(c, client_frame(Opcode::text, "hello over wss"));
  std::size_t steps = trickle(d, c, [](std::size_t) { return std::size_t{1}; });
  ASSERT_EQ(m.size(), 1u) << "stalled after " << steps << " one-byte sends";
  EXPECT_EQ(m[0].payload, "hello over wss");

  // 300 KiB: several seals of the budget (64 KiB of records each), the last one with the
  // queue empty behind it; again one byte per completion.
  const std::string big = pattern(300 * 1024);
  d.send(c, client_frame(Opcode::binary, big));
  steps = trickle(d, c, [](std::size_t) { return std::size_t{1}; });
  ASSERT_EQ(m.size(), 2u) << "stalled after " << steps << " one-byte sends";
  EXPECT_EQ(m[1].op, Opcode::binary);
  EXPECT_TRUE(m[1].payload == big) << "payload differs";
  EXPECT_GT(steps, big.size());  // every byte was its own completion

  // The same again in small odd pieces, both messages in one burst.
  d.send(c, client_frame(Opcode::binary, big));
  d.send(c, client_frame(Opcode::text, "after"));
  static constexpr std::size_t kPieces[] = {1, 2, 5, 13, 1, 97, 3, 1021, 1, 7};
  trickle(d, c, [](std::size_t i) { return kPieces[i % std::size(kPieces)]; });
  ASSERT_EQ(m.size(), 4u);
  EXPECT_TRUE(m[2].payload == big) << "payload differs";
  EXPECT_EQ(m[3].payload, "after");

  // Everything out, nothing held, and no timer was needed to get it there.
  EXPECT_EQ(d.io().now_ms(), clock);
  EXPECT_FALSE(d.io().send_pending(d.client(c).fd));
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);
  EXPECT_EQ(d.shard().metrics().bytes_out.get(), d.client(c).tls->received());
  EXPECT_EQ(d.violation(), "");
}

// --- b. the handshake bound per turn ---------------------------------------------------

TEST_F(ShardTlsScript, TwentyHellosInOneTurnGetTheirFlightsEightPerTurnInArrivalOrder) {
  constexpr std::size_t kClients = 20;
  std::vector<std::size_t> cs;
  for (std::size_t i = 0; i < kClients; ++i) {
    int c = d.connect_wss("/echo", /*run=*/false);
    ASSERT_GE(c, 0);
    cs.push_back(static_cast<std::size_t>(c));
  }
  auto flights = [&] {
    std::vector<std::size_t> got;
    for (std::size_t i = 0; i < kClients; ++i) {
      if (d.io().send_pending(d.client(cs[i]).fd)) got.push_back(i);
    }
    return got;
  };
  auto first = [](std::size_t n) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(i);
    return v;
  };
  ASSERT_TRUE(d.turn());  // the 20 accepts: receives armed, the hellos become completions
  EXPECT_TRUE(flights().empty());
  ASSERT_TRUE(d.turn());  // the 20 hellos, all in this turn
  EXPECT_EQ(flights(), first(8));
  EXPECT_TRUE(d.turn_pending()) << "the shard did not wake itself for the waiting hellos";
  ASSERT_TRUE(d.turn());
  EXPECT_EQ(flights(), first(16));
  ASSERT_TRUE(d.turn_pending());
  ASSERT_TRUE(d.turn());
  EXPECT_EQ(flights(), first(20));
  EXPECT_FALSE(d.turn_pending());  // nobody left waiting: no more wake-ups
  EXPECT_EQ(d.shard().metrics().tls_handshakes.get(), 0u);

  d.deliver_all();  // flights, Finished + requests, 101s, tickets
  for (std::size_t c : cs) {
    EXPECT_TRUE(d.client(c).tls->established());
    EXPECT_EQ(d.client(c).in.status(), 101);
  }
  EXPECT_EQ(d.shard().metrics().tls_handshakes.get(), kClients);
  EXPECT_EQ(d.shard().live_connections(), kClients);
  for (std::size_t f = 0; f < static_cast<std::size_t>(TlsFailure::count_); ++f) {
    EXPECT_EQ(d.shard().metrics().tls_failures[f].get(), 0u) << tls_failure_name(static_cast<TlsFailure>(f));
  }
  d.send(cs.back(), client_frame(Opcode::text, "last in line"));
  d.deliver_all();
  EXPECT_EQ(d.client(cs.back()).in.messages().back().payload, "last in line");
}

// --- c. hellos that never finish, and hellos on the wrong port --------------------------

TEST_F(ShardTlsScript, HalfAHelloThenSilenceIsClosedAtTheHandshakeDeadline) {
  auto c = static_cast<std::size_t>(d.connect_tls(/*hello=*/false));
  std::vector<std::uint8_t> hello = d.take_ciphertext(c);
  ASSERT_GT(hello.size(), 20u);
  d.send_raw(c, std::span<const std::uint8_t>(hello).first(hello.size() / 2));
  d.advance(400);
  EXPECT_FALSE(d.io().closed(d.client(c).fd));
  EXPECT_EQ(tls_failures(d, TlsFailure::timeout), 0u);
  d.advance(200);  // 600 ms after the accept: past --handshake-timeout
  EXPECT_TRUE(d.io().closed(d.client(c).fd));
  EXPECT_EQ(tls_failures(d, TlsFailure::timeout), 1u);
  EXPECT_EQ(d.shard().metrics().handshake_failures[static_cast<std::size_t>(HandshakeFailure::timeout)].get(), 0u);
  EXPECT_EQ(d.client(c).tls->received(), 0u);  // not one byte of a flight
  EXPECT_EQ(d.shard().live_connections(), 0u);
  EXPECT_EQ(d.io().buffers_in_use(), 0u);
}

TEST_F(ShardTlsScript, ATlsHelloOnThePlainPortIsClosedWithoutAByte) {
  int c = d.connect();
  ASSERT_GE(c, 0);
  auto cc = static_cast<std::size_t>(c);
  TlsClient probe;
  probe.start();
  std::vector<std::uint8_t> hello = probe.take();
  ASSERT_FALSE(hello.empty());
  d.send_raw(cc, hello);
  EXPECT_FALSE(d.io().send_pending(d.client(cc).fd));
  EXPECT_TRUE(d.io().write_shut(d.client(cc).fd));  // FIN at once: nothing was queued
  d.deliver_all();
  EXPECT_EQ(d.client(cc).in.total(), 0u);
  EXPECT_EQ(tls_failures(d, TlsFailure::tls_on_plain_port), 1u);
  EXPECT_EQ(d.shard().metrics().tls_handshakes.get(), 0u);
  d.eof(cc);
  EXPECT_TRUE(d.io().closed(d.client(cc).fd));
  EXPECT_EQ(d.shard().live_connections(), 0u);
  // The wss listener is unaffected, and a hello there is answered.
  std::size_t w = open_wss(d, "/echo");
  EXPECT_EQ(d.client(w).in.status(), 101);
}

// --- d. a member that never reads -------------------------------------------------------

// The slow member takes its sends until one carries a whole sealed frame (64 KiB of
// records), then its network stops. The talker's 1000 B lines pile up behind it until
// --max-backlog closes it with 1008. `then_read`: its network takes everything after the
// close (what it held is counted); else nothing more, and the close deadline reclaims it.
void slow_member(bool then_read) {
  Config cfg = tls_config();
  cfg.max_backlog = 128 << 10;
  ShardDriver d(cfg, true);
  ASSERT_EQ(d.init_error(), "");
  std::size_t slow = open_wss(d, "/");
  std::size_t talker = open_wss(d, "/");
  d.deliver_all();
  const int fd = d.client(slow).fd;
  const std::string line(1000, 'x');
  auto say = [&] {
    d.send(talker, client_frame(Opcode::text, line));
    d.deliver(talker);
  };
  say();  // the slow member's send of this line is in flight and stays so for now
  ASSERT_TRUE(d.io().send_pending(fd));
  for (int i = 0; i < 100; ++i) say();  // ~100 KB queued behind it
  d.deliver(slow);                      // it completes: the next send seals the budget
  std::size_t sealed = d.io().pending_bytes(fd);
  EXPECT_GT(sealed, 60'000u);
  EXPECT_LE(sealed, 65536u);  // one pool frame of records
  std::size_t read_before = d.client(slow).in.total();
  int lines = 0;
  for (; lines < 1000 && d.shard().metrics().slow_clients_closed.get() == 0; ++lines) say();
  EXPECT_EQ(d.shard().metrics().slow_clients_closed.get(), 1u);
  EXPECT_LT(lines, 200);  // the backlog (128 KiB) at 1000 B a line, not the 1000
  EXPECT_EQ(d.io().pending_bytes(fd), sealed);  // nothing more went on the wire
  EXPECT_FALSE(d.client(talker).in.close_seen());
  if (then_read) {
    d.deliver_all();
    const ServerStream& in = d.client(slow).in;
    EXPECT_TRUE(in.close_seen());
    EXPECT_EQ(in.close_code(), 1008);
    EXPECT_TRUE(d.client(slow).tls->close_notify_seen());
    // What it held after its network stopped: the sealed frame, at most the backlog and
    // the line that passed it, and the close frame.
    std::size_t held = in.total() - read_before;
    EXPECT_LE(held, (4 * 16384 - 4 * 64) + cfg.max_backlog + 1004 + 64) << held;
    EXPECT_TRUE(d.io().write_shut(fd));
    d.close_notify(slow);
    d.eof(slow);
  } else {
    d.advance(600);  // never reads, never closes: the close deadline reclaims it
  }
  EXPECT_TRUE(d.io().closed(fd));
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);  // its backlog went back to the pool
  EXPECT_EQ(d.shard().live_connections(), 1u);
  EXPECT_EQ(d.io().buffers_in_use(), 0u);
  EXPECT_FALSE(d.client(talker).in.close_seen());
  EXPECT_EQ(d.violation(), "");
}

TEST(ShardTlsScriptSlow, AMemberThatNeverReadsIsClosedWith1008AndReclaimedAtTheCloseDeadline) {
  slow_member(false);
}

TEST(ShardTlsScriptSlow, WhatASlowMemberHeldIsTheBacklogAndOneSealedFrame) { slow_member(true); }

// --- e. the close handshake down to the FIN ---------------------------------------------

TEST_F(ShardTlsScript, CloseFrameAndCloseNotifyLeaveBeforeTheFinAndNothingAfterIt) {
  std::size_t c = open_wss(d, "/echo");
  const int fd = d.client(c).fd;
  d.hold_reads(c, true);  // the client reads the server's last flight only after the FIN
  d.send(c, client_frame(Opcode::close, std::string("\x03\xe8", 2)));
  ASSERT_TRUE(d.io().send_pending(fd));
  std::size_t last = d.io().pending_bytes(fd);
  EXPECT_GT(last, 2u + 2 * 20u);  // a record for the close frame, one for close_notify
  // One byte per completion: the FIN waits for the last one.
  for (int guard = 0; guard < 10000 && d.io().send_pending(fd); ++guard) {
    EXPECT_FALSE(d.io().write_shut(fd)) << "FIN before the last byte";
    d.deliver(c, 1);
  }
  EXPECT_FALSE(d.io().send_pending(fd));
  EXPECT_TRUE(d.io().write_shut(fd));
  EXPECT_FALSE(d.io().closed(fd));  // reading on until the client's EOF

  // A late message: read (the client may still send), answered with nothing.
  d.send(c, client_frame(Opcode::text, "late"));
  EXPECT_FALSE(d.io().send_pending(fd));
  d.advance(100);  // a few ticks: nothing wakes a send either
  EXPECT_FALSE(d.io().send_pending(fd));
  EXPECT_FALSE(d.io().closed(fd));

  d.hold_reads(c, false);
  const ServerStream& in = d.client(c).in;
  ASSERT_TRUE(in.close_seen());
  EXPECT_EQ(in.close_code(), 1000);
  EXPECT_EQ(in.messages().back().op, Opcode::close);
  EXPECT_TRUE(d.client(c).tls->close_notify_seen());
  EXPECT_EQ(d.client(c).tls->received(), d.shard().metrics().bytes_out.get());

  d.close_notify(c);
  EXPECT_FALSE(d.io().send_pending(fd));
  d.eof(c);
  EXPECT_TRUE(d.io().closed(fd));
  EXPECT_EQ(d.shard().live_connections(), 0u);
  EXPECT_EQ(d.shard().leases_outstanding(), 0u);
}

// TLS 1.2: a renegotiation attempt makes OpenSSL write an alert on its own. Open, it goes
// out; after our FIN it must not (the scripted backend records a send after SHUT_WR).
// (OpenSSL 3 itself writes nothing after its close_notify, so today tls_flush's
// after-FIN discard is not what stops it; the test guards the outcome either way.)
TEST(ShardTlsScript12, ARefusedRenegotiationAfterTheFinSendsNothing) {
  ShardDriver d(tls_config(), true);
  ASSERT_EQ(d.init_error(), "");
  d.set_client_max_version(TLS1_2_VERSION);
  std::size_t probe = open_wss(d, "/echo");
  ASSERT_EQ(SSL_version(d.client(probe).tls->ssl()), TLS1_2_VERSION);
  ASSERT_TRUE(d.client(probe).tls->renegotiate());
  d.send_raw(probe, d.take_ciphertext(probe));
  ASSERT_TRUE(d.io().send_pending(d.client(probe).fd)) << "no alert for a renegotiation while open";
  std::vector<std::uint8_t> alert;
  d.io().complete_send(d.client(probe).fd, SIZE_MAX, alert);  // the network takes it; the client drops it
  d.settle();
  ASSERT_FALSE(alert.empty());
  EXPECT_EQ(alert[0], 21);        // one record of content type alert
  EXPECT_LE(alert.size(), 40u);   // its header, 2 bytes sealed (nonce, tag), nothing else

  std::size_t c = open_wss(d, "/echo");
  const int fd = d.client(c).fd;
  d.hold_reads(c, true);
  d.send(c, client_frame(Opcode::close, std::string("\x03\xe8", 2)));
  d.deliver(c);
  ASSERT_TRUE(d.io().write_shut(fd));
  ASSERT_TRUE(d.client(c).tls->renegotiate());
  d.send_raw(c, d.take_ciphertext(c));
  EXPECT_FALSE(d.io().send_pending(fd));
  EXPECT_EQ(d.violation(), "");
  d.hold_reads(c, false);  // a renegotiating client still reads application data
  EXPECT_EQ(d.client(c).in.close_code(), 1000);
  EXPECT_TRUE(d.client(c).tls->close_notify_seen());
  d.eof(c);
  EXPECT_TRUE(d.io().closed(fd));
  EXPECT_EQ(d.violation(), "");
}

TEST_F(ShardTlsScript, ACloseFromTheServerEndsWithCloseNotifyThenFin) {
  std::size_t c = open_wss(d, "/echo");
  const int fd = d.client(c).fd;
  d.group().stopping.store(true);  // every connection gets a 1001 close
  d.settle();
  ASSERT_TRUE(d.io().send_pending(fd));
  for (int guard = 0; guard < 10000 && d.io().send_pending(fd); ++guard) {
    EXPECT_FALSE(d.io().write_shut(fd)) << "FIN before the last byte";
    EXPECT_FALSE(d.client(c).tls->close_notify_seen());
    d.deliver(c, 3);
  }
  EXPECT_EQ(d.client(c).in.close_code(), 1001);
  EXPECT_TRUE(d.client(c).tls->close_notify_seen());
  EXPECT_TRUE(d.io().write_shut(fd));
  d.send(c, client_frame(Opcode::close, std::string("\x03\xe9", 2)));  // its reply, after our FIN
  EXPECT_FALSE(d.io().send_pending(fd));
  d.eof(c);
  EXPECT_TRUE(d.io().closed(fd));
  EXPECT_FALSE(d.running());
}

}  // namespace
}  // namespace ringcast::engine::test
