// libFuzzer target for bench/load/command_reply (ringcast-load's reading of the server's
// replies): the input is one message of replies, the first byte the command id asked for.
// Invariants: reading twice gives the same answer; the publications counted are the ones
// handed over; a reply that was not found reports no stream position; nothing crashes.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/load/command_reply.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {


using Pubs = std::vector<std::pair<std::string, std::uint64_t>>;

bool read(std::string_view message, std::uint32_t id, ringcast::load::CommandReply& r, Pubs& pubs) {
  return ringcast::load::read_reply(message, id, r,
                                    [&](std::string_view data, std::uint64_t offset) { pubs.emplace_back(data, offset); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  const std::uint32_t id = bytes[0] % 4;
  const std::string_view message(reinterpret_cast<const char*>(bytes + 1), size - 1);
  ringcast::load::CommandReply a, b;
  Pubs pa, pb;
  const bool ok = read(message, id, a, pa);
  FUZZ_CHECK(ok == read(message, id, b, pb));
  FUZZ_CHECK(pa == pb && a.found == b.found && a.refused == b.refused && a.epoch == b.epoch && a.offset == b.offset &&
             a.recovered == b.recovered && a.error == b.error);
  if (ok) FUZZ_CHECK(a.publications == pa.size());
  if (!a.found) FUZZ_CHECK(a.epoch.empty() && a.offset == 0 && !a.recovered && a.publications == 0);
  return 0;
}
