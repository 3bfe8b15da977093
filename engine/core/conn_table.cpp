#include "engine/core/conn_table.hpp"

#include <sys/mman.h>

#include <new>

namespace ringcast::engine {

ConnTable::ConnTable(std::size_t capacity) : capacity_(capacity), bytes_(capacity * sizeof(Conn)) {
  // Address space only: a page becomes resident when the first slot on it is built.
  void* p = bytes_ == 0 ? MAP_FAILED
                        : mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                               -1, 0);
  if (p == MAP_FAILED) {
    capacity_ = bytes_ = 0;
    return;
  }
  base_ = static_cast<Conn*>(p);
  free_.reserve(capacity);
}

ConnTable::~ConnTable() {
  for (std::uint32_t i = 0; i < built_; ++i) base_[i].~Conn();
  if (base_ != nullptr) munmap(base_, bytes_);
}

std::optional<std::uint32_t> ConnTable::take() {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else if (built_ < capacity_) {
    slot = built_++;
    Conn* c = new (base_ + slot) Conn();
    c->timer.id = slot;
  } else {
    return std::nullopt;
  }
  ++live_;
  return slot;
}

void ConnTable::give_back(std::uint32_t slot) {
  free_.push_back(slot);  // reserved to the capacity: never grows
  --live_;
}

}  // namespace ringcast::engine
