// UTF-8 validation at each SIMD level the CPU has, scalar included as the baseline of
// the same run, on three 64 KiB texts: chat ASCII, danmaku-like mixed Chinese/ASCII/emoji
// and emoji-heavy (4-byte) text; and the streaming validator on one 40-60 byte message,
// or one 5-25 byte phrase, per call.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/simd.hpp"
#include "protocol/utf8.hpp"

namespace {

using ringcast::protocol::SimdLevel;

constexpr std::size_t kTextBytes = 64 * 1024;

// Cycles through `pieces` (with a simple LCG picking the order) until `bytes` long,
// never cutting a piece, so the text stays valid.
std::string build(const std::vector<std::string_view>& pieces, std::size_t bytes) {
  std::string out;
  std::uint32_t x = 12345;
  while (true) {
    x = x * 1103515245u + 12345u;
    const std::string_view p = pieces[(x >> 16) % pieces.size()];
    if (out.size() + p.size() > bytes) break;
    out += p;
  }
  return out;
}

std::string ascii_text() {
  return build({"hello everyone ", "lol ", "GG wp! ", "12345 ", "nice play :) ", "is this live? ",
                "666 ", "first!!! ", "https://example.com/watch?v=42 ", "ok\n"},
               kTextBytes);
}

std::string danmaku_text() {
  return build({"前方高能！", "哈哈哈哈哈", "awsl ", "666 ", "这波操作太秀了", "主播加油💪", "弹幕护体",
                "2333 ", "火钳刘明", "打卡+1 ", "太好听了吧😭", "第一！", "原来如此。", "？？？",
                "【高能预警】", "12:34 ", "泪目了🥺", "AI 生成的吗?", "下次一定 "},
               kTextBytes);
}

std::string emoji_text() {
  return build({"😀", "😂", "🤣", "🥺", "👍", "🔥", "💯", "🎉", "🚀", "😭", "👀", "🙏", "𝄞", "𠀀", "!"},
               kTextBytes);
}

const auto* bytes_of(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

void bench_text(benchmark::State& state, SimdLevel level, const std::string* text) {
  if (!ringcast::protocol::select_simd(level)) {
    state.SkipWithError("level not supported");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(ringcast::protocol::is_valid_utf8(bytes_of(*text), text->size()));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text->size()));
}

// The streaming validator on one short message at a time, as the engine uses it.
void bench_messages(benchmark::State& state, SimdLevel level, const std::vector<std::string>* messages) {
  if (!ringcast::protocol::select_simd(level)) {
    state.SkipWithError("level not supported");
    return;
  }
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& m : *messages) {
      ringcast::protocol::Utf8Validator v;
      benchmark::DoNotOptimize(v.feed(bytes_of(m), m.size()) && v.finish());
      bytes += m.size();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

}  // namespace

int main(int argc, char** argv) {
  static const std::string ascii = ascii_text();
  static const std::string danmaku = danmaku_text();
  static const std::string emoji = emoji_text();
  static std::vector<std::string> messages;
  for (std::size_t i = 0; i + 60 <= danmaku.size() && messages.size() < 256; i += 60) {
    // Cut at code point boundaries: 40..60 bytes of danmaku each.
    std::size_t end = i + 60;
    while ((static_cast<unsigned char>(danmaku[end]) & 0xC0) == 0x80) --end;
    std::size_t begin = i;
    while ((static_cast<unsigned char>(danmaku[begin]) & 0xC0) == 0x80) ++begin;
    messages.push_back(danmaku.substr(begin, end - begin));
  }
  // Single phrases (5..25 bytes): the typical whole bullet comment.
  static std::vector<std::string> phrases;
  for (std::size_t i = 0, start = 0; i < danmaku.size() && phrases.size() < 256; ++i) {
    const auto b = static_cast<unsigned char>(danmaku[i]);
    if (i > start && (b == ' ' || b == 0xEF || b == 0xF0) && (i - start) >= 5) {
      phrases.push_back(danmaku.substr(start, i - start));
      start = i;
    }
  }
  for (const SimdLevel level : {SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512}) {
    if (!ringcast::protocol::simd_supported(level)) continue;
    const std::string lv(ringcast::protocol::simd_name(level));
    benchmark::RegisterBenchmark(("utf8/ascii/" + lv).c_str(), bench_text, level, &ascii);
    benchmark::RegisterBenchmark(("utf8/danmaku/" + lv).c_str(), bench_text, level, &danmaku);
    benchmark::RegisterBenchmark(("utf8/emoji/" + lv).c_str(), bench_text, level, &emoji);
    benchmark::RegisterBenchmark(("utf8/danmaku_messages/" + lv).c_str(), bench_messages, level, &messages);
    benchmark::RegisterBenchmark(("utf8/danmaku_phrases/" + lv).c_str(), bench_messages, level, &phrases);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
