// libFuzzer target for protocol/fossil_delta. The input is a source and a target, split at
// the first 0x00 byte (no 0x00: all source, an empty target). Invariants: the delta the
// encoder makes applies back to the target exactly; a valid UTF-8 target gives a valid
// UTF-8 delta (it travels as a JSON string); the input itself, applied as a delta to the
// source, never crashes, reads out of bounds or gives more than it announced.
#include <cstdint>
#include <string>

#include "protocol/fossil_delta.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace ringcast::protocol;


bool utf8(std::string_view s) { return is_valid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(bytes), size);
  std::size_t cut = in.find('\0');
  std::string_view source = in.substr(0, cut), target = cut == std::string_view::npos ? "" : in.substr(cut + 1);
  static fossil::DeltaEncoder encoder;  // reused, as a publishing thread reuses it
  std::string delta, out;
  encoder.encode(source, target, delta);
  FUZZ_CHECK(fossil::apply(source, delta, out));
  FUZZ_CHECK(out == target);
  if (utf8(target)) FUZZ_CHECK(utf8(delta));
  if (fossil::apply(source, in, out, 1u << 16)) FUZZ_CHECK(out.size() <= (1u << 16));
  if (fossil::apply(target, source, out, 1u << 16)) FUZZ_CHECK(out.size() <= (1u << 16));
  return 0;
}
