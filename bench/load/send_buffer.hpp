// Outgoing bytes of one connection with exactly one send in flight: frames are appended
// to the filling half while the other half is on the wire; halves swap when it completes.
// Fixed capacity, allocated once: a frame that does not fit is refused, never reallocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace ringcast::load {

class SendBuffer {
 public:
  void allocate(std::uint32_t capacity) {
    cap_ = capacity;
    mem_ = std::make_unique<std::uint8_t[]>(std::size_t{capacity} * 2);
  }
  // Room for `n` more bytes in the filling half, or null when it is full.
  [[nodiscard]] std::uint8_t* reserve(std::size_t n) noexcept {
    return fill_len_ + n <= cap_ ? half(1 - wire_) + fill_len_ : nullptr;
  }
  void commit(std::size_t n) noexcept { fill_len_ += static_cast<std::uint32_t>(n); }

  [[nodiscard]] bool in_flight() const noexcept { return wire_len_ != 0; }
  // Moves the filled half onto the wire when nothing is in flight; returns what to send (may be empty).
  [[nodiscard]] std::span<const std::uint8_t> start() noexcept {
    if (wire_len_ == 0 && fill_len_ != 0) {
      wire_ = 1 - wire_;
      wire_len_ = fill_len_;
      wire_off_ = 0;
      fill_len_ = 0;
    }
    return {half(wire_) + wire_off_, wire_len_ - wire_off_};
  }
  // The kernel took `n` bytes; returns the unsent rest of the wire half (empty when done).
  [[nodiscard]] std::span<const std::uint8_t> sent(std::size_t n) noexcept {
    wire_off_ += static_cast<std::uint32_t>(n);
    if (wire_off_ >= wire_len_) wire_len_ = wire_off_ = 0;
    return {half(wire_) + wire_off_, wire_len_ - wire_off_};
  }
  [[nodiscard]] std::size_t pending() const noexcept { return fill_len_; }
  // Forgets every byte, for a connection dialled again (nothing may be in flight).
  void clear() noexcept { fill_len_ = wire_len_ = wire_off_ = 0; }

 private:
  [[nodiscard]] std::uint8_t* half(unsigned i) const noexcept { return mem_.get() + std::size_t{i} * cap_; }

  std::unique_ptr<std::uint8_t[]> mem_;
  std::uint32_t cap_ = 0;
  std::uint32_t fill_len_ = 0;
  std::uint32_t wire_len_ = 0, wire_off_ = 0;
  unsigned wire_ = 0;
};

}  // namespace ringcast::load
