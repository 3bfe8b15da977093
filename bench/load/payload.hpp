// The measurement record every test message carries: `|p<publisher>|s<sequence>|t<send ns>|`
// in ASCII at the very end of the text. Parsed from the end, so it survives chat servers
// that prefix messages (ringcast's `ID<port>: `) as well as plain broadcasters. The
// closing '|' makes a message cut short detectable: no proper prefix of a record parses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringcast::load {

struct Record {
  std::uint32_t pub = 0;  // publisher id, 0..P-1 across the whole run
  std::uint32_t seq = 0;  // 1, 2, 3... per publisher (0 is never sent)
  std::uint64_t t_ns = 0; // CLOCK_MONOTONIC at send
};

// Longest record: "|p" + 10 digits + "|s" + 10 digits + "|t" + 20 digits + "|".
inline constexpr std::size_t kMaxRecord = 47;

// Writes the record so that it ends exactly at `end` (digits are written backwards);
// returns its length. The caller leaves at least kMaxRecord bytes before `end`.
std::size_t write_record_before(std::uint8_t* end, const Record& r) noexcept;

// Parses the record at the end of `tail`; false when the text does not end with a whole,
// canonical one (decimal digits without leading zeros, fields in range, sequence >= 1).
[[nodiscard]] bool parse_record(std::span<const std::uint8_t> tail, Record& out) noexcept;

// The offset at the end of a Centrifugo publication push (`..."offset":N}}}`); false when
// the push carries none (a channel without history).
[[nodiscard]] bool parse_push_offset(std::span<const std::uint8_t> tail, std::uint64_t& out) noexcept;

// Fills `out` with market data as JSON (ringcast-feed's ticker_batch): it compresses as
// real ticks do, where a filler of one byte repeated would shrink to nothing.
// `single_quotes`: ' for ", so the text can sit in a JSON string unescaped (--channel
// sends the payload as a publication's data string).
void fill_market_json(std::span<std::uint8_t> out, bool single_quotes);

// The last bytes of a message being received, kept across its data chunks (fragments,
// reads): all the record parser needs, so a message of any size costs a fixed 128 bytes.
class MessageTail {
 public:
  // The record, then what a Centrifugo publication push writes after its data (--channel:
  // `","info":{"user":"","client":"<36>"},"offset":<up to 20>}}}`, up to 101 bytes): 160
  // covers both.
  static constexpr std::size_t kCapacity = 160;

  void clear() noexcept { len_ = 0; }
  // Appends a chunk, keeping only the newest kCapacity bytes of the message so far.
  void append(std::span<const std::uint8_t> chunk) noexcept;
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {buf_, len_}; }

 private:
  std::uint8_t buf_[kCapacity];
  std::uint8_t len_ = 0;
};

}  // namespace ringcast::load
