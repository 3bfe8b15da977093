// libFuzzer target for protocol/deflate_codec: the input is one compressed message (after
// a first byte choosing the --max-message limit). Invariants: inflating twice gives the
// same answer; what inflates fits the limit, and never grew its buffer past limit + 1;
// what inflates deflates and inflates back to itself; nothing crashes or leaks.
#include <cstdint>
#include <vector>

#include "protocol/deflate_codec.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using ringcast::protocol::Deflater;
using ringcast::protocol::Inflater;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static Inflater inflater;
  static Deflater deflater;
  if (size == 0) return 0;
  const std::size_t limit = std::size_t{1} << (bytes[0] % 21);  // 1 B .. 1 MiB
  const std::span<const std::uint8_t> in(bytes + 1, size - 1);
  std::vector<std::uint8_t> a, b;
  const Inflater::Result ra = inflater.inflate(in, a, limit);
  const Inflater::Result rb = inflater.inflate(in, b, limit);
  FUZZ_CHECK(ra == rb);
  FUZZ_CHECK(a.capacity() <= limit + 1 || a.capacity() <= 16384);
  if (ra != Inflater::Result::ok) return 0;
  FUZZ_CHECK(a == b && a.size() <= limit);
  std::vector<std::uint8_t> z, back;
  FUZZ_CHECK(deflater.deflate(a, z));
  FUZZ_CHECK(inflater.inflate(z, back, limit) == Inflater::Result::ok && back == a);
  return 0;
}
