#include "bench/load/accounting.hpp"

#include <algorithm>

namespace ringcast::load {

MessageKind classify(bool parsed, const Record& r, std::uint32_t publishers, const Receiver& to) noexcept {
  if (!parsed || r.pub >= publishers) return MessageKind::foreign;
  if (to.is_pub && r.pub == to.pub_id) return MessageKind::own_echo;
  if (!to.is_sub) return MessageKind::not_subscribed;
  return MessageKind::delivery;
}

void SequenceTable::reset(std::uint32_t rows, std::uint32_t publishers) {
  rows_ = rows;
  pubs_ = publishers;
  last_.assign(std::size_t{rows} * publishers, 0);
}

SequenceTable::Seen SequenceTable::note(std::uint32_t row, std::uint32_t pub, std::uint32_t seq) noexcept {
  std::uint32_t& last = last_[std::size_t{row} * pubs_ + pub];
  Seen s;
  if (seq > last) {
    s.gap = seq - last - 1;
    last = seq;
  } else {
    s.out_of_order = true;
  }
  return s;
}

std::uint64_t SequenceTable::missing(std::uint32_t row, std::span<const std::uint32_t> published,
                                     std::uint32_t skip) const noexcept {
  std::uint64_t n = 0;
  const std::uint32_t* r = last_.data() + std::size_t{row} * pubs_;
  const std::size_t pubs = std::min<std::size_t>(pubs_, published.size());
  for (std::size_t p = 0; p < pubs; ++p) {
    if (p == skip) continue;  // its own messages are echoes, not deliveries
    if (published[p] > r[p]) n += published[p] - r[p];
  }
  return n;
}

}  // namespace ringcast::load
