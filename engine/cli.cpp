#include "engine/cli.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace ringcast::engine {
namespace {

std::optional<std::uint64_t> parse_uint(std::string_view s) noexcept {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool valid_host(std::string_view host) {
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost") return true;
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

std::optional<bool> parse_switch(std::string_view t) noexcept {
  if (t == "on") return true;
  if (t == "off") return false;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view t) noexcept {
  std::uint64_t scale = 1000;
  if (t.ends_with("ms")) {
    scale = 1;
    t.remove_suffix(2);
  } else if (t.ends_with("s")) {
    t.remove_suffix(1);
  } else if (t.ends_with("m")) {
    scale = 60'000;
    t.remove_suffix(1);
  } else if (t.ends_with("h")) {  // Centrifugo's history_meta_ttl is "720h"
    scale = 3'600'000;
    t.remove_suffix(1);
  }
  auto v = parse_uint(t);
  if (!v || *v > (1ull << 40) / scale) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*v * scale));
}

std::optional<std::size_t> parse_size(std::string_view t) noexcept {
  std::uint64_t scale = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'k': case 'K': scale = 1ull << 10; break;
      case 'm': case 'M': scale = 1ull << 20; break;
      case 'g': case 'G': scale = 1ull << 30; break;
      default: break;
    }
    if (scale != 1) t.remove_suffix(1);
  }
  auto v = parse_uint(t);
  if (!v || *v > (1ull << 40) / scale) return std::nullopt;
  return static_cast<std::size_t>(*v * scale);
}

std::string_view cli_help() noexcept {
  return R"(usage: ringcast [options]

A WebSocket broadcast server on io_uring (or epoll). By default a chat room on
ws://127.0.0.1:9000/: each client is named ID<its remote port>; every text message is
broadcast to the room (sender included) as "ID<port>: <text>", binary messages are
relayed unchanged as binary, and joins/leaves are announced as "ID<port> joined" /
"ID<port> left" (--announce off turns those notices off).
  ws://HOST:PORT/<room>   chat room <room> ("/" is the default room)
  ws://HOST:PORT/echo     echoes every message (text stays text, binary stays binary)
  ws://HOST:PORT/connection/websocket
                          the Centrifugo client protocol (JSON): channels for
                          the centrifuge SDKs (--config sets who may do what)
  GET /<room>             a browser chat client for that room
  GET /healthz            "ok"
  GET /metrics            Prometheus counters
  POST /api/<method>      the server API (publish, broadcast, history, presence,
                          channels, info, disconnect, unsubscribe, batch),
                          with X-API-Key: http_api.key from --config

options:
  --host ADDR               address to listen on (IPv4 or IPv6)        [127.0.0.1]
  --port N                  TCP port (0: any free port)                [9000]
  --threads N               shards, one thread and event loop each     [one per CPU]
  --max-message SIZE        largest message accepted, e.g. 64k, 16M (a
                            compressed one: its inflated size)         [16M]
  --deflate on|off          accept permessage-deflate (RFC 7692) when a
                            client offers it: no context takeover either
                            way; a broadcast is compressed once for all
                            its deflate subscribers                    [on]
  --deflate-min-size SIZE   messages shorter than this go uncompressed [128]
  --max-backlog SIZE        unsent bytes queued per client             [1M]
  --slow-policy close|drop  past the backlog: close the client with 1008,
                            or drop messages for it (counted)          [close]
  --idle-timeout DURATION   ping after half of it without input, close
                            after all of it (0 disables), e.g. 60s     [60s]
  --handshake-timeout DURATION  time to complete the HTTP upgrade (or a
                            request; an idle keep-alive connection is
                            closed after it)                           [10s]
  --max-http-body SIZE      body of a plain HTTP request; more: 413   [1M]
  --announce on|off         chat rooms announce "ID<port> joined/left"
                            to every member                            [on]
  --coalesce auto|DURATION  hold broadcast frames up to this long so each
                            client gets them in fewer sends; trades that
                            much latency for CPU (0: send at once), e.g.
                            250ms for bullet comments; auto: hold as
                            long as the last fan-out pass took (none
                            when idle, at most 100ms)                  [0]
  --pin on|off              pin shard i to the i-th CPU the process may
                            use: its ring and connections stay in one
                            core's caches                              [off]
  --backend auto|uring|epoll  the I/O backend: auto uses io_uring and
                            falls back to epoll (logging why) where
                            io_uring is refused (seccomp, sysctl, old
                            kernel); uring exits 1 there instead      [auto]
  --tls-cert FILE           PEM certificate (then its chain): with
                            --tls-key, --port speaks wss:// and https://
  --tls-key FILE            PEM private key of --tls-cert
  --tls-port N              serve wss on this port too, keeping ws on
                            --port (0: any free port)                  [none]
  --tls-ciphers LIST        TLS 1.2 ciphers, OpenSSL syntax    [ECDHE + AEAD]
  --tls-ciphersuites LIST   TLS 1.3 suites                [OpenSSL's default]
  --config FILE             the client protocol's and API's settings, in
                            Centrifugo's shape (client.*, channel.*, http_api.*;
                            other keys are logged and ignored)         [none]
  --broker URL[,URL...]     join the nodes sharing these Redis servers
                            (redis://HOST[:PORT][/DB]; several: channels
                            and rooms spread over them by a hash of their
                            name): publications, chat lines, history and
                            presence go through Redis, so clients of every
                            node see them, in one order        [none: alone]
  --demo-sdk FILE           the centrifuge SDK's browser build (npm
                            centrifuge, dist/centrifuge.js), served at
                            /demo/centrifuge.js for the demo pages
                            /demo/ticker and /demo/danmaku             [none]
  --log-level error|warn|info|debug                                    [info]
  --simd scalar|sse2|avx2|avx512  force the SIMD kernels               [best available]
  --help                    show this help
  --version                 show the version

SIZE takes an optional k/M/G suffix (binary); DURATION takes ms, s (default) or m.
Flags accept "--flag value" or "--flag=value". SIGINT/SIGTERM: close every client with
1001, drain for up to 5 s, exit 0. SIGHUP: load the TLS certificate and key again (new
connections use them; if they fail to load, the old pair stays and the log says why).
)";
}

CliOptions parse_cli(const std::vector<std::string_view>& args) {
  CliOptions o;
  auto fail = [&o](std::string msg) {
    if (o.error.empty()) o.error = std::move(msg);
    return o;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      o.action = CliOptions::Action::help;
      return o;
    }
    if (a == "--version") {
      o.action = CliOptions::Action::version;
      return o;
    }
    if (!a.starts_with("--")) return fail("unexpected argument '" + std::string(a) + "'");
    std::string_view name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    static constexpr std::string_view kKnown[] = {"--host", "--port", "--threads", "--max-message",
                                                  "--max-backlog", "--slow-policy", "--idle-timeout",
                                                  "--handshake-timeout", "--announce", "--coalesce", "--pin", "--log-level",
                                                  "--simd", "--backend", "--max-http-body", "--tls-cert", "--tls-key",
                                                  "--tls-port", "--tls-ciphers", "--tls-ciphersuites", "--config",
                                                  "--demo-sdk", "--deflate", "--deflate-min-size", "--broker"};
    bool known = false;
    for (std::string_view k : kKnown) known = known || k == name;
    if (!known) return fail("unknown option '" + std::string(name) + "'");
    if (!has_value) {
      if (i + 1 >= args.size()) return fail("option '" + std::string(name) + "' needs a value");
      value = args[++i];
    }
    std::string bad = "invalid value '" + std::string(value) + "' for " + std::string(name);
    if (name == "--host") {
      if (!valid_host(value)) return fail(bad + " (an IPv4 or IPv6 address)");
      o.config.host = std::string(value);
    } else if (name == "--port") {
      auto v = parse_uint(value);
      if (!v || *v > 65535) return fail(bad);
      o.config.port = static_cast<std::uint16_t>(*v);
    } else if (name == "--threads") {
      auto v = parse_uint(value);
      if (!v || *v == 0 || *v > 1024) return fail(bad);
      o.config.threads = static_cast<unsigned>(*v);
    } else if (name == "--max-message") {
      auto v = parse_size(value);
      if (!v || *v == 0 || *v > (1ull << 30)) return fail(bad + " (1 byte to 1G)");
      o.config.max_message = *v;
    } else if (name == "--deflate") {
      auto v = parse_switch(value);
      if (!v) return fail(bad + " (on or off)");
      o.config.deflate = *v;
    } else if (name == "--deflate-min-size") {
      auto v = parse_size(value);
      if (!v || *v > (1ull << 30)) return fail(bad + " (0 to 1G)");
      o.config.deflate_min_size = *v;
    } else if (name == "--max-backlog") {
      auto v = parse_size(value);
      if (!v || *v == 0 || *v > (1ull << 34)) return fail(bad);
      o.config.max_backlog = *v;
    } else if (name == "--max-http-body") {
      auto v = parse_size(value);
      if (!v || *v > (1ull << 30)) return fail(bad + " (0 to 1G)");
      o.config.max_http_body = *v;
    } else if (name == "--slow-policy") {
      if (value == "close") {
        o.config.slow_policy = SlowPolicy::close;
      } else if (value == "drop") {
        o.config.slow_policy = SlowPolicy::drop;
      } else {
        return fail(bad + " (close or drop)");
      }
    } else if (name == "--idle-timeout") {
      auto v = parse_duration(value);
      if (!v) return fail(bad);
      o.config.idle_timeout = *v;
    } else if (name == "--handshake-timeout") {
      auto v = parse_duration(value);
      if (!v || v->count() == 0) return fail(bad);
      o.config.handshake_timeout = *v;
    } else if (name == "--announce") {
      auto v = parse_switch(value);
      if (!v) return fail(bad + " (on or off)");
      o.config.announce = *v;
    } else if (name == "--coalesce") {
      o.config.coalesce_auto = value == "auto";
      auto v = o.config.coalesce_auto ? std::optional<std::chrono::milliseconds>(0) : parse_duration(value);
      if (!v || *v > std::chrono::milliseconds(10'000)) return fail(bad + " (auto, or 0 to 10s)");
      o.config.coalesce = *v;
    } else if (name == "--pin") {
      auto v = parse_switch(value);
      if (!v) return fail(bad + " (on or off)");
      o.config.pin_threads = *v;
    } else if (name == "--backend") {
      if (value == "auto") o.config.backend = BackendKind::automatic;
      else if (value == "uring") o.config.backend = BackendKind::uring;
      else if (value == "epoll") o.config.backend = BackendKind::epoll;
      else return fail(bad + " (auto, uring or epoll)");
    } else if (name == "--tls-cert" || name == "--tls-key") {
      if (value.empty()) return fail(bad + " (a PEM file)");
      (name == "--tls-cert" ? o.config.tls.cert_file : o.config.tls.key_file) = std::string(value);
    } else if (name == "--tls-port") {
      auto v = parse_uint(value);
      if (!v || *v > 65535) return fail(bad);
      o.config.tls.port = static_cast<std::uint16_t>(*v);
    } else if (name == "--tls-ciphers" || name == "--tls-ciphersuites") {
      if (value.empty()) return fail(bad + " (an OpenSSL cipher list)");
      (name == "--tls-ciphers" ? o.config.tls.ciphers : o.config.tls.ciphersuites) = std::string(value);
    } else if (name == "--config") {
      if (value.empty()) return fail(bad + " (a JSON file)");
      o.config_file = std::string(value);
    } else if (name == "--broker") {
      if (std::string err = parse_broker_list(value, o.config.client.broker); !err.empty()) return fail("--broker: " + err);
    } else if (name == "--demo-sdk") {
      if (value.empty()) return fail(bad + " (a JavaScript file)");
      o.demo_sdk_file = std::string(value);
    } else if (name == "--log-level") {
      if (value == "error") o.log_level = LogLevel::error;
      else if (value == "warn") o.log_level = LogLevel::warn;
      else if (value == "info") o.log_level = LogLevel::info;
      else if (value == "debug") o.log_level = LogLevel::debug;
      else return fail(bad + " (error, warn, info or debug)");
    } else if (name == "--simd") {
      auto level = protocol::parse_simd(value);
      if (!level) return fail(bad + " (scalar, sse2, avx2 or avx512)");
      o.simd = *level;
    }
  }
  const TlsConfig& tls = o.config.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return fail(tls.cert_file.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key");
  }
  if (!tls.enabled() && (tls.port || !tls.ciphers.empty() || !tls.ciphersuites.empty())) {
    return fail(tls.port ? "--tls-port needs --tls-cert and --tls-key" : "TLS cipher options need --tls-cert and --tls-key");
  }
  if (tls.port && *tls.port != 0 && *tls.port == o.config.port) {
    return fail("--tls-port " + std::to_string(*tls.port) + " is also --port (wss needs a port of its own)");
  }
  return o;
}

}  // namespace ringcast::engine
