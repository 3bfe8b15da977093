// RESP2, the Redis protocol (https://redis.io/docs/reference/protocol-spec/): replies parsed
// from bytes, commands encoded into bytes. Pure: the broker link (engine/broker/) owns the
// socket. A reply is parsed whole or not at all (need_more: call again with more bytes),
// into a flat tree whose strings point into the input, so a reader that keeps its Reply
// allocates nothing once its vector has grown to the largest reply seen.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ringcast::protocol::resp {

enum class Type : std::uint8_t {
  simple,     // +OK
  error,      // -ERR ...
  integer,    // :42
  bulk,       // $3 foo
  nil,        // $-1
  array,      // *N followed by N values
  nil_array,  // *-1
};

// One value of a reply, in pre-order: an array's elements follow it, each one's subtree
// ending where the next begins (`next`).
struct Value {
  Type type = Type::nil;
  std::string_view str;      // simple, error, bulk: the bytes (into the parsed input)
  std::int64_t integer = 0;  // integer; array: its element count
  std::uint32_t next = 0;    // index past this value's subtree
};

class Reply {
 public:
  [[nodiscard]] const Value& root() const noexcept { return values_[0]; }
  [[nodiscard]] const Value& at(std::uint32_t i) const noexcept { return values_[i]; }
  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
  // The index of array `i`'s element `k` (k < its count), by walking its subtrees.
  [[nodiscard]] std::uint32_t element(std::uint32_t i, std::uint32_t k) const noexcept;
  // Whether the root is an array of exactly out.size() bulk strings (a pub/sub message:
  // "message", channel, payload); fills `out` with them.
  [[nodiscard]] bool bulk_array(std::span<std::string_view> out) const noexcept;

 private:
  friend struct Parser;
  std::vector<Value> values_;
};

struct Limits {
  std::size_t max_bulk = 64u << 20;         // bytes of one bulk string (Redis allows 512 MiB)
  std::uint32_t max_values = 1u << 20;      // values in one reply
  std::uint32_t max_depth = 8;              // arrays open at once, the outer one counted (at most 16)
  std::size_t max_line = 64u << 10;         // a simple string, error or header line
};

enum class Status : std::uint8_t { ok, need_more, error };

struct Parse {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // ok: the reply's bytes; the next reply starts there
  const char* error = "";    // error: what is wrong (the link must be dropped)
  std::size_t need = 1;      // need_more: at least this many more bytes before it can parse
};

// Parses the reply at the start of `in` into `out` (replacing what it held).
[[nodiscard]] Parse parse_reply(std::span<const std::uint8_t> in, Reply& out, const Limits& limits = {});

// A command as Redis takes it from clients: an array of bulk strings. command_size is the
// exact length encode_command writes; encode_command returns 0 when `out` is too small.
[[nodiscard]] std::size_t command_size(std::span<const std::string_view> args) noexcept;
std::size_t encode_command(std::span<const std::string_view> args, std::span<char> out) noexcept;

}  // namespace ringcast::protocol::resp
