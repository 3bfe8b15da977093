// Fan-out cost: one published message appended to N subscribers' send queues with the
// engine's own kernel (engine/fanout.hpp), per subscriber, beside a bare loop that only
// touches each subscriber's connection once. Heap allocations during the timed loop are
// counted (global operator new is replaced in this binary) and reported per message.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "engine/pubsub/fanout.hpp"
#include "engine/net/frame_pool.hpp"

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}

// GCC pairs the replaced operator new with free() and warns; they are a matched pair here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace ringcast::engine;

constexpr int kDrainEvery = 32;  // messages per simulated send completion; queues hold 64

struct Room {
  explicit Room(std::size_t n) : conns(n), subs(n) {
    dirty.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      conns[i].state = ConnState::open;
      if (!conns[i].queue.reserve(64)) std::abort();
      subs[i] = Subscriber{static_cast<std::uint32_t>(i), 0};
    }
  }
  // What the send completions do: release every queued reference, clear the dirty marks.
  void drain() {
    for (std::uint32_t slot : dirty) {
      Conn& c = conns[slot];
      c.queue.complete(c.queue.queued_bytes(), leases);
      c.dirty = false;
    }
    dirty.clear();
  }
  std::vector<Conn> conns;
  std::vector<Subscriber> subs;
  std::vector<std::uint32_t> dirty;
  FramePool pool;
  LeasePool leases{pool};
};

// A 64-byte chat line, already encoded, leased for fan-out.
Lease* line(Room& room) {
  Frame* f = room.pool.acquire(80);
  f->len = 66;
  f->holders.store(1, std::memory_order_relaxed);
  return room.leases.lease(f);
}

// Times `one` (one message to every subscriber) in the steady state: the pools and queues
// warmed first, queues drained every kDrainEvery messages when `drain` (what the send
// completions do), allocations counted; reports ns per subscriber and allocs per message.
template <typename One>
void measure(benchmark::State& state, Room& room, bool drain, One&& one) {
  for (int i = 0; i < kDrainEvery; ++i) (void)one();
  room.drain();
  std::uint64_t allocs_before = g_allocs.load();
  int since_drain = 0;
  for (auto _ : state) {
    auto r = one();
    benchmark::DoNotOptimize(r);
    if (drain && ++since_drain == kDrainEvery) {
      state.PauseTiming();
      room.drain();
      since_drain = 0;
      state.ResumeTiming();
    }
  }
  std::uint64_t allocs = g_allocs.load() - allocs_before;
  room.drain();
  state.counters["ns_per_sub"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(room.subs.size()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_msg"] = static_cast<double>(allocs) / static_cast<double>(state.iterations());
}

auto refuse_none = [](Conn&, std::uint32_t, Refusal) { std::abort(); };

void BM_FanOut(benchmark::State& state) {
  Room room(static_cast<std::size_t>(state.range(0)));
  measure(state, room, true, [&] { return fan_out(room.subs, room.conns, line(room), 1u << 20, room.dirty, refuse_none); });
  state.counters["subscribers"] = static_cast<double>(state.range(0));
}

// permessage-deflate: the same fan-out with a compressed variant beside the plain frame;
// every `every`-th subscriber negotiated it (1: all, 2: half), so the loop chooses per
// subscriber and counts both leases.
void BM_FanOutDeflate(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto every = static_cast<std::size_t>(state.range(1));
  Room room(n);
  for (std::size_t i = 0; i < n; i += every) room.conns[i].deflate = true;
  measure(state, room, true, [&] {
    Lease *plain = line(room), *zipped = line(room);
    std::uint32_t q = fan_out(room.subs, room.conns, plain, 1u << 20, room.dirty, refuse_none, zipped);
    room.leases.drop_if_unused(plain);
    room.leases.drop_if_unused(zipped);
    return q;
  });
  state.SetLabel(every == 1 ? "every subscriber deflate" : "half deflate");
}

// Conflating fan-out (conflate_out): mode 0, subscribers that keep up (every message is
// appended, as fan_out does, plus the record of where); mode 1, subscribers that never
// read (after the first, every message replaces their unsent one in place: each message
// comes after a flush).
void BM_ConflateOut(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const bool slow = state.range(1) == 1;
  Room room(n);
  std::vector<Queued> queued(n);
  std::uint32_t flush = 1;
  measure(state, room, !slow, [&] {
    Lease* l = line(room);
    const Variants v = Variants::of_pair(l, nullptr);
    ConflateCount c = conflate_out(room.subs, queued, room.conns, v, 1, v, slow ? flush++ : flush, room.leases, 1u << 20,
                                   room.dirty, refuse_none);
    room.leases.drop_if_unused(l);
    return c;
  });
  state.SetLabel(slow ? "replace (slow readers)" : "append (readers keeping up)");
}

// A delta topic's fan-out (forms_out): every subscriber asked for deltas and holds the
// previous publication, so each gets the delta form (the raw and full ones are leased too,
// as the shard does); the per-subscriber form is read and written beside the queue push.
void BM_FormsOut(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Room room(n);
  std::vector<Form> forms(n, Form::delta);
  measure(state, room, true, [&] {
    Lease *raw = line(room), *full = line(room), *delta = line(room);
    Variants v[3] = {{{raw, raw}}, {{full, full}}, {{delta, delta}}};
    FormCount c = forms_out(room.subs, forms, room.conns, v, [](int) -> Lease* { std::abort(); }, 1u << 20, room.dirty,
                            refuse_none);
    for (Lease* l : {raw, full, delta}) room.leases.drop_if_unused(l);
    return c.delta;
  });
  state.counters["subscribers"] = static_cast<double>(n);
}

// Baseline: walk the same subscriber array and touch each connection once.
void BM_BareLoop(benchmark::State& state) {
  Room room(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    for (const Subscriber& s : room.subs) room.conns[s.slot].inflight_entries += 1;
    benchmark::ClobberMemory();
  }
  state.counters["subscribers"] = static_cast<double>(state.range(0));
  state.counters["ns_per_sub"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(state.range(0)),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_BareLoop)->Arg(1000)->Arg(100000);
BENCHMARK(BM_FanOut)->Arg(1000)->Arg(100000);
BENCHMARK(BM_FanOutDeflate)->Args({1000, 1})->Args({100000, 1})->Args({1000, 2})->Args({100000, 2});
BENCHMARK(BM_ConflateOut)->Args({1000, 0})->Args({100000, 0})->Args({1000, 1})->Args({100000, 1});
BENCHMARK(BM_FormsOut)->Arg(1000)->Arg(100000);

}  // namespace

BENCHMARK_MAIN();
