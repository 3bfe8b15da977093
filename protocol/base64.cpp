#include "protocol/base64.hpp"

#include <array>

namespace ringcast::protocol {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kBad = 0xff;

using Table = std::array<std::uint8_t, 256>;
constexpr Table decode_table(std::string_view alphabet) {
  Table t{};
  t.fill(kBad);
  for (std::size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}
constexpr Table kDecode = decode_table(kAlphabet);
constexpr Table kUrlDecode = decode_table(kUrlAlphabet);

[[nodiscard]] std::uint8_t sextet(char c) noexcept { return kDecode[static_cast<unsigned char>(c)]; }

}  // namespace

std::size_t base64_encode(std::span<const std::uint8_t> in, std::span<char> out) noexcept {
  const std::size_t need = base64_encoded_size(in.size());
  if (out.size() < need) return 0;
  std::size_t o = 0, i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest != 0) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (rest == 2 ? std::uint32_t{in[i + 1]} << 8 : 0u);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

std::size_t base64_decode(std::string_view in, std::span<std::uint8_t> out) noexcept {
  if (in.size() % 4 != 0) return kBase64Invalid;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  const std::size_t n = in.size() / 4 * 3 - pad;
  if (out.size() < n) return kBase64Invalid;
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const std::size_t data = last ? 4 - pad : 4;  // '=' anywhere else is rejected by sextet()
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t s = k < data ? sextet(in[i + k]) : 0;
      if (s == kBad) return kBase64Invalid;
      v = (v << 6) | s;
    }
    // Canonical form: the bits dropped by padding must be zero.
    if (last && ((pad == 2 && (v & 0xffff) != 0) || (pad == 1 && (v & 0xff) != 0))) return kBase64Invalid;
    out[o++] = static_cast<std::uint8_t>(v >> 16);
    if (data > 2) out[o++] = static_cast<std::uint8_t>(v >> 8);
    if (data > 3) out[o++] = static_cast<std::uint8_t>(v);
  }
  return o;
}

std::size_t base64url_encode(std::span<const std::uint8_t> in, std::span<char> out) noexcept {
  std::size_t n = base64_encode(in, out);
  for (std::size_t i = 0; i < n; ++i) out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
  while (n > 0 && out[n - 1] == '=') --n;
  return n;
}

std::size_t base64url_decode(std::string_view in, std::span<std::uint8_t> out) noexcept {
  const std::size_t rest = in.size() % 4;  // 2 or 3 trailing characters carry 1 or 2 bytes
  if (rest == 1) return kBase64Invalid;
  const std::size_t n = base64url_decoded_size(in.size());
  if (out.size() < n) return kBase64Invalid;
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const std::size_t chars = in.size() - i < 4 ? rest : 4;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t s = k < chars ? kUrlDecode[static_cast<unsigned char>(in[i + k])] : 0;
      if (s == kBad) return kBase64Invalid;
      v = (v << 6) | s;
    }
    if ((chars == 2 && (v & 0xffff) != 0) || (chars == 3 && (v & 0xff) != 0)) return kBase64Invalid;
    out[o++] = static_cast<std::uint8_t>(v >> 16);
    if (chars > 2) out[o++] = static_cast<std::uint8_t>(v >> 8);
    if (chars > 3) out[o++] = static_cast<std::uint8_t>(v);
  }
  return o;
}

}  // namespace ringcast::protocol
