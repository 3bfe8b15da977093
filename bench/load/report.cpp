#include "bench/load/report.hpp"

#include <cstdio>

namespace ringcast::load {
namespace {

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }

// JSON string escaping for the few free-text fields (URL, error).
std::string quoted(const std::string& in) {
  std::string out = "\"";
  for (char ch : in) {
    if (ch == '"' || ch == '\\') { out += '\\'; out += ch; }
    else if (static_cast<unsigned char>(ch) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", ch); out += b; }
    else out += ch;
  }
  return out + "\"";
}

// Percentiles; with `cdf`, also the cumulative distribution ([us, fraction] per non-empty
// bucket, at most a few hundred points) for bench.sh's latency CDF chart.
void latency_json(const char* name, const Histogram& h, bool cdf) {
  std::printf("  \"%s\": {\"count\": %llu, \"mean\": %.1f, \"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f",
              name, static_cast<unsigned long long>(h.count()), h.mean() / 1e3, us(h.percentile(50)), us(h.percentile(90)),
              us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()));
  if (cdf) {
    std::printf(", \"cdf\": [");
    const char* sep = "";
    h.for_each_cumulative([&](std::uint64_t ns, std::uint64_t seen) {
      std::printf("%s[%.1f, %.6f]", sep, us(ns), static_cast<double>(seen) / static_cast<double>(h.count()));
      sep = ", ";
    });
    std::printf("]");
  }
  std::printf("},\n");
}

double per_delivery(std::uint64_t bytes, const Summary& s) {
  return s.deliveries != 0 ? static_cast<double>(bytes) / static_cast<double>(s.deliveries) : 0;
}

}  // namespace

void Tally::add(const Tally& o) noexcept {
  opened += o.opened;
  connect_failures += o.connect_failures;
  disconnects += o.disconnects;
  protocol_errors += o.protocol_errors;
  sent += o.sent;
  deliveries += o.deliveries;
  delivered_bytes += o.delivered_bytes;
  own_echoes += o.own_echoes;
  other_messages += o.other_messages;
  lost += o.lost;
  out_of_order += o.out_of_order;
  offsets += o.offsets;
  offset_gaps += o.offset_gaps;
  offset_repeats += o.offset_repeats;
  api_answers += o.api_answers;
  api_errors += o.api_errors;
  wire_bytes += o.wire_bytes;
  deflate_connections += o.deflate_connections;
  compressed_messages += o.compressed_messages;
  slow_deliveries += o.slow_deliveries;
  slow_gaps += o.slow_gaps;
  slow_missing += o.slow_missing;
  send_skipped += o.send_skipped;
  window_resets += o.window_resets;
  storm_dropped += o.storm_dropped;
  storm_recovered += o.storm_recovered;
  storm_unrecovered += o.storm_unrecovered;
  storm_failed += o.storm_failed;
  recovered_publications += o.recovered_publications;
  recovery.merge(o.recovery);
  handshake.merge(o.handshake);
  latency.merge(o.latency);
}

void print_human(const Summary& s) {
  const Options& o = *s.opt;
  std::printf("ringcast-load %s -> %s\n", scenario_name(o.scenario), o.url.c_str());
  if (o.tls) {
    std::printf("  tls           on: %s%s, server certificate not verified\n",
                s.tls_session.empty() ? "negotiated per connection" : s.tls_session.c_str(),
                o.tls_version == 12 ? " (pinned to 1.2)" : o.tls_version == 13 ? " (pinned to 1.3)" : "");
  }
  std::printf("  connections   %u/%u open (%u subscribers, %u publishers), %llu failed, %llu dropped later\n", s.opened,
              s.requested, s.subscribers, s.publishers, static_cast<unsigned long long>(s.connect_failures),
              static_cast<unsigned long long>(s.disconnects));
  if (o.processes > 1) std::printf("  processes     %u generator processes, merged\n", o.processes);
  std::printf("  connect       %.2f s, %.0f connections/s, handshake p50 %.0f us p99 %.0f us max %.0f us\n",
              s.connect_seconds, s.connects_per_s, us(s.handshake.percentile(50)), us(s.handshake.percentile(99)),
              us(s.handshake.max()));
  if (s.sent != 0 || o.scenario != Scenario::connect) {
    if (o.scenario == Scenario::connect) {
      std::printf("  burst         %llu messages after the hold, last delivery after %.1f ms\n",
                  static_cast<unsigned long long>(s.sent), s.delivery_seconds * 1e3);
    } else {
      std::printf("  messages      %llu sent in %.2f s: %.0f msg/s, %llu skipped by the generator\n",
                  static_cast<unsigned long long>(s.sent), s.run_seconds, s.messages_per_s,
                  static_cast<unsigned long long>(s.send_skipped));
    }
    std::printf("  deliveries    %llu: %.0f/s, %.2f MB/s of payload\n", static_cast<unsigned long long>(s.deliveries),
                s.deliveries_per_s, s.mb_per_s);
    std::printf("  wire          %.1f B received per delivery for %.1f B of message (subscribers, after the upgrade)\n",
                per_delivery(s.wire_bytes, s), per_delivery(s.delivered_bytes, s));
    if (o.deflate) {
      std::printf("  deflate       %llu of %u subscribers negotiated it, %llu messages came compressed\n",
                  static_cast<unsigned long long>(s.deflate_connections), s.subscribers,
                  static_cast<unsigned long long>(s.compressed_messages));
    }
    std::printf("  latency (us)  p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  (mean %.0f)\n",
                us(s.latency.percentile(50)), us(s.latency.percentile(90)), us(s.latency.percentile(99)),
                us(s.latency.percentile(99.9)), us(s.latency.max()), s.latency.mean() / 1e3);
    std::printf("  integrity     %llu lost, %llu out of order, %llu protocol errors, %llu other messages, %llu own echoes\n",
                static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.out_of_order),
                static_cast<unsigned long long>(s.protocol_errors), static_cast<unsigned long long>(s.other_messages),
                static_cast<unsigned long long>(s.own_echoes));
    if (s.offsets != 0) {
      std::printf("  offsets       %llu seen, %llu skipped, %llu repeated or late\n",
                  static_cast<unsigned long long>(s.offsets), static_cast<unsigned long long>(s.offset_gaps),
                  static_cast<unsigned long long>(s.offset_repeats));
    }
    if (o.slow != 0) {
      std::printf("  slow readers  %u: %llu deliveries, %llu skipped, %llu after their last of a publisher and channel\n",
                  o.slow, static_cast<unsigned long long>(s.slow_deliveries), static_cast<unsigned long long>(s.slow_gaps),
                  static_cast<unsigned long long>(s.slow_missing));
    }
    if (o.reconnect_at != 0) {
      std::printf("  storm         %llu dropped at %.1f s: %llu recovered, %llu not recovered, %llu failed; %llu publications "
                  "recovered; all settled %s %.1f ms; drop-to-reply p50 %.1f ms p99 %.1f ms max %.1f ms\n",
                  static_cast<unsigned long long>(s.storm_dropped), o.reconnect_at,
                  static_cast<unsigned long long>(s.storm_recovered), static_cast<unsigned long long>(s.storm_unrecovered),
                  static_cast<unsigned long long>(s.storm_failed), static_cast<unsigned long long>(s.recovered_publications),
                  s.storm_all_settled ? "in" : "NOT, last reply after", s.storm_seconds * 1e3, us(s.recovery.percentile(50)) / 1e3,
                  us(s.recovery.percentile(99)) / 1e3, us(s.recovery.max()) / 1e3);
    }
    if (!o.api_key.empty()) {
      std::printf("  http api      %llu publish answers, %llu errors\n", static_cast<unsigned long long>(s.api_answers),
                  static_cast<unsigned long long>(s.api_errors));
    }
  }
  if (s.server.sampled) {
    const ServerUsage& v = s.server;
    std::printf("  server        CPU %.3f s (%.0f%% of a core), %.0f ns/delivery, %.1f us CPU/connect\n", v.cpu_seconds,
                v.cpu_utilization * 100, v.cpu_ns_per_delivery, v.connect_cpu_us);
    std::printf("  server RSS    %.1f MiB idle, %.1f MiB connected, %.1f MiB peak, %.1f MiB end: %.0f B/connection\n",
                static_cast<double>(v.rss_start) / 1048576, static_cast<double>(v.rss_connected) / 1048576,
                static_cast<double>(v.rss_peak) / 1048576, static_cast<double>(v.rss_end) / 1048576, v.rss_per_connection);
    if (o.reconnect_at != 0) std::printf("  server storm  CPU %.3f s from the drop until all were settled\n", v.storm_cpu_seconds);
    if (o.server_pids.size() > 1) std::printf("                (CPU and RSS summed over %zu server processes)\n", o.server_pids.size());
  }
  if (!s.first_error.empty()) std::printf("  first error   %s\n", s.first_error.c_str());
}

void print_json(const Summary& s) {
  const Options& o = *s.opt;
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("{\n  \"scenario\": \"%s\",\n  \"target\": %s,\n", scenario_name(o.scenario), quoted(o.url).c_str());
  std::printf("  \"tls\": %s,\n  \"tls_session\": %s,\n", o.tls ? "true" : "false",
              s.tls_session.empty() ? "null" : quoted(s.tls_session).c_str());
  std::printf("  \"config\": {\"connections\": %u, \"publishers\": %u, \"size\": %u, \"window\": %u, \"rate\": %.3f, "
              "\"duration\": %.3f, \"burst\": %u, \"threads\": %u, \"processes\": %u, \"ack\": \"%s\", "
              "\"tls_version\": %s},\n",
              o.connections, s.publishers, o.size, o.window, o.rate, o.duration, o.burst, o.threads, o.processes,
              o.ack == AckMode::sub ? "sub" : "self",
              o.tls_version == 12 ? "\"1.2\"" : o.tls_version == 13 ? "\"1.3\"" : "null");
  std::printf("  \"connections\": {\"requested\": %u, \"opened\": %u, \"failed\": %llu, \"dropped\": %llu, "
              "\"seconds\": %.4f, \"per_s\": %.1f},\n",
              s.requested, s.opened, u(s.connect_failures), u(s.disconnects), s.connect_seconds, s.connects_per_s);
  latency_json("handshake_us", s.handshake, false);
  std::printf("  \"run_seconds\": %.4f,\n  \"messages_sent\": %llu,\n  \"messages_per_s\": %.1f,\n", s.run_seconds,
              u(s.sent), s.messages_per_s);
  std::printf("  \"deliveries\": %llu,\n  \"deliveries_per_s\": %.1f,\n  \"mb_per_s\": %.3f,\n", u(s.deliveries),
              s.deliveries_per_s, s.mb_per_s);
  std::printf("  \"delivered_bytes\": %llu,\n  \"wire_bytes\": %llu,\n  \"wire_bytes_per_delivery\": %.1f,\n",
              u(s.delivered_bytes), u(s.wire_bytes), per_delivery(s.wire_bytes, s));
  std::printf("  \"deflate\": {\"offered\": %s, \"connections\": %llu, \"compressed_messages\": %llu},\n",
              o.deflate ? "true" : "false", u(s.deflate_connections), u(s.compressed_messages));
  latency_json("latency_us", s.latency, true);
  std::printf("  \"lost\": %llu,\n  \"out_of_order\": %llu,\n  \"protocol_errors\": %llu,\n  \"other_messages\": %llu,\n"
              "  \"own_echoes\": %llu,\n  \"send_skipped\": %llu,\n  \"window_resets\": %llu,\n",
              u(s.lost), u(s.out_of_order), u(s.protocol_errors), u(s.other_messages), u(s.own_echoes),
              u(s.send_skipped), u(s.window_resets));
  std::printf("  \"offsets\": %llu,\n  \"offset_gaps\": %llu,\n  \"offset_repeats\": %llu,\n", u(s.offsets),
              u(s.offset_gaps), u(s.offset_repeats));
  std::printf("  \"channels\": %u,\n  \"slow\": {\"subscribers\": %u, \"deliveries\": %llu, \"skipped\": %llu, "
              "\"missing_tail\": %llu},\n",
              o.channels, o.slow, u(s.slow_deliveries), u(s.slow_gaps), u(s.slow_missing));
  std::printf("  \"storm\": {\"reconnect_at\": %.3f, \"dropped\": %llu, \"recovered\": %llu, \"unrecovered\": %llu, "
              "\"failed\": %llu, \"recovered_publications\": %llu, \"all_settled\": %s, \"seconds\": %.4f, "
              "\"server_cpu_seconds\": %.4f},\n",
              o.reconnect_at, u(s.storm_dropped), u(s.storm_recovered), u(s.storm_unrecovered), u(s.storm_failed),
              u(s.recovered_publications), s.storm_all_settled ? "true" : "false", s.storm_seconds, s.server.storm_cpu_seconds);
  latency_json("recovery_us", s.recovery, false);
  std::printf("  \"api\": %s,\n  \"api_answers\": %llu,\n  \"api_errors\": %llu,\n", o.api_key.empty() ? "false" : "true",
              u(s.api_answers), u(s.api_errors));
  const ServerUsage& v = s.server;
  if (v.sampled) {
    std::string pids;
    for (pid_t p : o.server_pids) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    std::printf("  \"server\": {\"pid\": %d, \"pids\": [%s], \"cpu_seconds\": %.4f, \"cpu_utilization\": %.4f, \"cpu_ns_per_delivery\": %.1f, "
                "\"connect_cpu_us\": %.2f, \"rss_start\": %llu, \"rss_connected\": %llu, \"rss_peak\": %llu, "
                "\"rss_end\": %llu, \"rss_per_connection\": %.1f},\n",
                static_cast<int>(o.server_pids.front()), pids.c_str(), v.cpu_seconds, v.cpu_utilization, v.cpu_ns_per_delivery, v.connect_cpu_us,
                u(v.rss_start), u(v.rss_connected), u(v.rss_peak), u(v.rss_end), v.rss_per_connection);
  } else {
    std::printf("  \"server\": null,\n");
  }
  std::printf("  \"first_error\": %s\n}\n", s.first_error.empty() ? "null" : quoted(s.first_error).c_str());
}

}  // namespace ringcast::load
