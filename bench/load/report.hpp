// The numbers a run produces, and the two ways of printing them: an aligned table for
// people (default) and one JSON object for scripts (--json).
#pragma once
#include <cstdint>
#include <string>

#include "bench/load/histogram.hpp"
#include "bench/load/options.hpp"

namespace ringcast::load {

struct ServerUsage {
  bool sampled = false;
  double cpu_seconds = 0;        // utime+stime during the measured window
  double cpu_utilization = 0;    // cpu_seconds / wall seconds (1.0 = one core)
  double cpu_ns_per_delivery = 0;
  double connect_cpu_us = 0;     // server CPU per opened connection during the connect phase
  std::uint64_t rss_start = 0, rss_connected = 0, rss_peak = 0, rss_end = 0;  // bytes
  double rss_per_connection = 0; // (rss_connected - rss_start) / opened, bytes
  double storm_cpu_seconds = 0;  // --reconnect-at: from the drop until every subscriber was answered
};

// What a run counted. Generator threads' and processes' tallies add up field by field;
// trivially copyable, so a --processes child sends its own to the parent as bytes.
struct Tally {
  std::uint32_t opened = 0;
  std::uint64_t connect_failures = 0, disconnects = 0, protocol_errors = 0;
  std::uint64_t sent = 0, deliveries = 0, delivered_bytes = 0, own_echoes = 0, other_messages = 0;
  std::uint64_t lost = 0, out_of_order = 0, send_skipped = 0, window_resets = 0;
  // --channel into a channel with history: pushes carrying an offset, offsets a subscriber
  // never saw (skipped), and offsets at or below one it had seen (repeated or late).
  std::uint64_t offsets = 0, offset_gaps = 0, offset_repeats = 0;
  std::uint64_t api_answers = 0, api_errors = 0;  // --api-key: publish answers, and those not ok
  // Subscribers' WebSocket bytes after the upgrade; --deflate: connections that negotiated
  // it and messages that came compressed.
  std::uint64_t wire_bytes = 0, deflate_connections = 0, compressed_messages = 0;
  // --slow subscribers, apart from the rest: deliveries, sequence gaps, and messages after
  // their last one (0: each ended on every publisher's last message).
  std::uint64_t slow_deliveries = 0, slow_gaps = 0, slow_missing = 0;
  // --reconnect-at: subscribers dropped; how their new subscribes ended (recovered, answered
  // without recovery, refused or never answered); publications the replies returned.
  std::uint64_t storm_dropped = 0, storm_recovered = 0, storm_unrecovered = 0, storm_failed = 0;
  std::uint64_t recovered_publications = 0;
  Histogram recovery;   // a dropped subscriber's drop -> its new subscribe reply
  Histogram handshake;  // connect start -> 101 received
  Histogram latency;    // publisher send -> subscriber receive

  void add(const Tally& o) noexcept;
};

struct Summary : Tally {
  const Options* opt = nullptr;
  std::uint32_t subscribers = 0, publishers = 0, requested = 0;
  double connect_seconds = 0, connects_per_s = 0;
  double run_seconds = 0;        // publishing time
  double delivery_seconds = 0;   // run start to the last delivery
  double messages_per_s = 0, deliveries_per_s = 0, mb_per_s = 0;
  double storm_seconds = 0;      // --reconnect-at: the first drop to the last reply
  bool storm_all_settled = false;   // every dropped subscriber settled (answered or failed) before the run ended
  ServerUsage server;
  std::string first_error;
  std::string tls_session;  // TLS runs: "TLSv1.3 TLS_AES_256_GCM_SHA384" (empty with --processes)
};

void print_human(const Summary& s);
void print_json(const Summary& s);

}  // namespace ringcast::load
