#include "engine/config_file.hpp"

#include <simdjson.h>

#include "engine/cli.hpp"

namespace ringcast::engine {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// Walks one object's keys; a handler returns false after recording an error.
struct Walker {
  ConfigFileResult& out;

  bool fail(std::string_view path, std::string_view what) {
    if (out.error.empty()) out.error = "config: " + std::string(path) + ": " + std::string(what);
    return false;
  }
  bool get_bool(element v, std::string_view path, bool& to) {
    if (v.get_bool().get(to) != simdjson::SUCCESS) return fail(path, "expected true or false");
    return true;
  }
  bool get_count(element v, std::string_view path, std::size_t lo, std::size_t hi, std::size_t& to) {
    std::uint64_t n = 0;
    if (v.get_uint64().get(n) != simdjson::SUCCESS || n < lo || n > hi) {
      return fail(path, "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    to = static_cast<std::size_t>(n);
    return true;
  }
  bool get_duration(element v, std::string_view path, std::chrono::milliseconds& to, bool zero_ok = false) {
    std::string_view s;
    std::optional<std::chrono::milliseconds> d;
    if (v.get_string().get(s) == simdjson::SUCCESS) d = parse_duration(s);
    if (!d || (d->count() == 0 && !zero_ok)) return fail(path, "expected a duration such as \"25s\" or \"500ms\"");
    to = *d;
    return true;
  }
  bool get_string(element v, std::string_view path, std::string& to) {
    std::string_view sv;
    if (v.get_string().get(sv) != simdjson::SUCCESS) return fail(path, "expected a string");
    to = std::string(sv);
    return true;
  }
  bool get_strings(element v, std::string_view path, std::vector<std::string>& to) {
    simdjson::dom::array a;
    if (v.get_array().get(a) != simdjson::SUCCESS) return fail(path, "expected an array of strings");
    to.clear();
    for (element item : a) {
      std::string_view sv;
      if (item.get_string().get(sv) != simdjson::SUCCESS || sv.empty()) {
        return fail(path, "expected an array of strings");
      }
      to.emplace_back(sv);
    }
    return true;
  }
  bool get_object(element v, std::string_view path, object& to) {
    if (v.get_object().get(to) != simdjson::SUCCESS) return fail(path, "expected an object");
    return true;
  }
  void ignore(std::string_view path) { out.ignored.emplace_back(path); }

  bool channel_options(object o, const std::string& path, ChannelOptions& ns, bool named) {
    for (auto [key, value] : o) {
      std::string at = path + "." + std::string(key);
      bool ok = true;
      if (key == "name" && named) {
        std::string_view name;
        if (value.get_string().get(name) != simdjson::SUCCESS) return fail(at, "expected a string");
        ns.name = std::string(name);
      } else if (key == "allow_subscribe_for_client") {
        ok = get_bool(value, at, ns.allow_subscribe_for_client);
      } else if (key == "allow_subscribe_for_anonymous") {
        ok = get_bool(value, at, ns.allow_subscribe_for_anonymous);
      } else if (key == "allow_publish_for_client") {
        ok = get_bool(value, at, ns.allow_publish_for_client);
      } else if (key == "allow_publish_for_subscriber") {
        ok = get_bool(value, at, ns.allow_publish_for_subscriber);
      } else if (key == "allow_publish_for_anonymous") {
        ok = get_bool(value, at, ns.allow_publish_for_anonymous);
      } else if (key == "history_size") {
        ok = get_count(value, at, 0, 1'000'000, ns.history_size);
      } else if (key == "history_ttl") {
        ok = get_duration(value, at, ns.history_ttl, true);
      } else if (key == "force_recovery") {
        ok = get_bool(value, at, ns.force_recovery);
      } else if (key == "allow_recovery") {
        ok = get_bool(value, at, ns.allow_recovery);
      } else if (key == "force_positioning") {
        ok = get_bool(value, at, ns.force_positioning);
      } else if (key == "allow_positioning") {
        ok = get_bool(value, at, ns.allow_positioning);
      } else if (key == "allow_history_for_client") {
        ok = get_bool(value, at, ns.allow_history_for_client);
      } else if (key == "allow_history_for_subscriber") {
        ok = get_bool(value, at, ns.allow_history_for_subscriber);
      } else if (key == "allow_history_for_anonymous") {
        ok = get_bool(value, at, ns.allow_history_for_anonymous);
      } else if (key == "presence") {
        ok = get_bool(value, at, ns.presence);
      } else if (key == "allow_presence_for_client") {
        ok = get_bool(value, at, ns.allow_presence_for_client);
      } else if (key == "allow_presence_for_subscriber") {
        ok = get_bool(value, at, ns.allow_presence_for_subscriber);
      } else if (key == "allow_presence_for_anonymous") {
        ok = get_bool(value, at, ns.allow_presence_for_anonymous);
      } else if (key == "conflate") {
        ok = get_bool(value, at, ns.conflate);
      } else if (key == "online_push_interval") {
        ok = get_duration(value, at, ns.online_push_interval, true);
        if (ok && ns.online_push_interval.count() != 0 && ns.online_push_interval < std::chrono::seconds(1)) {
          return fail(at, "at least 1s");
        }
      } else if (key == "max_frequency") {
        ok = get_duration(value, at, ns.max_frequency, true);
        if (ok && ns.max_frequency > std::chrono::minutes(1)) return fail(at, "at most 1m");
      } else if (key == "allowed_delta_types") {
        std::vector<std::string> types;
        ok = get_strings(value, at, types);
        for (const std::string& t : types) {
          if (ok && t != "fossil") return fail(at, "the only delta type is \"fossil\"");
        }
        ns.delta = !types.empty();
      } else if (key == "delta_publish") {
        ok = get_bool(value, at, ns.delta_publish);
      } else if (key == "max_publication_size") {
        ok = get_count(value, at, 0, 1u << 30, ns.max_publication_size);
      } else if (key == "force_recovery_mode") {
        std::string mode;
        ok = get_string(value, at, mode);
        if (ok && mode != "stream" && mode != "cache") return fail(at, "expected \"stream\" or \"cache\"");
        ns.cache_recovery = mode == "cache";
      } else {
        ignore(at);
      }
      if (!ok) return false;
    }
    // Centrifugo's rules: history needs both, and recovery and positioning need history.
    if ((ns.history_size == 0) != (ns.history_ttl.count() == 0)) {
      return fail(path, "history_size and history_ttl must be set together");
    }
    bool uses_history = ns.force_recovery || ns.allow_recovery || ns.force_positioning || ns.allow_positioning;
    if (uses_history && !ns.has_history()) {
      return fail(path, "recovery and positioning need history (history_size and history_ttl)");
    }
    // Conflation skips offsets: only the cache mode's recovery (the latest at once) fits.
    bool counts_offsets = ns.allow_recovery || ns.force_positioning || ns.allow_positioning ||
                          (ns.force_recovery && !ns.cache_recovery);
    if (ns.conflate && counts_offsets) {
      return fail(path, "conflate skips offsets: no recovery or positioning with it but force_recovery_mode \"cache\"");
    }
    if (ns.online_push_interval.count() != 0 && !ns.presence) {
      return fail(path, "online_push_interval counts presence: it needs \"presence\": true");
    }
    if (uses_history && ns.max_frequency.count() != 0) {
      return fail(path, "max_frequency skips offsets: no recovery or positioning with it");
    }
    // A delta holds only for a subscriber that got the publication before it, and the
    // order comes from the stream's lock.
    if (ns.delta && !ns.has_history()) {
      return fail(path, "allowed_delta_types needs history (history_size and history_ttl): deltas chain in its order");
    }
    if (ns.delta && (ns.conflate || ns.max_frequency.count() != 0)) {
      return fail(path, "allowed_delta_types cannot go with conflate or max_frequency: a skipped publication breaks the chain");
    }
    if (ns.delta_publish && !ns.delta) return fail(path, "delta_publish needs allowed_delta_types");
    // The SDK keeps one chain per subscription: a count pushed into it would become its base.
    if (ns.delta && ns.online_push_interval.count() != 0) {
      return fail(path, "allowed_delta_types cannot go with online_push_interval: the count would break the chain");
    }
    return true;
  }

  // Centrifugo's rule for a namespace's name.
  static bool valid_namespace_name(std::string_view n) {
    if (n.size() < 2) return false;
    for (char ch : n) {
      bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                ch == '_' || ch == '.';
      if (!ok) return false;
    }
    return true;
  }

  // "redis://HOST[:PORT][/DB]", several comma-separated, or an array of them.
  bool broker(element v, std::vector<RedisAddress>& to) {
    std::string list;
    if (v.is_array()) {
      std::vector<std::string> items;
      if (!get_strings(v, "broker", items)) return false;
      for (const std::string& item : items) list.append(list.empty() ? "" : ",").append(item);
    } else if (!get_string(v, "broker", list)) {
      return false;
    }
    std::vector<RedisAddress> parsed;
    if (std::string err = parse_broker_list(list, parsed); !err.empty()) return fail("broker", err);
    to = std::move(parsed);
    return true;
  }

  bool channel(object o, ClientProtocolConfig& cfg) {
    for (auto [key, value] : o) {
      std::string at = "channel." + std::string(key);
      if (key == "without_namespace") {
        object ns;
        if (!get_object(value, at, ns) || !channel_options(ns, at, cfg.without_namespace, false)) return false;
      } else if (key == "history_meta_ttl") {
        if (!get_duration(value, at, cfg.history_meta_ttl)) return false;
      } else if (key == "max_length") {
        if (!get_count(value, at, 1, 65535, cfg.channel_max_length)) return false;
      } else if (key == "namespaces") {
        simdjson::dom::array list;
        if (value.get_array().get(list) != simdjson::SUCCESS) return fail(at, "expected an array of objects");
        cfg.namespaces.clear();
        std::size_t i = 0;
        for (element item : list) {
          std::string item_at = at + "[" + std::to_string(i++) + "]";
          object ns_obj;
          ChannelOptions ns;
          if (!get_object(item, item_at, ns_obj) || !channel_options(ns_obj, item_at, ns, true)) return false;
          if (!valid_namespace_name(ns.name)) {
            return fail(item_at + ".name", "'" + ns.name + "' is not a namespace name (2 or more of A-Z a-z 0-9 - _ .)");
          }
          for (const ChannelOptions& seen : cfg.namespaces) {
            if (seen.name == ns.name) return fail(item_at + ".name", "namespace '" + ns.name + "' is defined twice");
          }
          cfg.namespaces.push_back(std::move(ns));
        }
      } else {
        ignore(at);
      }
    }
    return true;
  }

  // client.token and client.subscription_token. Keys for what ringcast cannot verify are
  // errors, not ignored: a server that silently refused every RSA token would look broken.
  bool token(object o, const std::string& path, TokenConfig& t, bool* enabled) {
    for (auto [key, value] : o) {
      std::string at = path + "." + std::string(key);
      bool ok = true;
      if (key == "hmac_secret_key") {
        ok = get_string(value, at, t.hmac_secret_key);
      } else if (key == "audience") {
        ok = get_string(value, at, t.audience);
      } else if (key == "issuer") {
        ok = get_string(value, at, t.issuer);
      } else if (key == "enabled" && enabled != nullptr) {
        ok = get_bool(value, at, *enabled);
      } else if (key == "rsa_public_key" || key == "ecdsa_public_key" || key == "jwks_public_endpoint" ||
                 key == "audience_regex" || key == "issuer_regex" || key == "user_id_claim") {
        std::string_view sv;
        bool empty = value.get_string().get(sv) == simdjson::SUCCESS && sv.empty();
        if (!empty) return fail(at, "not supported (ringcast verifies HMAC tokens: hmac_secret_key, audience, issuer)");
      } else {
        ignore(at);
      }
      if (!ok) return false;
    }
    return true;
  }

  // {"enabled":B,"buckets":[{"interval":"1s","rate":N},...]}: a disabled list is empty.
  bool rate_buckets(element v, const std::string& path, std::vector<RateBucket>& to) {
    object o;
    if (!get_object(v, path, o)) return false;
    bool enabled = true;
    std::vector<RateBucket> buckets;
    for (auto [key, value] : o) {
      std::string at = path + "." + std::string(key);
      if (key == "enabled") {
        if (!get_bool(value, at, enabled)) return false;
      } else if (key == "buckets") {
        simdjson::dom::array list;
        if (value.get_array().get(list) != simdjson::SUCCESS) return fail(at, "expected an array of buckets");
        std::size_t i = 0;
        for (element item : list) {
          std::string item_at = at + "[" + std::to_string(i++) + "]";
          if (buckets.size() == RateLimits::kMaxBuckets) return fail(at, "at most 8 buckets");
          object b;
          if (!get_object(item, item_at, b)) return false;
          std::chrono::milliseconds interval{0};
          std::size_t rate = 0;
          for (auto [bkey, bvalue] : b) {
            std::string bat = item_at + "." + std::string(bkey);
            if (bkey == "interval") {
              if (!get_duration(bvalue, bat, interval)) return false;
            } else if (bkey == "rate") {
              if (!get_count(bvalue, bat, 1, 1'000'000'000, rate)) return false;
            } else {
              ignore(bat);
            }
          }
          if (interval.count() == 0 || rate == 0) return fail(item_at, "a bucket needs interval and rate");
          buckets.push_back({.interval_ns = std::chrono::nanoseconds(interval).count(),
                             .rate = static_cast<std::uint32_t>(rate)});
        }
      } else {
        ignore(at);
      }
    }
    to = enabled ? std::move(buckets) : std::vector<RateBucket>{};
    return true;
  }

  // client.rate_limit.client_command: per-connection limits (engine/app/rate_limit.hpp).
  bool client_command_rate_limit(object o, const std::string& path, RateLimits& rl) {
    rl.enabled = true;  // present: on unless "enabled": false
    for (auto [key, value] : o) {
      std::string at = path + "." + std::string(key);
      bool ok = true;
      if (key == "enabled") {
        ok = get_bool(value, at, rl.enabled);
      } else if (key == "total") {
        ok = rate_buckets(value, at, rl.total);
      } else if (key == "default") {
        ok = rate_buckets(value, at, rl.fallback);
      } else {
        std::size_t m = 0;
        while (m < protocol::client::kMethodCount &&
               (protocol::client::method_name(static_cast<RateLimits::Method>(m)) != key ||
                !RateLimits::limitable(static_cast<RateLimits::Method>(m)))) {
          ++m;
        }
        if (m == protocol::client::kMethodCount) {
          ignore(at);
          continue;
        }
        ok = rate_buckets(value, at, rl.own[m]);
        rl.has_own[m] = true;
      }
      if (!ok) return false;
    }
    rl.plan();
    return true;
  }

  bool rate_limit(object o, RateLimits& rl) {
    for (auto [key, value] : o) {
      std::string at = "client.rate_limit." + std::string(key);
      object section;
      if (key == "client_command") {
        if (!get_object(value, at, section) || !client_command_rate_limit(section, at, rl)) return false;
      } else {
        ignore(at);
      }
    }
    return true;
  }

  bool http_api(object o, HttpApiConfig& cfg) {
    for (auto [key, value] : o) {
      std::string at = "http_api." + std::string(key);
      bool ok = true;
      if (key == "key") {
        ok = get_string(value, at, cfg.key);
      } else if (key == "insecure") {
        ok = get_bool(value, at, cfg.insecure);
      } else {
        ignore(at);
      }
      if (!ok) return false;
    }
    return true;
  }

  bool client(object o, ClientProtocolConfig& cfg) {
    for (auto [key, value] : o) {
      std::string at = "client." + std::string(key);
      bool ok = true;
      object section;
      if (key == "token") {
        ok = get_object(value, at, section) && token(section, at, cfg.token, nullptr);
      } else if (key == "subscription_token") {
        ok = get_object(value, at, section) && token(section, at, cfg.subscription_token, &cfg.separate_subscription_token);
      } else if (key == "allowed_origins") {
        ok = get_strings(value, at, cfg.allowed_origins);
      } else if (key == "allow_anonymous_connect_without_token") {
        ok = get_bool(value, at, cfg.allow_anonymous_connect_without_token);
      } else if (key == "channel_limit") {
        ok = get_count(value, at, 1, 1'000'000, cfg.channel_limit);
      } else if (key == "ping_interval") {
        ok = get_duration(value, at, cfg.ping_interval);
      } else if (key == "recovery_max_publication_limit") {
        ok = get_count(value, at, 1, 100'000, cfg.recovery_max_publication_limit);
      } else if (key == "history_max_publication_limit") {
        ok = get_count(value, at, 1, 100'000, cfg.history_max_publication_limit);
      } else if (key == "expired_close_delay") {
        ok = get_duration(value, at, cfg.expired_close_delay, true);
      } else if (key == "expired_sub_close_delay") {
        ok = get_duration(value, at, cfg.expired_sub_close_delay, true);
      } else if (key == "rate_limit") {
        ok = get_object(value, at, section) && rate_limit(section, cfg.rate_limit);
      } else {
        ignore(at);
      }
      if (!ok) return false;
    }
    return true;
  }
};

}  // namespace

ConfigFileResult apply_config_file(std::string_view json, ClientProtocolConfig& cfg) {
  ConfigFileResult out;
  Walker w{out};
  simdjson::dom::parser parser;
  simdjson::padded_string text(json);
  element doc;
  if (auto err = parser.parse(text).get(doc); err != simdjson::SUCCESS) {
    out.error = std::string("config: not JSON (") + simdjson::error_message(err) + ")";
    return out;
  }
  object top;
  if (!w.get_object(doc, "(top level)", top)) return out;
  for (auto [key, value] : top) {
    object section;
    if (key == "client") {
      if (!w.get_object(value, "client", section) || !w.client(section, cfg)) return out;
    } else if (key == "channel") {
      if (!w.get_object(value, "channel", section) || !w.channel(section, cfg)) return out;
    } else if (key == "http_api") {
      if (!w.get_object(value, "http_api", section) || !w.http_api(section, cfg.http_api)) return out;
    } else if (key == "broker") {
      if (!w.broker(value, cfg.broker)) return out;
    } else if (key == "broker_prefix") {
      if (!w.get_string(value, "broker_prefix", cfg.broker_prefix)) return out;
      if (cfg.broker_prefix.empty()) {
        w.fail("broker_prefix", "must not be empty");
        return out;
      }
    } else {
      w.ignore(key);
    }
  }
  return out;
}

}  // namespace ringcast::engine
