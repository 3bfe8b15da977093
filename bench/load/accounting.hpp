// What a received message means to the run, and the per-(subscriber, publisher) sequence
// bookkeeping behind "lost" and "out of order". Pure: no sockets, no clocks.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "bench/load/payload.hpp"

namespace ringcast::load {

enum class MessageKind : std::uint8_t {
  foreign,         // no record, a malformed one, or a publisher id outside the run: ignored
  own_echo,        // a publisher hearing its own message back (chat servers echo the sender)
  not_subscribed,  // a publisher-only connection hearing another publisher: not a delivery
  delivery,        // a subscriber receiving a publisher's message: measured
};

struct Receiver {
  bool is_sub = false;
  bool is_pub = false;
  std::uint32_t pub_id = 0;  // when is_pub
};

// `parsed`: whether parse_record found a record (then `r` holds it). `publishers`: the ids
// in use are 0..publishers-1.
[[nodiscard]] MessageKind classify(bool parsed, const Record& r, std::uint32_t publishers,
                                   const Receiver& to) noexcept;

// For each (row = subscriber, publisher) pair the highest sequence number received.
// A message past last+1 counts the skipped numbers as lost (gap); one at or below the
// last is out of order (late or duplicated). A late message still counts once as lost
// in the gap it left: telling late from duplicated would need a bit per message.
// Lanes (--channels): a publisher's message `seq` travels in lane (pub + seq) % lanes (its
// channel), ordered only within it, so each pair keeps one highest number per lane and a
// lane's numbers step by `lanes`.
class SequenceTable {
 public:
  struct Seen {
    std::uint32_t gap = 0;  // sequence numbers skipped by this message
    bool out_of_order = false;
  };
  static constexpr std::uint32_t kNoPublisher = UINT32_MAX;

  void reset(std::uint32_t rows, std::uint32_t publishers, std::uint32_t lanes = 1);
  Seen note(std::uint32_t row, std::uint32_t pub, std::uint32_t seq) noexcept;
  [[nodiscard]] std::uint32_t last(std::uint32_t row, std::uint32_t pub, std::uint32_t lane = 0) const noexcept {
    return last_[(std::size_t{row} * pubs_ + pub) * lanes_ + lane];
  }
  // Messages publishers sent (`published[pub]`) that `row` never received past its last
  // sequence number: the tail a gap cannot see. `skip` is the row's own publisher id, if any.
  [[nodiscard]] std::uint64_t missing(std::uint32_t row, std::span<const std::uint32_t> published,
                                      std::uint32_t skip = kNoPublisher) const noexcept;
  [[nodiscard]] std::uint32_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::uint32_t publishers() const noexcept { return pubs_; }

 private:
  [[nodiscard]] std::uint32_t first_in_lane(std::uint32_t pub, std::uint32_t lane) const noexcept;
  std::vector<std::uint32_t> last_;
  std::uint32_t rows_ = 0, pubs_ = 0, lanes_ = 1;
};

}  // namespace ringcast::load
