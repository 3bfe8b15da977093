// A shard's connection slots. The table reserves address space for every possible slot
// (one per connection the descriptor limit allows) but builds a slot only when a
// connection first needs it, slot 0 first, so resident memory follows the
// busiest moment's connection count rather than the limit. Slots are never unbuilt: a
// slot given back is reused before a new one is built.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/core/conn.hpp"

namespace ringcast::engine {

class ConnTable {
 public:
  // Reserves address space for `capacity` slots (no memory is touched yet).
  explicit ConnTable(std::size_t capacity);
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;
  ~ConnTable();
  [[nodiscard]] bool ok() const noexcept { return base_ != nullptr; }  // false: the reservation failed

  // A free slot (built on first use), or nullopt when all `capacity` are taken.
  [[nodiscard]] std::optional<std::uint32_t> take();
  void give_back(std::uint32_t slot);

  [[nodiscard]] Conn& operator[](std::uint32_t slot) noexcept { return base_[slot]; }
  [[nodiscard]] bool contains(std::uint32_t slot) const noexcept { return slot < built_; }
  // Every slot built so far: the only ones a subscriber list or a tag can name.
  [[nodiscard]] std::span<Conn> built() noexcept { return {base_, built_}; }
  [[nodiscard]] std::uint32_t slot_of(const Conn& c) const noexcept {
    return static_cast<std::uint32_t>(&c - base_);
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint32_t live() const noexcept { return live_; }

 private:
  Conn* base_ = nullptr;
  std::size_t capacity_ = 0, bytes_ = 0;
  std::uint32_t built_ = 0;                // slots [0, built_) are constructed
  std::uint32_t live_ = 0;                 // slots in use
  std::vector<std::uint32_t> free_;        // built slots given back (reused first)
};

}  // namespace ringcast::engine
