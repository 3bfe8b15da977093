// simdjson On-Demand helpers shared by the protocol's JSON readers (client commands, JWT
// claims): walk a value to its end so that every byte of it is checked, and take a value's
// own bytes. Built without simdjson exceptions: every failure is a returned Failure.
#pragma once
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringcast::protocol::json {

namespace od = simdjson::ondemand;

// Deeper values than this are refused (check() recurses once per level).
inline constexpr int kMaxDepth = 64;

enum class Fault : std::uint8_t {
  malformed,   // not JSON at all
  wrong_type,  // JSON, but a type or range the field does not allow (or too deep)
};
struct Failure {
  Fault fault;
  const char* what;  // for the log
};
[[nodiscard]] Failure failure(simdjson::error_code e, const char* what) noexcept;

// Walks `v` (at nesting `depth`) to its end, checking every byte.
[[nodiscard]] std::optional<Failure> check(od::value v, int depth);

// A stream position {"offset":N,"epoch":"..."} (history's `since`, in client commands and
// server API bodies): other keys are checked to their end at `depth` + 1 and ignored.
[[nodiscard]] std::optional<Failure> stream_position(od::value v, int depth, std::uint64_t& offset,
                                                     std::string_view& epoch);

// The value's own bytes, checked whole, without the whitespace after it.
[[nodiscard]] std::optional<Failure> raw(od::document& doc, od::value v, std::string_view& out);

// The four JSON whitespace bytes (RFC 8259 section 2).
[[nodiscard]] constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace ringcast::protocol::json
