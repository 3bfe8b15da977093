// A redis-server for the tests that need a real one (Debian's; scripts/setup.sh --test
// installs it): started in a fresh directory with no persistence, stopped with the object.
#pragma once
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

namespace ringcast::engine {

inline int dial(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

// A private redis-server on a Unix socket in a fresh directory (no TCP port to race for),
// and on 127.0.0.1:`tcp_port` too when it is not 0 (for --broker, which speaks TCP).
class RedisServer {
 public:
  explicit RedisServer(std::uint16_t tcp_port = 0) {
    char dir[] = "/tmp/ringcast-redis-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return;
    dir_ = dir;
    path_ = dir_ + "/redis.sock";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(tcp_port);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--unixsocket",
               path_.c_str(), "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir_.c_str(),
               "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && pid_ > 0; ++i) {  // up to 10 s to listen
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it exited: not installed, or it failed
        pid_ = -1;
        missing_ = WIFEXITED(status) && WEXITSTATUS(status) == 127;
        return;
      }
      if (int s = dial(path_); s >= 0) {
        ::close(s);
        up_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~RedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  [[nodiscard]] bool up() const noexcept { return up_; }
  [[nodiscard]] bool missing() const noexcept { return missing_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string dir_, path_;
  pid_t pid_ = -1;
  bool up_ = false, missing_ = false;
};

// Skips where redis-server is not installed; fails where it is and did not start.
#define REQUIRE_REDIS(redis)                                                                   \
  do {                                                                                         \
    if ((redis).missing()) GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh --test)"; \
    ASSERT_TRUE((redis).up()) << "redis-server did not start";                                 \
  } while (0)

}  // namespace ringcast::engine
