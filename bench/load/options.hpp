// Command line of ringcast-load: what to run, against what, for how long. Parsing either
// succeeds or yields a one-line error (the caller prints it and exits 2).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace ringcast::load {

enum class Scenario : std::uint8_t { fanout, rate, connect, chat };
enum class AckMode : std::uint8_t { sub, self };  // who releases a closed-loop publisher's window

struct Options {
  Scenario scenario = Scenario::fanout;
  std::string url;
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
  pid_t server_pid = 0;
  bool json = false;
  bool allow_remote = false;
  bool quiet = false;                // no progress lines
  bool busy_poll = false;            // generator threads spin instead of sleeping
};

inline constexpr double kMaxDuration = 3600.0;  // the hard cap: a run always ends

// Parses argv; on failure returns false with `error` set to one line.
[[nodiscard]] bool parse_options(int argc, char** argv, Options& out, std::string& error, bool& help);

[[nodiscard]] const char* scenario_name(Scenario s) noexcept;
void print_usage();

}  // namespace ringcast::load
