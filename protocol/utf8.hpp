// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
// Utf8Validator is streaming and fail-fast: feed() returns false as soon as the bytes
// seen so far cannot be the prefix of valid UTF-8 text, even mid-code-point; a sequence
// that is merely incomplete is only an error at finish() (end of message).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ringcast::protocol {

class Utf8Validator {
 public:
  [[nodiscard]] bool feed(const std::uint8_t* data, std::size_t len) noexcept;
  // True when everything fed ends on a code point boundary (and no error was seen).
  [[nodiscard]] bool finish() const noexcept { return ok_ && need_ == 0; }
  [[nodiscard]] bool failed() const noexcept { return !ok_; }
  void reset() noexcept { *this = Utf8Validator{}; }

 private:
  // An incomplete code point from earlier feeds: continuation bytes still owed and the
  // range the next one must fall in (narrower right after E0, ED, F0, F4).
  std::uint8_t need_ = 0;
  std::uint8_t lo_ = 0x80;
  std::uint8_t hi_ = 0xBF;
  bool ok_ = true;
};

// Whole-buffer check with the active SIMD kernel.
[[nodiscard]] bool is_valid_utf8(const std::uint8_t* data, std::size_t len) noexcept;
// Reference implementation (byte at a time) for tests and benchmarks.
[[nodiscard]] bool is_valid_utf8_scalar(const std::uint8_t* data, std::size_t len) noexcept;

}  // namespace ringcast::protocol
