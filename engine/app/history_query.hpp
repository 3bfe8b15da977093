// What a history call selects from a channel's stream, by Centrifugo's rules, for the
// client's `history` command and the server API's: up to `limit` publications (0: none,
// only where the stream stands; -1, or more than the cap: up to the cap), from the oldest
// forward or, `reverse`, from the newest back; with `since`, only those after its offset
// (reverse: before it), and only if its epoch is the stream's.
#pragma once
#include <algorithm>
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
// (the protocol's error 112, unrecoverable position). `S`: a Stream, or anything with its
// epoch(), first(), top(), size() and at(offset) (engine/app/broker_stream.hpp's StreamRead).
template <typename S>
bool select_history(const S& st, const HistoryQuery& q, std::size_t cap, std::vector<std::string_view>& out) {
  out.clear();
  if (q.has_since && q.since_epoch != st.epoch()) return false;
  std::size_t n = q.limit < 0 || static_cast<std::uint64_t>(q.limit) > cap ? cap : static_cast<std::size_t>(q.limit);
  if (n == 0 || st.size() == 0) return true;
  if (!q.reverse) {
    std::uint64_t from = st.first();
    if (q.has_since) {
      if (q.since_offset >= st.top()) return true;  // nothing after it (and no overflow below)
      from = std::max(from, q.since_offset + 1);
    }
    for (std::uint64_t o = from; o <= st.top() && out.size() < n; ++o) out.push_back(st.at(o));
  } else {
    std::uint64_t to = st.top();
    if (q.has_since) {
      if (q.since_offset <= st.first()) return true;  // nothing kept before it
      to = std::min(to, q.since_offset - 1);
    }
    for (std::uint64_t o = to; o >= st.first() && out.size() < n; --o) out.push_back(st.at(o));
  }
  return true;
}

}  // namespace ringcast::engine
