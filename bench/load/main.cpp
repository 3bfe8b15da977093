// ringcast-load: opens WebSocket connections to one server and measures broadcast
// delivery (see --help). This file is the coordinator: it checks limits, starts the
// generator threads, walks them through the phases, and merges what they measured.
//
// --processes N (connect only) forks N children before any thread exists. Each runs its
// share of the connections (split_run) through the same phases, in lockstep with the
// parent over a Link: the parent holds the barriers, samples the server alone, and merges
// the children's tallies into one report. Phases as seen by a child:
//   connect -> 'C' -> wait 'S' -> settle -> 'Q' -> wait 'R' (the parent held and sampled)
//   -> run + drain -> 'D' -> wait 'X' (the parent sampled) -> close -> 'P' published
//   counts -> wait 'G' (everyone's) -> count what never arrived -> 'T' the tally.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "bench/load/clock.hpp"
#include "bench/load/options.hpp"
#include "bench/load/proc_sampler.hpp"
#include "bench/load/process_link.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run_state.hpp"
#include "bench/load/target.hpp"
#include "bench/load/worker.hpp"

namespace ringcast::load {
namespace {

constexpr std::uint64_t kMaxSeqCells = 64u << 20;  // (subscriber, publisher) pairs tracked: 256 MiB
constexpr std::uint64_t kFdsBesideConnections = 64;  // stdio, rings, pipes, /proc reads

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

std::uint32_t conns_of(const Options& opt, const Share& s) {
  return opt.scenario == Scenario::chat ? s.subscribers : s.subscribers + s.publishers;
}

// "" when every share fits in one process (descriptors, sequence table), else why not.
std::string check_limits(const Options& opt, const std::vector<Share>& shares, rlim_t fds) {
  const std::uint64_t overhead = kFdsBesideConnections + std::uint64_t{opt.threads} * 4;
  for (const Share& s : shares) {
    if (std::uint64_t{s.subscribers} * s.pub_total > kMaxSeqCells) {
      return "too many (subscriber, publisher) pairs to track; use fewer connections or publishers";
    }
    const std::uint64_t need = conns_of(opt, s) + overhead;
    if (need <= fds) continue;
    std::string msg = std::to_string(conns_of(opt, s)) + " connections need ~" + std::to_string(need) +
                      " file descriptors but a process may open " + std::to_string(fds) + " (ulimit -n)";
    const std::uint64_t total = std::uint64_t{opt.connections} + (opt.scenario == Scenario::chat ? 0 : opt.publishers);
    if (opt.scenario == Scenario::connect && fds > overhead) {
      const std::uint64_t per = fds - overhead;
      const std::uint64_t n = (total + per - 1) / per;
      if (n <= kMaxProcesses) return msg + "; split them with --processes " + std::to_string(n);
    }
    return msg + "; use fewer connections or raise the hard limit";
  }
  return "";
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

  // --reconnect-at: every thread has dropped its subscribers and each one is settled again.
  bool storm_over() const {
    std::uint64_t left = 0;
    for (const auto& w : workers) {
      if (!w->live().storm_seen.load(std::memory_order_acquire)) return false;
      left += w->live().storm_left.load(std::memory_order_relaxed);
    }
    return left == 0;
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

// When things happened (CLOCK_MONOTONIC, the same in every process) and what the server
// looked like then.
struct Timeline {
  std::uint64_t t0 = 0, connected = 0, run = 0, run_end = 0, drained = 0, last_delivery = 0;
};
struct ServerSamples {
  ProcSample base, connected, run_start, run_end, storm_start, storm_end;
  std::uint64_t peak = 0;
};

// Rates, durations and the server's cost from the tallies and the timeline; then prints.
int report(Summary& s, const Options& opt, const Timeline& tl, const ServerSamples* sv) {
  s.connect_seconds = static_cast<double>(tl.connected - tl.t0) / 1e9;
  s.connects_per_s = s.connect_seconds > 0 ? s.opened / s.connect_seconds : 0;
  s.run_seconds = static_cast<double>(tl.run_end - tl.run) / 1e9;
  s.delivery_seconds = tl.last_delivery > tl.run ? static_cast<double>(tl.last_delivery - tl.run) / 1e9 : 0;
  // Throughput over the time deliveries actually took (closed loop: the run; open loop: the
  // run plus the last message's trip; connect: the burst).
  const double window = opt.scenario == Scenario::connect ? s.delivery_seconds : std::max(s.run_seconds, std::min(s.delivery_seconds, s.run_seconds + 1.0));
  s.messages_per_s = s.run_seconds > 0 ? static_cast<double>(s.sent) / s.run_seconds : 0;
  s.deliveries_per_s = window > 0 ? static_cast<double>(s.deliveries) / window : 0;
  s.mb_per_s = window > 0 ? static_cast<double>(s.delivered_bytes) / window / 1e6 : 0;

  if (sv != nullptr && sv->run_end.ok && sv->run_start.ok) {
    ServerUsage& v = s.server;
    v.sampled = true;
    v.cpu_seconds = static_cast<double>(sv->run_end.cpu_ns - sv->run_start.cpu_ns) / 1e9;
    const double wall = static_cast<double>(tl.drained - tl.run) / 1e9;
    v.cpu_utilization = wall > 0 ? v.cpu_seconds / wall : 0;
    v.cpu_ns_per_delivery = s.deliveries ? static_cast<double>(sv->run_end.cpu_ns - sv->run_start.cpu_ns) / static_cast<double>(s.deliveries) : 0;
    v.connect_cpu_us = s.opened ? static_cast<double>(sv->connected.cpu_ns - sv->base.cpu_ns) / 1e3 / s.opened : 0;
    v.rss_start = sv->base.rss_bytes;
    v.rss_connected = sv->connected.rss_bytes;
    v.rss_end = sv->run_end.rss_bytes;
    v.rss_peak = std::max({sv->peak, sv->connected.rss_bytes, sv->run_end.rss_bytes});
    v.rss_per_connection = s.opened ? (static_cast<double>(sv->connected.rss_bytes) - static_cast<double>(sv->base.rss_bytes)) / s.opened : 0;
    if (sv->storm_end.ok && sv->storm_start.ok) v.storm_cpu_seconds = static_cast<double>(sv->storm_end.cpu_ns - sv->storm_start.cpu_ns) / 1e9;
  }
  if (opt.json) print_json(s);
  else print_human(s);
  return s.opened == 0 ? 1 : 0;
}

// A --processes child's first and last words to its parent.
struct ChildConnected {
  std::uint64_t t_connected = 0;  // its last handshake (or the end of its connect phase)
  std::uint64_t open = 0;
  std::uint64_t failed = 0;
};
struct ChildEnd {
  Tally tally;
  std::uint64_t last_delivery = 0;
};

// The subscribers' servers (opt.urls) and, with --publish-to, the publishers'.
std::string resolve_targets(const Options& opt, std::vector<Target>& targets, Target& publish_target) {
  targets.assign(opt.urls.size(), Target{});
  for (std::size_t i = 0; i < opt.urls.size(); ++i) {
    if (std::string e = resolve_target(opt.urls[i], opt.allow_remote, targets[i]); !e.empty()) return e;
    if (std::string e = resolve_sources(opt.sources, opt.allow_remote, targets[i]); !e.empty()) return e;
  }
  if (opt.publish_url.empty()) return "";
  if (std::string e = resolve_target(opt.publish_url, opt.allow_remote, publish_target); !e.empty()) {
    return "--publish-to: " + e;
  }
  return resolve_sources(opt.sources, opt.allow_remote, publish_target);
}

// One process's share of the run. `parent` is null for a standalone run (which samples
// the server and prints the report itself), else this is a --processes child.
int run_share(const Options& opt, const Share& share, Link* parent) {
  RunPlan plan;
  Target publish_target;
  if (std::string e = resolve_targets(opt, plan.targets, publish_target); !e.empty()) return usage_error(e);
  plan.opt = &opt;
  plan.target = &plan.targets[0];
  plan.publish_target = opt.publish_url.empty() ? plan.target : &publish_target;
  plan.subscribers = share.subscribers;
  plan.publishers = share.pub_total;
  plan.pub_base = share.pub_base;
  plan.local_publishers = share.publishers;
  plan.total_conns = conns_of(opt, share);
  plan.per_pub_rate = share.pub_total ? opt.rate / share.pub_total : 0;

  const bool sampling = parent == nullptr && !opt.server_pids.empty();
  std::optional<RssWatcher> watcher;
  ServerSamples sv;
  if (sampling) {
    sv.base = sample_processes(opt.server_pids);
    watcher.emplace(opt.server_pids);
  }

  const std::uint32_t threads = std::max<std::uint32_t>(1, std::min(opt.threads, plan.total_conns));
  Coordinator co(opt, plan);
  for (std::uint32_t i = 0; i < threads; ++i) co.workers.push_back(std::make_unique<Worker>(plan, i, threads));
  Timeline tl;
  tl.t0 = now_ns();
  co.start_clock(tl.t0);
  std::vector<std::thread> pool;
  for (auto& w : co.workers) pool.emplace_back([&w] { w->run(); });
  // A child whose parent vanished stops at the next barrier: end the threads, then exit.
  auto orphaned = [&] {
    plan.phase.store(Phase::close, std::memory_order_release);
    for (auto& th : pool) th.join();
    return 1;
  };

  // Phase connect: every connection open or failed, within --connect-timeout; handshakes
  // already in flight keep their own deadline (the same timeout, from their start).
  const auto connect_limit = static_cast<std::uint64_t>(opt.connect_timeout * 1e9);
  co.wait(tl.t0 + connect_limit, "connect", [&] { return co.totals().connected; });
  plan.connect_deadline.store(true, std::memory_order_relaxed);
  const Coordinator::Totals after_connect = co.totals();
  tl.connected = after_connect.last_open ? after_connect.last_open : now_ns();
  if (sampling) sv.connected = sample_processes(opt.server_pids);

  // Nothing opened: there is nothing to measure, so do not sit through the run.
  const bool none_open = after_connect.connected && after_connect.open == 0;
  // Settle: servers that announce joins to the room (ringcast does) are still sending
  // those; measure from a quiet start, i.e. no message for 300 ms (30 s cap).
  auto settle = [&] {
    if (none_open) return;
    std::uint64_t seen = ~0ull, changed = now_ns();
    co.wait(now_ns() + 30'000'000'000ull, "settle", [&] {
      const std::uint64_t r = co.totals().received, now = now_ns();
      if (r != seen) {
        seen = r;
        changed = now;
      }
      return now - changed > 300'000'000u;
    });
  };
  if (parent != nullptr) {
    // Settle only once every process is connected (their joins reach our connections
    // too); the parent holds and samples the server while we wait for 'R'.
    std::vector<std::uint8_t> none;
    if (!parent->send_value('C', ChildConnected{tl.connected, after_connect.open, after_connect.failed}) ||
        !parent->recv('S', none)) {
      return orphaned();
    }
    settle();
    if (!parent->send('Q') || !parent->recv('R', none)) return orphaned();
  } else {
    settle();
    if (opt.scenario == Scenario::connect && !none_open) {
      // Hold idle, then measure what the idle connections cost the server.
      co.wait(now_ns() + static_cast<std::uint64_t>(opt.duration * 1e9), "hold", [] { return false; });
      if (sampling) {
        const ProcSample held = sample_processes(opt.server_pids);
        if (held.ok) sv.connected.rss_bytes = held.rss_bytes;
      }
    }
  }

  if (sampling) sv.run_start = sample_processes(opt.server_pids);
  tl.run = now_ns();
  plan.run_start_ns.store(tl.run, std::memory_order_relaxed);
  plan.phase.store(Phase::run, std::memory_order_release);
  bool storm_all_settled = false;
  if (opt.scenario != Scenario::connect && !none_open) {
    const std::uint64_t end = tl.run + static_cast<std::uint64_t>(opt.duration * 1e9);
    if (opt.reconnect_at != 0) {
      // The storm: the threads drop their subscribers at once; the server is sampled from
      // then until every one is answered again (or the run ends).
      co.wait(tl.run + static_cast<std::uint64_t>(opt.reconnect_at * 1e9), "run", [] { return false; });
      if (sampling) sv.storm_start = sample_processes(opt.server_pids);
      plan.storm.store(true, std::memory_order_release);
      co.wait(end, "storm", [&] { return co.storm_over(); });
      storm_all_settled = co.storm_over();
      if (sampling) sv.storm_end = sample_processes(opt.server_pids);
    }
    co.wait(end, "run", [] { return false; });
  }
  tl.run_end = now_ns();
  plan.phase.store(Phase::drain, std::memory_order_release);

  // Drain: until every expected delivery is in, or nothing moved for 2 s (5 s cap, connect
  // 10 s). A child cannot see the other processes' sends: it expects a full burst from
  // every publisher of the run (fewer, if some never opened, ends by the 2 s rule).
  const std::uint64_t per_msg = opt.scenario == Scenario::chat ? plan.subscribers - 1 : plan.subscribers;
  std::uint64_t last_count = ~0ull, last_change = now_ns();
  co.wait(tl.run_end + (opt.scenario == Scenario::connect ? 10'000'000'000ull : 5'000'000'000ull), "drain", [&] {
    if (none_open && parent == nullptr) return true;
    for (const auto& w : co.workers) {
      if (w->live().phase_seen.load(std::memory_order_acquire) < Phase::drain) return false;  // counters not final yet
    }
    const Coordinator::Totals t = co.totals();
    const std::uint64_t expected =
        parent != nullptr ? std::uint64_t{opt.burst} * plan.publishers * plan.subscribers : t.sent * per_msg;
    if (t.deliveries >= expected) return true;
    const std::uint64_t now = now_ns();
    if (t.deliveries != last_count) {
      last_count = t.deliveries;
      last_change = now;
    }
    return now - last_change > 2'000'000'000u;
  });
  tl.drained = now_ns();
  if (sampling) sv.run_end = sample_processes(opt.server_pids);
  if (parent != nullptr) {
    std::vector<std::uint8_t> none;
    if (!parent->send('D') || !parent->recv('X', none)) return orphaned();
  }
  plan.phase.store(Phase::close, std::memory_order_release);
  for (auto& th : pool) th.join();

  // Merge the threads.
  Summary s;
  s.opt = &opt;
  s.subscribers = plan.subscribers;
  s.publishers = plan.publishers;
  s.requested = plan.total_conns;
  s.storm_all_settled = storm_all_settled;
  std::uint64_t storm_first = ~0ull, storm_last = 0;
  std::vector<std::uint32_t> published(plan.publishers, 0);
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
    s.offsets += r.offsets;
    s.offset_gaps += r.offset_gaps;
    s.offset_repeats += r.offset_repeats;
    s.api_answers += r.api_answers;
    s.api_errors += r.api_errors;
    s.wire_bytes += r.wire_bytes;
    s.deflate_connections += r.deflate_connections;
    s.compressed_messages += r.compressed_messages;
    s.slow_deliveries += r.slow_deliveries;
    s.slow_gaps += r.slow_gaps;
    s.send_skipped += r.send_skipped;
    s.window_resets += r.window_resets;
    s.storm_dropped += r.storm_dropped;
    s.storm_recovered += r.storm_recovered;
    s.storm_unrecovered += r.storm_unrecovered;
    s.storm_failed += r.storm_failed;
    s.recovered_publications += r.recovered_publications;
    s.recovery.merge(r.recovery);
    if (r.storm_start_ns != 0) storm_first = std::min(storm_first, r.storm_start_ns);
    storm_last = std::max(storm_last, r.storm_last_ns);
    for (std::size_t p = 0; p < published.size(); ++p) published[p] += r.published[p];
    tl.last_delivery = std::max(tl.last_delivery, w->live().last_delivery_ns.load(std::memory_order_relaxed));
    if (s.first_error.empty()) s.first_error = r.first_error;
    if (s.tls_session.empty()) s.tls_session = r.tls_session;
  }
  for (std::uint32_t n : published) s.sent += n;
  if (storm_last > storm_first) s.storm_seconds = static_cast<double>(storm_last - storm_first) / 1e9;
  if (parent != nullptr) {
    // What every process published, so a subscriber here is owed the others' messages too.
    const std::span<const std::uint8_t> mine(reinterpret_cast<const std::uint8_t*>(published.data()),
                                             published.size() * sizeof(std::uint32_t));
    std::vector<std::uint8_t> all;
    if (!parent->send('P', mine) || !parent->recv('G', all) || all.size() != mine.size()) return 1;
    if (!all.empty()) std::memcpy(published.data(), all.data(), all.size());  // -p 0: nothing (and null pointers)
  }
  for (auto& w : co.workers) {
    s.lost += w->count_missing(published);
    s.slow_missing += w->count_missing(published, true);
  }

  if (parent != nullptr) {
    ChildEnd end;
    end.tally = s;  // the Tally part
    end.last_delivery = tl.last_delivery;
    std::vector<std::uint8_t> body(sizeof end + s.first_error.size());
    std::memcpy(body.data(), &end, sizeof end);
    std::memcpy(body.data() + sizeof end, s.first_error.data(), s.first_error.size());
    return parent->send('T', body) ? 0 : 1;
  }
  if (sampling) sv.peak = watcher->peak_bytes();
  return report(s, opt, tl, sampling ? &sv : nullptr);
}

// --processes N: the parent. Forks the children, runs the barriers, samples the server,
// merges. Any child that dies early ends the run (exit 1) rather than leaving it hanging.
int run_processes(const Options& opt, const std::vector<Share>& shares) {
  struct Child {
    pid_t pid = -1;
    Link link;
  };
  std::vector<Child> kids;
  auto abandon = [&](const std::string& why) {
    for (Child& k : kids) {
      k.link.close();
      if (k.pid > 0) ::kill(k.pid, SIGKILL);
    }
    for (Child& k : kids) {
      if (k.pid > 0) (void)::waitpid(k.pid, nullptr, 0);
    }
    std::fprintf(stderr, "ringcast-load: %s\n", why.c_str());
    return 1;
  };

  const bool sampling = !opt.server_pids.empty();
  ServerSamples sv;
  if (sampling) sv.base = sample_processes(opt.server_pids);

  Options child_opt = opt;
  child_opt.quiet = true;  // the parent reports progress
  child_opt.json = false;
  child_opt.server_pids.clear();
  Timeline tl;
  tl.t0 = now_ns();
  std::fflush(nullptr);
  const pid_t me = ::getpid();
  for (std::size_t k = 0; k < shares.size(); ++k) {
    Link mine, theirs;
    if (!Link::pair(mine, theirs)) return abandon(std::string("pipe: ") + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) return abandon(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
      if (::getppid() != me) ::_exit(1);
      for (Child& other : kids) other.link.close();
      mine.close();
      ::_exit(run_share(child_opt, shares[k], &theirs));
    }
    kids.push_back(Child{pid, std::move(mine)});
  }
  std::optional<RssWatcher> watcher;
  if (sampling) watcher.emplace(opt.server_pids);

  std::vector<std::uint8_t> body;
  auto broadcast = [&](char tag, std::span<const std::uint8_t> msg = {}) {
    for (Child& k : kids) {
      if (!k.link.send(tag, msg)) return false;
    }
    return true;
  };
  auto early = [&](std::size_t k) {
    return "generator process " + std::to_string(k + 1) + " of " + std::to_string(kids.size()) + " (pid " +
           std::to_string(kids[k].pid) + ") ended early";
  };
  auto progress = [&](const char* what) {
    if (!opt.quiet) std::fprintf(stderr, "[%6.1fs] %s\n", static_cast<double>(now_ns() - tl.t0) / 1e9, what);
  };

  // Connected everywhere.
  std::uint64_t open = 0, failed = 0;
  for (std::size_t k = 0; k < kids.size(); ++k) {
    ChildConnected c;
    if (!kids[k].link.recv_value('C', c)) return abandon(early(k));
    tl.connected = std::max(tl.connected, c.t_connected);
    open += c.open;
    failed += c.failed;
  }
  if (sampling) sv.connected = sample_processes(opt.server_pids);
  if (!opt.quiet) {
    std::fprintf(stderr, "[%6.1fs] connect open %llu failed %llu in %zu processes\n",
                 static_cast<double>(now_ns() - tl.t0) / 1e9, static_cast<unsigned long long>(open),
                 static_cast<unsigned long long>(failed), kids.size());
  }
  // Quiet everywhere, then the hold.
  if (!broadcast('S')) return abandon("a generator process ended early");
  for (std::size_t k = 0; k < kids.size(); ++k) {
    if (!kids[k].link.recv('Q', body)) return abandon(early(k));
  }
  if (open != 0) {
    progress("settled; holding");
    std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<std::uint64_t>(opt.duration * 1e9)));
    if (sampling) {
      const ProcSample held = sample_processes(opt.server_pids);
      if (held.ok) sv.connected.rss_bytes = held.rss_bytes;
    }
  }
  if (sampling) sv.run_start = sample_processes(opt.server_pids);
  tl.run = now_ns();
  if (!broadcast('R')) return abandon("a generator process ended early");
  tl.run_end = now_ns();  // connect: the burst goes out at once
  for (std::size_t k = 0; k < kids.size(); ++k) {
    if (!kids[k].link.recv('D', body)) return abandon(early(k));
  }
  tl.drained = now_ns();
  if (sampling) sv.run_end = sample_processes(opt.server_pids);
  progress("drained; closing");
  if (!broadcast('X')) return abandon("a generator process ended early");

  // Everyone's published counts, back to everyone, so each can count what never arrived.
  std::vector<std::uint32_t> published(shares.front().pub_total, 0);
  for (std::size_t k = 0; k < kids.size(); ++k) {
    if (!kids[k].link.recv('P', body) || body.size() != published.size() * sizeof(std::uint32_t)) return abandon(early(k));
    for (std::size_t p = 0; p < published.size(); ++p) {
      std::uint32_t n = 0;
      std::memcpy(&n, body.data() + p * sizeof n, sizeof n);
      published[p] += n;
    }
  }
  if (!broadcast('G', {reinterpret_cast<const std::uint8_t*>(published.data()), published.size() * sizeof(std::uint32_t)})) {
    return abandon("a generator process ended early");
  }

  Summary s;
  s.opt = &opt;
  for (const Share& sh : shares) {
    s.subscribers += sh.subscribers;
    s.requested += conns_of(opt, sh);
  }
  s.publishers = shares.front().pub_total;
  for (std::size_t k = 0; k < kids.size(); ++k) {
    if (!kids[k].link.recv('T', body) || body.size() < sizeof(ChildEnd)) return abandon(early(k));
    ChildEnd end;
    std::memcpy(&end, body.data(), sizeof end);
    s.add(end.tally);
    tl.last_delivery = std::max(tl.last_delivery, end.last_delivery);
    if (s.first_error.empty() && body.size() > sizeof end) {
      s.first_error.assign(reinterpret_cast<const char*>(body.data()) + sizeof end, body.size() - sizeof end);
    }
  }
  for (Child& k : kids) {
    int status = 0;
    (void)::waitpid(k.pid, &status, 0);
    k.pid = -1;
  }
  if (sampling) sv.peak = watcher->peak_bytes();
  watcher.reset();
  return report(s, opt, tl, sampling ? &sv : nullptr);
}

// More connections per local address than half the ephemeral port range: connect() slows
// to a crawl past that point (see --help), which would be measured as the server's fault.
void warn_ephemeral_ports(const Options& opt, const std::vector<Share>& shares) {
  unsigned lo = 32768, hi = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%u %u", &lo, &hi) != 2) {
      lo = 32768;
      hi = 60999;
    }
    std::fclose(f);
  }
  std::uint64_t total = 0;
  for (const Share& s : shares) total += conns_of(opt, s);
  if (opt.reconnect_at != 0) total += opt.connections;  // the storm's: the dropped ones' ports sit in TIME_WAIT
  const std::uint64_t per_source = total / std::max<std::size_t>(opt.sources.size(), 1);
  const std::uint64_t half = hi >= lo ? (hi - lo + 1) / 2 : 0;
  if (per_source > half) {
    std::fprintf(stderr,
                 "ringcast-load: warning: %llu connections per local address to one port is more than half of "
                 "ip_local_port_range (%u-%u), where connect() slows down; spread them with --source %s\n",
                 static_cast<unsigned long long>(per_source), lo, hi,
                 opt.sources.empty() ? "127.0.0.1,127.0.0.2" : "and more addresses");
  }
}

int run(const Options& opt) {
  {
    std::vector<Target> targets;
    Target publish_target;
    if (std::string e = resolve_targets(opt, targets, publish_target); !e.empty()) return usage_error(e);
  }
  const std::vector<Share> shares = split_run(opt);
  if (std::string e = check_limits(opt, shares, raise_fd_limit()); !e.empty()) return usage_error(e);
  for (pid_t pid : opt.server_pids) {
    if (!sample_process(pid).ok) return usage_error("--server-pid " + std::to_string(pid) + ": no such process");
  }
  warn_ephemeral_ports(opt, shares);
  if (shares.size() == 1) return run_share(opt, shares.front(), nullptr);
  (void)::signal(SIGPIPE, SIG_IGN);  // a child that died shows as a failed write, not a dead parent
  return run_processes(opt, shares);
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
