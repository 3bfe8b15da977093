#include "bench/load/options.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace ringcast::load {
namespace {

constexpr const char* kUsage = R"(usage: ringcast-load SCENARIO [options] ws://127.0.0.1:PORT/PATH

Opens real WebSocket connections (RFC 6455 handshake, masked frames) to one server and
measures broadcast delivery. Every message ends with `|p<pub>|s<seq>|t<ns>|`, parsed from
the end, so chat servers that prefix messages work too; anything else (join notices, a
message cut short) counts as "other".

scenarios:
  fanout   N subscribers, P publishers; closed loop: each publisher keeps --window
           messages in flight, released by its acker (--ack), for --duration seconds
  rate     open loop: P publishers send --rate messages/s in total; latency is
           publisher send -> each subscriber receive
  connect  open N connections as fast as possible (--connect-concurrency), hold them idle
           for --duration seconds, then each publisher sends --burst messages
  chat     N clients, each one publisher and subscriber, --rate messages/s in total

options:
  -c, --connections N     subscribers (chat: clients)                     [100]
  -p, --publishers P      publishing connections (not counted as subscribers) [1]
  -s, --size BYTES        payload bytes per message (at least the record) [64]
  -w, --window W          fanout: messages in flight per publisher       [16]
  -r, --rate R            rate/chat: messages per second, all publishers [1000]
  -d, --duration SECONDS  measured time (connect: idle hold), max 3600   [10]
  -b, --burst K           connect: messages per publisher after the hold  [1]
  -t, --threads T         generator threads, one io_uring each            [1]
      --ack sub|self      fanout: release the window when the message reaches the
                          publisher's designated subscriber (sub) or its own echo (self) [sub]
      --connect-concurrency K  handshakes in flight at once               [256]
      --connect-timeout S      limit for the whole connect phase          [30]
      --server-pid PID    sample the server's CPU (utime+stime) and RSS from /proc
      --json              one JSON object on stdout instead of the table
      --quiet             no progress line on stderr
      --busy-poll         generator threads spin (one core each) instead of sleeping, so
                          the server is not charged for waking them (loopback)
      --allow-remote      allow a non-loopback target
  -h, --help              this text

Deliveries count messages received by subscribers only; a publisher's copy of its own
message (chat servers echo to the sender) drives --ack self and is otherwise ignored.
Exit status: 0 done, 1 no connection could be opened, 2 bad command line.
)";

bool parse_uint(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_double(std::string_view s, double lo, double hi, double& out) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v) || v < lo || v > hi) return false;
  out = v;
  return true;
}

}  // namespace

const char* scenario_name(Scenario s) noexcept {
  switch (s) {
    case Scenario::fanout: return "fanout";
    case Scenario::rate: return "rate";
    case Scenario::connect: return "connect";
    case Scenario::chat: return "chat";
  }
  return "?";
}

void print_usage() { std::fputs(kUsage, stdout); }

bool parse_options(int argc, char** argv, Options& out, std::string& error, bool& help) {
  help = false;
  bool have_scenario = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      return true;
    }
    if (!arg.starts_with("-")) {
      if (!have_scenario) {
        if (arg == "fanout") out.scenario = Scenario::fanout;
        else if (arg == "rate") out.scenario = Scenario::rate;
        else if (arg == "connect") out.scenario = Scenario::connect;
        else if (arg == "chat") out.scenario = Scenario::chat;
        else { error = "unknown scenario '" + std::string(arg) + "' (fanout, rate, connect, chat)"; return false; }
        have_scenario = true;
      } else if (out.url.empty()) {
        out.url = std::string(arg);
      } else {
        error = "unexpected argument '" + std::string(arg) + "'";
        return false;
      }
      continue;
    }
    // --name=value or --name value.
    std::string_view name = arg, value;
    bool inline_value = false;
    if (const std::size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    auto flag = [&](std::string_view shrt, std::string_view lng) { return name == lng || (!shrt.empty() && name == shrt); };
    if (flag("", "--json")) { out.json = true; continue; }
    if (flag("", "--quiet")) { out.quiet = true; continue; }
    if (flag("", "--busy-poll")) { out.busy_poll = true; continue; }
    if (flag("", "--allow-remote")) { out.allow_remote = true; continue; }
    if (!inline_value) {
      if (i + 1 >= argc) { error = std::string(name) + ": missing value"; return false; }
      value = argv[++i];
    }
    auto bad = [&](const char* what) {
      error = std::string(name) + ": expected " + what + ", got '" + std::string(value) + "'";
      return false;
    };
    std::uint64_t u = 0;
    if (flag("-c", "--connections")) {
      if (!parse_uint(value, 1, 1'000'000, u)) return bad("an integer 1..1000000");
      out.connections = static_cast<std::uint32_t>(u);
    } else if (flag("-p", "--publishers")) {
      if (!parse_uint(value, 0, 100'000, u)) return bad("an integer 0..100000");
      out.publishers = static_cast<std::uint32_t>(u);
    } else if (flag("-s", "--size")) {
      if (!parse_uint(value, 1, 16u << 20, u)) return bad("a byte count 1..16777216");
      out.size = static_cast<std::uint32_t>(u);
    } else if (flag("-w", "--window")) {
      if (!parse_uint(value, 1, 65'536, u)) return bad("an integer 1..65536");
      out.window = static_cast<std::uint32_t>(u);
    } else if (flag("-r", "--rate")) {
      if (!parse_double(value, 0.001, 1e9, out.rate)) return bad("messages per second > 0");
    } else if (flag("-d", "--duration")) {
      if (!parse_double(value, 0.0, kMaxDuration, out.duration)) return bad("seconds 0..3600");
    } else if (flag("-b", "--burst")) {
      if (!parse_uint(value, 0, 1'000'000, u)) return bad("an integer 0..1000000");
      out.burst = static_cast<std::uint32_t>(u);
    } else if (flag("-t", "--threads")) {
      if (!parse_uint(value, 1, 256, u)) return bad("an integer 1..256");
      out.threads = static_cast<std::uint32_t>(u);
    } else if (flag("", "--connect-concurrency")) {
      if (!parse_uint(value, 1, 1'000'000, u)) return bad("an integer >= 1");
      out.connect_concurrency = static_cast<std::uint32_t>(u);
    } else if (flag("", "--connect-timeout")) {
      if (!parse_double(value, 0.1, kMaxDuration, out.connect_timeout)) return bad("seconds 0.1..3600");
    } else if (flag("", "--ack")) {
      if (value == "sub") out.ack = AckMode::sub;
      else if (value == "self") out.ack = AckMode::self;
      else return bad("sub or self");
    } else if (flag("", "--server-pid")) {
      if (!parse_uint(value, 1, 1u << 30, u)) return bad("a process id");
      out.server_pid = static_cast<pid_t>(u);
    } else {
      error = "unknown option '" + std::string(name) + "' (see --help)";
      return false;
    }
  }
  if (!have_scenario) { error = "missing SCENARIO (fanout, rate, connect, chat); see --help"; return false; }
  if (out.url.empty()) { error = "missing target URL, e.g. ws://127.0.0.1:9000/"; return false; }
  if (out.scenario != Scenario::chat && out.publishers == 0 && out.scenario != Scenario::connect) {
    error = "--publishers must be at least 1 for this scenario";
    return false;
  }
  return true;
}

}  // namespace ringcast::load
