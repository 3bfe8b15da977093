// Server configuration: what the flags set, with the documented defaults.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/app/rate_limit.hpp"
#include "engine/broker/redis_address.hpp"

namespace ringcast::engine {

enum class SlowPolicy : std::uint8_t {
  close,  // close the slow client with 1008 and a reason
  drop,   // skip messages for that client and count them
  // What `drop` becomes for a subscription that counts offsets (a channel with history):
  // a gap is not skipped but ends the connection with 3010 "insufficient state", and the
  // SDK reconnects and recovers.
  insufficient_state,
};

// Max frequency per subscription: a subscription of a max-frequency topic may ask for a
// slower rate; it gets the smallest of these multiples of the topic's interval that is at
// least what it asked for, so a topic has at most kRateClasses throttles per shard.
inline constexpr std::uint32_t kRateSteps[] = {1, 2, 5, 10, 20, 50, 100, 200};
inline constexpr std::size_t kRateClasses = std::size(kRateSteps);

// The class of a subscription asking for `asked_ms` in a topic whose interval is
// `interval_ms` (0 below the interval, or when it asks for nothing).
[[nodiscard]] constexpr std::uint8_t rate_class(std::uint32_t interval_ms, std::uint64_t asked_ms) noexcept {
  std::size_t k = 0;
  while (k + 1 < kRateClasses && std::uint64_t{interval_ms} * kRateSteps[k] < asked_ms) ++k;
  return static_cast<std::uint8_t>(k);
}

// How a topic is delivered on a shard, set by its first subscriber there (like its policy).
struct TopicOptions {
  // A publication replaces the topic's entry still unsent in a slow subscriber's queue.
  bool conflate = false;
  // > 0: the topic goes out at most once per this many ms on the shard, its latest
  // publication (the others of the interval are skipped).
  std::uint32_t min_interval_ms = 0;
  // Publications come in three forms (Message): raw for most subscribers, and the full and
  // the delta form for those that negotiated deltas, each subscriber on its own.
  bool delta = false;
};

enum class LogLevel : std::uint8_t { error, warn, info, debug };

// The I/O backend every shard runs on (engine/io/backend_choice.hpp).
enum class BackendKind : std::uint8_t {
  automatic,  // io_uring where the start-up probe passes, else epoll (logged with the cause)
  uring,      // io_uring only: start-up fails where it is refused
  epoll,      // epoll only
};

// wss (engine/net/tls_context.hpp). With a certificate and key the listener on --port speaks
// TLS, unless `port` is set: then --port stays plain ws and `port` serves wss beside it.
struct TlsConfig {
  std::string cert_file;     // PEM: the certificate, then its chain
  std::string key_file;      // PEM: its private key
  std::string ciphers;       // TLS 1.2 cipher list (OpenSSL syntax); empty: ECDHE with AEAD only
  std::string ciphersuites;  // TLS 1.3 suites; empty: OpenSSL's default
  std::optional<std::uint16_t> port;  // 0: any free port
  [[nodiscard]] bool enabled() const noexcept { return !cert_file.empty(); }
};

// One channel namespace's options, named as Centrifugo names them, with its defaults
// (everything a client might do is denied until the operator allows it).
struct ChannelOptions {
  std::string name;  // "" for channels without a namespace
  bool allow_subscribe_for_client = false;     // connections with a user may subscribe
  bool allow_subscribe_for_anonymous = false;  // and, with it, anonymous ones
  bool allow_publish_for_client = false;       // any connection with a user may publish
  bool allow_publish_for_subscriber = false;   // a subscriber of the channel may publish
  bool allow_publish_for_anonymous = false;    // and, with one of those, anonymous ones
  // History: with both set, each channel keeps a stream of its latest publications
  // (engine/pubsub/history.hpp), numbered by offset, for recovery and positioning.
  std::size_t history_size = 0;
  std::chrono::milliseconds history_ttl{0};
  bool force_recovery = false;     // every subscription is recoverable
  bool allow_recovery = false;     // a subscription that asks (`recoverable`) is
  bool force_positioning = false;  // every subscription is told epoch and offset
  bool allow_positioning = false;  // a subscription that asks (`positioned`) is
  bool cache_recovery = false;     // force_recovery_mode "cache": recovery gives the latest only
  bool allow_history_for_client = false;      // any connection with a user may call history
  bool allow_history_for_subscriber = false;  // a subscriber of the channel may
  bool allow_history_for_anonymous = false;   // and, with one of those, anonymous ones
  bool presence = false;                       // who is subscribed is kept (presence, presence_stats)
  bool allow_presence_for_client = false;      // any connection with a user may ask
  bool allow_presence_for_subscriber = false;  // a subscriber of the channel may
  bool allow_presence_for_anonymous = false;   // and, with one of those, anonymous ones
  std::size_t max_publication_size = 0;        // bytes of a client publish's data; 0: --max-message only
  // A slow subscriber's unsent publication of a channel is replaced by the next one
  // (engine/pubsub/fanout.hpp conflate_out): offsets skip, so no recovery but the cache
  // mode's and no positioning.
  bool conflate = false;
  // > 0: each channel goes out at most once per interval, its latest publication
  // (Shard::throttle): no recovery or positioning either.
  std::chrono::milliseconds max_frequency{0};
  // allowed_delta_types ["fossil"]: a subscription may ask for Fossil deltas (needs
  // history: its stream's lock orders the publications a delta chains). delta_publish:
  // every publication is sent as a delta where it can be, not only those asking.
  bool delta = false;
  bool delta_publish = false;
  // > 0 (with presence): every channel with subscribers gets {"online":N,"users":U} this
  // often, one publication per channel (not numbered into history).
  std::chrono::milliseconds online_push_interval{0};
  [[nodiscard]] TopicOptions topic_options() const noexcept {
    return {.conflate = conflate, .min_interval_ms = static_cast<std::uint32_t>(max_frequency.count()), .delta = delta};
  }
  [[nodiscard]] bool has_history() const noexcept { return history_size > 0 && history_ttl.count() > 0; }
};

// How the client protocol checks one kind of token (HMAC-signed JWT, protocol/jwt.hpp).
struct TokenConfig {
  std::string hmac_secret_key;  // "": tokens of this kind are refused as invalid
  std::string audience;         // non-empty: the token's `aud` must hold it
  std::string issuer;           // non-empty: the token's `iss` must equal it
};

// The server HTTP API on /api/<method> (engine/app/server_api.hpp).
struct HttpApiConfig {
  std::string key;        // X-API-Key must equal it; "" refuses every call (401) unless insecure
  bool insecure = false;  // no key check: for a trusted network only
};

// The Centrifugo client protocol on /connection/websocket (engine/app/client_protocol.hpp)
// and the server API that publishes into its channels, set by --config FILE
// (engine/config_file.hpp) in Centrifugo's own configuration shape.
struct ClientProtocolConfig {
  HttpApiConfig http_api;
  TokenConfig token;               // connection tokens (connect, refresh)
  bool separate_subscription_token = false;  // client.subscription_token.enabled
  TokenConfig subscription_token;  // used when separate; else `token` checks subscriptions too
  [[nodiscard]] const TokenConfig& subscription_token_config() const noexcept {
    return separate_subscription_token ? subscription_token : token;
  }
  bool allow_anonymous_connect_without_token = false;
  // Origins a browser may open any WebSocket endpoint from besides the server's own
  // (protocol/origin.hpp): patterns with `*`, "*" for any.
  std::vector<std::string> allowed_origins;
  std::size_t channel_limit = 128;        // subscriptions per connection
  std::size_t channel_max_length = 255;   // bytes of a channel name
  std::chrono::milliseconds ping_interval{25'000};  // the server's `{}` pings; no pong by the next: 3012
  // How long past its token's expiry a connection (3005) or a subscription (unsubscribe
  // 2501) is kept, for the SDK's refresh to land. Checked at each ping.
  std::chrono::milliseconds expired_close_delay{25'000};
  std::chrono::milliseconds expired_sub_close_delay{25'000};
  // Streams of channels with history are forgotten (a new epoch) after this long unused.
  std::chrono::milliseconds history_meta_ttl{std::chrono::hours(720)};
  std::size_t recovery_max_publication_limit = 300;  // more missed: `recovered: false`
  std::size_t history_max_publication_limit = 300;   // the most a client's history call returns
  RateLimits rate_limit;                              // per connection (client.rate_limit.client_command)
  // --broker / `broker`: the Redis addresses that join nodes (none: one node alone), and
  // the prefix of every key and channel ringcast uses there (`broker_prefix`).
  std::vector<RedisAddress> broker;
  std::string broker_prefix = "ringcast";
  static constexpr char namespace_boundary = ':';
  ChannelOptions without_namespace;
  std::vector<ChannelOptions> namespaces;
  // The options of `channel`'s namespace; nullptr when it names one that is not configured.
  [[nodiscard]] const ChannelOptions* options_for(std::string_view channel) const noexcept {
    if (channel.starts_with('$')) channel.remove_prefix(1);  // private: the namespace follows
    auto colon = channel.find(namespace_boundary);
    if (colon == std::string_view::npos) return &without_namespace;
    for (const ChannelOptions& ns : namespaces) {
      if (ns.name == channel.substr(0, colon)) return &ns;
    }
    return nullptr;
  }
};

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;  // 0: pick a free port (Server::port() tells which)
  unsigned threads = 0;       // 0: one shard per online CPU
  std::size_t max_message = 16u << 20;  // with permessage-deflate: the inflated size
  std::size_t max_backlog = 1u << 20;  // queued-but-unsent bytes per connection
  // permessage-deflate (RFC 7692) offered by clients is accepted, no context takeover
  // either way; messages shorter than deflate_min_size go uncompressed.
  bool deflate = true;
  std::size_t deflate_min_size = 128;
  SlowPolicy slow_policy = SlowPolicy::close;
  std::chrono::milliseconds idle_timeout{60'000};      // 0 disables; ping after half
  std::chrono::milliseconds handshake_timeout{10'000};  // also: an idle keep-alive HTTP connection
  std::size_t max_http_body = 1u << 20;                // a plain HTTP request's body; more: 413
  std::chrono::milliseconds close_timeout{5'000};      // close handshake / drain on stop
  std::size_t max_connections_per_shard = 0;           // 0: derived from RLIMIT_NOFILE
  bool pin_threads = false;                            // shard i on the i-th allowed CPU
  BackendKind backend = BackendKind::automatic;
  // Chat rooms tell every member "ID<port> joined" / "ID<port> left". Off: only messages
  // travel (market data, bullet comments), and N joins no longer cost ~N^2/2 notices.
  bool announce = true;
  // Broadcasts wait for a timer this long (started by the first), then go out together:
  // small frames combined (up to 16 KiB each), one send per client (the kernel's per-send
  // cost dominates small-message fan-out). 0: every loop turn.
  // Replies to a client's own frames (pong, close, echo, HTTP) never wait.
  std::chrono::milliseconds coalesce{0};
  // --coalesce auto: the hold is the shard's last fan-out pass's duration (none after a
  // short pass: an idle shard sends at once), so the fan-out's duty cycle stays near half
  // under overload; capped at kAutoHoldMax.
  bool coalesce_auto = false;
  static constexpr std::chrono::microseconds kAutoHoldMin{100}, kAutoHoldMax{100'000};
  [[nodiscard]] bool coalescing() const noexcept { return coalesce_auto || coalesce.count() != 0; }
  TlsConfig tls;
  ClientProtocolConfig client;
  // The SDK's browser build the demo pages load from /demo/centrifuge.js ("": 404).
  std::string demo_sdk;
};

}  // namespace ringcast::engine
