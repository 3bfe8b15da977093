// The server's side of the Centrifugo client protocol, JSON encoding: replies to commands
// and pushes, appended to a caller's buffer (one per line when several share a message:
// the caller puts the '\n' between them). Strings are escaped as RFC 8259 asks; `data` is
// raw JSON, written as given (the parser checked it).
#pragma once
#include <cstdint>
#include <span>
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
inline constexpr Disconnect kServerError{3004, "internal server error"};  // the SDK reconnects
inline constexpr Disconnect kExpired{3005, "connection expired"};  // the SDK refreshes its token and reconnects
inline constexpr Disconnect kInsufficientState{3010, "insufficient state"};  // the SDK reconnects and recovers
inline constexpr Disconnect kNoPong{3012, "no pong"};
inline constexpr Disconnect kInvalidToken{3500, "invalid token"};
inline constexpr Disconnect kBadRequest{3501, "bad request"};
inline constexpr Disconnect kStale{3502, "stale"};  // no connect command in time
inline constexpr Disconnect kChannelLimit{3505, "channel limit"};
inline constexpr Disconnect kForceDisconnect{3503, "force disconnect"};  // the server API's disconnect

// Appends `s` as a JSON string (quotes included).
void append_json_string(std::string& out, std::string_view s);

// [a,b,...]: values already written as JSON (publications as append_publication wrote them).
void append_raw_array(std::string& out, std::span<const std::string_view> items);

// {"id":N,"error":{"code":C,"message":"..."}} ("temporary":true for 100, internal)
void append_error(std::string& out, std::uint32_t id, ErrorCode code);

// {"id":N,"<method>":{}}: a command whose result has no fields (publish, unsubscribe, ...).
void append_empty_result(std::string& out, std::uint32_t id, Method method);

// When a connection's or subscription's token runs out: the SDK refreshes it `ttl` seconds
// from now. Written as "expires":true,"ttl":N; nothing when it does not expire.
struct Expiry {
  bool expires = false;
  std::uint32_t ttl = 0;
};

struct ConnectResult {
  std::string_view client;   // the connection's id
  std::string_view version;  // the server's
  Expiry expiry;
  std::string_view subs;     // server-side subscriptions made at connect: append_server_sub's
  std::uint32_t ping_seconds = 0;  // 0: the server sends no pings
  bool pong = false;               // the client answers pings with `{}`
};
// {"id":N,"connect":{"client":"...","version":"...","expires":true,"ttl":60,
//  "subs":{"<channel>":{...},...},"ping":25,"pong":true}}
void append_connect_result(std::string& out, std::uint32_t id, const ConnectResult& r);

// {"id":N,"refresh":{"client":"...","version":"...","expires":true,"ttl":60}}
void append_refresh_result(std::string& out, std::uint32_t id, std::string_view client, std::string_view version,
                           Expiry expiry);

// {"id":N,"<method>":{"expires":true,"ttl":60}} (subscribe, sub_refresh); {} when it does
// not expire.
void append_expiry_result(std::string& out, std::uint32_t id, Method method, Expiry expiry);

// A subscription that counts offsets (a channel with history): where the stream stands,
// and what a subscribe with `recover` got back.
struct SubscribeResult {
  Expiry expiry;
  bool recoverable = false;      // the SDK saves epoch and offset, and recovers from them
  bool positioned = false;       // epoch and offset given
  bool was_recovering = false;   // the subscribe asked to recover
  bool recovered = false;        // and every publication it missed is in `publications`
  std::string_view epoch;
  std::uint64_t offset = 0;                      // the stream's top
  std::span<const std::string_view> publications;  // records as append_publication wrote them
  bool delta = false;  // delta negotiated: "delta":true, and the publications' data as strings
};
// {"id":N,"subscribe":{"expires":true,"ttl":60,"recoverable":true,"epoch":"...",
//  "offset":N,"positioned":true,"publications":[...],"recovered":true,"was_recovering":true}}
void append_subscribe_result(std::string& out, std::uint32_t id, const SubscribeResult& r);
// "<channel>":{...the same fields}: one server-side subscription of a connect result,
// after a comma unless `out` is empty (it holds the entries only).
void append_server_sub(std::string& out, std::string_view channel, const SubscribeResult& r);

// {"id":N,"history":{"publications":[...],"epoch":"...","offset":N}} (publications omitted
// when none), `publications` as append_publication wrote them.
void append_history_result(std::string& out, std::uint32_t id, std::span<const std::string_view> publications,
                           std::string_view epoch, std::uint64_t offset);

// {"push":{"channel":"...","unsubscribe":{"code":2501,"reason":"..."}}}: the server ended
// one subscription (codes from 2500: the SDK subscribes again).
void append_unsubscribe_push(std::string& out, std::string_view channel, std::uint32_t code, std::string_view reason);
inline constexpr std::uint32_t kUnsubscribeExpired = 2501;  // "subscription expired"
inline constexpr std::uint32_t kUnsubscribeServer = 2000;   // "server unsubscribe": the SDK stays away
inline constexpr std::uint32_t kUnsubscribeInsufficient = 2500;  // "insufficient state": the SDK subscribes again and recovers

// Who published: {"user":"...","client":"...","conn_info":...,"chan_info":...} (the two
// infos are raw JSON from the tokens, omitted when empty).
struct ClientInfo {
  std::string_view user, client, conn_info, chan_info;
};

// {"user":"...","client":"...","conn_info":...,"chan_info":...}
void append_client_info(std::string& out, const ClientInfo& info);

// {"id":N,"presence_stats":{"num_clients":N,"num_users":M}}
void append_presence_stats_result(std::string& out, std::uint32_t id, std::size_t clients, std::size_t users);
// {"id":N,"presence":{"presence":{"<client>":{<client info>},...}}}
void append_presence_result(std::string& out, std::uint32_t id, std::span<const ClientInfo> clients);
// The inner {"<client>":{...},...} of a presence answer (the server API's too).
void append_presence_map(std::string& out, std::span<const ClientInfo> clients);

// A publication as the protocol writes it: {"data":...,"info":{...},"offset":N} (offset 0
// and a null info omitted).
struct Publication {
  std::string_view data;  // raw JSON
  std::uint64_t offset = 0;
  const ClientInfo* info = nullptr;  // a client's publish; none from the server API
};

// How a subscription that negotiated `delta: "fossil"` gets a publication's data: as a JSON
// string, of the data itself (full) or of the Fossil delta from the channel's previous
// publication (delta, with "delta":true), so the SDK can decode it against the exact bytes
// it keeps.
enum class DataForm : std::uint8_t { raw, full, delta };
// {"data":...,"info":{...},"offset":N}: one publication, as a push, a subscribe result's
// `publications` and history carry it. `form` full and delta: `data` is written as a
// string (for delta, it holds the delta's bytes).
void append_publication(std::string& out, const Publication& pub, DataForm form = DataForm::raw);
// {"push":{"channel":"...","pub":{...}}}: the same bytes for every subscriber.
void append_publication_push(std::string& out, std::string_view channel, const Publication& pub,
                             DataForm form = DataForm::raw);
// A record append_publication wrote without an offset (a publication from another node,
// numbered by Redis), with `offset` added as append_publication would have written it.
void append_record_with_offset(std::string& out, std::string_view record, std::uint64_t offset);
// The same around a publication append_publication wrote before (a history record).
void append_publication_push(std::string& out, std::string_view channel, std::string_view publication);
// A record append_publication wrote (raw data) again with its data as a string (DataForm
// full), for a subscription that negotiated delta.
void append_record_as_full(std::string& out, std::string_view record);
// The same with `delta` (a Fossil delta's bytes) as its data (DataForm delta): the form
// for a subscription that holds the publication before it. The record has data.
void append_record_as_delta(std::string& out, std::string_view record, std::string_view delta);
// The raw data of a record append_publication wrote ("" when it has none).
[[nodiscard]] std::string_view record_data(std::string_view record) noexcept;

// The server's ping (and the shape of the client's pong): an empty command.
inline constexpr std::string_view kPing = "{}";

}  // namespace ringcast::protocol::client
