// ringcast-load: opens WebSocket connections to one server and measures broadcast
// delivery (see --help). This file is the coordinator: it checks limits, starts the
// generator threads, walks them through the phases, and merges what they measured.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "bench/load/clock.hpp"
#include "bench/load/options.hpp"
#include "bench/load/proc_sampler.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run_state.hpp"
#include "bench/load/target.hpp"
#include "bench/load/worker.hpp"

namespace ringcast::load {
namespace {

constexpr std::uint64_t kMaxSeqCells = 64u << 20;  // (subscriber, publisher) pairs tracked: 256 MiB

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "ringcast-load: %s\n", msg.c_str());
  return 2;
}

// Raises the soft descriptor limit to the hard one; returns the limit now in force.
rlim_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

class Coordinator {
 public:
  Coordinator(const Options& opt, RunPlan& plan) : opt_(opt), plan_(plan) {}

  std::vector<std::unique_ptr<Worker>> workers;

  struct Totals {
    std::uint64_t deliveries = 0, received = 0, sent = 0, open = 0, failed = 0, last_delivery = 0, last_open = 0;
    bool connected = true;
  };
  Totals totals() const {
    Totals t;
    for (const auto& w : workers) {
      LiveCounters& l = w->live();
      t.deliveries += l.deliveries.load(std::memory_order_relaxed);
      t.sent += l.sent.load(std::memory_order_relaxed);
      t.received += l.received.load(std::memory_order_relaxed);
      t.open += l.open.load(std::memory_order_relaxed);
      t.failed += l.failed.load(std::memory_order_relaxed);
      t.last_delivery = std::max(t.last_delivery, l.last_delivery_ns.load(std::memory_order_relaxed));
      t.last_open = std::max(t.last_open, l.last_open_ns.load(std::memory_order_relaxed));
      t.connected = t.connected && l.connect_done.load(std::memory_order_acquire);
    }
    return t;
  }

  // Sleeps until `until` (or `stop` says so), printing a progress line every second.
  template <typename Stop>
  void wait(std::uint64_t until, const char* phase, Stop stop) {
    while (now_ns() < until) {
      if (stop()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const std::uint64_t now = now_ns();
      if (now >= next_progress_) progress(now, phase);
    }
  }

  void progress(std::uint64_t now, const char* phase) {
    const Totals t = totals();
    const double dt = static_cast<double>(now - last_progress_ns_) / 1e9;
    if (!opt_.quiet && last_progress_ns_ != 0) {
      std::fprintf(stderr, "[%6.1fs] %-7s open %llu/%u failed %llu | sent %.0f/s deliveries %.0f/s\n",
                   static_cast<double>(now - start_) / 1e9, phase, static_cast<unsigned long long>(t.open),
                   plan_.total_conns, static_cast<unsigned long long>(t.failed),
                   static_cast<double>(t.sent - last_.sent) / dt, static_cast<double>(t.deliveries - last_.deliveries) / dt);
    }
    last_ = t;
    last_progress_ns_ = now;
    next_progress_ = now + 1'000'000'000u;
  }

  void start_clock(std::uint64_t now) {
    start_ = now;
    last_progress_ns_ = now;
    next_progress_ = now + 1'000'000'000u;
  }

 private:
  const Options& opt_;
  RunPlan& plan_;
  std::uint64_t start_ = 0, next_progress_ = 0, last_progress_ns_ = 0;
  Totals last_;
};

int run(const Options& opt) {
  Target target;
  if (std::string e = resolve_target(opt.url, opt.allow_remote, target); !e.empty()) return usage_error(e);

  RunPlan plan;
  plan.opt = &opt;
  plan.target = &target;
  if (opt.scenario == Scenario::chat) {
    plan.subscribers = plan.publishers = plan.total_conns = opt.connections;
    plan.per_pub_rate = opt.rate / opt.connections;
  } else {
    plan.subscribers = opt.connections;
    plan.publishers = opt.publishers;
    plan.total_conns = opt.connections + opt.publishers;
    plan.per_pub_rate = opt.publishers ? opt.rate / opt.publishers : 0;
  }
  if (std::uint64_t{plan.subscribers} * plan.publishers > kMaxSeqCells) {
    return usage_error("too many (subscriber, publisher) pairs to track; use fewer connections or publishers");
  }
  const rlim_t fds = raise_fd_limit();
  const std::uint64_t need = std::uint64_t{plan.total_conns} + 64 + opt.threads * 4u;
  if (need > fds) {
    return usage_error(std::to_string(plan.total_conns) + " connections need ~" + std::to_string(need) +
                       " file descriptors but this process may open " + std::to_string(fds) +
                       "; run several ringcast-load processes (each below the limit) or raise ulimit -n");
  }
  std::optional<RssWatcher> watcher;
  ProcSample base;
  if (opt.server_pid != 0) {
    base = sample_process(opt.server_pid);
    if (!base.ok) return usage_error("--server-pid " + std::to_string(opt.server_pid) + ": no such process");
    watcher.emplace(opt.server_pid);
  }

  const std::uint32_t threads = std::max<std::uint32_t>(1, std::min(opt.threads, plan.total_conns));
  Coordinator co(opt, plan);
  for (std::uint32_t i = 0; i < threads; ++i) co.workers.push_back(std::make_unique<Worker>(plan, i, threads));
  const std::uint64_t t0 = now_ns();
  co.start_clock(t0);
  std::vector<std::thread> pool;
  for (auto& w : co.workers) pool.emplace_back([&w] { w->run(); });

  // Phase connect: every connection open or failed, within --connect-timeout; handshakes
  // already in flight keep their own deadline (the same timeout, from their start).
  const auto connect_limit = static_cast<std::uint64_t>(opt.connect_timeout * 1e9);
  co.wait(t0 + connect_limit, "connect", [&] { return co.totals().connected; });
  plan.connect_deadline.store(true, std::memory_order_relaxed);
  Coordinator::Totals after_connect = co.totals();
  const std::uint64_t t_connected = after_connect.last_open ? after_connect.last_open : now_ns();
  ProcSample connected = opt.server_pid ? sample_process(opt.server_pid) : ProcSample{};

  // Nothing opened: there is nothing to measure, so do not sit through the run.
  const bool none_open = after_connect.connected && after_connect.open == 0;
  // Settle: servers that announce joins to the room (ringcast does) are still sending
  // those; measure from a quiet start, i.e. no message for 300 ms (30 s cap).
  if (!none_open) {
    std::uint64_t seen = ~0ull, changed = now_ns();
    co.wait(now_ns() + 30'000'000'000ull, "settle", [&] {
      const std::uint64_t r = co.totals().received, now = now_ns();
      if (r != seen) {
        seen = r;
        changed = now;
      }
      return now - changed > 300'000'000u;
    });
  }

  if (opt.scenario == Scenario::connect && !none_open) {
    // Hold idle, then measure what the idle connections cost the server.
    co.wait(now_ns() + static_cast<std::uint64_t>(opt.duration * 1e9), "hold", [] { return false; });
    if (opt.server_pid) {
      const ProcSample held = sample_process(opt.server_pid);
      if (held.ok) connected.rss_bytes = held.rss_bytes;
    }
  }

  const ProcSample run_start = opt.server_pid ? sample_process(opt.server_pid) : ProcSample{};
  const std::uint64_t t_run = now_ns();
  plan.run_start_ns.store(t_run, std::memory_order_relaxed);
  plan.phase.store(Phase::run, std::memory_order_release);
  if (opt.scenario != Scenario::connect && !none_open) {
    co.wait(t_run + static_cast<std::uint64_t>(opt.duration * 1e9), "run", [] { return false; });
  }
  const std::uint64_t t_run_end = now_ns();
  plan.phase.store(Phase::drain, std::memory_order_release);

  // Drain: until every expected delivery is in, or nothing moved for 2 s (5 s cap, connect 10 s).
  const std::uint64_t per_msg = opt.scenario == Scenario::chat ? plan.subscribers - 1 : plan.subscribers;
  std::uint64_t last_count = ~0ull, last_change = now_ns();
  co.wait(t_run_end + (opt.scenario == Scenario::connect ? 10'000'000'000ull : 5'000'000'000ull), "drain", [&] {
    if (none_open) return true;
    for (const auto& w : co.workers) {
      if (w->live().phase_seen.load(std::memory_order_acquire) < Phase::drain) return false;  // counters not final yet
    }
    const Coordinator::Totals t = co.totals();
    if (t.deliveries >= t.sent * per_msg) return true;
    const std::uint64_t now = now_ns();
    if (t.deliveries != last_count) {
      last_count = t.deliveries;
      last_change = now;
    }
    return now - last_change > 2'000'000'000u;
  });
  const std::uint64_t t_drained = now_ns();
  const ProcSample run_end = opt.server_pid ? sample_process(opt.server_pid) : ProcSample{};
  plan.phase.store(Phase::close, std::memory_order_release);
  for (auto& th : pool) th.join();

  // Merge.
  Summary s;
  s.opt = &opt;
  s.subscribers = plan.subscribers;
  s.publishers = plan.publishers;
  s.requested = plan.total_conns;
  std::vector<std::uint32_t> published(plan.publishers, 0);
  std::uint64_t last_delivery = 0;
  for (auto& w : co.workers) {
    WorkerResult& r = w->result();
    s.handshake.merge(r.handshake);
    s.latency.merge(r.latency);
    s.opened += r.opened;
    s.connect_failures += r.connect_failures;
    s.disconnects += r.disconnects;
    s.protocol_errors += r.protocol_errors;
    s.deliveries += r.deliveries;
    s.delivered_bytes += r.delivered_bytes;
    s.own_echoes += r.own_echoes;
    s.other_messages += r.other_messages;
    s.lost += r.gaps;
    s.out_of_order += r.out_of_order;
    s.send_skipped += r.send_skipped;
    s.window_resets += r.window_resets;
    for (std::size_t p = 0; p < published.size(); ++p) published[p] += r.published[p];
    last_delivery = std::max(last_delivery, w->live().last_delivery_ns.load(std::memory_order_relaxed));
    if (s.first_error.empty()) s.first_error = r.first_error;
  }
  for (std::uint32_t n : published) s.sent += n;
  for (auto& w : co.workers) s.lost += w->count_missing(published);

  s.connect_seconds = static_cast<double>(t_connected - t0) / 1e9;
  s.connects_per_s = s.connect_seconds > 0 ? s.opened / s.connect_seconds : 0;
  s.run_seconds = static_cast<double>(t_run_end - t_run) / 1e9;
  s.delivery_seconds = last_delivery > t_run ? static_cast<double>(last_delivery - t_run) / 1e9 : 0;
  // Throughput over the time deliveries actually took (closed loop: the run; open loop: the
  // run plus the last message's trip; connect: the burst).
  const double window = opt.scenario == Scenario::connect ? s.delivery_seconds : std::max(s.run_seconds, std::min(s.delivery_seconds, s.run_seconds + 1.0));
  s.messages_per_s = s.run_seconds > 0 ? static_cast<double>(s.sent) / s.run_seconds : 0;
  s.deliveries_per_s = window > 0 ? static_cast<double>(s.deliveries) / window : 0;
  s.mb_per_s = window > 0 ? static_cast<double>(s.delivered_bytes) / window / 1e6 : 0;

  if (opt.server_pid && run_end.ok && run_start.ok) {
    ServerUsage& v = s.server;
    v.sampled = true;
    v.cpu_seconds = static_cast<double>(run_end.cpu_ns - run_start.cpu_ns) / 1e9;
    const double wall = static_cast<double>(t_drained - t_run) / 1e9;
    v.cpu_utilization = wall > 0 ? v.cpu_seconds / wall : 0;
    v.cpu_ns_per_delivery = s.deliveries ? static_cast<double>(run_end.cpu_ns - run_start.cpu_ns) / static_cast<double>(s.deliveries) : 0;
    v.connect_cpu_us = s.opened ? static_cast<double>(connected.cpu_ns - base.cpu_ns) / 1e3 / s.opened : 0;
    v.rss_start = base.rss_bytes;
    v.rss_connected = connected.rss_bytes;
    v.rss_end = run_end.rss_bytes;
    v.rss_peak = std::max({watcher->peak_bytes(), connected.rss_bytes, run_end.rss_bytes});
    v.rss_per_connection = s.opened ? (static_cast<double>(connected.rss_bytes) - static_cast<double>(base.rss_bytes)) / s.opened : 0;
  }
  if (opt.json) print_json(s);
  else print_human(s);
  return s.opened == 0 ? 1 : 0;
}

}  // namespace
}  // namespace ringcast::load

int main(int argc, char** argv) {
  using namespace ringcast::load;
  Options opt;
  std::string error;
  bool help = false;
  if (!parse_options(argc, argv, opt, error, help)) return usage_error(error);
  if (help) {
    print_usage();
    return 0;
  }
  return run(opt);
}
