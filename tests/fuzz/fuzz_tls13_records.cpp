// libFuzzer target for protocol::tls13::Records (the server's TLS 1.3 records after the
// hand-over). A client built from TrafficKeys seals what the input says: any inner content
// type, length and padding, KeyUpdates good and bad, raw garbage and bit flips in between.
// The stream reaches the server in pieces whose sizes come from the input, reassembled as
// TlsStream does; the server seals data back, which the client must open byte-exact.
// Invariants: until the first corruption or malformed record, every application data
// record arrives byte-exact; a failure is final and names an alert or the client's own;
// nothing crashes or reads out of bounds (ASan/UBSan).
//
// Input: a suite byte, then operations, each an op byte and its arguments.
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "protocol/tls13_records.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol::tls13;
using Bytes = std::vector<std::uint8_t>;


struct Input {
  const std::uint8_t* p;
  std::size_t left;
  std::uint8_t byte() {
    if (left == 0) return 0;
    --left;
    return *p++;
  }
  std::size_t u16() { return std::size_t{byte()} | std::size_t{byte()} << 8; }
  Bytes take(std::size_t n) {
    n = n < left ? n : left;
    Bytes b(p, p + n);
    p += n;
    left -= n;
    return b;
  }
};

struct Harness {
  Suite suite;
  Records server;
  TrafficKeys client_tx, client_rx;
  Bytes stream, partial;  // client -> server bytes not yet given; a record split across gives
  std::deque<Bytes> expected;  // application data sealed by the client, not yet read
  bool clean = true;           // no garbage or malformed record so far: data must match
  bool closed = false;
  std::vector<std::uint8_t> plain = std::vector<std::uint8_t>(kMaxInner);

  explicit Harness(Suite s) : suite(s) {
    std::size_t hash = s == Suite::aes_256_gcm_sha384 ? 48 : 32;
    Bytes c(hash, 0x11), sv(hash, 0x22);
    FUZZ_CHECK(server.init(s, c, sv, 0));
    FUZZ_CHECK(client_tx.init(s, c, true));
    FUZZ_CHECK(client_rx.init(s, sv, false));
  }

  void client_seal(std::uint8_t type, const Bytes& content, std::size_t padding) {
    if (content.size() + padding + kOverhead > kHeader + kMaxBody) padding = 0;
    if (content.size() + kOverhead > kHeader + kMaxBody) return;
    Bytes rec(content.size() + padding + kOverhead);
    std::span<const std::uint8_t> pieces[] = {content};
    std::size_t n = client_tx.seal(static_cast<ContentType>(type), pieces, padding, rec.data());
    FUZZ_CHECK(n == rec.size());
    stream.insert(stream.end(), rec.begin(), rec.end());
    bool key_update = type == 22 && content.size() == 5 && content[0] == 24 && content[1] == 0 && content[2] == 0 &&
                      content[3] == 1 && content[4] <= 1;
    if (key_update) FUZZ_CHECK(client_tx.update());
    if (type == 23 && content.size() <= kMaxPlain) {
      expected.push_back(content);
    } else if (!key_update && !(type == 21 && content.size() == 2 && (content[1] == 0 || content[1] == 90))) {
      clean = false;  // the server must fail on it: what follows is not compared
    }
  }

  void opened(const Records::Opened& o) {
    switch (o.got) {
      case Records::Got::data:
        FUZZ_CHECK(o.n <= kMaxPlain);
        if (clean) {
          FUZZ_CHECK(!expected.empty());
          FUZZ_CHECK(expected.front().size() == o.n);
          FUZZ_CHECK(o.n == 0 || std::memcmp(expected.front().data(), plain.data(), o.n) == 0);
          expected.pop_front();
        }
        break;
      case Records::Got::nothing:
        break;
      case Records::Got::closed:
        closed = true;
        break;
      case Records::Got::failed:
        FUZZ_CHECK(server.failed());
        break;
    }
  }

  // Gives the first `n` bytes of the stream, as TlsStream::read_records() reassembles them.
  void give(std::size_t n) {
    n = n < stream.size() ? n : stream.size();
    const std::uint8_t* in = stream.data();
    std::size_t len = n;
    while (!server.failed() && !closed) {
      if (partial.empty()) {
        std::size_t size = server.record_size(in, len);
        if (size == Records::kBadHeader) break;
        if (size == 0 || size > len) {
          partial.assign(in, in + len);
          break;
        }
        opened(server.open(in, size, plain.data()));
        in += size;
        len -= size;
      } else {
        std::size_t need = partial.size() < kHeader ? kHeader - partial.size() : 0;
        need = need < len ? need : len;
        partial.insert(partial.end(), in, in + need);
        in += need;
        len -= need;
        std::size_t size = server.record_size(partial.data(), partial.size());
        if (size == Records::kBadHeader || size == 0) break;
        FUZZ_CHECK(size <= kHeader + kMaxBody);
        std::size_t more = size - partial.size();
        more = more < len ? more : len;
        partial.insert(partial.end(), in, in + more);
        in += more;
        len -= more;
        if (partial.size() < size) break;
        Bytes rec;
        rec.swap(partial);
        opened(server.open(rec.data(), rec.size(), plain.data()));
      }
    }
    if (server.failed()) {
      FUZZ_CHECK(server.failure() != nullptr);
      FUZZ_CHECK(server.record_size(stream.data(), stream.size()) == Records::kBadHeader);
    }
    stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // The server seals `content`; the client opens every record (and follows KeyUpdates).
  void server_seal(const Bytes& content) {
    Bytes out(content.size() + Records::kSealSlack);
    std::size_t n = server.seal(content, out.data());
    if (server.failed()) {
      FUZZ_CHECK(n == 0);
      return;
    }
    FUZZ_CHECK(n >= content.size() + kOverhead && n <= out.size());
    std::size_t i = 0, data_records = 0;
    while (i < n) {
      FUZZ_CHECK(i + kHeader <= n);
      std::size_t size = kHeader + (std::size_t{out[i + 3]} << 8 | out[i + 4]);
      FUZZ_CHECK(i + size <= n);
      Bytes body(size);
      FUZZ_CHECK(client_rx.open(out.data() + i, size, body.data()));
      std::size_t len = size - kHeader - kTag;
      FUZZ_CHECK(len >= 1);
      std::uint8_t type = body[len - 1];
      if (type == 22) {
        FUZZ_CHECK(len == 6 && body[0] == 24 && body[4] == 0);
        FUZZ_CHECK(client_rx.update());
      } else {
        FUZZ_CHECK(type == 23 && len - 1 == content.size());
        FUZZ_CHECK(content.empty() || std::memcmp(body.data(), content.data(), content.size()) == 0);
        ++data_records;
      }
      i += size;
    }
    FUZZ_CHECK(data_records == 1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{data, size};
  Harness h(static_cast<Suite>(in.byte() % 3));
  while (in.left > 0) {
    switch (in.byte() % 6) {
      case 0: {  // a record from the client
        static constexpr std::uint8_t kTypes[] = {23, 23, 22, 21, 0, 20, 24, 255};
        std::uint8_t type = kTypes[in.byte() % 8];
        std::size_t len = in.u16() % (kMaxPlain + 64);
        std::size_t padding = in.byte();
        Bytes content = in.take(len);
        h.client_seal(type, content, padding);
        break;
      }
      case 1: {  // a KeyUpdate, well formed
        std::uint8_t req = in.byte() & 1;
        h.client_seal(22, {24, 0, 0, 1, req}, 0);
        break;
      }
      case 2: {  // raw bytes
        Bytes raw = in.take(in.byte());
        h.stream.insert(h.stream.end(), raw.begin(), raw.end());
        h.clean = h.clean && raw.empty();
        break;
      }
      case 3: {  // a bit flip in what is not yet given
        std::size_t at = in.u16();
        std::uint8_t bit = in.byte();
        if (!h.stream.empty()) {
          h.stream[at % h.stream.size()] ^= static_cast<std::uint8_t>(1u << (bit % 8));
          h.clean = false;
        }
        break;
      }
      case 4:  // give a piece to the server
        h.give(in.u16() + 1);
        break;
      case 5:  // the server sends
        h.server_seal(in.take(in.u16() % (kMaxPlain + 1)));
        break;
    }
  }
  h.give(h.stream.size());
  if (h.clean && !h.closed && !h.server.failed()) FUZZ_CHECK(h.expected.empty() || !h.partial.empty());
  return 0;
}
