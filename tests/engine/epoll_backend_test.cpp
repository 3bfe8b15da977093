// EpollBackend on real loopback sockets: multishot accept and recv (buffers, recycle,
// ENOBUFS, EOF), sends that complete at once or wait for EPOLLOUT without spinning,
// timeouts, cancel, eventfd reads, cross-thread wake, shutdown flushing pending ops,
// stale events after detach, handlers calling back in, and an idempotent close(); and
// connect() (the broker's outbound link) on it and on UringBackend alike.
// Every wait is a bounded loop of run_once() turns with a 10 ms guard timeout.
#include "engine/io/epoll_backend.hpp"
#include "engine/io/uring_backend.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace ringcast::engine {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kGuard = 0xFFFF'FFFF'0000'0001ull;  // the loop's own timeout
constexpr std::uint64_t kAccept = 0x100, kRecv = 0x200, kSend = 0x300, kTimer = 0x400;
constexpr std::uint64_t kCancel = 0x500, kRead = 0x600, kWake = 0x700, kConnect = 0x800;

// One backend and the sink it delivers to; turns are bounded by a guard timeout.
template <typename Backend>
struct BackendLoop final : CompletionSink {
  Backend io;
  std::vector<Completion> got;                    // everything but the guard
  std::function<void(const Completion&)> hook;    // runs inside run_once, may call io
  __kernel_timespec guard{0, 10'000'000};
  bool guard_armed = false;
  int turns = 0;

  explicit BackendLoop(unsigned recv_buffers = 8, unsigned files = 16) {
    BackendLimits limits;
    limits.recv_buffers = recv_buffers;
    limits.recv_buffer_size = 4096;
    limits.files = files;
    EXPECT_EQ(io.init(limits), "");
  }

  void on_completion(const Completion& c) override {
    if (c.tag == kGuard) {
      guard_armed = false;
      return;
    }
    got.push_back(c);
    if (hook) hook(c);
  }

  void turn() {
    if (!guard_armed) {
      io.timeout(&guard, kGuard);
      guard_armed = true;
    }
    int rc = io.run_once(*this);
    EXPECT_TRUE(rc == 0 || rc == -EINTR) << rc;
    ++turns;
  }

  template <typename P>
  bool until(P done, std::chrono::milliseconds limit = 2000ms) {
    auto end = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= end) return false;
      turn();
    }
    return true;
  }

  void run_for(std::chrono::milliseconds d) {
    (void)until([] { return false; }, d);
  }

  [[nodiscard]] std::vector<Completion> of(std::uint64_t tag) const {
    std::vector<Completion> out;
    for (const Completion& c : got) {
      if (c.tag == tag) out.push_back(c);
    }
    return out;
  }
  [[nodiscard]] std::size_t count(std::uint64_t tag) const { return of(tag).size(); }
};

using Loop = BackendLoop<EpollBackend>;

int make_listener(std::uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ADD_FAILURE() << "listener: " << std::strerror(errno);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

// A blocking client socket; rcvbuf > 0 shrinks its receive buffer before the handshake.
int connect_to(std::uint16_t port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "connect: " << std::strerror(errno);
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  (void)getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A connected pair made without the backend: server is non-blocking, like accepted ones.
struct Pair {
  int server = -1, client = -1;
  explicit Pair(int client_rcvbuf = 0, int server_sndbuf = 0) {
    std::uint16_t port = 0;
    int l = make_listener(port);
    client = connect_to(port, client_rcvbuf);
    server = accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (server_sndbuf > 0) (void)setsockopt(server, SOL_SOCKET, SO_SNDBUF, &server_sndbuf, sizeof server_sndbuf);
    ::close(l);
    EXPECT_GE(server, 0);
  }
  ~Pair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
};

std::string read_exact(int fd, std::size_t n) {
  std::string s(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, s.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  s.resize(got);
  return s;
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31 + 7) % 251);
  return v;
}

TEST(EpollBackend, InitNameCloseIdempotent) {
  Loop loop;
  EXPECT_STREQ(loop.io.name(), "epoll");
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::uint64_t mono = static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
  EXPECT_LE(mono > loop.io.now_ms() ? mono - loop.io.now_ms() : loop.io.now_ms() - mono, 5u);
  loop.io.close();
  loop.io.close();
  EXPECT_EQ(loop.io.run_once(loop), -EBADF);  // closed: returns at once, never blocks
  // A fresh init after close works, and the destructor closes once more.
  BackendLimits limits;
  limits.files = 4;
  ASSERT_EQ(loop.io.init(limits), "");
  loop.guard_armed = false;
  EXPECT_TRUE(loop.until([&] { return loop.turns >= 2; }));
}

TEST(EpollBackend, AcceptMultishotDeliversNonBlockingConnections) {
  Loop loop;
  std::uint16_t port = 0;
  int l = make_listener(port);
  loop.io.accept_multishot(l, kAccept);
  EXPECT_NE(fcntl(l, F_GETFL) & O_NONBLOCK, 0);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect_to(port));
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept) == 3; }));
  std::vector<std::uint16_t> ports;
  for (const Completion& c : loop.of(kAccept)) {
    ASSERT_GE(c.res, 0);
    EXPECT_TRUE(c.more);
    EXPECT_FALSE(c.has_buffer);
    EXPECT_NE(fcntl(c.res, F_GETFL) & O_NONBLOCK, 0) << "accepted sockets must be non-blocking";
    EXPECT_NE(fcntl(c.res, F_GETFD) & FD_CLOEXEC, 0);
    ports.push_back(loop.io.setup_accepted(c.res));
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    (void)getsockopt(c.res, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
    EXPECT_EQ(nodelay, 1);
    loop.io.close_fd(c.res);
  }
  std::vector<std::uint16_t> expected;
  for (int fd : clients) expected.push_back(local_port(fd));
  std::sort(ports.begin(), ports.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ports, expected);
  // Still armed: a fourth connection arrives too.
  clients.push_back(connect_to(port));
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept) == 4; }));
  loop.io.close_fd(loop.got.back().res);
  for (int fd : clients) ::close(fd);
  ::close(l);
}

TEST(EpollBackend, AcceptErrorEndsMultishot) {
  Loop loop;
  std::uint16_t port = 0;
  int l = make_listener(port);
  int client = connect_to(port);
  // One completion through the sink first: UBSan's first dynamic-type check of the sink
  // opens a descriptor, and this test is about to leave none.
  const __kernel_timespec now{};
  loop.io.timeout(&now, kAccept + 100);
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept + 100) == 1; }));
  // No descriptor left for accept4: EMFILE, and the multishot must end (more = false).
  int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  loop.io.accept_multishot(l, kAccept);
  bool ended = loop.until([&] { return loop.count(kAccept) >= 1; });
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_TRUE(ended);
  EXPECT_EQ(loop.got.back().res, -EMFILE);
  EXPECT_FALSE(loop.got.back().more);
  loop.run_for(30ms);
  EXPECT_EQ(loop.count(kAccept), 1u) << "disarmed: no retry storm";
  // Re-armed (the shard does so after its back-off): the queued connection comes in.
  loop.io.accept_multishot(l, kAccept);
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept) == 2; }));
  EXPECT_GE(loop.got.back().res, 0);
  EXPECT_TRUE(loop.got.back().more);
  loop.io.close_fd(loop.got.back().res);
  ::close(client);
  ::close(l);
}

TEST(EpollBackend, RecvMultishotDeliversBytesRecyclesAndEndsAtEof) {
  Loop loop(4);
  Pair p;
  std::string early = "sent before the recv was armed";
  ASSERT_EQ(::send(p.client, early.data(), early.size(), 0), static_cast<ssize_t>(early.size()));
  loop.run_for(20ms);  // the bytes sit in the socket; nothing may read them yet
  EXPECT_TRUE(loop.got.empty());
  std::string in;
  std::size_t data_completions = 0;
  loop.hook = [&](const Completion& c) {
    if (c.tag != kRecv || !c.has_buffer) return;
    EXPECT_GT(c.res, 0);
    EXPECT_TRUE(c.more);
    EXPECT_LT(c.buffer, 4u);
    in.append(reinterpret_cast<const char*>(loop.io.buffer(c.buffer)), static_cast<std::size_t>(c.res));
    loop.io.recycle(c.buffer);
    ++data_completions;
  };
  loop.io.attach(p.server, 5);
  loop.io.recv_multishot(p.server, 5, kRecv);
  ASSERT_TRUE(loop.until([&] { return in.size() >= early.size(); }));
  EXPECT_EQ(in, early);
  // 64 KiB through 4 buffers of 4 KiB: only works if recycled buffers are reused.
  std::vector<std::uint8_t> big = pattern(64 * 1024);
  ASSERT_EQ(::send(p.client, big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
  in.clear();
  data_completions = 0;
  ASSERT_TRUE(loop.until([&] { return in.size() >= big.size(); }));
  EXPECT_EQ(in, std::string(big.begin(), big.end()));
  EXPECT_GE(data_completions, 16u);
  EXPECT_EQ(loop.count(kRecv), loop.got.size());
  ::shutdown(p.client, SHUT_WR);
  ASSERT_TRUE(loop.until([&] { return !loop.got.back().more; }));
  EXPECT_EQ(loop.got.back().tag, kRecv);
  EXPECT_EQ(loop.got.back().res, 0);
  EXPECT_FALSE(loop.got.back().has_buffer);
  std::size_t n = loop.got.size();
  loop.run_for(30ms);
  EXPECT_EQ(loop.got.size(), n) << "nothing after the multishot ended";
  loop.io.detach(5);
}

// More than 16 buffers queued on each of two sockets: one socket gets at most 16 reads in
// a row, and what is left is read on the next turn although no new edge will ever come.
TEST(EpollBackend, ReadsPerSocketAreCappedAndTheRestComesNextTurn) {
  Loop loop;
  Pair a, b;
  std::vector<std::uint8_t> data = pattern(24 * 4096);
  for (int fd : {a.client, b.client}) ASSERT_EQ(::send(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  // Wait until every byte sits in the server sockets (FIONREAD), so none arrives later.
  auto queued = [](int fd) {
    int n = 0;
    (void)ioctl(fd, FIONREAD, &n);
    return static_cast<std::size_t>(n);
  };
  auto until = Clock::now() + 2s;
  while ((queued(a.server) < data.size() || queued(b.server) < data.size()) && Clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(queued(a.server), data.size());
  ASSERT_EQ(queued(b.server), data.size());
  std::string in[2];
  std::vector<std::uint64_t> order;
  loop.hook = [&](const Completion& c) {
    ASSERT_TRUE(c.has_buffer);
    in[c.tag - kRecv].append(reinterpret_cast<const char*>(loop.io.buffer(c.buffer)), static_cast<std::size_t>(c.res));
    loop.io.recycle(c.buffer);
    order.push_back(c.tag);
  };
  loop.io.attach(a.server, 0);
  loop.io.recv_multishot(a.server, 0, kRecv);
  loop.io.attach(b.server, 1);
  loop.io.recv_multishot(b.server, 1, kRecv + 1);
  ASSERT_TRUE(loop.until([&] { return in[0].size() == data.size() && in[1].size() == data.size(); }, 1000ms));
  EXPECT_EQ(in[0], std::string(data.begin(), data.end()));
  EXPECT_EQ(in[1], std::string(data.begin(), data.end()));
  std::size_t run = 0, longest = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    run = (i > 0 && order[i] == order[i - 1]) ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_LE(longest, 16u);
  EXPECT_GE(order.size(), 48u);
  loop.io.detach(0);
  loop.io.detach(1);
}

TEST(EpollBackend, RecvEndsWithEnobufsWhenNoBufferIsFree) {
  Loop loop(1);
  Pair p;
  std::vector<std::uint8_t> data = pattern(3 * 4096 + 100);
  ASSERT_EQ(::send(p.client, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  std::string in;
  std::vector<std::uint16_t> held;  // recycled only after the turn: the pool runs dry
  std::size_t enobufs = 0;
  bool armed = true;
  loop.hook = [&](const Completion& c) {
    if (c.tag != kRecv) return;
    if (c.has_buffer) {
      in.append(reinterpret_cast<const char*>(loop.io.buffer(c.buffer)), static_cast<std::size_t>(c.res));
      held.push_back(c.buffer);
      return;
    }
    EXPECT_EQ(c.res, -ENOBUFS);
    EXPECT_FALSE(c.more);
    ++enobufs;
    armed = false;
  };
  loop.io.attach(p.server, 0);
  loop.io.recv_multishot(p.server, 0, kRecv);
  ASSERT_TRUE(loop.until([&] {
    for (std::uint16_t id : held) loop.io.recycle(id);
    held.clear();
    if (!armed) {  // as the shard does after the turn
      armed = true;
      loop.io.recv_multishot(p.server, 0, kRecv);
    }
    return in.size() >= data.size();
  }));
  EXPECT_EQ(in, std::string(data.begin(), data.end()));
  EXPECT_GE(enobufs, 1u);
  loop.io.detach(0);
}

TEST(EpollBackend, SendAndSendmsgCompleteWithByteCount) {
  Loop loop;
  Pair p;
  loop.io.attach(p.server, 2);
  loop.io.send(p.server, 2, "hello", 5, kSend);
  EXPECT_TRUE(loop.got.empty()) << "completions come from run_once only";
  ASSERT_TRUE(loop.until([&] { return loop.count(kSend) == 1; }));
  EXPECT_EQ(loop.got.back().res, 5);
  EXPECT_EQ(read_exact(p.client, 5), "hello");

  iovec* iov = loop.io.send_iovecs(256);
  ASSERT_NE(iov, nullptr);
  const char* parts[] = {"ab", "cde", "fghi"};
  for (int i = 0; i < 3; ++i) iov[i] = {const_cast<char*>(parts[i]), std::strlen(parts[i])};
  loop.io.sendmsg(p.server, 2, iov, 3, kSend + 1);
  ASSERT_TRUE(loop.until([&] { return loop.count(kSend + 1) == 1; }));
  EXPECT_EQ(loop.got.back().res, 9);
  EXPECT_EQ(read_exact(p.client, 9), "abcdefghi");

  loop.io.send(p.server, 3, "x", 1, kSend + 2);  // slot 3 was never attached
  ASSERT_TRUE(loop.until([&] { return loop.count(kSend + 2) == 1; }));
  EXPECT_EQ(loop.got.back().res, -EBADF);
  loop.io.detach(2);
}

TEST(EpollBackend, SendToStalledPeerWaitsForEpolloutWithoutSpinning) {
  Loop loop;
  Pair p(16 * 1024, 16 * 1024);
  loop.io.attach(p.server, 1);
  std::vector<std::uint8_t> data = pattern(4 * 1024 * 1024);
  std::size_t offset = 0, eagain = 0, partial = 0;
  bool inflight = false;
  loop.hook = [&](const Completion& c) {
    if (c.tag != kSend) return;
    inflight = false;
    if (c.res == -EAGAIN) {
      ++eagain;
      return;
    }
    ASSERT_GE(c.res, 0);
    offset += static_cast<std::size_t>(c.res);
    if (offset < data.size()) ++partial;
  };
  auto flush = [&] {  // the shard's end-of-turn flush: one send in flight, resumed at offset
    if (!inflight && offset < data.size()) {
      inflight = true;
      loop.io.send(p.server, 1, data.data() + offset, data.size() - offset, kSend);
    }
  };
  // The peer does not read: the socket fills and the send waits for room.
  (void)loop.until([&] { flush(); return false; }, 150ms);
  EXPECT_LT(offset, data.size());
  EXPECT_GE(partial, 1u);
  std::size_t sends_before = loop.count(kSend);
  int turns_before = loop.turns;
  (void)loop.until([&] { flush(); return false; }, 150ms);
  EXPECT_TRUE(inflight) << "the send is parked until EPOLLOUT";
  EXPECT_EQ(loop.count(kSend), sends_before) << "no -EAGAIN without writability";
  EXPECT_LE(loop.turns - turns_before, 40) << "the loop must block, not spin";  // ~15 guard ticks
  EXPECT_LE(eagain, 20u);
  // The peer drains: EPOLLOUT brings -EAGAIN or resumed sends until all is through.
  std::vector<std::uint8_t> out;
  out.reserve(data.size());
  std::vector<std::uint8_t> chunk(64 * 1024);
  ASSERT_TRUE(loop.until([&] {
    flush();
    for (;;) {
      ssize_t r = ::recv(p.client, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (r <= 0) break;
      out.insert(out.end(), chunk.begin(), chunk.begin() + r);
    }
    return out.size() == data.size() && offset == data.size();  // bytes and their completion
  }, 4000ms));
  EXPECT_EQ(offset, data.size());
  EXPECT_TRUE(out == data);
  EXPECT_LT(loop.turns, 20000);
  loop.io.detach(1);
}

TEST(EpollBackend, TimeoutsCompleteWithEtimeNoEarlierThanAsked) {
  Loop loop;
  const long ms[] = {15, 40, 25, 0};
  __kernel_timespec ts[4];
  std::map<std::uint64_t, Clock::duration> elapsed;
  auto start = Clock::now();
  for (int i = 0; i < 4; ++i) {
    ts[i] = {0, ms[i] * 1'000'000};
    loop.io.timeout(&ts[i], kTimer + static_cast<std::uint64_t>(i));
  }
  EXPECT_TRUE(loop.got.empty());
  loop.hook = [&](const Completion& c) {
    EXPECT_EQ(c.res, -ETIME);
    EXPECT_FALSE(c.more);
    elapsed[c.tag] = Clock::now() - start;
  };
  ASSERT_TRUE(loop.until([&] { return elapsed.size() == 4; }));
  for (int i = 0; i < 4; ++i) {
    auto got = elapsed[kTimer + static_cast<std::uint64_t>(i)];
    EXPECT_GE(got, std::chrono::milliseconds(ms[i])) << "timeout " << i;
    EXPECT_LT(got, std::chrono::milliseconds(ms[i]) + 1000ms) << "timeout " << i;
  }
  EXPECT_EQ(loop.got.size(), 4u);
}

TEST(EpollBackend, CancelRemovesAPendingTimeout) {
  Loop loop;
  __kernel_timespec five_s{5, 0};
  loop.io.timeout(&five_s, kTimer);
  loop.io.cancel(kTimer, kCancel);
  ASSERT_TRUE(loop.until([&] { return loop.count(kTimer) == 1 && loop.count(kCancel) == 1; }));
  EXPECT_EQ(loop.of(kTimer)[0].res, -ECANCELED);
  EXPECT_EQ(loop.of(kCancel)[0].res, 0);
  loop.io.cancel(kTimer, kCancel + 1);  // nothing left under that tag
  ASSERT_TRUE(loop.until([&] { return loop.count(kCancel + 1) == 1; }));
  EXPECT_EQ(loop.of(kCancel + 1)[0].res, -ENOENT);
  loop.run_for(20ms);
  EXPECT_EQ(loop.count(kTimer), 1u);
}

TEST(EpollBackend, CancelEndsTheAcceptMultishot) {
  Loop loop;
  std::uint16_t port = 0;
  int l = make_listener(port);
  loop.io.accept_multishot(l, kAccept);
  loop.io.cancel(kAccept, kCancel);
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept) == 1; }));
  EXPECT_EQ(loop.of(kAccept)[0].res, -ECANCELED);
  EXPECT_FALSE(loop.of(kAccept)[0].more);
  int client = connect_to(port);
  loop.run_for(40ms);
  EXPECT_EQ(loop.count(kAccept), 1u) << "no accept after the cancel";
  loop.io.accept_multishot(l, kAccept);
  ASSERT_TRUE(loop.until([&] { return loop.count(kAccept) == 2; }));
  EXPECT_GE(loop.of(kAccept)[1].res, 0);
  loop.io.close_fd(loop.of(kAccept)[1].res);
  ::close(client);
  ::close(l);
}

TEST(EpollBackend, ReadOnEventfdCompletesOnceWritten) {
  Loop loop;
  int efd = eventfd(0, EFD_CLOEXEC);  // blocking, as the shard creates it
  ASSERT_GE(efd, 0);
  std::uint64_t value = 0;
  loop.io.read(efd, &value, sizeof value, kRead);
  loop.run_for(30ms);
  EXPECT_EQ(loop.count(kRead), 0u) << "nothing written yet";
  std::uint64_t five = 5;
  ASSERT_EQ(::write(efd, &five, sizeof five), 8);
  ASSERT_TRUE(loop.until([&] { return loop.count(kRead) == 1; }));
  EXPECT_EQ(loop.got.back().res, 8);
  EXPECT_EQ(value, 5u);
  // Re-armed after its completion, like the shard's wake read.
  loop.io.read(efd, &value, sizeof value, kRead + 1);
  loop.run_for(20ms);
  EXPECT_EQ(loop.count(kRead + 1), 0u);
  std::uint64_t two = 2;
  ASSERT_EQ(::write(efd, &two, sizeof two), 8);
  ASSERT_TRUE(loop.until([&] { return loop.count(kRead + 1) == 1; }));
  EXPECT_EQ(value, 2u);
  loop.io.close_fd(efd);
}

TEST(EpollBackend, WakeFromAnotherThreadInterruptsABlockingTurn) {
  Loop loop;
  __kernel_timespec long_guard{3, 0};
  loop.io.timeout(&long_guard, kTimer);  // only so a broken wake fails instead of hanging
  for (int round = 1; round <= 2; ++round) {
    std::thread other([&loop] {
      EpollBackend b;
      BackendLimits limits;
      limits.files = 1;
      ASSERT_EQ(b.init(limits), "");
      std::this_thread::sleep_for(20ms);
      for (int i = 0; i < 100; ++i) b.wake(loop.io, kWake);
    });
    auto start = Clock::now();
    while (loop.count(kWake) < static_cast<std::size_t>(round) && loop.count(kTimer) == 0) {
      ASSERT_EQ(loop.io.run_once(loop), 0);  // no 10 ms guard: this turn blocks
    }
    EXPECT_EQ(loop.count(kTimer), 0u) << "the wake did not interrupt the wait";
    EXPECT_LT(Clock::now() - start, 2s);
    other.join();
    __kernel_timespec settle{0, 20'000'000};
    loop.io.timeout(&settle, kTimer + 1);
    while (loop.count(kTimer + 1) < static_cast<std::size_t>(round)) ASSERT_EQ(loop.io.run_once(loop), 0);
    // 100 wakes merged into at least one completion per round, never more than sent.
    EXPECT_GE(loop.count(kWake), static_cast<std::size_t>(round));
    EXPECT_LE(loop.count(kWake), static_cast<std::size_t>(100 * round));
    for (const Completion& c : loop.of(kWake)) EXPECT_EQ(c.res, 0);
  }
}

TEST(EpollBackend, ShutdownEndsPendingRecvAndFailsParkedSend) {
  Loop loop;
  Pair p(16 * 1024, 16 * 1024);
  loop.io.attach(p.server, 7);
  loop.io.recv_multishot(p.server, 7, kRecv);
  std::vector<std::uint8_t> data = pattern(4 * 1024 * 1024);
  std::size_t offset = 0;
  bool inflight = false;
  loop.hook = [&](const Completion& c) {
    if (c.tag == kSend) {
      inflight = false;
      if (c.res > 0) offset += static_cast<std::size_t>(c.res);
    }
  };
  // Send until one stays parked for 50 ms: it waits for EPOLLOUT.
  bool parked = false;
  for (int attempt = 0; attempt < 200 && !parked; ++attempt) {
    if (!inflight) {
      inflight = true;
      loop.io.send(p.server, 7, data.data() + offset, data.size() - offset, kSend);
    }
    std::size_t before = loop.count(kSend);
    parked = !loop.until([&] { return loop.count(kSend) > before; }, 50ms);
  }
  ASSERT_TRUE(parked);
  ASSERT_TRUE(inflight);
  EXPECT_GT(offset, 0u);
  EXPECT_EQ(loop.count(kRecv), 0u) << "the recv is pending: the peer sent nothing";
  std::size_t n = loop.got.size();
  loop.io.shutdown(p.server, SHUT_RDWR);
  EXPECT_EQ(loop.got.size(), n) << "flushed through run_once, not from inside shutdown()";
  ASSERT_TRUE(loop.until([&] { return loop.count(kRecv) == 1 && !inflight; }, 500ms));
  Completion recv = loop.of(kRecv)[0];
  EXPECT_LE(recv.res, 0);
  EXPECT_FALSE(recv.more);
  EXPECT_EQ(loop.of(kSend).back().res, -EPIPE);
  loop.io.detach(7);
  loop.io.close_fd(p.server);
  p.server = -1;
  n = loop.got.size();
  loop.run_for(30ms);
  EXPECT_EQ(loop.got.size(), n);
}

TEST(EpollBackend, DetachedSlotDropsStaleWorkAndCanBeReused) {
  Loop loop;
  Pair a, b;
  std::string in;
  loop.hook = [&](const Completion& c) {
    if (c.has_buffer) {
      in.append(reinterpret_cast<const char*>(loop.io.buffer(c.buffer)), static_cast<std::size_t>(c.res));
      loop.io.recycle(c.buffer);
    }
  };
  // Phase 1: a read queued for slot 0 (bytes were waiting when the recv was armed) must
  // not run once the slot went to another socket before the turn.
  ASSERT_EQ(::send(a.client, "old", 3, 0), 3);
  loop.io.attach(a.server, 0);
  loop.io.recv_multishot(a.server, 0, kRecv);
  loop.io.detach(0);
  loop.io.close_fd(a.server);
  a.server = -1;
  loop.io.attach(b.server, 0);
  loop.io.recv_multishot(b.server, 0, kRecv + 1);
  ASSERT_EQ(::send(b.client, "new", 3, 0), 3);
  ASSERT_TRUE(loop.until([&] { return in.size() >= 3; }));
  loop.run_for(20ms);
  EXPECT_EQ(in, "new");
  EXPECT_EQ(loop.count(kRecv), 0u);
  // Phase 2: an edge pending in epoll for the old socket is dropped with it.
  Pair c;
  ASSERT_EQ(::send(b.client, "x", 1, 0), 1);
  loop.io.detach(0);
  loop.io.attach(c.server, 0);
  loop.io.recv_multishot(c.server, 0, kRecv + 2);
  ASSERT_EQ(::send(c.client, "yz", 2, 0), 2);
  ASSERT_TRUE(loop.until([&] { return in.size() >= 5; }));
  loop.run_for(20ms);
  EXPECT_EQ(in, "newyz");
  EXPECT_EQ(loop.count(kRecv + 1), 1u);  // only its "new"
  loop.io.detach(0);
}

// An echo server whose handlers accept, attach, arm, send, detach and close from inside
// run_once: the re-entrancy the shard needs.
TEST(EpollBackend, HandlersCallBackInDuringDelivery) {
  Loop loop;
  std::uint16_t port = 0;
  int l = make_listener(port);
  struct Conn {
    int fd = -1;
    std::string inflight, queued;
  };
  std::map<std::uint32_t, Conn> conns;
  std::uint32_t next_slot = 0;
  std::size_t closed = 0;
  auto flush = [&](std::uint32_t slot) {
    Conn& c = conns[slot];
    if (!c.inflight.empty() || c.queued.empty()) return;
    c.inflight.swap(c.queued);
    loop.io.send(c.fd, slot, c.inflight.data(), c.inflight.size(), kSend + slot);
  };
  loop.hook = [&](const Completion& c) {
    if (c.tag == kAccept) {
      ASSERT_GE(c.res, 0);
      std::uint32_t slot = next_slot++;
      conns[slot].fd = c.res;
      loop.io.attach(c.res, slot);
      loop.io.recv_multishot(c.res, slot, kRecv + slot);
    } else if (c.tag >= kRecv && c.tag < kRecv + 16) {
      auto slot = static_cast<std::uint32_t>(c.tag - kRecv);
      if (c.has_buffer) {
        conns[slot].queued.append(reinterpret_cast<const char*>(loop.io.buffer(c.buffer)), static_cast<std::size_t>(c.res));
        loop.io.recycle(c.buffer);
        flush(slot);
      } else if (!c.more) {
        loop.io.detach(slot);
        loop.io.close_fd(conns[slot].fd);
        ++closed;
      }
    } else if (c.tag >= kSend && c.tag < kSend + 16) {
      auto slot = static_cast<std::uint32_t>(c.tag - kSend);
      Conn& conn = conns[slot];
      ASSERT_TRUE(c.res > 0 || c.res == -EAGAIN) << c.res;
      if (c.res > 0) conn.inflight.erase(0, static_cast<std::size_t>(c.res));
      if (!conn.inflight.empty()) {
        loop.io.send(conn.fd, slot, conn.inflight.data(), conn.inflight.size(), c.tag);
      } else {
        flush(slot);
      }
    }
  };
  loop.io.accept_multishot(l, kAccept);
  int c1 = connect_to(port), c2 = connect_to(port);
  for (int round = 0; round < 20; ++round) {
    std::string m1 = "one-" + std::to_string(round), m2 = "two-" + std::to_string(round) + "!";
    ASSERT_EQ(::send(c1, m1.data(), m1.size(), 0), static_cast<ssize_t>(m1.size()));
    ASSERT_EQ(::send(c2, m2.data(), m2.size(), 0), static_cast<ssize_t>(m2.size()));
    std::string e1, e2;
    ASSERT_TRUE(loop.until([&] {
      char buf[64];
      ssize_t r = ::recv(c1, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) e1.append(buf, static_cast<std::size_t>(r));
      r = ::recv(c2, buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) e2.append(buf, static_cast<std::size_t>(r));
      return e1.size() >= m1.size() && e2.size() >= m2.size();
    }));
    EXPECT_EQ(e1, m1);
    EXPECT_EQ(e2, m2);
  }
  ::close(c1);
  ::close(c2);
  ASSERT_TRUE(loop.until([&] { return closed == 2; }));
  EXPECT_EQ(conns.size(), 2u);
  ::close(l);
}

// connect(): the broker's outbound link, on both backends (io_uring where it is allowed).
template <typename Backend>
void connect_then_talk() {
  BackendLoop<Backend> loop;
  std::uint16_t port = 0;
  int listener = make_listener(port);
  ASSERT_GE(listener, 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  loop.io.connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to, kConnect);
  ASSERT_TRUE(loop.until([&] { return loop.count(kConnect) == 1; }));
  EXPECT_EQ(loop.of(kConnect)[0].res, 0);
  int peer = accept(listener, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  // Used as an accepted socket is: attached, sent on, received from.
  loop.io.attach(fd, 1);
  loop.io.send(fd, 1, "PING\r\n", 6, kSend);
  ASSERT_TRUE(loop.until([&] { return loop.count(kSend) == 1; }));
  EXPECT_EQ(read_exact(peer, 6), "PING\r\n");
  loop.io.recv_multishot(fd, 1, kRecv);
  ASSERT_EQ(write(peer, "+PONG\r\n", 7), 7);
  ASSERT_TRUE(loop.until([&] { return loop.count(kRecv) >= 1; }));
  const Completion got = loop.of(kRecv)[0];
  ASSERT_TRUE(got.has_buffer);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(loop.io.buffer(got.buffer)), static_cast<std::size_t>(got.res)), "+PONG\r\n");
  loop.io.recycle(got.buffer);
  loop.io.shutdown(fd, SHUT_RDWR);
  ASSERT_TRUE(loop.until([&] { return loop.count(kRecv) >= 2 && !loop.of(kRecv).back().more; }));
  loop.io.detach(1);
  loop.io.close_fd(fd);
  close(peer);
  close(listener);
  // A port held (bound) but not listening: refused, and nobody else can take it meanwhile.
  int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t at_len = sizeof at;
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(getsockname(held, reinterpret_cast<sockaddr*>(&at), &at_len), 0);
  int again = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  loop.io.connect(again, reinterpret_cast<const sockaddr*>(&at), sizeof at, kConnect + 1);
  ASSERT_TRUE(loop.until([&] { return loop.count(kConnect + 1) == 1; }));
  EXPECT_EQ(loop.of(kConnect + 1)[0].res, -ECONNREFUSED);
  loop.io.close_fd(again);
  close(held);
}

TEST(EpollBackend, ConnectCompletesThenTheSocketWorksAndARefusalIsItsErrno) { connect_then_talk<EpollBackend>(); }

TEST(UringBackend, ConnectCompletesThenTheSocketWorksAndARefusalIsItsErrno) {
  UringBackend probe;
  if (std::string why = probe.init(BackendLimits{}); !why.empty()) GTEST_SKIP() << why;
  probe.close();
  connect_then_talk<UringBackend>();
}

}  // namespace
}  // namespace ringcast::engine
