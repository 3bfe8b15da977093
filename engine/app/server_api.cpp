#include "engine/app/server_api.hpp"

#include <openssl/crypto.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <string>

#include "engine/app/channel_publisher.hpp"
#include "engine/app/channel_topic.hpp"
#include "engine/app/history_query.hpp"
#include "engine/app/presence_copy.hpp"
#include "engine/log.hpp"
#include "protocol/origin.hpp"
#include "engine/pubsub/topic.hpp"
#include "protocol/api_json.hpp"
#include "protocol/client_reply.hpp"

namespace ringcast::engine {
namespace {

namespace api = protocol::api;
using protocol::client::ErrorCode;

constexpr std::string_view kJson = "application/json";

LogLimiter g_api_log;

bool key_matches(std::string_view given, std::string_view key) noexcept {
  // Constant time in the key's bytes; the length is not the secret.
  return !key.empty() && given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

// One shard thread's buffers, kept from call to call.
struct Scratch {
  api::RequestParser parser;
  api::Request request;
  ChannelPublisher publisher;
  std::vector<std::string> names;  // channels: copied out of the registry's lock
  std::vector<std::uint64_t> counts;
  std::vector<api::ChannelCount> listed;
  PresenceCopy present;
  std::vector<std::string_view> records;  // a history answer's, views into a locked stream
  std::string answer;
};
thread_local Scratch t_scratch;

}  // namespace

ServerApi::ServerApi(const ClientProtocolConfig& cfg, std::string_view version) : cfg_(cfg), version_(version) {
  std::uint8_t r[16] = {};
  if (getrandom(r, sizeof r, 0) < 0) std::fill(std::begin(r), std::end(r), 0);  // still a well-formed id
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < sizeof r; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) uid_ += '-';
    uid_ += kHex[r[i] >> 4];
    uid_ += kHex[r[i] & 15];
  }
  char host[256] = {};
  name_ = gethostname(host, sizeof host - 1) == 0 ? host : "ringcast";
}

HttpApp::Answer ServerApi::on_request(const protocol::HttpRequest& req, std::string_view method,
                                      std::span<const std::uint8_t> body, HttpHost& host) {
  api::Method m = api::method_of(method);
  Answer a = answer(req, m, method, body, host);
  ApiStatus st = a.status == 200   ? ApiStatus::ok
                 : a.status == 400 ? ApiStatus::bad_request
                 : a.status == 401 ? ApiStatus::unauthorized
                 : a.status == 404 ? ApiStatus::not_found
                                   : ApiStatus::method_not_allowed;
  host.counters().api_calls[static_cast<std::size_t>(m)][static_cast<std::size_t>(st)].add();
  return a;
}

bool ServerApi::authorized(const protocol::HttpRequest& req) const noexcept {
  return cfg_.http_api.insecure || key_matches(req.header("X-API-Key"), cfg_.http_api.key);
}

HttpApp::Answer ServerApi::answer(const protocol::HttpRequest& req, api::Method m, std::string_view method,
                                  std::span<const std::uint8_t> body, HttpHost& host) {
  if (req.method != "POST") return {.status = 405, .content_type = {}, .body = {}};
  if (!authorized(req)) {
    g_api_log.log(LogLevel::info, "server API: /api/%.*s refused: %s", static_cast<int>(method.size()), method.data(),
                  cfg_.http_api.key.empty() ? "http_api.key is not set (nor http_api.insecure)"
                                            : "missing or wrong X-API-Key");
    return {.status = 401, .content_type = {}, .body = {}};
  }
  if (m == api::Method::unknown) return {.status = 404, .content_type = {}, .body = {}};
  Scratch& s = t_scratch;
  s.answer.clear();
  bool served = m == api::Method::publish || m == api::Method::broadcast || m == api::Method::history ||
                m == api::Method::history_remove || m == api::Method::presence || m == api::Method::presence_stats ||
                m == api::Method::channels || m == api::Method::info;
  if (!served) {
    api::append_error(s.answer, ErrorCode::not_available);
    return {.status = 200, .content_type = kJson, .body = s.answer};
  }
  std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  api::RequestParser::Result r = s.parser.parse(m, text, s.request);
  if (r.error != api::ParseError::none) {
    g_api_log.log(LogLevel::info, "server API: /api/%.*s: bad request: %s", static_cast<int>(method.size()),
                  method.data(), r.what);
    return {.status = 400, .content_type = {}, .body = {}};
  }
  if (m == api::Method::publish || m == api::Method::broadcast) {
    publish(m == api::Method::broadcast, host);
  } else if (m == api::Method::history || m == api::Method::history_remove) {
    history(m == api::Method::history_remove, host);
  } else if (m == api::Method::presence || m == api::Method::presence_stats) {
    presence(m == api::Method::presence_stats, host);
  } else if (m == api::Method::channels) {
    channels(host);
  } else {
    info(host);
  }
  return {.status = 200, .content_type = kJson, .body = t_scratch.answer};
}

// The options of an API call's channel, or nullptr after writing the error answer.
const ChannelOptions* ServerApi::channel_options(std::string_view channel, std::string& answer) const {
  if (channel.empty() || channel.size() > cfg_.channel_max_length) {
    api::append_error(answer, ErrorCode::bad_request);
    return nullptr;
  }
  const ChannelOptions* o = cfg_.options_for(channel);
  if (o == nullptr) api::append_error(answer, ErrorCode::unknown_channel);
  return o;
}

void ServerApi::publish(bool broadcast, HttpHost& host) {
  Scratch& s = t_scratch;
  if (s.request.data.empty() || s.request.channels.empty()) {
    api::append_error(s.answer, ErrorCode::bad_request);
    return;
  }
  if (broadcast) s.answer += "{\"result\":{\"responses\":[";
  bool first = true;
  for (std::string_view channel : s.request.channels) {
    if (!first) s.answer += ',';
    first = false;
    const ChannelOptions* o = channel_options(channel, s.answer);
    if (o == nullptr) continue;
    host.counters().publications_api.add();
    Published p = s.publisher.publish(host, cfg_, *o, channel, {.data = s.request.data, .offset = 0, .info = nullptr});
    if (!p.ok) {
      api::append_error(s.answer, ErrorCode::internal);
    } else if (p.offset != 0) {
      api::append_publish_result(s.answer, p.offset, p.epoch_view());
    } else {
      api::append_empty_result(s.answer);
    }
  }
  if (broadcast) s.answer += "]}}";
}

// The channels with subscribers now (on any shard), matching the request's glob pattern.
void ServerApi::channels(HttpHost& host) {
  Scratch& s = t_scratch;
  s.names.clear();
  s.counts.clear();
  host.topics().for_each(kChannelTopicPrefix, [&](std::string_view topic, std::uint64_t subscribers) {
    std::string_view channel = topic.substr(kChannelTopicPrefix.size());
    if (s.request.pattern.empty() || protocol::glob_match_exact(s.request.pattern, channel)) {
      s.names.emplace_back(channel);
      s.counts.push_back(subscribers);
    }
  });
  s.listed.clear();
  for (std::size_t i = 0; i < s.names.size(); ++i) s.listed.push_back({.channel = s.names[i], .clients = s.counts[i]});
  api::append_channels_result(s.answer, s.listed);
}

void ServerApi::info(HttpHost& host) {
  std::uint64_t channels = 0;
  host.topics().for_each(kChannelTopicPrefix, [&](std::string_view, std::uint64_t) { ++channels; });
  api::append_info_result(t_scratch.answer, {.uid = uid_,
                                             .name = name_,
                                             .version = version_,
                                             .clients = host.connections(),
                                             .channels = channels,
                                             .uptime_seconds = host.uptime_seconds()});
}

void ServerApi::presence(bool stats, HttpHost& host) {
  Scratch& s = t_scratch;
  if (s.request.channels.empty()) {
    api::append_error(s.answer, ErrorCode::bad_request);
    return;
  }
  std::string_view channel = s.request.channels.front();
  const ChannelOptions* o = channel_options(channel, s.answer);
  if (o == nullptr) return;
  if (!o->presence) {
    api::append_error(s.answer, ErrorCode::not_available);
    return;
  }
  if (stats) {
    Presence::Stats st = host.presence().stats(channel);
    api::append_presence_stats_result(s.answer, st.clients, st.users);
  } else {
    api::append_presence_result(s.answer, s.present.read(host.presence(), channel));
  }
}

void ServerApi::history(bool remove, HttpHost& host) {
  Scratch& s = t_scratch;
  if (s.request.channels.empty()) {
    api::append_error(s.answer, ErrorCode::bad_request);
    return;
  }
  std::string_view channel = s.request.channels.front();
  const ChannelOptions* o = channel_options(channel, s.answer);
  if (o == nullptr) return;
  if (!o->has_history()) {
    api::append_error(s.answer, ErrorCode::not_available);
    return;
  }
  // history_remove drops the publications of a stream there is; history makes one to answer
  // where it stands, as a subscribe would.
  History::Handle stream = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), !remove);
  if (remove) {
    if (stream) stream->clear();
    api::append_empty_result(s.answer);
    return;
  }
  HistoryQuery q{.limit = s.request.limit,
                 .has_since = s.request.has_since,
                 .reverse = s.request.reverse,
                 .since_offset = s.request.since_offset,
                 .since_epoch = s.request.since_epoch};
  if (!select_history(*stream.stream, q, o->history_size, s.records)) {
    api::append_error(s.answer, ErrorCode::unrecoverable_position);
    return;
  }
  api::append_history_result(s.answer, s.records, stream->epoch(), stream->top());
}

}  // namespace ringcast::engine
