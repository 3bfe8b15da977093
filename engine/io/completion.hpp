// One finished I/O operation as a backend reports it to its shard.
#pragma once
#include <cstdint>

namespace ringcast::engine {

struct Completion {
  std::uint64_t tag = 0;
  int res = 0;               // bytes / fd on success, -errno on failure
  bool more = false;         // a multishot operation stays armed
  bool has_buffer = false;   // res bytes landed in provided buffer `buffer`
  std::uint16_t buffer = 0;
};

}  // namespace ringcast::engine
