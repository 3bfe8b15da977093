// UTF-8 validation at every SIMD level the CPU has, against an independent decoder that
// computes code points (not the Table 3-7 automaton the library uses): RFC 3629 boundary
// cases at every offset, random valid text, random mutations, streaming splits, the exact
// feed on which a bad byte fails, and reads flush against a guard page.
#include "protocol/utf8.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol/simd.hpp"
#include "protocol/simd_level_fixture.hpp"

namespace ringcast::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---- independent oracle ---------------------------------------------------------------

bool oracle_valid(const Bytes& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t b = s[i];
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if ((b & 0xE0) == 0xC0) {
      n = 2, cp = b & 0x1Fu, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3, cp = b & 0x0Fu, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4, cp = b & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Some continuation of at most 3 bytes makes `s` valid. The candidate bytes include both
// ends of every sub-range the rules care about (80-8F, 90-9F, A0-BF).
bool oracle_valid_prefix(const Bytes& s) {
  static constexpr std::uint8_t kCands[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};
  if (oracle_valid(s)) return true;
  for (std::size_t extra = 1; extra <= 3; ++extra) {
    std::size_t combos = 1;
    for (std::size_t k = 0; k < extra; ++k) combos *= std::size(kCands);
    for (std::size_t c = 0; c < combos; ++c) {
      Bytes t = s;
      for (std::size_t k = 0, r = c; k < extra; ++k, r /= std::size(kCands)) t.push_back(kCands[r % std::size(kCands)]);
      if (oracle_valid(t)) return true;
    }
  }
  return false;
}

// Index of the byte after which no continuation can be valid, or s.size() if none.
std::size_t oracle_first_bad(const Bytes& s) {
  for (std::size_t k = 1; k <= s.size(); ++k) {
    if (!oracle_valid_prefix(Bytes(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k)))) return k - 1;
  }
  return s.size();
}

void append_code_point(Bytes& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<std::uint8_t>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<std::uint8_t>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<std::uint8_t>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<std::uint8_t>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<std::uint8_t>(0x80 | (cp & 0x3F)));
  }
}

// Random scalar values, weighted across the four encoded lengths.
Bytes random_text(std::mt19937& rng, std::size_t code_points) {
  Bytes out;
  for (std::size_t i = 0; i < code_points; ++i) {
    std::uint32_t cp = 0;
    switch (rng() % 4) {
      case 0: cp = rng() % 0x80; break;
      case 1: cp = 0x80 + rng() % (0x800 - 0x80); break;
      case 2:
        do {
          cp = 0x800 + rng() % (0x10000 - 0x800);
        } while (cp >= 0xD800 && cp <= 0xDFFF);
        break;
      default: cp = 0x10000 + rng() % (0x110000 - 0x10000); break;
    }
    append_code_point(out, cp);
  }
  return out;
}

// ---- the boundary set -----------------------------------------------------------------

struct Case {
  const char* name;
  Bytes bytes;
  bool valid;
};

std::vector<Case> boundary_cases() {
  std::vector<Case> c = {
      {"empty", {}, true},
      {"nul", {0x00}, true},
      {"del", {0x7F}, true},
      {"min 2-byte U+0080", {0xC2, 0x80}, true},
      {"max 2-byte U+07FF", {0xDF, 0xBF}, true},
      {"min 3-byte U+0800", {0xE0, 0xA0, 0x80}, true},
      {"max 3-byte U+FFFF", {0xEF, 0xBF, 0xBF}, true},
      {"noncharacter U+FFFE", {0xEF, 0xBF, 0xBE}, true},
      {"min 4-byte U+10000", {0xF0, 0x90, 0x80, 0x80}, true},
      {"max U+10FFFF", {0xF4, 0x8F, 0xBF, 0xBF}, true},
      {"U+D7FF before surrogates", {0xED, 0x9F, 0xBF}, true},
      {"U+E000 after surrogates", {0xEE, 0x80, 0x80}, true},
      {"euro sign", {0xE2, 0x82, 0xAC}, true},
      {"overlong 2-byte C0 80", {0xC0, 0x80}, false},
      {"overlong 2-byte C1 BF", {0xC1, 0xBF}, false},
      {"overlong 3-byte E0 80 80", {0xE0, 0x80, 0x80}, false},
      {"overlong 3-byte E0 9F BF", {0xE0, 0x9F, 0xBF}, false},
      {"overlong 4-byte F0 80 80 80", {0xF0, 0x80, 0x80, 0x80}, false},
      {"overlong 4-byte F0 8F BF BF", {0xF0, 0x8F, 0xBF, 0xBF}, false},
      {"surrogate D800", {0xED, 0xA0, 0x80}, false},
      {"surrogate DBFF", {0xED, 0xAF, 0xBF}, false},
      {"surrogate DC00", {0xED, 0xB0, 0x80}, false},
      {"surrogate DFFF", {0xED, 0xBF, 0xBF}, false},
      {"surrogate pair", {0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}, false},
      {"U+110000", {0xF4, 0x90, 0x80, 0x80}, false},
      {"F4 BF BF BF", {0xF4, 0xBF, 0xBF, 0xBF}, false},
      {"lone continuation 80", {0x80}, false},
      {"lone continuation BF", {0xBF}, false},
      {"two continuations", {0x80, 0x80}, false},
      {"extra continuation after 2-byte", {0xC2, 0x80, 0x80}, false},
      {"extra continuation after 3-byte", {0xE2, 0x82, 0xAC, 0x80}, false},
      {"extra continuation after 4-byte", {0xF0, 0x90, 0x80, 0x80, 0x80}, false},
      {"truncated 2-byte", {0xC2}, false},
      {"truncated 3-byte after 1", {0xE2}, false},
      {"truncated 3-byte after 2", {0xE2, 0x82}, false},
      {"truncated 4-byte after 1", {0xF0}, false},
      {"truncated 4-byte after 2", {0xF0, 0x90}, false},
      {"truncated 4-byte after 3", {0xF4, 0x8F, 0xBF}, false},
      {"lead then ASCII", {0xC2, 0x41}, false},
      {"3-byte lead, cont, ASCII", {0xE2, 0x82, 0x41}, false},
      {"4-byte lead, 2 conts, lead", {0xF0, 0x90, 0x80, 0xC2, 0x80}, false},
      {"E0 80 fails early", {0xE0, 0x80}, false},
      {"F4 90 fails early", {0xF4, 0x90}, false},
      {"ED A0 fails early", {0xED, 0xA0}, false},
      {"F0 8F fails early", {0xF0, 0x8F}, false},
  };
  for (unsigned b = 0xF5; b <= 0xFF; ++b) {
    c.push_back({"F5..FF alone", {static_cast<std::uint8_t>(b)}, false});
    c.push_back({"F5..FF with continuations", {static_cast<std::uint8_t>(b), 0x80, 0x80, 0x80}, false});
    c.push_back({"F5..FF with 9x continuations", {static_cast<std::uint8_t>(b), 0x90, 0x80, 0x80}, false});
  }
  return c;
}

std::string hex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s;
  for (const std::uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
    s += ' ';
  }
  return s;
}

// Valid text around a case: ASCII or 3-byte CJK so SIMD blocks see both block kinds.
Bytes embed(const Bytes& prefix, const Bytes& core, const Bytes& suffix) {
  Bytes t = prefix;
  t.insert(t.end(), core.begin(), core.end());
  t.insert(t.end(), suffix.begin(), suffix.end());
  return t;
}
Bytes ascii(std::size_t n) { return Bytes(n, 'a'); }
Bytes cjk(std::size_t chars) {
  Bytes t;
  for (std::size_t i = 0; i < chars; ++i) append_code_point(t, 0x4E2D + static_cast<std::uint32_t>(i % 64));
  return t;
}

bool stream_whole(const Bytes& t) {
  Utf8Validator v;
  const bool fed = v.feed(t.data(), t.size());
  return fed && v.finish();
}

// ---- tests ----------------------------------------------------------------------------

TEST(Utf8Oracle, AgreesWithTheBoundaryTable) {
  for (const Case& c : boundary_cases()) {
    EXPECT_EQ(oracle_valid(c.bytes), c.valid) << c.name;
    EXPECT_EQ(is_valid_utf8_scalar(c.bytes.data(), c.bytes.size()), c.valid) << c.name;
  }
}

class Utf8Level : public SimdLevelTest {};

TEST_P(Utf8Level, BoundaryCasesAtEveryOffset) {
  for (const Case& c : boundary_cases()) {
    for (std::size_t pad = 0; pad <= 70; ++pad) {
      for (const Bytes& t : {embed(ascii(pad), c.bytes, {}), embed(ascii(pad), c.bytes, ascii(70 - pad)),
                             embed(cjk(pad), c.bytes, {}), embed(cjk(pad / 3), c.bytes, cjk(pad))}) {
        const bool want = oracle_valid(t);
        ASSERT_EQ(is_valid_utf8(t.data(), t.size()), want) << c.name << " pad " << pad << ": " << hex(t);
        ASSERT_EQ(stream_whole(t), want) << c.name << " pad " << pad;
      }
    }
  }
}

TEST_P(Utf8Level, AcceptsRandomValidText) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    const Bytes t = random_text(rng, rng() % 700);
    ASSERT_TRUE(is_valid_utf8(t.data(), t.size())) << hex(t);
    ASSERT_TRUE(stream_whole(t));
    // Random chunking must not matter either.
    Utf8Validator v;
    for (std::size_t i = 0; i < t.size();) {
      const std::size_t n = std::min<std::size_t>(t.size() - i, rng() % 80);
      ASSERT_TRUE(v.feed(t.data() + i, n));
      i += n;
    }
    ASSERT_TRUE(v.finish());
  }
  const Bytes big = random_text(rng, 300'000);
  EXPECT_TRUE(is_valid_utf8(big.data(), big.size()));
  EXPECT_TRUE(stream_whole(big));
}

TEST_P(Utf8Level, RandomMutationsAgreeWithTheOracle) {
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    Bytes t = random_text(rng, 20 + rng() % 120);
    for (unsigned m = 1 + rng() % 3; m > 0; --m) {
      t[rng() % t.size()] = static_cast<std::uint8_t>(rng());
    }
    if (rng() % 4 == 0) t.resize(rng() % (t.size() + 1));
    const bool want = oracle_valid(t);
    ASSERT_EQ(is_valid_utf8_scalar(t.data(), t.size()), want) << hex(t);
    ASSERT_EQ(is_valid_utf8(t.data(), t.size()), want) << hex(t);
    const std::size_t split = rng() % (t.size() + 1);
    Utf8Validator v;
    const bool a = v.feed(t.data(), split);
    const bool b = v.feed(t.data() + split, t.size() - split);
    ASSERT_EQ(a && b && v.finish(), want) << hex(t) << " split " << split;
  }
}

// Every sample, split at every byte and fed a byte at a time: the same answer as whole,
// and the feed that carries the first impossible byte is exactly the one that fails.
TEST_P(Utf8Level, StreamingFailsOnTheExactFeed) {
  for (const Case& c : boundary_cases()) {
    for (const Bytes& pad : {Bytes{}, ascii(5), cjk(13), ascii(64)}) {
      const Bytes t = embed(pad, c.bytes, {});
      const bool want = oracle_valid(t);
      const std::size_t bad = pad.size() + oracle_first_bad(c.bytes);  // t.size() if none
      for (std::size_t split = 0; split <= t.size(); ++split) {
        Utf8Validator v;
        const bool first = v.feed(t.data(), split);
        ASSERT_EQ(first, split <= bad) << c.name << " split " << split << ": " << hex(t);
        const bool second = v.feed(t.data() + split, t.size() - split);
        ASSERT_EQ(second, first && bad == t.size()) << c.name << " split " << split;
        ASSERT_EQ(v.failed(), bad < t.size());
        ASSERT_EQ(v.finish(), want) << c.name << " split " << split;
      }
      Utf8Validator v;
      for (std::size_t i = 0; i < t.size(); ++i) {
        ASSERT_EQ(v.feed(&t[i], 1), i < bad) << c.name << " byte " << i << ": " << hex(t);
      }
      ASSERT_EQ(v.finish(), want) << c.name;
      // Once failed, always failed; reset() starts over.
      if (!want) {
        const std::uint8_t ok = 'x';
        if (bad < t.size()) {
          ASSERT_FALSE(v.feed(&ok, 1));
        }
        v.reset();
        ASSERT_TRUE(v.feed(&ok, 1));
        ASSERT_TRUE(v.finish());
      }
    }
  }
}

TEST_P(Utf8Level, NeverReadsPastTheEnd) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* base = static_cast<std::uint8_t*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  std::mt19937 rng(9);
  const Bytes text = random_text(rng, 200);
  for (std::size_t len = 0; len <= 300 && len <= text.size(); ++len) {
    std::uint8_t* at = base + page - len;
    std::memcpy(at, text.data(), len);
    const bool want = oracle_valid(Bytes(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(len)));
    ASSERT_EQ(is_valid_utf8(at, len), want) << "len " << len;
    Utf8Validator v;
    ASSERT_EQ(v.feed(at, len) && v.finish(), want) << "len " << len;
  }
  munmap(map, 2 * page);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, Utf8Level,
                         ::testing::Values(SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512),
                         [](const ::testing::TestParamInfo<SimdLevel>& param) {
                           return std::string(simd_name(param.param));
                         });

}  // namespace
}  // namespace ringcast::protocol
