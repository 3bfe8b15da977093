// Frame header decode per length form, and MessageReader over a receive buffer full of
// small masked frames (chat/danmaku-like) beside a memcpy of the same buffer: the
// reader's figure is read as a ratio to that memcpy, measured in the same run.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "protocol/frame.hpp"
#include "protocol/message.hpp"

namespace {

using namespace ringcast::protocol;
using Bytes = std::vector<std::uint8_t>;

void BM_DecodeHeader(benchmark::State& state) {
  const auto payload_len = static_cast<std::uint64_t>(state.range(0));
  std::uint8_t header[kMaxHeaderLen];
  const std::size_t n = encode_client_header(header, Opcode::binary, payload_len, MaskKey{1, 2, 3, 4});
  const FrameRules rules;
  FrameHeader out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(header);
    const FrameParse r = decode_frame_header(std::span<const std::uint8_t>(header, n), rules, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(payload_len < 126 ? "7-bit length" : payload_len <= 0xFFFF ? "16-bit length" : "64-bit length");
}
BENCHMARK(BM_DecodeHeader)->Arg(100)->Arg(1000)->Arg(100000);

// `count` masked frames of `payload` bytes each: text from a mixed ASCII/CJK alphabet
// (bullet comments), or binary.
Bytes make_stream(std::size_t count, std::size_t payload, bool text) {
  static constexpr std::string_view kText = "gg \xE5\xBC\xB9\xE5\xB9\x95 nice 666 \xF0\x9F\x98\x82 lol ";
  Bytes stream;
  Bytes body;
  for (std::size_t i = 0; i < count; ++i) {
    body.clear();
    while (body.size() < payload) {
      if (text) {
        body.insert(body.end(), kText.begin(), kText.end());
      } else {
        body.push_back(static_cast<std::uint8_t>(i * 31 + body.size()));
      }
    }
    if (text) {
      // Trim to `payload` bytes without cutting a code point.
      std::size_t cut = payload;
      while (cut > 0 && (body[cut] & 0xC0) == 0x80) --cut;
      body.resize(cut);
    } else {
      body.resize(payload);
    }
    const MaskKey key{static_cast<std::uint8_t>(i), 0x5A, static_cast<std::uint8_t>(i >> 8), 0xC3};
    const std::size_t at = stream.size();
    stream.resize(at + frame_header_len(body.size(), true) + body.size());
    const std::size_t n = encode_client_frame(std::span<std::uint8_t>(stream.data() + at, stream.size() - at),
                                              text ? Opcode::text : Opcode::binary, body, key);
    stream.resize(at + n);
  }
  return stream;
}

constexpr std::size_t kFrames = 1024;

// Source and destination in one allocation, 2 KiB apart modulo 4 KiB: with addresses
// left to the allocator, memcpy speed swung 5x between runs (4K aliasing).
struct CopyPair {
  Bytes storage;
  std::uint8_t* src = nullptr;
  std::uint8_t* dst = nullptr;
  std::size_t len = 0;

  explicit CopyPair(const Bytes& pristine) : storage(2 * pristine.size() + 3 * 4096), len(pristine.size()) {
    const auto base = reinterpret_cast<std::uintptr_t>(storage.data());
    const std::uintptr_t aligned = (base + 4095) & ~std::uintptr_t{4095};
    src = storage.data() + (aligned - base);
    const std::size_t gap = (len + 4095) / 4096 * 4096 + 2048;
    dst = src + gap;
    std::memcpy(src, pristine.data(), len);
  }
};

// Baseline: the bytes moved per iteration of BM_MessageReader's refresh copy.
void BM_MemcpyStream(benchmark::State& state) {
  CopyPair buf(make_stream(kFrames, static_cast<std::size_t>(state.range(0)), state.range(1) != 0));
  for (auto _ : state) {
    std::memcpy(buf.dst, buf.src, buf.len);
    benchmark::DoNotOptimize(buf.dst);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.len));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kFrames));
}

// Each iteration restores the masked bytes (unmasking is in place), then decodes them
// all; subtract BM_MemcpyStream for the reader's own cost.
void BM_MessageReader(benchmark::State& state) {
  CopyPair buf(make_stream(kFrames, static_cast<std::size_t>(state.range(0)), state.range(1) != 0));
  MessageReader reader;
  std::size_t messages = 0;
  for (auto _ : state) {
    std::memcpy(buf.dst, buf.src, buf.len);
    std::span<std::uint8_t> rest(buf.dst, buf.len);
    for (;;) {
      const Event ev = reader.next(rest);
      rest = rest.subspan(ev.consumed);
      if (ev.kind != EventKind::data) break;
      messages += ev.last;
      benchmark::DoNotOptimize(ev.payload.data());
    }
  }
  if (messages != state.iterations() * kFrames || reader.finished()) state.SkipWithError("stream did not decode");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.len));
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
}

// Args: payload bytes per frame, text (1) or binary (0).
void stream_args(benchmark::internal::Benchmark* b) {
  for (const int text : {1, 0}) {
    for (const int payload : {16, 64, 256}) b->Args({payload, text});
  }
}
BENCHMARK(BM_MemcpyStream)->Apply(stream_args);
BENCHMARK(BM_MessageReader)->Apply(stream_args);

}  // namespace

BENCHMARK_MAIN();
