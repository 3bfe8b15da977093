// The kernel's floor for a broadcast pass: 64-byte frames (one, or several in one send) sent
// to each of N established loopback TCP connections, back to back or after a pause, by a bare
// write() loop and by batched io_uring sends (one submit per pass, as a shard does; plain and
// registered files). A drain thread on another CPU reads the client ends without sleeping, so
// the sender is not charged for waking it; on loopback the sender still pays for the
// receiver's TCP work (it runs in the sender's softirq), as ringcast does under ringcast-load
// (which receives with io_uring, not epoll: its wakeup callback on the sender's core differs
// a little). CPU time is the sending thread's. No server can send to N sockets faster than these loops:
// a pass over 10,000 subscribers takes N x per_send, which bounds every end-to-end latency.
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>
#include <vector>

namespace {

// 64-byte text messages as server frames (2-byte header + payload), back to back: a send
// carries range(1) of them, as a shard's combined sends do under a closed loop.
constexpr std::size_t kFrameBytes = 66;
constexpr std::size_t kMaxFrames = 64;
const std::array<char, kFrameBytes * kMaxFrames> kFrames = [] {
  std::array<char, kFrameBytes * kMaxFrames> f{};
  for (std::size_t at = 0; at < f.size(); at += kFrameBytes) {
    f[at] = static_cast<char>(0x81);
    f[at + 1] = 64;
    for (std::size_t i = 2; i < kFrameBytes; ++i) f[at + i] = 'x';
  }
  return f;
}();

std::size_t send_bytes(const benchmark::State& state) { return kFrameBytes * static_cast<std::size_t>(state.range(1)); }

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// The CPUs the process was started on, read once in main() before any thread pins itself.
std::vector<int> g_cpus;

// The i-th of them, or -1.
int allowed_cpu(std::size_t i) { return i < g_cpus.size() ? g_cpus[i] : -1; }

void pin_self(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// The one thread that reads every client end, spinning (epoll_wait with no timeout) on the
// second allowed CPU; the first is the sender's. One for all peer sets: a spinning thread
// per set would share that CPU with the others.
class Drain {
 public:
  Drain() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) die("epoll_create1");
    thread_ = std::thread([this] { run(); });
  }
  ~Drain() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
    close(epoll_);
  }
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }

 private:
  void run() {
    pin_self(allowed_cpu(1));
    std::array<epoll_event, 256> events{};
    std::array<char, 65536> buf{};
    while (!stop_.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 0);
      for (int i = 0; i < n; ++i) {
        while (read(events[static_cast<std::size_t>(i)].data.fd, buf.data(), buf.size()) > 0) {
        }
      }
    }
  }

  int epoll_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Drain& drain() {
  static Drain d;
  return d;
}

// N loopback connections: the server ends are what the benchmark writes to, the client ends
// go to the drain thread.
class Peers {
 public:
  explicit Peers(int n) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 4096) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      die("listen");
    }
    for (int i = 0; i < n; ++i) {
      const int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c < 0) die("socket");
      if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) die("connect");
      const int s = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (s < 0) die("accept4");
      const int one = 1;
      (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the server sets it
      drain().add(c);
      clients_.push_back(c);
      servers_.push_back(s);
    }
    close(listener);
    // A new connection acknowledges its first 16 segments at once (quick-ACK mode); a server's
    // long-lived subscribers are past that, so every connection gets 20 untimed frames first.
    for (int pass = 0; pass < 20; ++pass) {
      for (int fd : servers_) {
        if (write(fd, kFrames.data(), kFrameBytes) != static_cast<ssize_t>(kFrameBytes)) die("warm-up write");
      }
    }
  }
  ~Peers() {
    for (int fd : servers_) close(fd);
    for (int fd : clients_) close(fd);
  }
  Peers(const Peers&) = delete;
  Peers& operator=(const Peers&) = delete;

  const std::vector<int>& fds() const { return servers_; }

 private:
  std::vector<int> servers_, clients_;
};

// One set of peers per N for the whole run (connecting 8,000 pairs takes a while), or null
// after SkipWithError when the descriptor limit cannot hold another set.
const std::vector<int>* peer_fds(benchmark::State& state) {
  static std::map<int, std::unique_ptr<Peers>> all;
  static std::size_t open = 0;  // descriptors the sets hold
  const int n = static_cast<int>(state.range(0));
  auto& p = all[n];
  if (!p) {
    rlimit rl{};
    const std::size_t need = open + 2 * static_cast<std::size_t>(n) + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
      state.SkipWithError("descriptor limit (ulimit -n) too low for this many connections");
      return nullptr;
    }
    p = std::make_unique<Peers>(n);
    open += 2 * static_cast<std::size_t>(n);
  }
  return &p->fds();
}

// range(2) > 0: rest that many milliseconds (untimed) before each pass, as between one
// bullet comment and the next; past the minimum RTO (200 ms) idle receivers go back to
// acknowledging every segment at once, so a pass after a pause costs more than back to back.
void rest(benchmark::State& state) {
  if (state.range(2) == 0) return;
  state.PauseTiming();
  std::this_thread::sleep_for(std::chrono::milliseconds(state.range(2)));
  state.ResumeTiming();
}

void per_send(benchmark::State& state) {
  state.counters["per_send"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(state.range(0)),
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_PassWrite(benchmark::State& state) {
  pin_self(allowed_cpu(0));
  const std::vector<int>* peers = peer_fds(state);
  if (peers == nullptr) return;
  const std::vector<int>& fds = *peers;
  const std::size_t bytes = send_bytes(state);
  for (auto _ : state) {
    rest(state);
    for (int fd : fds) {
      if (write(fd, kFrames.data(), bytes) != static_cast<ssize_t>(bytes)) {
        state.SkipWithError("short write: the drain thread fell behind");
        return;
      }
    }
  }
  per_send(state);
}

// One pass = every send prepared, one submit (more only when the SQ fills), every completion
// reaped: the shape of a shard's turn.
void uring_pass(benchmark::State& state, bool registered) {
  pin_self(allowed_cpu(0));
  const std::vector<int>* peers = peer_fds(state);
  if (peers == nullptr) return;
  const std::vector<int>& fds = *peers;
  const std::size_t bytes = send_bytes(state);
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = 16384;
  if (io_uring_queue_init_params(4096, &ring, &p) != 0) {
    state.SkipWithError("io_uring unavailable");
    return;
  }
  if (registered && io_uring_register_files(&ring, fds.data(), static_cast<unsigned>(fds.size())) != 0) {
    io_uring_queue_exit(&ring);
    state.SkipWithError("io_uring_register_files failed");
    return;
  }
  bool ok = true;
  for (auto _ : state) {
    rest(state);
    unsigned pending = 0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (sqe == nullptr) {
        (void)io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
      }
      io_uring_prep_send(sqe, registered ? static_cast<int>(i) : fds[i], kFrames.data(), bytes, MSG_NOSIGNAL);
      if (registered) sqe->flags |= IOSQE_FIXED_FILE;
      ++pending;
    }
    (void)io_uring_submit_and_wait(&ring, pending);
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ok = ok && cqe->res == static_cast<int>(bytes);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
    if (seen != pending || !ok) {
      state.SkipWithError("a send failed or was short: the drain thread fell behind");
      break;
    }
  }
  io_uring_queue_exit(&ring);
  per_send(state);
}

void BM_PassUringSend(benchmark::State& state) { uring_pass(state, false); }
void BM_PassUringSendFixed(benchmark::State& state) { uring_pass(state, true); }

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

// {connections, 64-byte messages per send, ms of rest before each pass}: one message to 1,000
// and to 8,000 subscribers back to back (both sets open at once: 18,000 descriptors, under the
// 20,000 per-process cap of these hosts), 44 messages per send to 1,000 (what the fan-out
// scenario's closed loop combines), and one message to 8,000 after 300 ms of quiet (a
// bullet comment at a low rate: ten passes, each after its pause).
void Shapes(benchmark::internal::Benchmark* b) {
  b->Args({1000, 1, 0})->Args({8000, 1, 0})->Args({1000, 44, 0});
}
void Quiet(benchmark::internal::Benchmark* b) { b->Args({8000, 1, 300})->Iterations(10); }
BENCHMARK(BM_PassWrite)->Apply(Shapes);
BENCHMARK(BM_PassUringSend)->Apply(Shapes);
BENCHMARK(BM_PassUringSendFixed)->Apply(Shapes);
BENCHMARK(BM_PassWrite)->Apply(Quiet);
BENCHMARK(BM_PassUringSend)->Apply(Quiet);
BENCHMARK(BM_PassUringSendFixed)->Apply(Quiet);

int main(int argc, char** argv) {
  raise_fd_limit();
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) g_cpus.push_back(cpu);
    }
  }
  if (g_cpus.size() < 2) std::fprintf(stderr, "loopback_bench: one CPU allowed; the drain thread shares it with the sender\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
