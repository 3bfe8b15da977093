// A connection's spill buffer (a request head split across receives, a message spanning
// receive buffers). It owns no memory until bytes are appended and gives it back on
// clear(), so an idle connection holds nothing; it takes 16 bytes of the connection slot
// (std::string takes 32, std::vector 24). Sizes are 32-bit: heads and bodies are capped by
// --max-http-body and messages by --max-message (each at most 1 GiB).
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

namespace ringcast::engine {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() { std::free(data_); }

  // Appends `n` bytes, growing to the next power of two (at least 256 bytes). False when
  // memory ran out or the size would pass 2 GiB; the contents are unchanged then.
  [[nodiscard]] bool append(const void* bytes, std::size_t n) noexcept {
    if (n == 0) return true;
    std::size_t want = std::size_t{size_} + n;
    if (want > capacity_) {
      if (want > (std::size_t{1} << 31)) return false;
      std::size_t cap = std::bit_ceil(want < 256 ? std::size_t{256} : want);
      void* grown = std::realloc(data_, cap);
      if (grown == nullptr) return false;
      data_ = static_cast<std::uint8_t*>(grown);
      capacity_ = static_cast<std::uint32_t>(cap);
    }
    std::memcpy(data_ + size_, bytes, n);
    size_ = static_cast<std::uint32_t>(want);
    return true;
  }

  // Drops the first `n` bytes (n <= size), keeping the rest at the front.
  void consume_front(std::size_t n) noexcept {
    std::memmove(data_, data_ + n, size_ - n);
    size_ = static_cast<std::uint32_t>(size_ - n);
  }
  // Empties the buffer and keeps its memory for the next contents.
  void rewind() noexcept { size_ = 0; }
  // Empties the buffer and gives its memory back.
  void clear() noexcept {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

  [[nodiscard]] std::uint8_t* data() noexcept { return data_; }
  [[nodiscard]] const std::uint8_t* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::span<const char> chars() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }

 private:
  std::uint8_t* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 0;
};

}  // namespace ringcast::engine
