// The server HTTP API's JSON, in Centrifugo's shape: POST /api/<method> with a JSON object
// body; the answer is {"result":{...}} or {"error":{"code":C,"message":"..."}}. Requests
// are parsed by simdjson On-Demand like client commands: every byte is checked, also in
// fields ringcast ignores, and `data` stays the caller's own bytes. Pure.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/client_reply.hpp"

namespace ringcast::protocol::api {

enum class Method : std::uint8_t {
  unknown,
  publish,
  broadcast,
  subscribe,
  unsubscribe,
  disconnect,
  refresh,
  presence,
  presence_stats,
  history,
  history_remove,
  channels,
  info,
  batch,
};
[[nodiscard]] Method method_of(std::string_view name) noexcept;
[[nodiscard]] std::string_view method_name(Method m) noexcept;  // "unknown" for unknown

// One request's fields (views into the parser): publish {"channel":C,"data":D,"delta":B}, broadcast
// {"channels":[C...],"data":D}, history {"channel":C,"limit":N,"since":{"offset":O,
// "epoch":E},"reverse":B}, history_remove {"channel":C}. Fields another method takes are
// checked and ignored.
struct Request {
  std::vector<std::string_view> channels;  // the one of all but broadcast; none when absent
  std::string_view data;                   // raw JSON; empty when absent
  bool delta = false;                      // publish, broadcast: send subscribers a delta where they can
  std::int64_t limit = 0;                  // history: 0 none, -1 all (up to a cap)
  bool has_since = false, reverse = false;
  std::uint64_t since_offset = 0;
  std::string_view since_epoch;
  std::string_view pattern;  // channels: a glob over channel names; empty: all
  // disconnect {"user","client","whitelist":[...],"disconnect":{"code","reason"}} and
  // unsubscribe {"user","channel","client"}.
  std::string_view user, client;
  std::vector<std::string_view> whitelist;
  bool has_disconnect = false;
  std::uint32_t disconnect_code = 0;
  std::string_view disconnect_reason;
};

// One command of a batch {"commands":[{"<method>":{...}},...]}: its method (unknown for
// a name ringcast does not know), the name as written, and its parameters' raw JSON.
struct BatchCommand {
  Method method = Method::unknown;
  std::string_view name, params;
};

enum class ParseError : std::uint8_t {
  none,
  not_json,    // the body is not one JSON object (HTTP 400)
  wrong_type,  // a field of the wrong type (HTTP 400)
};

class RequestParser {
 public:
  // More channels than this in one broadcast, or commands in one batch, are a wrong_type
  // request.
  static constexpr std::size_t kMaxBroadcastChannels = 10'000;
  static constexpr std::size_t kMaxBatchCommands = 10'000;

  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  struct Result {
    ParseError error = ParseError::none;
    const char* what = "";  // for the log
  };
  // `out` is valid until the next call.
  [[nodiscard]] Result parse(Method method, std::string_view body, Request& out) noexcept;
  // A batch body: each command is an object with one key, its method. Views into this
  // parser, valid until its next call (parse a command's params with another parser).
  [[nodiscard]] Result parse_batch(std::string_view body, std::vector<BatchCommand>& out) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// {"result":{}}
void append_empty_result(std::string& out);
// {"result":{"offset":N,"epoch":"..."}}: a publish into a channel with history.
void append_publish_result(std::string& out, std::uint64_t offset, std::string_view epoch);
// {"result":{"publications":[...],"epoch":"...","offset":N}}: `publications` as
// client::append_publication wrote them.
// {"result":{"channels":{"<channel>":{"num_clients":N},...}}}
struct ChannelCount {
  std::string_view channel;
  std::uint64_t clients = 0;
};
void append_channels_result(std::string& out, std::span<const ChannelCount> channels);

// {"result":{"nodes":[{"uid":...,"name":...,"version":...,"num_clients":N,"num_channels":C,
//  "uptime":S}]}}: one node (this process).
struct NodeInfo {
  std::string_view uid, name, version;
  std::uint64_t clients = 0, channels = 0, uptime_seconds = 0;
};
void append_info_result(std::string& out, const NodeInfo& node);

// {"result":{"num_clients":N,"num_users":M}}
void append_presence_stats_result(std::string& out, std::size_t clients, std::size_t users);
// {"result":{"presence":{"<client>":{...},...}}}
void append_presence_result(std::string& out, std::span<const client::ClientInfo> clients);
void append_history_result(std::string& out, std::span<const std::string_view> publications, std::string_view epoch,
                           std::uint64_t offset);
// {"error":{"code":C,"message":"..."}}
void append_error(std::string& out, client::ErrorCode code);

}  // namespace ringcast::protocol::api
