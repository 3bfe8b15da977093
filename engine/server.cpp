#include "engine/server.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/broker/broker_wire.hpp"
#include "engine/pubsub/channel_topic.hpp"
#include "engine/io/listener.hpp"
#include "engine/shard.hpp"
#include "engine/app/builtin_apps.hpp"
#include "engine/io/backend_choice.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/encode.hpp"

namespace ringcast::engine {

struct Server::Impl {
  explicit Impl(Config config) : apps(config) { group.config = std::move(config); }

  BuiltinApps apps;  // before the group: shards call them until they are gone
  ShardGroup group;
  std::vector<std::thread> threads;
  std::function<void(unsigned)> hook;
  std::uint16_t port = 0;      // the --port listener's (ws, or wss without --tls-port)
  std::uint16_t tls_port = 0;  // wss; 0: none
  BackendKind backend = BackendKind::automatic;  // resolved at start()
  std::atomic<unsigned> running{0};
  bool started = false;

  // Start-up rendezvous: every shard sets up its ring before any loop starts, so MSG_RING
  // targets exist, and one failure stops them all.
  std::mutex mu;
  std::condition_variable cv;
  unsigned ready = 0;
  bool go = false, abort = false;
  std::string error;
};

namespace {

std::size_t default_slots(unsigned shards) {
  rlimit rl{};
  std::size_t files = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) files = rl.rlim_cur;
  std::size_t per = (files > 64 ? files - 64 : files) / shards + 16;
  return std::clamp<std::size_t>(per, 64, 65536);
}

// What --broker cannot carry: a stream a node cannot load from Redis in one reply.
std::string broker_check(const ClientProtocolConfig& c) {
  auto check = [](const ChannelOptions& o, std::string_view name) -> std::string {
    if (o.history_size <= broker::kMaxLoadedHistory) return "";
    return "--broker: " + std::string(name) + " keeps history_size " + std::to_string(o.history_size) +
           "; a node loads a stream from Redis in one reply, of at most " + std::to_string(broker::kMaxLoadedHistory);
  };
  std::string err = check(c.without_namespace, "channel.without_namespace");
  for (const ChannelOptions& ns : c.namespaces) {
    if (err.empty()) err = check(ns, "namespace '" + ns.name + "'");
  }
  return err;
}

}  // namespace

Server::Server(Config config) : impl_(std::make_unique<Impl>(std::move(config))) { impl_->apps.install(impl_->group); }

Server::~Server() {
  stop();
  wait();
}

void Server::on_shard_thread(std::function<void(unsigned)> hook) { impl_->hook = std::move(hook); }

std::string Server::start() {
  Impl& m = *impl_;
  if (m.started) return "already started";
  Config& cfg = m.group.config;
  BackendChoice backend = choose_backend(cfg.backend);
  if (!backend.error.empty()) return backend.error;
  if (!backend.fallback.empty()) log_line(LogLevel::warn, "%s; using the epoll backend", backend.fallback.c_str());
  m.backend = backend.kind;
  unsigned n = cfg.threads != 0 ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  cfg.threads = n;
  if (cfg.max_connections_per_shard == 0) cfg.max_connections_per_shard = default_slots(n);
  m.group.shard_count = n;

  if (!cfg.client.broker.empty()) {
    if (std::string err = broker_check(cfg.client); !err.empty()) return err;
    BrokerShared& b = m.group.broker;
    b.addresses = cfg.client.broker;
    b.prefix = cfg.client.broker_prefix;
    b.shards = n;
    if (std::string err = b.resolve(); !err.empty()) return err;
  }

  // wss on --port, or beside ws on --tls-port.
  bool tls = cfg.tls.enabled(), plain = !tls || cfg.tls.port.has_value();
  if (tls) {
    if (std::string err = m.group.tls.load(cfg.tls); !err.empty()) return err;
  }
  std::vector<ShardListeners> fds(n);
  auto close_all = [&fds] {
    for (ShardListeners& l : fds) {
      if (l.plain >= 0) ::close(l.plain);
      if (l.tls >= 0) ::close(l.tls);
    }
  };
  // Shard 0 binds the asked port (0: any); the others join it with SO_REUSEPORT.
  auto listen = [&](unsigned i, std::uint16_t asked, std::uint16_t& bound, int& fd) {
    ListenResult l = open_listener(cfg.host, i == 0 ? asked : bound);
    if (l.fd < 0) return l.error;
    if (i == 0) bound = l.port;
    fd = l.fd;
    return std::string();
  };
  for (unsigned i = 0; i < n; ++i) {
    std::string err;
    if (plain) err = listen(i, cfg.port, m.port, fds[i].plain);
    if (err.empty() && tls) err = listen(i, plain ? *cfg.tls.port : cfg.port, m.tls_port, fds[i].tls);
    if (!err.empty()) {
      close_all();
      return err;
    }
  }
  if (!plain) m.port = m.tls_port;
  for (unsigned i = 0; i < n; ++i) {
    m.group.shards.push_back(std::make_unique<Shard>(m.group, i, fds[i], make_backend(backend.kind)));
    m.group.metrics.push_back(&m.group.shards.back()->metrics());
  }
  if (!m.group.broker.addresses.empty()) {
    // A topic's (a channel's or a room's) first subscriber on this node, or its last
    // leaving: shard 0's feed subscribes or unsubscribes (it only posts).
    ShardGroup& g = m.group;
    g.topics.watch("", [&g](std::string_view topic) {
      if (g.broker.changes.push(std::string(topic))) g.shards[0]->wake();
    });
  }
  m.started = true;
  m.running.store(n);
  for (unsigned i = 0; i < n; ++i) {
    m.threads.emplace_back([this, i] {
      Impl& s = *impl_;
      if (s.group.config.pin_threads) {
        // One shard per core: its ring, buffers and connections stay in that core's caches.
        // Shard i takes the i-th CPU this process may use (taskset, cpusets), wrapping.
        cpu_set_t allowed, set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0) {
          int nth = static_cast<int>(i % static_cast<unsigned>(CPU_COUNT(&allowed)));
          for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &allowed) && nth-- == 0) {
              CPU_SET(cpu, &set);
              break;
            }
          }
          (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
      }
      if (s.hook) s.hook(i);
      Shard& shard = *s.group.shards[i];
      std::string err = shard.init();
      bool run;
      {
        std::unique_lock lock(s.mu);
        if (!err.empty() && s.error.empty()) s.error = err;
        if (!err.empty()) s.abort = true;
        ++s.ready;
        s.cv.notify_all();
        s.cv.wait(lock, [&] { return s.go || s.abort; });
        run = s.go && !s.abort;
      }
      if (run) shard.run();
      s.running.fetch_sub(1);
    });
  }
  std::unique_lock lock(m.mu);
  m.cv.wait(lock, [&] { return m.ready == n; });
  if (m.abort) {
    m.cv.notify_all();
    std::string err = m.error;
    lock.unlock();
    wait();
    return err;
  }
  m.go = true;
  m.cv.notify_all();
  return {};
}

void Server::stop() noexcept {
  Impl& m = *impl_;
  if (!m.started) return;
  m.group.stopping.store(true, std::memory_order_release);
  std::lock_guard lock(m.mu);
  if (!m.go) return;  // start-up failed: shards never ran
  for (auto& s : m.group.shards) s->wake();
}

void Server::wait() {
  Impl& m = *impl_;
  for (std::thread& t : m.threads) {
    if (t.joinable()) t.join();
  }
  m.threads.clear();
  // Every thread is gone: hand back frames still sitting in mailboxes, before any pool dies.
  for (auto& s : m.group.shards) s->release_leftovers();
}

bool Server::running() const noexcept { return impl_->running.load() > 0; }
std::uint16_t Server::port() const noexcept { return impl_->port; }
std::uint16_t Server::tls_port() const noexcept { return impl_->tls_port; }
std::string Server::reload_tls() { return impl_->group.tls.reload(); }
unsigned Server::threads() const noexcept { return impl_->group.shard_count; }
BackendKind Server::backend() const noexcept { return impl_->backend; }

bool Server::publish(std::string_view topic, std::span<const std::uint8_t> payload, bool binary) {
  Impl& m = *impl_;
  if (!m.started || !m.go || m.group.stopping.load(std::memory_order_acquire)) return false;
  if (BrokerShared& b = m.group.broker; !b.addresses.empty()) {  // the other nodes': shard 0 sends it to Redis
    if (b.outbox_size.fetch_add(1, std::memory_order_relaxed) >= BrokerShared::kMaxOutbox) {
      b.outbox_size.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (b.outbox.push({std::string(topic), std::string(bytes), binary})) m.group.shards[0]->wake();
  }
  std::uint32_t id = m.group.topics.find(topic);
  if (id == kNoTopic) return true;  // nobody subscribed anywhere: nothing to deliver
  Frame* f = encode_frame(nullptr, binary ? protocol::Opcode::binary : protocol::Opcode::text, payload);
  if (f == nullptr) return false;
  f->holders.store(m.group.shard_count, std::memory_order_relaxed);
  for (auto& s : m.group.shards) s->post_external(broadcast(f, id));
  return true;
}

std::string Server::metrics_text() const {
  return render_metrics(impl_->group.metrics, backend_name(impl_->backend));
}

}  // namespace ringcast::engine
