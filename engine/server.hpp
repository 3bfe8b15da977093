// The embedding API: run the ringcast engine in-process.
//
//   ringcast::engine::Server server(config);
//   if (auto err = server.start(); !err.empty()) { ... }   // binds, starts one thread per shard
//   server.publish("", "hello");                            // any thread: every client of room "/"
//   server.stop(); server.wait();                           // graceful: close 1001, drain, join
//
// Endpoints served: ws://HOST:PORT/<room> (chat room; "/" is room ""), ws://HOST:PORT/echo,
// GET /<room> (HTML client), GET /healthz, GET /metrics. In a chat room every text message
// is broadcast as "ID<port>: <text>"; binary messages are relayed unchanged (as binary).
// With Config::tls the same is served over wss:// and https:// on its port.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/config.hpp"

namespace ringcast::engine {

class Server {
 public:
  explicit Server(Config config);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();  // stops and waits if still running

  // Picks the I/O backend (Config::backend: io_uring, or epoll where it is refused),
  // binds the listeners and starts the shard threads. Returns "" on success, else one
  // line naming what failed (nothing keeps running then).
  [[nodiscard]] std::string start();
  // Any thread (not a signal handler): begin the graceful shutdown.
  void stop() noexcept;
  // Joins the shard threads (after stop(), or when they end on their own).
  void wait();
  [[nodiscard]] bool running() const noexcept;

  // The --port listener's port (it speaks wss when TLS is on without Config::tls.port).
  [[nodiscard]] std::uint16_t port() const noexcept;
  // The wss listener's port; 0 without TLS.
  [[nodiscard]] std::uint16_t tls_port() const noexcept;
  // Any thread: loads the certificate and key files again (SIGHUP). "" when new
  // connections now use them; else why the old pair stays.
  [[nodiscard]] std::string reload_tls();
  [[nodiscard]] unsigned threads() const noexcept;
  // The backend the shards run on (uring or epoll) once started.
  [[nodiscard]] BackendKind backend() const noexcept;

  // Any thread: encodes `payload` once as one text (or binary) frame and delivers it to
  // every subscriber of `topic` (a room name; "" is the default room) on every shard.
  // With --broker, to the other nodes' too: shard 0 sends it to Redis (what its link
  // refuses reaches no other node, with a log line). Returns false when the server is not
  // running, memory ran out, or 65,536 wait for shard 0 already (--broker).
  bool publish(std::string_view topic, std::span<const std::uint8_t> payload, bool binary = false);
  bool publish(std::string_view topic, std::string_view text) {
    return publish(topic, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, false);
  }

  // Prometheus text of the counters summed over shards.
  [[nodiscard]] std::string metrics_text() const;

  // Called on each shard thread (with its index) before its loop starts; set before start().
  // For the embedding program's per-thread setup: a thread name, a scheduling class, its
  // allocator's accounting (tests/engine/alloc_test.cpp counts allocations this way).
  void on_shard_thread(std::function<void(unsigned)> hook);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringcast::engine
