// Shared result vocabulary of protocol/: every parser answers ok, need_more or error,
// says how many bytes it consumed, and on error names the RFC's answer.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ringcast::protocol {

enum class Status : std::uint8_t { ok, need_more, error };

// RFC 6455 section 7.4.1 status codes the server sends or reports.
enum class CloseCode : std::uint16_t {
  none = 0,
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status = 1005,         // never sent: "the close frame had no payload"
  abnormal = 1006,          // never sent: "the TCP connection dropped without a close"
  invalid_payload = 1007,   // e.g. text that is not UTF-8
  policy_violation = 1008,  // e.g. a slow consumer past its backlog
  message_too_big = 1009,
  mandatory_extension = 1010,
  internal_error = 1011,
  service_restart = 1012,
  try_again_later = 1013,
};

}  // namespace ringcast::protocol
