#include "protocol/fossil_delta.hpp"

#include <algorithm>
#include <bit>

namespace ringcast::protocol::fossil {
namespace {

constexpr std::size_t kBlock = 16;     // source blocks indexed, and the shortest copy made
constexpr unsigned kMaxCandidates = 64;  // source blocks tried per target position
constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";

void put_int(std::string& out, std::uint64_t v) {
  char buf[12];
  std::size_t n = 0;
  do {
    buf[n++] = kDigits[v & 63];
    v >>= 6;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}

int digit_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c == '_') return 36;
  if (c >= 'a' && c <= 'z') return c - 'a' + 37;
  if (c == '~') return 63;
  return -1;
}

[[nodiscard]] constexpr bool continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// An Adler-style sum over a kBlock-byte window that slides by one byte in O(1).
class RollingHash {
 public:
  explicit RollingHash(const char* w) noexcept {
    for (std::size_t i = 0; i < kBlock; ++i) {
      auto c = static_cast<unsigned char>(w[i]);
      a_ += c;
      b_ += static_cast<std::uint32_t>(kBlock - i) * c;
    }
  }
  void roll(char out, char in) noexcept {
    auto x = static_cast<unsigned char>(out), y = static_cast<unsigned char>(in);
    a_ = a_ - x + y;
    b_ = b_ - static_cast<std::uint32_t>(kBlock) * x + a_;
  }
  [[nodiscard]] std::uint32_t value() const noexcept { return (a_ & 0xFFFF) | (b_ << 16); }

 private:
  std::uint32_t a_ = 0, b_ = 0;
};

void literal(std::string& out, std::string_view bytes) {
  if (bytes.empty()) return;
  put_int(out, bytes.size());
  out += ':';
  out += bytes;
}

}  // namespace

std::uint32_t checksum(std::string_view bytes) noexcept {
  std::uint32_t sum[4] = {0, 0, 0, 0};
  std::size_t n = bytes.size(), i = 0;
  auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 4 <= n; i += 4) {
    for (std::size_t lane = 0; lane < 4; ++lane) sum[lane] += at(i + lane);
  }
  std::uint32_t r = sum[3] + (sum[2] << 8) + (sum[1] << 16) + (sum[0] << 24);
  // The last 1-3 bytes weigh as the first lanes of one more group.
  for (std::size_t lane = 0; i + lane < n; ++lane) r += at(i + lane) << (24 - 8 * lane);
  return r;
}

void DeltaEncoder::encode(std::string_view source, std::string_view target, std::string& out) {
  out.clear();
  put_int(out, target.size());
  out += '\n';
  const std::size_t blocks = source.size() / kBlock;
  std::size_t base = 0;  // the first target byte no command covers yet
  if (blocks != 0 && target.size() >= kBlock) {
    const unsigned bits = static_cast<unsigned>(std::bit_width(blocks * 2 - 1));
    const std::uint32_t shift = 32 - std::min(bits, 31u);
    auto slot = [shift](std::uint32_t h) { return (h * 2654435761u) >> shift; };
    heads_.assign(std::size_t{1} << (32 - shift), 0);
    chain_.assign(blocks, 0);
    for (std::size_t b = 0; b < blocks; ++b) {
      std::uint32_t h = slot(RollingHash(source.data() + b * kBlock).value());
      chain_[b] = heads_[h];
      heads_[h] = static_cast<std::uint32_t>(b + 1);
    }
    std::size_t i = 0;  // the window's start in the target
    RollingHash window(target.data());
    for (;;) {
      std::size_t best = 0, best_src = 0, best_tgt = 0;
      unsigned tries = 0;
      for (std::uint32_t c = heads_[slot(window.value())]; c != 0 && tries < kMaxCandidates; c = chain_[c - 1], ++tries) {
        std::size_t s = (c - 1) * kBlock;
        std::size_t fwd = 0, room = std::min(source.size() - s, target.size() - i);
        while (fwd < room && source[s + fwd] == target[i + fwd]) ++fwd;
        if (fwd < kBlock) continue;  // another window of the same hash
        std::size_t back = 0;
        while (back < i - base && back < s && source[s - back - 1] == target[i - back - 1]) ++back;
        if (back + fwd > best) {
          best = back + fwd;
          best_src = s - back;
          best_tgt = i - back;
        }
      }
      // Whole characters only: the literals around the copy stay valid UTF-8.
      while (best > 0 && continuation(target[best_tgt])) {
        ++best_tgt;
        ++best_src;
        --best;
      }
      while (best > 0 && best_tgt + best < target.size() && continuation(target[best_tgt + best])) --best;
      if (best >= kBlock) {
        literal(out, target.substr(base, best_tgt - base));
        put_int(out, best);
        out += '@';
        put_int(out, best_src);
        out += ',';
        base = i = best_tgt + best;
        if (i + kBlock > target.size()) break;
        window = RollingHash(target.data() + i);
        continue;
      }
      if (i + kBlock >= target.size()) break;
      window.roll(target[i], target[i + kBlock]);
      ++i;
    }
  }
  literal(out, target.substr(base));
  put_int(out, checksum(target));
  out += ';';
}

bool apply(std::string_view source, std::string_view delta, std::string& out, std::size_t max_size) {
  out.clear();
  std::size_t pos = 0;
  // One number: at least one digit, and no more than fit 60 bits.
  auto number = [&](std::uint64_t& v) {
    v = 0;
    std::size_t start = pos;
    for (int d; pos < delta.size() && (d = digit_value(static_cast<unsigned char>(delta[pos]))) >= 0; ++pos) {
      if (pos - start == 10) return false;
      v = (v << 6) | static_cast<std::uint64_t>(d);
    }
    return pos != start;
  };
  std::uint64_t size = 0;
  if (!number(size) || pos == delta.size() || delta[pos++] != '\n' || size > max_size) return false;
  out.reserve(size);
  while (pos < delta.size()) {
    std::uint64_t n = 0;
    if (!number(n) || pos == delta.size()) return false;
    switch (delta[pos++]) {
      case '@': {
        std::uint64_t from = 0;
        if (!number(from)) return false;
        if (pos < delta.size() && delta[pos++] != ',') return false;
        if (n > size - out.size() || from > source.size() || n > source.size() - from) return false;
        out.append(source.substr(from, n));
        break;
      }
      case ':':
        if (n > size - out.size() || n > delta.size() - pos) return false;
        out.append(delta.substr(pos, n));
        pos += n;
        break;
      case ';':
        return pos == delta.size() && out.size() == size && n == checksum(out);
      default:
        return false;
    }
  }
  return false;
}

}  // namespace ringcast::protocol::fossil
