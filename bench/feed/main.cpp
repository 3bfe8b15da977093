// ringcast-feed: a synthetic market (bench/feed/market.hpp) published into a running
// ringcast through its server HTTP API, one /api/batch request per 10 ms tick on one
// keep-alive connection: per instrument update, its ticker line to `<ticker>:<symbol>`
// and its whole order book to `<book>:<symbol>` with "delta": true (the server sends
// Fossil deltas to subscribers that ask). Runs until --duration or SIGINT/SIGTERM, then
// prints one JSON line of what it sent.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "bench/feed/market.hpp"
#include "bench/load/api_client.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: ringcast-feed [options]\n"
    "  --api URL          the server API's base, http://HOST:PORT (default http://127.0.0.1:9000)\n"
    "  --api-key KEY      sent as X-API-Key (default demo-api-key, scripts/config/demo.json's)\n"
    "  --instruments N    instruments in the market (default 16)\n"
    "  --depth N          order book levels a side (default 20)\n"
    "  --rate N           instrument updates a second, over all instruments (default 100)\n"
    "  --duration SECS    stop after this long (default 0: until SIGINT or SIGTERM)\n"
    "  --ticker NS        namespace of the ticker channels (default ticker; \"\": none)\n"
    "  --book NS          namespace of the order book channels (default book; \"\": none)\n"
    "  --seed N           the market's random seed (default 1)\n"
    "  --help\n";

struct Options {
  std::string host = "127.0.0.1", port = "9000", key = "demo-api-key", ticker = "ticker", book = "book";
  std::size_t instruments = 16, depth = 20;
  double rate = 100, duration = 0;
  std::uint64_t seed = 1;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "ringcast-feed: %s (see --help)\n", what.c_str());
  std::exit(2);
}

template <typename T>
T number(std::string_view flag, std::string_view v, T lo, T hi) {
  T out{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || out < lo || out > hi) {
    usage_error(std::string(flag) + ": expected a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                ", got '" + std::string(v) + "'");
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("unknown flag or missing value: " + std::string(flag));
    std::string_view v = argv[++i];
    if (flag == "--api") {
      if (!v.starts_with("http://")) usage_error("--api: expected http://HOST:PORT, got '" + std::string(v) + "'");
      v.remove_prefix(7);
      while (v.ends_with('/')) v.remove_suffix(1);
      std::size_t colon = v.rfind(':');
      if (colon == std::string_view::npos || colon == 0) usage_error("--api: expected http://HOST:PORT");
      std::string_view host = v.substr(0, colon);
      if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
      o.host = host;
      o.port = std::to_string(number<unsigned>("--api port", v.substr(colon + 1), 1, 65535));
    } else if (flag == "--api-key") {
      o.key = v;
    } else if (flag == "--instruments") {
      o.instruments = number<std::size_t>(flag, v, 1, 100'000);
    } else if (flag == "--depth") {
      o.depth = number<std::size_t>(flag, v, 1, 1'000);
    } else if (flag == "--rate") {
      o.rate = number<double>(flag, v, 0.1, 1e6);
    } else if (flag == "--duration") {
      o.duration = number<double>(flag, v, 0, 1e7);
    } else if (flag == "--ticker") {
      o.ticker = v;
    } else if (flag == "--book") {
      o.book = v;
    } else if (flag == "--seed") {
      o.seed = number<std::uint64_t>(flag, v, 0, UINT64_MAX);
    } else {
      usage_error("unknown flag: " + std::string(flag));
    }
  }
  if (o.ticker.empty() && o.book.empty()) usage_error("--ticker and --book are both empty: nothing to publish");
  return o;
}

volatile std::sig_atomic_t g_stop = 0;

int connect_to(const Options& o) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int e = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &res); e != 0) {
    std::fprintf(stderr, "ringcast-feed: %s:%s: %s\n", o.host.c_str(), o.port.c_str(), gai_strerror(e));
    std::exit(1);
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    std::fprintf(stderr, "ringcast-feed: cannot connect to %s:%s: %s\n", o.host.c_str(), o.port.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// One request and its answer on the keep-alive connection; returns the answer's body, or
// exits with a line naming what went wrong.
std::string exchange(int fd, const std::string& request, std::string& in) {
  for (std::size_t off = 0; off < request.size();) {
    ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      std::fprintf(stderr, "ringcast-feed: the server closed the connection: %s\n", std::strerror(errno));
      std::exit(1);
    }
    off += static_cast<std::size_t>(n);
  }
  std::size_t head_end, body_len = 0;
  for (;;) {
    head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string_view head(in.data(), head_end);
      std::size_t at = head.find("Content-Length: ");
      if (at != std::string_view::npos) {
        std::string_view v = head.substr(at + 16);
        std::from_chars(v.data(), v.data() + v.size(), body_len);
      }
      if (in.size() >= head_end + 4 + body_len) break;
    }
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      std::fprintf(stderr, "ringcast-feed: the server closed the connection before answering\n");
      std::exit(1);
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
  std::string status = in.substr(0, in.find("\r\n"));
  std::string body = in.substr(head_end + 4, body_len);
  in.erase(0, head_end + 4 + body_len);
  if (status.find(" 200 ") == std::string::npos) {
    std::fprintf(stderr, "ringcast-feed: the server API answered %s: %.200s\n", status.c_str(), body.c_str());
    std::exit(1);
  }
  return body;
}

std::uint64_t wall_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  ringcast::feed::Market market(o.instruments, o.depth, o.seed);
  int fd = connect_to(o);
  const std::string head = ringcast::load::api_head(o.host + ":" + o.port, o.key, "batch");
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto tick = std::chrono::milliseconds(10);
  double owed = 0;  // updates due but not sent
  std::size_t next = 0;
  std::uint64_t updates = 0, publications = 0, errors = 0;
  std::string body, request, in, first_error;
  for (auto t = start; g_stop == 0; t += tick) {
    std::this_thread::sleep_until(t);
    double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (o.duration > 0 && elapsed >= o.duration) break;
    owed += o.rate * std::chrono::duration<double>(tick).count();
    if (owed < 1) continue;
    body = "{\"commands\":[";
    std::uint64_t now = wall_ms(), batch = 0;
    for (; owed >= 1; owed -= 1, next = (next + 1) % market.size(), ++updates) {
      market.step(next);
      const std::string& sym = market.at(next).symbol;
      if (!o.ticker.empty()) {
        body += batch++ == 0 ? "" : ",";
        body += "{\"publish\":{\"channel\":\"" + o.ticker + ":" + sym + "\",\"data\":";
        market.append_ticker(body, next, now);
        body += "}}";
      }
      if (!o.book.empty()) {
        body += batch++ == 0 ? "" : ",";
        body += "{\"publish\":{\"channel\":\"" + o.book + ":" + sym + "\",\"delta\":true,\"data\":";
        market.append_book(body, next);
        body += "}}";
      }
    }
    body += "]}";
    request.resize(ringcast::load::api_request_size(head, body.size()));
    request.resize(ringcast::load::write_api_request(
        {reinterpret_cast<std::uint8_t*>(request.data()), request.size()}, head,
        {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}));
    std::string answer = exchange(fd, request, in);
    // Each command's reply is {"result":...} or {"error":...}.
    std::uint64_t failed = 0;
    for (std::size_t at = answer.find("\"error\""); at != std::string::npos; at = answer.find("\"error\"", at + 1)) {
      if (first_error.empty()) first_error = answer.substr(at, 80);
      ++failed;
    }
    publications += batch - failed;
    errors += failed;
  }
  close(fd);
  double seconds = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("{\"updates\":%llu,\"publications\":%llu,\"errors\":%llu,\"seconds\":%.2f}\n",
              static_cast<unsigned long long>(updates), static_cast<unsigned long long>(publications),
              static_cast<unsigned long long>(errors), seconds);
  if (!first_error.empty()) std::fprintf(stderr, "ringcast-feed: the first refused publication: %s\n", first_error.c_str());
  return errors == 0 ? 0 : 1;
}
