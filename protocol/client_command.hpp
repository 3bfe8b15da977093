// The commands of the Centrifugo bidirectional client protocol, JSON encoding: a text
// message holds one or more commands, one JSON object per line. Each line becomes a
// Command, handed to a sink before the next line is read: its strings point into the parser
// and are valid during the call only. Every byte of a command is checked as JSON (RFC 8259;
// UTF-8), also in fields ringcast ignores, so what it passes on to others (`data`) is JSON. simdjson's On-Demand parser does
// the work, chosen by measurement (engine/README): `data` stays the client's own bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::protocol::client {

enum class Method : std::uint8_t {
  none,  // `{}`: the client's answer to our ping
  connect,
  subscribe,
  unsubscribe,
  publish,
  presence,
  presence_stats,
  history,
  ping,
  send,
  rpc,
  refresh,
  sub_refresh,
};
inline constexpr std::size_t kMethodCount = static_cast<std::size_t>(Method::sub_refresh) + 1;
[[nodiscard]] std::string_view method_name(Method m) noexcept;

// connect's `subs`: where the client stands in a server-side subscription it recovers.
struct SubPosition {
  std::string_view channel, epoch;
  std::uint64_t offset = 0;
  bool recover = false;
};
inline constexpr std::size_t kMaxConnectSubs = 1024;  // more in one connect: bad_command

struct Command {
  std::uint32_t id = 0;
  Method method = Method::none;
  std::string_view channel;
  std::string_view token;    // connect, subscribe, refresh, sub_refresh
  std::string_view data;     // raw JSON (connect, subscribe, publish, send, rpc), empty if absent
  std::string_view name, version;  // connect
  std::string_view rpc_method;     // rpc
  std::string_view epoch;          // subscribe (with offset, recover), history (since)
  std::string_view delta;          // subscribe: the delta type asked for ("fossil")
  std::uint64_t offset = 0;
  std::int64_t limit = 0;          // history
  std::uint64_t flag = 0;          // subscribe: kRejectUnrecovered and others (ignored)
  std::span<const SubPosition> subs;  // connect: server-side subscriptions to recover
  bool recover = false, positioned = false, recoverable = false, join_leave = false;
  bool reverse = false, has_since = false;  // history
};

// subscribe's `flag` bit: answer error 112 rather than `recovered: false`.
inline constexpr std::uint64_t kRejectUnrecovered = 2;

enum class ParseError : std::uint8_t {
  none,
  not_json,      // a line that is not a JSON object: the protocol's bad-request disconnect
  bad_command,   // JSON, but a field of the wrong type or range, or two methods in one
};

class CommandSink {
 public:
  // One command, in frame order; false stops the parse (the connection is closing).
  virtual bool on_command(const Command& command) = 0;

 protected:
  ~CommandSink() = default;
};

class CommandParser {
 public:
  CommandParser();
  ~CommandParser();
  CommandParser(const CommandParser&) = delete;
  CommandParser& operator=(const CommandParser&) = delete;

  struct Result {
    std::size_t commands = 0;  // handed to the sink (those before a bad line)
    ParseError error = ParseError::none;
    const char* what = "";  // for the log: what was wrong
  };
  // Parses every line of `frame` (blank lines are skipped), stopping at the first bad one.
  [[nodiscard]] Result parse(std::string_view frame, CommandSink& sink) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// {"id":N,"<method>":{...}}: a subscribe or history command written back as JSON, every
// field the parser reads for it (a held one runs again later from these bytes).
void append_command_line(std::string& out, const Command& c);

}  // namespace ringcast::protocol::client
