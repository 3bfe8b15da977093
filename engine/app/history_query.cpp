#include "engine/app/history_query.hpp"

#include <algorithm>

namespace ringcast::engine {

bool select_history(const Stream& st, const HistoryQuery& q, std::size_t cap, std::vector<std::string_view>& out) {
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
