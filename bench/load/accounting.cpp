#include "bench/load/accounting.hpp"

#include <algorithm>

namespace ringcast::load {

MessageKind classify(bool parsed, const Record& r, std::uint32_t publishers, const Receiver& to) noexcept {
  if (!parsed || r.pub >= publishers) return MessageKind::foreign;
  if (to.is_pub && r.pub == to.pub_id) return MessageKind::own_echo;
  if (!to.is_sub) return MessageKind::not_subscribed;
  return MessageKind::delivery;
}

void SequenceTable::reset(std::uint32_t rows, std::uint32_t publishers, std::uint32_t lanes) {
  rows_ = rows;
  pubs_ = publishers;
  lanes_ = std::max<std::uint32_t>(lanes, 1);
  last_.assign(std::size_t{rows} * publishers * lanes_, 0);
}

std::uint32_t SequenceTable::first_in_lane(std::uint32_t pub, std::uint32_t lane) const noexcept {
  // The smallest seq >= 1 with (pub + seq) % lanes == lane.
  std::uint32_t r = (lane + lanes_ - pub % lanes_) % lanes_;
  return r == 0 ? lanes_ : r;
}

SequenceTable::Seen SequenceTable::note(std::uint32_t row, std::uint32_t pub, std::uint32_t seq) noexcept {
  const std::uint32_t lane = (pub + seq) % lanes_;
  std::uint32_t& last = last_[(std::size_t{row} * pubs_ + pub) * lanes_ + lane];
  Seen s;
  if (seq > last) {
    s.gap = last == 0 ? (seq - first_in_lane(pub, lane)) / lanes_ : (seq - last) / lanes_ - 1;
    last = seq;
  } else {
    s.out_of_order = true;
  }
  return s;
}

std::uint64_t SequenceTable::missing(std::uint32_t row, std::span<const std::uint32_t> published,
                                     std::uint32_t skip) const noexcept {
  std::uint64_t n = 0;
  const std::size_t pubs = std::min<std::size_t>(pubs_, published.size());
  for (std::size_t p = 0; p < pubs; ++p) {
    if (p == skip) continue;  // its own messages are echoes, not deliveries
    const auto pub = static_cast<std::uint32_t>(p);
    for (std::uint32_t lane = 0; lane < lanes_; ++lane) {
      const std::uint32_t last = last_[(std::size_t{row} * pubs_ + p) * lanes_ + lane];
      const std::uint32_t first = first_in_lane(pub, lane);
      if (last == 0) n += published[p] >= first ? (published[p] - first) / lanes_ + 1 : 0;
      else if (published[p] > last) n += (published[p] - last) / lanes_;
    }
  }
  return n;
}

}  // namespace ringcast::load
