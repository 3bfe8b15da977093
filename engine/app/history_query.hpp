// What a history call selects from a channel's stream, by Centrifugo's rules, for the
// client's `history` command and the server API's: up to `limit` publications (0: none,
// only where the stream stands; -1, or more than the cap: up to the cap), from the oldest
// forward or, `reverse`, from the newest back; with `since`, only those after its offset
// (reverse: before it), and only if its epoch is the stream's.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/pubsub/history.hpp"

namespace ringcast::engine {

struct HistoryQuery {
  std::int64_t limit = 0;
  bool has_since = false, reverse = false;
  std::uint64_t since_offset = 0;
  std::string_view since_epoch;
};

// The selected records into `out`, in the order asked. False: `since` names another epoch
// (the protocol's error 112, unrecoverable position).
bool select_history(const Stream& st, const HistoryQuery& q, std::size_t cap, std::vector<std::string_view>& out);

}  // namespace ringcast::engine
