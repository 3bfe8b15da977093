// The server's side of the Centrifugo client protocol, JSON encoding: replies to commands
// and pushes, appended to a caller's buffer (one per line when several share a message:
// the caller puts the '\n' between them). Strings are escaped as RFC 8259 asks; `data` is
// raw JSON, written as given (the parser checked it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/client_command.hpp"

namespace ringcast::protocol::client {

// The protocol's error codes (replies) that ringcast sends.
enum class ErrorCode : std::uint32_t {
  internal = 100,
  unauthorized = 101,
  unknown_channel = 102,
  permission_denied = 103,
  method_not_found = 104,
  already_subscribed = 105,
  limit_exceeded = 106,
  bad_request = 107,
  not_available = 108,
  token_expired = 109,
  expired = 110,
  too_many_requests = 111,
  unrecoverable_position = 112,
};
[[nodiscard]] std::string_view error_message(ErrorCode code) noexcept;

// The protocol's disconnects: the close code and reason an SDK acts on (3000-3499 and
// below 3000: it reconnects; 3500-3999: it does not).
struct Disconnect {
  std::uint16_t code;
  std::string_view reason;
};
inline constexpr Disconnect kNoPong{3012, "no pong"};
inline constexpr Disconnect kInvalidToken{3500, "invalid token"};
inline constexpr Disconnect kBadRequest{3501, "bad request"};
inline constexpr Disconnect kStale{3502, "stale"};  // no connect command in time

// Appends `s` as a JSON string (quotes included).
void append_json_string(std::string& out, std::string_view s);

// {"id":N,"error":{"code":C,"message":"..."}}
void append_error(std::string& out, std::uint32_t id, ErrorCode code);

// {"id":N,"<method>":{}}: a command whose result has no fields (publish, unsubscribe, ...).
void append_empty_result(std::string& out, std::uint32_t id, Method method);

struct ConnectResult {
  std::string_view client;   // the connection's id
  std::string_view version;  // the server's
  std::uint32_t ping_seconds = 0;  // 0: the server sends no pings
  bool pong = false;               // the client answers pings with `{}`
};
// {"id":N,"connect":{"client":"...","version":"...","ping":25,"pong":true}}
void append_connect_result(std::string& out, std::uint32_t id, const ConnectResult& r);

// A publication as the protocol writes it: {"data":...,"offset":N} (offset 0 omitted).
struct Publication {
  std::string_view data;  // raw JSON
  std::uint64_t offset = 0;
};
// {"push":{"channel":"...","pub":{...}}}: the same bytes for every subscriber.
void append_publication_push(std::string& out, std::string_view channel, const Publication& pub);

// The server's ping (and the shape of the client's pong): an empty command.
inline constexpr std::string_view kPing = "{}";

}  // namespace ringcast::protocol::client
