// ringcast: the chat-room / broadcast server executable.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/cli.hpp"
#include "engine/config_file.hpp"
#include "engine/io/backend_choice.hpp"
#include "engine/log.hpp"
#include "engine/net/tls_context.hpp"
#include "engine/server.hpp"
#include "protocol/simd.hpp"

namespace {

// The whole of the file a flag names, or nullopt after a one-line error naming both.
std::optional<std::string> read_flag_file(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    std::fprintf(stderr, "ringcast: cannot read %s %s: %s\n", flag, path.c_str(), std::strerror(errno));
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringcast;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  engine::CliOptions opt = engine::parse_cli(args);
  if (!opt.error.empty()) {
    std::fprintf(stderr, "ringcast: %s (see --help)\n", opt.error.c_str());
    return 2;
  }
  if (opt.action == engine::CliOptions::Action::help) {
    std::fwrite(engine::cli_help().data(), 1, engine::cli_help().size(), stdout);
    return 0;
  }
  if (opt.action == engine::CliOptions::Action::version) {
    std::printf("ringcast %.*s\n", static_cast<int>(engine::kVersion.size()), engine::kVersion.data());
    return 0;
  }
  engine::set_log_level(opt.log_level);
  if (opt.simd && !protocol::select_simd(*opt.simd)) {
    std::string name(protocol::simd_name(*opt.simd));
    std::fprintf(stderr, "ringcast: --simd %s is not supported by this CPU (see --help)\n", name.c_str());
    return 2;
  }

  if (!opt.config_file.empty()) {
    std::optional<std::string> text = read_flag_file("--config", opt.config_file);
    if (!text) return 2;
    std::vector<engine::RedisAddress> broker_flag = opt.config.client.broker;  // --broker wins over the file
    engine::ConfigFileResult r = engine::apply_config_file(*text, opt.config.client);
    if (!broker_flag.empty()) opt.config.client.broker = std::move(broker_flag);
    if (!r.error.empty()) {
      std::fprintf(stderr, "ringcast: %s: %s\n", opt.config_file.c_str(), r.error.c_str());
      return 2;
    }
    for (const std::string& key : r.ignored) {
      engine::log_line(engine::LogLevel::warn, "%s: ignoring '%s' (not a ringcast setting)", opt.config_file.c_str(),
                       key.c_str());
    }
  }

  if (!opt.demo_sdk_file.empty()) {
    std::optional<std::string> text = read_flag_file("--demo-sdk", opt.demo_sdk_file);
    if (!text) return 2;
    if (text->empty()) {
      std::fprintf(stderr, "ringcast: cannot read --demo-sdk %s: empty file\n", opt.demo_sdk_file.c_str());
      return 2;
    }
    opt.config.demo_sdk = std::move(*text);
  }

  if (opt.config.tls.enabled()) {
    if (std::string err = engine::check_tls_files(opt.config.tls); !err.empty()) {
      std::fprintf(stderr, "ringcast: %s\n", err.c_str());
      return 2;
    }
  }

  // Signals are taken synchronously by this thread; shard threads inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  engine::Server server(opt.config);
  if (std::string err = server.start(); !err.empty()) {
    std::fprintf(stderr, "ringcast: %s\n", err.c_str());
    return 1;
  }
  std::string simd(protocol::simd_name(protocol::active_simd()));
  std::string host = opt.config.host.find(':') != std::string::npos ? "[" + opt.config.host + "]" : opt.config.host;
  std::string where;
  if (!opt.config.tls.enabled() || opt.config.tls.port) where = "ws://" + host + ":" + std::to_string(server.port());
  if (opt.config.tls.enabled()) {
    where += (where.empty() ? "wss://" : " and wss://") + host + ":" + std::to_string(server.tls_port());
  }
  engine::log_line(engine::LogLevel::error, "listening on %s (threads=%u, backend=%s, simd=%s)", where.c_str(),
                   server.threads(), engine::backend_name(server.backend()), simd.c_str());
  int sig = 0;
  while (server.running()) {
    timespec wait{0, 200'000'000};
    sig = sigtimedwait(&sigs, nullptr, &wait);
    if (sig == SIGHUP) {
      if (!opt.config.tls.enabled()) {
        engine::log_line(engine::LogLevel::info, "SIGHUP: no TLS certificate to reload");
      } else if (std::string err = server.reload_tls(); err.empty()) {
        engine::log_line(engine::LogLevel::info, "SIGHUP: reloaded %s; new connections use it",
                         opt.config.tls.cert_file.c_str());
      } else {
        engine::log_line(engine::LogLevel::error, "SIGHUP: keeping the previous certificate: %s", err.c_str());
      }
      sig = 0;
      continue;
    }
    if (sig > 0) break;
  }
  if (sig > 0) {
    engine::log_line(engine::LogLevel::info, "%s received: closing connections (1001) and draining",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  server.stop();
  server.wait();
  engine::log_line(engine::LogLevel::info, "stopped");
  return 0;
}
