// Fossil's delta format, the centrifuge SDKs' `delta: "fossil"`: a delta turns a source
// (the channel's previous publication) into a target (the new one) by copies from the
// source and literal runs of the target. Text: the size of the target, '\n', then
// commands "N@O," (copy N bytes from source offset O), "N:bytes" (insert N literal bytes)
// and "C;" (C: the target's checksum, the end), numbers in Fossil's base-64 digits.
// The encoder is ours (a rolling hash over the source's 16-byte blocks); only the format is
// Fossil's. Pure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::protocol::fossil {

// Fossil's checksum of the target, as the delta's last command carries it.
[[nodiscard]] std::uint32_t checksum(std::string_view bytes) noexcept;

// Keeps its index of the source between calls, so a thread that encodes deltas allocates
// only while its sources grow.
class DeltaEncoder {
 public:
  // Replaces `out` with a delta from `source` to `target`. Where `target` is valid UTF-8
  // so is the delta: copies start and end on character boundaries, so the literal runs
  // are whole characters and the delta fits a JSON string.
  void encode(std::string_view source, std::string_view target, std::string& out);

 private:
  std::vector<std::uint32_t> heads_;  // by hash: 1 + the newest source block, 0 for none
  std::vector<std::uint32_t> chain_;  // by block: 1 + the previous block of the same hash
};

// Replaces `out` with `delta` applied to `source`; false when the delta is malformed or
// does not fit the source (a copy past its end, a size or checksum that does not match).
// `max_size` bounds the target the delta may announce.
[[nodiscard]] bool apply(std::string_view source, std::string_view delta, std::string& out,
                         std::size_t max_size = 64u << 20);

}  // namespace ringcast::protocol::fossil
