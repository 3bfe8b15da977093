// What the coordinating thread and the generator threads share: the run's phase (moved
// forward only by the coordinator) and each thread's live counters, one cache line per
// thread, written with relaxed stores once per loop turn and read for progress lines.
#pragma once
#include <atomic>
#include <vector>
#include <cstdint>

#include "bench/load/options.hpp"
#include "bench/load/target.hpp"

namespace ringcast::load {

enum class Phase : int {
  connect,  // open every connection; then idle (connect scenario: the hold)
  run,      // publishers send
  drain,    // publishers stop; in-flight messages still count
  close,    // close handshakes, then the threads exit
};

struct alignas(64) LiveCounters {
  std::atomic<std::uint64_t> deliveries{0};
  std::atomic<std::uint64_t> received{0};       // every complete message, ours or not
  std::atomic<std::uint64_t> sent{0};           // messages published
  std::atomic<std::uint64_t> open{0};           // connections open now
  std::atomic<std::uint64_t> failed{0};         // connections that could not be opened
  std::atomic<std::uint64_t> last_delivery_ns{0};
  std::atomic<std::uint64_t> last_open_ns{0};     // when the latest handshake completed
  std::atomic<bool> connect_done{false};        // every connection open or failed
  std::atomic<Phase> phase_seen{Phase::connect}; // the thread has acted on this phase
  std::atomic<std::uint64_t> storm_left{0};     // --reconnect-at: dropped, not answered again yet
  std::atomic<bool> storm_seen{false};          // the thread has dropped its subscribers
};

struct RunPlan {
  const Options* opt = nullptr;
  const Target* target = nullptr;          // the first subscribers' URL
  std::vector<Target> targets;              // every subscribers' URL, round robin ([0]: *target)
  const Target* publish_target = nullptr;   // --publish-to, else *target
  // The server connection `idx` talks to: publishers (not chat clients) to publish_target.
  [[nodiscard]] const Target& target_of(std::uint32_t idx, bool publisher_only) const noexcept {
    return publisher_only ? *publish_target : targets[idx % targets.size()];
  }
  std::uint32_t subscribers = 0;   // connections of this process that count deliveries
  std::uint32_t publishers = 0;    // publisher ids 0..publishers-1 in the whole run (all processes)
  std::uint32_t pub_base = 0;      // this process's publishers: ids pub_base.. pub_base+local_publishers-1
  std::uint32_t local_publishers = 0;
  std::uint32_t total_conns = 0;   // this process: subscribers + local publishers (chat: clients are both)
  double per_pub_rate = 0;         // open loop: messages/s of one publisher
  std::atomic<Phase> phase{Phase::connect};
  std::atomic<bool> connect_deadline{false};  // --connect-timeout passed: start no more connects
  std::atomic<std::uint64_t> run_start_ns{0};
  std::atomic<bool> storm{false};  // --reconnect-at: the coordinator says drop and reconnect now
};

}  // namespace ringcast::load
