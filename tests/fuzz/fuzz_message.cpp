// libFuzzer target for MessageReader. Input: 4 config bytes (rules and split seed), then
// the byte stream. The stream is decoded whole and again in pieces whose sizes derive
// from the seed; both must agree, every call must keep the next() contract, and the
// messages that came out must survive a client and a server encode/decode round trip
// (with their RSV bits: a message that has some is not UTF-8 checked by the reader).
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "protocol/close.hpp"
#include "protocol/frame.hpp"
#include "protocol/message.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol;
using Bytes = std::vector<std::uint8_t>;

struct Msg {
  EventKind kind;
  Opcode opcode;
  Bytes payload;
  std::uint16_t close_code;
  CloseCode error;
  std::uint8_t rsv;  // a data message's RSV bits (its first frame's)
  bool operator==(const Msg&) const = default;
};

struct SplitRng {
  std::uint32_t state;
  std::size_t next_size() noexcept {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    static constexpr std::size_t kScales[] = {1, 3, 16, 200, 5000};
    return 1 + state % kScales[(state >> 24) % 5];
  }
};

// Decodes `stream` fed in pieces (whole when rng is null); checks the call contract and
// returns the completed messages, control frames and the final error in arrival order.
std::vector<Msg> decode(const Bytes& stream, const MessageRules& rules, SplitRng* rng) {
  MessageReader reader(rules);
  std::vector<Msg> out;
  Msg cur{EventKind::data, Opcode::text, {}, 0, CloseCode::none, 0};
  bool open = false;
  Bytes piece;
  for (std::size_t at = 0; at < stream.size() || (at == 0 && stream.empty());) {
    const std::size_t n = rng ? std::min(rng->next_size(), stream.size() - at) : stream.size();
    piece.assign(stream.begin() + static_cast<long>(at), stream.begin() + static_cast<long>(at + n));
    at += n;
    std::span<std::uint8_t> rest(piece);
    for (;;) {
      const Event ev = reader.next(rest);
      FUZZ_CHECK(ev.consumed <= rest.size());
      if (ev.kind == EventKind::need_more) {
        FUZZ_CHECK(ev.consumed == rest.size());
        break;
      }
      FUZZ_CHECK(ev.consumed > 0);
      switch (ev.kind) {
        case EventKind::data:
          FUZZ_CHECK(ev.payload.empty() ||
                     (ev.payload.data() >= rest.data() && ev.payload.data() + ev.payload.size() <= rest.data() + ev.consumed));
          FUZZ_CHECK(ev.first == !open);
          FUZZ_CHECK(ev.message_opcode == Opcode::text || ev.message_opcode == Opcode::binary);
          if (ev.first) cur = Msg{EventKind::data, ev.message_opcode, {}, 0, CloseCode::none, ev.message_rsv};
          FUZZ_CHECK(ev.message_opcode == cur.opcode);
          cur.payload.insert(cur.payload.end(), ev.payload.begin(), ev.payload.end());
          FUZZ_CHECK(cur.payload.size() <= rules.max_message);
          open = !ev.last;
          FUZZ_CHECK(reader.in_message() == open);
          if (ev.last) {
            // A message with RSV bits (compressed) is the caller's to check once decoded.
            if (cur.opcode == Opcode::text && ev.message_rsv == 0) {
              FUZZ_CHECK(is_valid_utf8(cur.payload.data(), cur.payload.size()));
            }
            out.push_back(cur);
          }
          break;
        case EventKind::ping:
        case EventKind::pong:
          FUZZ_CHECK(ev.payload.size() <= kMaxControlPayload);
          out.push_back(Msg{ev.kind, Opcode::text, Bytes(ev.payload.begin(), ev.payload.end()), 0, CloseCode::none, 0});
          break;
        case EventKind::close:
          FUZZ_CHECK(ev.close_code == 1005 || is_valid_close_code(ev.close_code));
          FUZZ_CHECK(reader.finished());
          out.push_back(Msg{ev.kind, Opcode::text, Bytes(ev.payload.begin(), ev.payload.end()), ev.close_code,
                            CloseCode::none, 0});
          break;
        case EventKind::error:
          FUZZ_CHECK(ev.error_code == CloseCode::protocol_error || ev.error_code == CloseCode::invalid_payload ||
                     ev.error_code == CloseCode::message_too_big);
          FUZZ_CHECK(ev.error_reason != nullptr && ev.error_reason[0] != '\0');
          FUZZ_CHECK(reader.finished() && ev.consumed == rest.size());
          out.push_back(Msg{ev.kind, Opcode::text, {}, 0, ev.error_code, 0});
          break;
        case EventKind::need_more:
          break;
      }
      rest = rest.subspan(ev.consumed);
    }
    if (!piece.empty()) std::memset(piece.data(), 0xA5, piece.size());  // the reader must not keep pointers into it
    if (stream.empty()) break;
  }
  return out;
}

// Re-encodes decoded messages (fragmented by `rng`), as a client or as a server would.
Bytes encode(const std::vector<Msg>& msgs, bool as_client, SplitRng& rng) {
  Bytes out;
  auto emit = [&](Opcode op, const std::uint8_t* p, std::size_t n, bool fin, std::uint8_t rsv = 0) {
    const std::size_t at = out.size();
    out.resize(at + frame_header_len(n, as_client) + n);
    const std::span<std::uint8_t> dst(out.data() + at, out.size() - at);
    const std::span<const std::uint8_t> src(p, n);
    const MaskKey key{static_cast<std::uint8_t>(rng.state), static_cast<std::uint8_t>(rng.state >> 8),
                      static_cast<std::uint8_t>(rng.state >> 16), static_cast<std::uint8_t>(rng.state >> 24)};
    const std::size_t written =
        as_client ? encode_client_frame(dst, op, src, key, fin, rsv) : encode_server_frame(dst, op, src, fin, rsv);
    FUZZ_CHECK(written == dst.size());
  };
  for (const Msg& m : msgs) {
    if (m.kind == EventKind::error) break;
    if (m.kind != EventKind::data) {
      const Opcode op = m.kind == EventKind::ping ? Opcode::ping : m.kind == EventKind::pong ? Opcode::pong : Opcode::close;
      emit(op, m.payload.data(), m.payload.size(), true);
      continue;
    }
    std::size_t at = 0;
    do {
      const std::size_t n = std::min(rng.next_size(), m.payload.size() - at);
      // RSV bits on the first frame only (RFC 7692 section 6).
      emit(at == 0 ? m.opcode : Opcode::continuation, m.payload.data() + at, n, at + n == m.payload.size(),
           at == 0 ? m.rsv : 0);
      at += n;
    } while (at < m.payload.size());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  MessageRules rules;
  rules.require_mask = (data[0] & 0x1) == 0;
  rules.allowed_rsv = static_cast<std::uint8_t>((data[0] >> 1) & 0x7);
  static constexpr std::uint64_t kMaxMessage[] = {0, 1, 125, 4096, 16u << 20};
  rules.max_message = kMaxMessage[(data[0] >> 4) % 5];
  SplitRng rng{static_cast<std::uint32_t>(data[1] | data[2] << 8 | data[3] << 16) | 1u};
  const Bytes stream(data + 4, data + size);

  const std::vector<Msg> whole = decode(stream, rules, nullptr);
  const std::vector<Msg> split = decode(stream, rules, &rng);
  FUZZ_CHECK(whole == split);

  // What was accepted must be accepted again after re-encoding, from either side.
  std::vector<Msg> accepted;
  for (const Msg& m : whole) {
    if (m.kind != EventKind::error) accepted.push_back(m);
  }
  MessageRules roundtrip = rules;  // the same RSV bits allowed: the messages keep theirs
  roundtrip.require_mask = true;
  FUZZ_CHECK(decode(encode(accepted, true, rng), roundtrip, &rng) == accepted);
  roundtrip.require_mask = false;
  FUZZ_CHECK(decode(encode(accepted, false, rng), roundtrip, &rng) == accepted);
  return 0;
}
