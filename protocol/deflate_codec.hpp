// permessage-deflate's codec (RFC 7692 section 7.2): raw DEFLATE (zlib), no context kept
// between messages (ringcast always negotiates no_context_takeover both ways), so one
// Inflater and one Deflater serve every connection of a thread, reset per message.
// Pure: bytes in, bytes out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ringcast::protocol {

// The LZ77 window both directions use; an offer demanding a smaller server window is
// declined (RFC 7692 section 7.1.2.1).
inline constexpr std::uint8_t kDeflateWindowBits = 15;

class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  enum class Result : std::uint8_t {
    ok,
    too_big,  // the message inflates past `limit` (a deflate bomb stops there)
    corrupt,  // not a DEFLATE stream, or one cut short
  };
  // Inflates one message's compressed payload (the 00 00 ff ff tail the sender removed is
  // added here) into `out`, replacing what it held; never grows `out` past `limit` + 1
  // bytes' worth of room. False when zlib could not start (no memory): every message fails.
  [[nodiscard]] Result inflate(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out, std::size_t limit);
  [[nodiscard]] bool ready() const noexcept { return state_ != nullptr; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class Deflater {
 public:
  // `level`: zlib's 1 (fastest) .. 9.
  explicit Deflater(int level = 6);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses one message into `out` (replacing it): sync-flushed, the 00 00 ff ff tail
  // removed, as a permessage-deflate payload. False when zlib fails (no memory).
  [[nodiscard]] bool deflate(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);
  [[nodiscard]] bool ready() const noexcept { return state_ != nullptr; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ringcast::protocol
