// Command line of ringcast-load: what to run, against what, for how long. Parsing either
// succeeds or yields a one-line error (the caller prints it and exits 2).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::load {

enum class Scenario : std::uint8_t { fanout, rate, connect, chat };
enum class AckMode : std::uint8_t { sub, self };  // who releases a closed-loop publisher's window

struct Options {
  Scenario scenario = Scenario::fanout;
  std::string url;                   // as given: one URL, or several comma-separated
  std::vector<std::string> urls;     // url split: subscribers go round robin over them
  std::string publish_url;           // --publish-to: the publishers' server ("": urls[0])
  std::uint32_t connections = 100;   // subscribers (chat: clients, each also publishes)
  std::uint32_t publishers = 1;
  std::uint32_t size = 64;           // payload bytes per published message
  std::uint32_t window = 16;         // fanout: messages in flight per publisher
  double rate = 1000.0;              // rate/chat: messages per second, all publishers together
  double duration = 10.0;            // seconds of measurement (connect: idle hold)
  std::uint32_t burst = 1;           // connect: messages each publisher sends after the hold
  std::uint32_t threads = 1;
  std::uint32_t connect_concurrency = 256;  // handshakes in flight, all threads together
  double connect_timeout = 30.0;     // seconds for the whole connect phase
  AckMode ack = AckMode::sub;
  std::uint32_t processes = 1;       // connect: generator processes sharing the connections
  std::vector<pid_t> server_pids;    // sampled and summed (a server may run as several processes)
  std::vector<std::string> sources;  // local addresses the connections are spread over (round robin)
  bool json = false;
  bool allow_remote = false;
  bool quiet = false;                // no progress lines
  bool busy_poll = false;            // generator threads spin instead of sleeping
  bool tls = false;                  // --tls or a wss:// URL: TLS over every connection
  bool deflate = false;              // --deflate: offer permessage-deflate, inflate what comes compressed
  bool json_payload = false;         // --payload json: market-data JSON instead of 'x' bytes
  int tls_version = 0;               // --tls-version: 0 (1.2 or 1.3), 12 or 13
  std::string channel;               // --channel: speak the Centrifugo client protocol on it
  std::string api_key;               // --api-key: publishers POST /api/publish with it
  std::uint32_t channels = 1;        // --channels: NAME0..NAME<n-1>, every subscriber in all
  std::uint32_t slow = 0;            // --slow: subscribers that read 2 KiB per 100 ms while publishing
  double reconnect_at = 0;           // --reconnect-at: seconds into the run when every subscriber
                                     // drops and reconnects with recover (0: never)
  bool reconnect_elsewhere = false;  // --reconnect-elsewhere: to the next URL (a node gone)
};

inline constexpr double kMaxDuration = 3600.0;  // the hard cap: a run always ends
inline constexpr std::uint32_t kMaxProcesses = 64;
inline constexpr std::size_t kMaxServerPids = 64;
inline constexpr std::size_t kMaxSources = 256;

// One generator process's part of a run: its subscribers, and its publishers, whose ids
// are pub_base.. pub_base+publishers-1 out of pub_total (every process tracks all ids, so
// a message from another process's publisher is a delivery like any other).
struct Share {
  std::uint32_t subscribers = 0;
  std::uint32_t publishers = 0;
  std::uint32_t pub_base = 0;
  std::uint32_t pub_total = 0;
};

// Splits the run's subscribers and publishers over opt.processes as evenly as possible
// (the first processes take the remainders); one share when processes is 1. Chat clients
// are subscribers and publishers at once: their share has publishers == subscribers.
[[nodiscard]] std::vector<Share> split_run(const Options& opt);

// Parses argv; on failure returns false with `error` set to one line.
[[nodiscard]] bool parse_options(int argc, char** argv, Options& out, std::string& error, bool& help);

[[nodiscard]] const char* scenario_name(Scenario s) noexcept;
void print_usage();

}  // namespace ringcast::load
