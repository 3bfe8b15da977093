// The whole-connection fuzzer: the real shard (handshake, routing, frames, chat and echo,
// fan-out, close handshake, timers, teardown) on the scripted backend, with no socket.
// The input is a script of peer actions: connect (upgraded, offering permessage-deflate or
// not, or raw), raw bytes, encoded frames (any opcode, flags, length, mask or none, split
// anywhere; some compressed for real), partial and failed
// sends, EOF, reset, clock jumps, a server-side publish and a stop. After every step the
// backend contract and each client's view of the server's bytes must hold; at the end,
// when every peer has left, every slot, receive buffer and frame lease must be back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/log.hpp"
#include "protocol/deflate_codec.hpp"
#include "tests/support/shard_driver.hpp"

namespace {

using namespace ringcast;
using engine::test::ShardDriver;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz_connection: %s\n", what.c_str());
  std::abort();
}

engine::Config config_from(std::uint8_t bits) {
  engine::Config cfg;
  cfg.max_connections_per_shard = 6;
  cfg.handshake_timeout = std::chrono::milliseconds(400);
  cfg.idle_timeout = std::chrono::milliseconds((bits & 1) != 0 ? 0 : 2000);
  cfg.close_timeout = std::chrono::milliseconds(300);
  static constexpr std::size_t kBacklogs[] = {256, 4096, 1 << 20, 600};
  cfg.max_backlog = kBacklogs[(bits >> 1) & 3];
  cfg.max_message = (bits & 8) != 0 ? 1024 : 1 << 16;
  cfg.slow_policy = (bits & 16) != 0 ? engine::SlowPolicy::drop : engine::SlowPolicy::close;
  cfg.coalesce = std::chrono::milliseconds((bits & 32) != 0 ? 20 : 0);
  cfg.announce = (bits & 64) == 0;
  return cfg;
}

std::vector<std::uint8_t> frame_from(FuzzedDataProvider& in) {
  std::uint8_t op = in.ConsumeIntegralInRange<std::uint8_t>(0, 15);
  bool fin = in.ConsumeBool();
  std::uint8_t rsv = in.ConsumeProbability<float>() < 0.9f ? 0 : in.ConsumeIntegralInRange<std::uint8_t>(1, 7);
  static constexpr std::size_t kLens[] = {0, 1, 2, 5, 125, 126, 127, 1023, 1025, 65535, 65536, 70000};
  std::size_t len = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 200)
                                     : kLens[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kLens) - 1)];
  std::string payload = in.ConsumeBytesAsString(std::min<std::size_t>(len, 512));
  payload.resize(len, 'x');  // long payloads are padded: lengths matter more than content
  auto opcode = static_cast<protocol::Opcode>(op);
  if (in.ConsumeProbability<float>() < 0.1f) {  // compressed for real (RSV1), or cut short
    static protocol::Deflater deflater;
    std::vector<std::uint8_t> z;
    if (deflater.deflate({reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, z)) {
      z.resize(in.ConsumeBool() ? z.size() : in.ConsumeIntegralInRange<std::size_t>(0, z.size()));
      payload.assign(z.begin(), z.end());
      rsv = protocol::kRsv1;
    }
  }
  if (in.ConsumeProbability<float>() < 0.05f) {  // unmasked: the server must close 1002
    std::vector<std::uint8_t> out(protocol::frame_header_len(len) + len);
    out.resize(protocol::encode_server_frame(
        out, opcode, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, fin, rsv));
    return out;
  }
  protocol::MaskKey mask{in.ConsumeIntegral<std::uint8_t>(), 0x5a, in.ConsumeIntegral<std::uint8_t>(), 0xa5};
  return engine::test::client_frame(opcode, payload, fin, rsv, mask);
}

// Server-side publishes carry "feed <n> " and a filler: each client must see them in n order.
void publish_from_server(ShardDriver& d, FuzzedDataProvider& in, std::uint64_t& seq) {
  std::uint32_t topic = d.group().topics.find(in.ConsumeBool() ? "" : "room");
  if (topic == engine::kNoTopic) return;
  std::string text = "feed " + std::to_string(++seq) + " ";
  text.append(in.ConsumeIntegralInRange<std::size_t>(0, 1500), 'x');  // some past the 1 KiB combine limit
  engine::Frame* f = d.shard().frames().acquire(protocol::frame_header_len(text.size()) + text.size());
  if (f == nullptr) return;
  f->len = static_cast<std::uint32_t>(protocol::encode_server_frame(
      {f->bytes(), f->capacity}, protocol::Opcode::text,
      {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}));
  d.shard().publish(topic, f);
  d.settle();
}

// Feed messages each room member received, in order, with none repeated (echo clients and
// clients whose request the script wrote are skipped: they may send "feed" text themselves).
void check_feed_order(const ShardDriver& d) {
  for (const ShardDriver::Client& c : d.clients()) {
    if (c.path != "/" && c.path != "/room") continue;
    std::uint64_t last = 0;
    for (const auto& m : c.in.messages()) {
      if (m.op != protocol::Opcode::text || m.payload.rfind("feed ", 0) != 0) continue;
      std::uint64_t n = std::strtoull(m.payload.c_str() + 5, nullptr, 10);
      if (n <= last) broken("feed " + std::to_string(n) + " after " + std::to_string(last) + " (reordered or repeated)");
      last = n;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  engine::set_log_level(engine::LogLevel::error);  // rejected handshakes are expected here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  ShardDriver d(config_from(in.ConsumeIntegral<std::uint8_t>()));
  if (!d.init_error().empty()) broken("init: " + d.init_error());
  std::uint64_t feed_seq = 0;
  static const char* const kPaths[] = {"/", "/room", "/echo", "/healthz", "/metrics", "/a/b", "/favicon.ico"};

  for (int step = 0; step < 300 && in.remaining_bytes() > 0 && d.running(); ++step) {
    std::size_t n = d.clients().size();
    std::uint8_t action = in.ConsumeIntegralInRange<std::uint8_t>(0, 13);
    if (n == 0 && action > 1) action = 0;
    std::size_t c = n == 0 ? 0 : in.ConsumeIntegralInRange<std::size_t>(0, n - 1);
    int fd = n == 0 ? -1 : d.client(c).fd;
    switch (action) {
      case 0: {  // an index past the paths: the same path, offering permessage-deflate
        const std::size_t k = in.ConsumeIntegralInRange<std::size_t>(0, 2 * std::size(kPaths) - 1);
        d.connect_ws(kPaths[k % std::size(kPaths)], k >= std::size(kPaths));
        break;
      }
      case 1: d.connect(); break;  // the script writes the request itself
      case 2: d.send(c, in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(1, 400))); break;
      case 3:
      case 4: {  // one frame, in one segment or split in two
        std::vector<std::uint8_t> f = frame_from(in);
        std::size_t cut = in.ConsumeIntegralInRange<std::size_t>(0, f.size());
        d.send(c, std::span<const std::uint8_t>(f).first(cut));
        d.send(c, std::span<const std::uint8_t>(f).subspan(cut));
        break;
      }
      case 5: d.deliver(c); break;
      case 6: d.deliver(c, in.ConsumeIntegralInRange<std::size_t>(0, 40)); break;
      case 7:
        d.io().fail_send(fd, in.ConsumeBool() ? EAGAIN : EPIPE);
        d.settle();
        break;
      case 8: d.eof(c); break;
      case 9: d.reset(c); break;
      case 10: d.advance(in.ConsumeIntegralInRange<std::uint64_t>(1, 2500)); break;
      case 11: publish_from_server(d, in, feed_seq); break;
      case 12: d.deliver_all(); break;
      case 13:
        if (in.ConsumeProbability<float>() < 0.2f) {
          d.group().stopping.store(true);
          d.settle();
        }
        break;
      default: break;
    }
    if (std::string v = d.violation(); !v.empty()) broken(v);
    check_feed_order(d);
  }

  if (!d.running()) return 0;  // stopped: whatever outlived the drain deadline is dropped
  // Every peer leaves (its bytes read, then its FIN); then nothing may be left behind.
  for (int round = 0; round < 3; ++round) {
    d.deliver_all();
    for (std::size_t c = 0; c < d.clients().size(); ++c) d.eof(c);
    d.advance(1000);
  }
  if (std::string v = d.violation(); !v.empty()) broken(v);
  if (d.shard().live_connections() != 0) broken("connections left after every peer closed");
  if (d.io().buffers_in_use() != 0) broken("receive buffers never recycled");
  if (d.shard().leases_outstanding() != 0) broken("frame leases outstanding after every peer closed");
  return 0;
}
