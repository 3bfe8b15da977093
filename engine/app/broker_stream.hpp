// --broker: a channel's stream as Redis holds it, read in place from the load script's
// reply (engine/broker/broker_wire.hpp's kLoadScript: {epoch, top, the newest entries,
// newest first}): what a node loads into its copy (engine/app/broker_feed.hpp) and what the
// server API's history answers from on a node that holds no copy.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/resp.hpp"

namespace ringcast::engine {

struct StreamRead {
  struct Entry {
    std::uint64_t offset;
    std::string_view record;  // as published: without its offset
  };
  std::string_view epoch_name;
  std::uint64_t last = 0;      // the stream's top
  std::vector<Entry> entries;  // oldest first, contiguous up to `last`

  // What select_history reads (engine/app/history_query.hpp).
  [[nodiscard]] std::string_view epoch() const noexcept { return epoch_name; }
  [[nodiscard]] std::uint64_t top() const noexcept { return last; }
  [[nodiscard]] std::uint64_t first() const noexcept { return last + 1 - entries.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return entries.size(); }
  [[nodiscard]] std::string_view at(std::uint64_t offset) const noexcept {
    return entries[static_cast<std::size_t>(offset - first())].record;
  }
};

// The reply into `out` (views into it); false when it is not what the script returns.
[[nodiscard]] bool read_stream(const protocol::resp::Reply& reply, StreamRead& out);

}  // namespace ringcast::engine
