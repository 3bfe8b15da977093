#include "bench/load/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace ringcast::load {
namespace {

constexpr const char* kUsage = R"(usage: ringcast-load SCENARIO [options] ws[s]://127.0.0.1:PORT/PATH[,URL...]

Opens real WebSocket connections (RFC 6455 handshake, masked frames) to a server (or to
nodes of one: several URLs spread the subscribers round robin) and measures broadcast
delivery. Every message ends with `|p<pub>|s<seq>|t<ns>|`, parsed from
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
      --payload x|json    what fills the payload before the record: 'x' bytes, or market
                          data as JSON (ticker lines of ringcast-feed's synthetic market,
                          with ' for " under --channel, where the payload is a JSON
                          string): it compresses as real ticks do, for --deflate     [x]
  -w, --window W          fanout: messages in flight per publisher       [16]
  -r, --rate R            rate/chat: messages per second, all publishers [1000]
  -d, --duration SECONDS  measured time (connect: idle hold), max 3600   [10]
  -b, --burst K           connect: messages per publisher after the hold  [1]
  -t, --threads T         generator threads, one io_uring each            [1]
      --ack sub|self      fanout: release the window when the message reaches the
                          publisher's designated subscriber (sub) or its own echo (self) [sub]
      --connect-concurrency K  handshakes in flight at once               [256]
      --connect-timeout S      limit for the whole connect phase          [30]
      --processes N       connect: split the connections over N generator processes
                          (forked, in step phase by phase, one merged report) [1]
      --publish-to URL    publishers connect to this server (a node of the same cluster:
                          latency then includes the hop between nodes) [the first URL]
      --source ADDR[,ADDR...]   local addresses to connect from, round robin (e.g.
                          127.0.0.1,127.0.0.2): each one has its own ephemeral ports
      --server-pid PID[,PID...]  sample the server's CPU (utime+stime) and RSS from
                          /proc; several pids are summed (a server run as several processes)
      --json              one JSON object on stdout instead of the table
      --quiet             no progress line on stderr
      --busy-poll         generator threads spin (one core each) instead of sleeping, so
                          the server is not charged for waking them (loopback)
      --allow-remote      allow a non-loopback target
      --tls               TLS on every connection (implied by a wss:// URL; with ws:// it
                          speaks TLS to that host:port anyway). OpenSSL, TLS 1.2+, SNI = the
                          URL host when it is a name, ALPN http/1.1, the server certificate
                          is NOT verified; every connection makes a full handshake (no
                          resumption). The generator's CPU per message rises accordingly
      --tls-version 1.2|1.3  with TLS: allow only this protocol version
      --deflate           offer permessage-deflate (RFC 7692) as browsers do
                          (client_max_window_bits); compressed messages are inflated
                          (one zlib stream per thread: the server must answer no context
                          takeover, else the connection counts as failed). Reported: how
                          many negotiated it, how many messages came compressed, and the
                          subscribers' bytes on the wire per delivery beside the payload
      --channel NAME      speak the Centrifugo client protocol (JSON) to the URL (e.g.
                          ws://127.0.0.1:9000/connection/websocket): every connection
                          connects anonymously, subscribers subscribe to NAME, publishers
                          send publish commands with the payload as a JSON string, and the
                          record is read from inside each publication push (and its
                          offset, where the channel keeps history, checked to run +1)
      --api-key KEY       with --channel, fanout and rate: publishers publish through the
                          server HTTP API instead (POST /api/publish with X-API-Key: KEY on
                          one keep-alive connection each, the window's requests pipelined);
                          an answer that is not 200 {"result":...} counts as an API error
      --channels N        with --channel NAME: N channels NAME0..NAME<N-1>; every
                          subscriber subscribes to all of them, each publisher's messages
                          go round robin over them (offsets are not checked)       [1]
      --slow K            fanout and rate: the last K subscribers read slowly (one 2 KiB
                          receive per 100 ms, a 4 KiB receive buffer) while publishers
                          publish, and catch up in the drain; their deliveries, what they
                          missed, and how many messages came after the last they got of
                          each publisher and channel (with one publisher, 0: each ended on
                          every channel's latest) are reported apart; latency is the
                          others' only                                             [0]
      --reconnect-at S    rate, with --channel NAME (one channel that keeps history):
                          S seconds into the run every subscriber drops its connection
                          (TCP FIN, no close frame: a network blip) and at once opens a
                          new one and subscribes with recover from the epoch and offset
                          it last saw (a reconnect storm). The publications the reply
                          recovers count as deliveries (no latency); reported: how many
                          recovered, the time from the drop to the last one, each
                          client's drop-to-reply time, and the server's CPU over it.
                          The dropped connections' ports stay in TIME_WAIT here, so a
                          storm needs twice the ephemeral ports (see below)
      --reconnect-elsewhere  with --reconnect-at and several URLs (nodes of one
                          cluster): each subscriber reconnects to the URL after its own,
                          as clients of a node that went down reach another
  -h, --help              this text

Deliveries count messages received by subscribers only; a publisher's copy of its own
message (chat servers echo to the sender) drives --ack self and is otherwise ignored.

Ephemeral ports: every connection from one local address to one server port needs its
own local port out of net.ipv4.ip_local_port_range (28,232 by default). Past half of
them connect() gets slow (~200/s here instead of ~10,000/s: Linux hands out even ports
first, then scans the whole range on every connect), so above ~14,000 connections
spread them with --source over several loopback addresses. A warning says when.

Descriptor limits: each connection is a descriptor here and one in the server, and a
process may hold only RLIMIT_NOFILE of them. ringcast-load raises its soft limit to the
hard one and refuses a run that needs more per process (it keeps 64 + 4 per thread for
itself: a hard limit of 20000 allows 19,932 connections with -t 1); --processes N splits a
connect run so each process stays below it. The server is capped the same way, however
many generator processes there are: one ringcast process under a limit of 20000 holds at
most ~19.9k connections (with --threads 1 its table has 20000 - 64 + 16 = 19,952 slots,
leaving descriptors for its listener, io_uring and files; later connections are closed
during the handshake). Beyond that, start several ringcast processes on the same port
(their listeners are SO_REUSEPORT, so the kernel spreads the connections over them) and
give every pid to --server-pid. Rooms are per process then: a message reaches only the
clients of the ringcast process it was sent to, so use -p 0 (or expect the loss).

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
    if (flag("", "--reconnect-elsewhere")) { out.reconnect_elsewhere = true; continue; }
    if (flag("", "--allow-remote")) { out.allow_remote = true; continue; }
    if (flag("", "--tls")) { out.tls = true; continue; }
    if (flag("", "--deflate")) { out.deflate = true; continue; }
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
    } else if (flag("", "--channel")) {
      if (value.empty() || value.find_first_of("\"\\") != std::string_view::npos) return bad("a channel name");
      out.channel = std::string(value);
    } else if (flag("", "--channels")) {
      if (!parse_uint(value, 1, 10'000, u)) return bad("an integer 1..10000");
      out.channels = static_cast<std::uint32_t>(u);
    } else if (flag("", "--slow")) {
      if (!parse_uint(value, 0, 1'000'000, u)) return bad("an integer >= 0");
      out.slow = static_cast<std::uint32_t>(u);
    } else if (flag("", "--reconnect-at")) {
      if (!parse_double(value, 0.001, kMaxDuration, out.reconnect_at)) return bad("seconds > 0");
    } else if (flag("", "--api-key")) {
      if (value.empty() || value.find_first_of("\r\n") != std::string_view::npos) return bad("a key");
      out.api_key = std::string(value);
    } else if (flag("", "--payload")) {
      if (value == "x") out.json_payload = false;
      else if (value == "json") out.json_payload = true;
      else return bad("x or json");
    } else if (flag("", "--tls-version")) {
      if (value == "1.2") out.tls_version = 12;
      else if (value == "1.3") out.tls_version = 13;
      else return bad("1.2 or 1.3");
    } else if (flag("", "--processes")) {
      if (!parse_uint(value, 1, kMaxProcesses, u)) return bad("an integer 1..64");
      out.processes = static_cast<std::uint32_t>(u);
    } else if (flag("", "--publish-to")) {
      if (value.empty()) return bad("a ws:// URL");
      out.publish_url = std::string(value);
    } else if (flag("", "--source")) {
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view one = rest.substr(0, comma);
        if (one.empty()) return bad("an address or a comma-separated list of them");
        out.sources.emplace_back(one);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      if (out.sources.size() > kMaxSources) return bad("at most 256 addresses");
    } else if (flag("", "--server-pid")) {
      // PID[,PID...]: each one a process id; repeating the flag adds more.
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        if (!parse_uint(rest.substr(0, comma), 1, 1u << 30, u)) return bad("a process id or a comma-separated list of them");
        out.server_pids.push_back(static_cast<pid_t>(u));
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      if (out.server_pids.size() > kMaxServerPids) return bad("at most 64 process ids");
    } else {
      error = "unknown option '" + std::string(name) + "' (see --help)";
      return false;
    }
  }
  if (!have_scenario) { error = "missing SCENARIO (fanout, rate, connect, chat); see --help"; return false; }
  if (out.url.empty()) { error = "missing target URL, e.g. ws://127.0.0.1:9000/"; return false; }
  for (std::string_view rest = out.url;;) {
    const std::size_t comma = rest.find(',');
    if (rest.substr(0, comma).empty()) { error = "an empty URL in '" + out.url + "'"; return false; }
    out.urls.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (out.urls.size() > 64) { error = "at most 64 target URLs"; return false; }
  if ((out.urls.size() > 1 || !out.publish_url.empty()) && out.channel.empty()) {
    // Chat rooms (and /echo) live on one server: deliveries across servers would all count lost.
    error = "several URLs and --publish-to: only with --channel (nodes of one cluster)";
    return false;
  }
  if (!out.publish_url.empty() && out.scenario == Scenario::chat) {
    error = "--publish-to: not in the chat scenario (every client publishes where it subscribes)";
    return false;
  }
  for (const std::string& u : out.urls) {
    if (u.starts_with("wss://") != out.url.starts_with("wss://") ||
        (!out.publish_url.empty() && out.publish_url.starts_with("wss://") != out.url.starts_with("wss://"))) {
      error = "every URL must have the same scheme (ws:// or wss://)";
      return false;
    }
  }
  if (out.url.starts_with("wss://")) out.tls = true;
  if (out.tls_version != 0 && !out.tls) {
    error = "--tls-version: only with --tls or a wss:// URL";
    return false;
  }
  if (out.scenario != Scenario::chat && out.publishers == 0 && out.scenario != Scenario::connect) {
    error = "--publishers must be at least 1 for this scenario";
    return false;
  }
  if (!out.api_key.empty() && (out.channel.empty() || (out.scenario != Scenario::fanout && out.scenario != Scenario::rate))) {
    error = "--api-key: only with --channel, in the fanout and rate scenarios";
    return false;
  }
  if (out.channels > 1 && out.channel.empty()) {
    error = "--channels: only with --channel";
    return false;
  }
  if (out.slow != 0 && ((out.scenario != Scenario::fanout && out.scenario != Scenario::rate) || out.slow >= out.connections)) {
    error = "--slow: fewer than --connections, in the fanout and rate scenarios";
    return false;
  }
  if (out.reconnect_at != 0 && (out.scenario != Scenario::rate || out.channel.empty() || out.channels != 1 ||
                                out.slow != 0 || out.reconnect_at >= out.duration)) {
    error = "--reconnect-at: only in the rate scenario with one --channel, without --slow, before --duration ends";
    return false;
  }
  if (out.reconnect_elsewhere && (out.reconnect_at == 0 || out.urls.size() < 2)) {
    error = "--reconnect-elsewhere: with --reconnect-at and several URLs";
    return false;
  }
  if (out.processes > 1 && out.scenario != Scenario::connect) {
    error = "--processes: only the connect scenario runs in several processes";
    return false;
  }
  if (out.processes > out.connections) {
    error = "--processes " + std::to_string(out.processes) + " is more than the " + std::to_string(out.connections) +
            " connections to split";
    return false;
  }
  return true;
}

std::vector<Share> split_run(const Options& opt) {
  const std::uint32_t n = std::max<std::uint32_t>(opt.processes, 1);
  const bool chat = opt.scenario == Scenario::chat;
  const std::uint32_t pubs = chat ? opt.connections : opt.publishers;
  std::vector<Share> out(n);
  std::uint32_t base = 0;
  for (std::uint32_t k = 0; k < n; ++k) {
    Share& s = out[k];
    s.subscribers = opt.connections / n + (k < opt.connections % n ? 1 : 0);
    s.publishers = chat ? s.subscribers : pubs / n + (k < pubs % n ? 1 : 0);
    s.pub_base = base;
    s.pub_total = pubs;
    base += s.publishers;
  }
  return out;
}

}  // namespace ringcast::load
