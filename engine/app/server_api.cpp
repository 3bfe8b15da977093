#include "engine/app/server_api.hpp"

#include <openssl/crypto.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <string>

#include "engine/app/broker_presence.hpp"
#include "engine/app/broker_stream.hpp"
#include "engine/app/channel_publisher.hpp"
#include "engine/pubsub/channel_topic.hpp"
#include "engine/app/history_query.hpp"
#include "engine/app/presence_copy.hpp"
#include "engine/app/user_command.hpp"
#include "engine/pubsub/encode.hpp"
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
  api::RequestParser parser, item_parser;  // the body's; a batch command's (views into the first)
  api::Request request;
  std::vector<api::BatchCommand> commands;
  std::string one;      // a batch command's answer
  std::string command;  // a user command's bytes
  ChannelPublisher publisher;
  std::vector<std::string> names;  // channels: copied out of the registry's lock
  std::vector<std::uint64_t> counts;
  std::vector<api::ChannelCount> listed;
  PresenceCopy present;
  std::vector<std::string_view> records;  // a history answer's, views into a locked stream
  std::string answer;
  // --broker: the call may wait for Redis to answer (a call alone, not in a batch), and did.
  bool may_defer = false, deferred = false;
  std::string waiting;  // a deferred call's, for on_query_reply: its kind byte, then its channel or params
  std::string_view params;  // the call's, as it came
  std::vector<std::string> numbered;  // a history answer's records read from Redis, with their offsets
  std::vector<protocol::client::ClientInfo> infos;  // a presence answer's, views into Redis's reply
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
  ApiStatus st = a.status == 200 || a.status == 0 ? ApiStatus::ok  // 0: answered from Redis's reply
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
  s.may_defer = m != api::Method::batch;
  s.deferred = false;
  std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  api::RequestParser::Result r = m == api::Method::batch ? batch(text, host, s.answer) : call(m, text, s.parser, host, s.answer);
  s.may_defer = false;
  if (r.error != api::ParseError::none) {
    g_api_log.log(LogLevel::info, "server API: /api/%.*s: bad request: %s", static_cast<int>(method.size()),
                  method.data(), r.what);
    return {.status = 400, .content_type = {}, .body = {}};
  }
  if (s.deferred) return Answer::later();
  return {.status = 200, .content_type = kJson, .body = s.answer};
}

bool ServerApi::defer(HttpHost& host, char kind, std::string_view what, std::uint64_t& tag) {
  Scratch& s = t_scratch;
  tag = 0;
  if (!s.may_defer || host.broker() == nullptr) return false;
  s.waiting.assign(1, kind).append(what);
  tag = host.defer_answer(s.waiting);
  return tag != 0;
}

void ServerApi::deferred(HttpHost& host, std::uint64_t tag, bool sent, std::string& out) {
  if (sent) {
    t_scratch.deferred = true;
    return;
  }
  host.undefer(tag);
  api::append_error(out, ErrorCode::internal);
}

// A deferred history call's answer from Redis's read of the stream, into the scratch's
// answer (the params parse again as they did); false when the reply is not the read's.
bool ServerApi::history_from(const protocol::resp::Reply& reply, std::string_view params) {
  Scratch& s = t_scratch;
  thread_local StreamRead read;
  api::Request& rq = s.request;
  if (s.parser.parse(api::Method::history, params, rq).error != api::ParseError::none || rq.channels.empty() ||
      !read_stream(reply, read)) {
    return false;
  }
  const ChannelOptions* o = cfg_.options_for(rq.channels.front());
  if (o == nullptr) return false;
  s.numbered.resize(std::max(s.numbered.size(), read.entries.size()));
  for (std::size_t i = 0; i < read.entries.size(); ++i) {  // as a copy keeps them: with their offsets
    s.numbered[i].clear();
    protocol::client::append_record_with_offset(s.numbered[i], read.entries[i].record, read.entries[i].offset);
    read.entries[i].record = s.numbered[i];
  }
  HistoryQuery q{.limit = rq.limit,
                 .has_since = rq.has_since,
                 .reverse = rq.reverse,
                 .since_offset = rq.since_offset,
                 .since_epoch = rq.since_epoch};
  if (!select_history(read, q, o->history_size, s.records)) {
    api::append_error(s.answer, ErrorCode::unrecoverable_position);
  } else {
    api::append_history_result(s.answer, s.records, read.epoch(), read.top());
  }
  return true;
}

HttpApp::Answer ServerApi::on_query_reply(HttpHost& host, std::span<const std::uint8_t> request,
                                          const protocol::resp::Reply* reply) {
  namespace resp = protocol::resp;
  Scratch& s = t_scratch;
  s.answer.clear();
  const std::string_view rq(reinterpret_cast<const char*>(request.data()), request.size());
  const char kind = rq.empty() ? '\0' : rq[0];
  const std::string_view channel = rq.substr(rq.empty() ? 0 : 1);
  PresenceCounts counts;
  const bool error = reply == nullptr || reply->root().type == resp::Type::error;
  if (!error && (kind == kPublish || kind == kRemove) && reply->root().type == resp::Type::integer) {
    api::append_empty_result(s.answer);  // PUBLISH's count: a channel without history
  } else if (!error && kind == kPublish && reply->root().type == resp::Type::array && reply->root().integer == 2 &&
             reply->at(1).type == resp::Type::integer && reply->at(2).type == resp::Type::bulk) {
    api::append_publish_result(s.answer, static_cast<std::uint64_t>(reply->at(1).integer), reply->at(2).str);
  } else if (!error && kind == kPresenceStats && read_broker_presence_stats(*reply, counts)) {
    api::append_presence_stats_result(s.answer, counts.clients, counts.users);
  } else if (!error && kind == kPresence && read_broker_presence(*reply, s.infos)) {
    api::append_presence_result(s.answer, s.infos);
  } else if (!error && kind == kHistory && history_from(*reply, channel)) {
    // answered
  } else {
    g_api_log.log(LogLevel::warn, "server API: %s in '%.*s' got no answer from Redis%s%.*s",
                  kind == kPublish   ? "a publish"
                  : kind == kHistory ? "a history read"
                  : kind == kRemove  ? "a history_remove"
                                     : "a presence read",
                  static_cast<int>(channel.size()), channel.data(),
                  reply != nullptr ? ": " : "", reply != nullptr ? static_cast<int>(reply->root().str.size()) : 0,
                  reply != nullptr ? reply->root().str.data() : "");
    // A publish whose link went before Redis answered may have been carried out.
    if (kind == kPublish) (reply == nullptr ? host.counters().broker_unconfirmed : host.counters().broker_publish_failures).add();
    api::append_error(s.answer, ErrorCode::internal);
  }
  return {.status = 200, .content_type = kJson, .body = s.answer};
}

api::RequestParser::Result ServerApi::call(api::Method m, std::string_view params, api::RequestParser& parser,
                                           HttpHost& host, std::string& out) {
  bool served = m != api::Method::unknown && m != api::Method::batch && m != api::Method::subscribe &&
                m != api::Method::refresh;
  if (!served) {
    api::append_error(out, m == api::Method::unknown ? ErrorCode::method_not_found : ErrorCode::not_available);
    return {};
  }
  api::Request& rq = t_scratch.request;
  t_scratch.params = params;
  api::RequestParser::Result r = parser.parse(m, params, rq);
  if (r.error != api::ParseError::none) return r;
  switch (m) {
    case api::Method::publish:
    case api::Method::broadcast: publish(m == api::Method::broadcast, rq, host, out); break;
    case api::Method::history:
    case api::Method::history_remove: history(m == api::Method::history_remove, rq, host, out); break;
    case api::Method::presence:
    case api::Method::presence_stats: presence(m == api::Method::presence_stats, rq, host, out); break;
    case api::Method::channels: channels(rq, host, out); break;
    case api::Method::info: info(host, out); break;
    case api::Method::disconnect:
    case api::Method::unsubscribe: user_command(m == api::Method::disconnect, rq, host, out); break;
    default: break;
  }
  return r;
}

// Each command's answer in order, {"<method>":{...}} or {"error":{...}}: what the method
// answers alone, with its {"result": wrapper renamed (every answer written here starts
// with one of the two). A command whose parameters do not parse gets error 107.
api::RequestParser::Result ServerApi::batch(std::string_view body, HttpHost& host, std::string& out) {
  Scratch& s = t_scratch;
  api::RequestParser::Result r = s.parser.parse_batch(body, s.commands);
  if (r.error != api::ParseError::none) return r;
  out += "{\"replies\":[";
  for (std::size_t i = 0; i < s.commands.size(); ++i) {
    const api::BatchCommand& c = s.commands[i];
    if (i != 0) out += ',';
    s.one.clear();
    ApiStatus st = ApiStatus::ok;  // counted as the command would be alone
    if (call(c.method, c.params, s.item_parser, host, s.one).error != api::ParseError::none) {
      s.one.clear();
      api::append_error(s.one, ErrorCode::bad_request);
      st = ApiStatus::bad_request;
    }
    host.counters().api_calls[static_cast<std::size_t>(c.method)][static_cast<std::size_t>(st)].add();
    constexpr std::string_view kResult = "{\"result\":";
    if (std::string_view(s.one).starts_with(kResult)) {
      out += "{\"";
      out += c.name;
      out += "\":";
      out.append(s.one, kResult.size());
    } else {
      out += s.one;
    }
  }
  out += "]}";
  return r;
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

// The options of a call's one channel; nullptr after writing why not (107 none, 102).
const ChannelOptions* ServerApi::the_channel(const api::Request& rq, std::string& out) const {
  if (rq.channels.empty()) {
    api::append_error(out, ErrorCode::bad_request);
    return nullptr;
  }
  return channel_options(rq.channels.front(), out);
}

void ServerApi::publish(bool broadcast, const api::Request& rq, HttpHost& host, std::string& out) {
  Scratch& s = t_scratch;
  if (rq.data.empty() || rq.channels.empty()) {
    api::append_error(out, ErrorCode::bad_request);
    return;
  }
  if (broadcast) out += "{\"result\":{\"responses\":[";
  bool first = true;
  for (std::string_view channel : rq.channels) {
    if (!first) out += ',';
    first = false;
    const ChannelOptions* o = channel_options(channel, out);
    if (o == nullptr) continue;
    host.counters().publications_api.add();
    // --broker: a publish alone is answered once Redis took it (with its offset and epoch),
    // so a backend's publishes one after the other are numbered in that order; in a
    // broadcast or a batch, as soon as it is queued.
    std::uint64_t tag = 0;
    const bool defer_it = !broadcast && defer(host, kPublish, channel, tag);
    Published p = s.publisher.publish(host, cfg_, *o, channel, {.data = rq.data, .offset = 0, .info = nullptr}, rq.delta,
                                      tag);
    if (defer_it) {
      deferred(host, tag, p.ok, out);
    } else if (!p.ok) {
      api::append_error(out, ErrorCode::internal);
    } else if (p.offset != 0) {
      api::append_publish_result(out, p.offset, p.epoch_view());
    } else {
      api::append_empty_result(out);
    }
  }
  if (broadcast) out += "]}}";
}

// Sent to every shard: each client-protocol connection of the user acts on it
// (ClientProtocol::on_command). Answered at once, as the shards act after this call.
void ServerApi::user_command(bool disconnect, const api::Request& rq, HttpHost& host, std::string& out) {
  if (rq.user.empty()) {
    api::append_error(out, ErrorCode::bad_request);
    return;
  }
  UserCommand c{.kind = disconnect ? UserCommand::Kind::disconnect : UserCommand::Kind::unsubscribe,
                .code = protocol::client::kForceDisconnect.code,
                .user = rq.user,
                .client = rq.client,
                .channel = {},
                .reason = protocol::client::kForceDisconnect.reason,
                .keep = {}};
  if (disconnect) {
    if (rq.has_disconnect) {
      // An application's close code (3000-4999) and a reason a close frame can carry.
      if (rq.disconnect_code < 3000 || rq.disconnect_code > 4999 || rq.disconnect_reason.size() > 123) {
        api::append_error(out, ErrorCode::bad_request);
        return;
      }
      c.code = static_cast<std::uint16_t>(rq.disconnect_code);
      c.reason = rq.disconnect_reason;
    }
    c.keep.assign(rq.whitelist.begin(), rq.whitelist.end());
  } else {
    if (the_channel(rq, out) == nullptr) return;
    c.channel = rq.channels.front();
  }
  encode(c, t_scratch.command);
  if (!host.command_all(Route::client_protocol, as_bytes(t_scratch.command))) {
    api::append_error(out, ErrorCode::internal);
    return;
  }
  api::append_empty_result(out);
}

// The channels with subscribers now (on any shard), matching the request's glob pattern
// (matched outside the registry's lock, which publishers and subscribers take).
void ServerApi::channels(const api::Request& rq, HttpHost& host, std::string& out) {
  Scratch& s = t_scratch;
  if (rq.pattern.size() > 2 * cfg_.channel_max_length) {  // the glob's cost is pattern x name
    api::append_error(out, ErrorCode::bad_request);
    return;
  }
  s.names.clear();
  s.counts.clear();
  host.topics().for_each(kChannelTopicPrefix, [&](std::string_view topic, std::uint64_t subscribers) {
    s.names.emplace_back(topic.substr(kChannelTopicPrefix.size()));
    s.counts.push_back(subscribers);
  });
  s.listed.clear();
  for (std::size_t i = 0; i < s.names.size(); ++i) {
    if (rq.pattern.empty() || protocol::glob_match_exact(rq.pattern, s.names[i])) {
      s.listed.push_back({.channel = s.names[i], .clients = s.counts[i]});
    }
  }
  api::append_channels_result(out, s.listed);
}

void ServerApi::info(HttpHost& host, std::string& out) {
  std::uint64_t channels = 0;
  host.topics().for_each(kChannelTopicPrefix, [&](std::string_view, std::uint64_t) { ++channels; });
  api::append_info_result(out, {.uid = uid_,
                                             .name = name_,
                                             .version = version_,
                                             .clients = host.connections(),
                                             .channels = channels,
                                             .uptime_seconds = host.uptime_seconds()});
}

void ServerApi::presence(bool stats, const api::Request& rq, HttpHost& host, std::string& out) {
  Scratch& s = t_scratch;
  const ChannelOptions* o = the_channel(rq, out);
  if (o == nullptr) return;
  std::string_view channel = rq.channels.front();
  if (!o->presence) {
    api::append_error(out, ErrorCode::not_available);
    return;
  }
  if (host.broker() != nullptr) {  // every node's, from Redis: answered when it replies
    std::uint64_t tag = 0;
    if (!defer(host, stats ? kPresenceStats : kPresence, channel, tag)) {
      // A batch answers at once: it cannot wait for Redis.
      g_api_log.log(LogLevel::info, "server API: presence in a batch is not served with --broker: call it alone");
      api::append_error(out, ErrorCode::not_available);
      return;
    }
    const Broker::Query q = stats ? Broker::Query::presence_stats : Broker::Query::presence;
    deferred(host, tag, host.broker()->query(q, channel, tag), out);
    return;
  }
  if (stats) {
    Presence::Stats st = host.presence().stats(channel);
    api::append_presence_stats_result(out, st.clients, st.users);
  } else {
    api::append_presence_result(out, s.present.read(host.presence(), channel));
  }
}

void ServerApi::history(bool remove, const api::Request& rq, HttpHost& host, std::string& out) {
  Scratch& s = t_scratch;
  const ChannelOptions* o = the_channel(rq, out);
  if (o == nullptr) return;
  std::string_view channel = rq.channels.front();
  if (!o->has_history()) {
    api::append_error(out, ErrorCode::not_available);
    return;
  }
  // history_remove drops the publications of a stream there is; history makes one to answer
  // where it stands, as a subscribe would.
  History::Handle stream = host.history().open(channel, stream_limits(cfg_, *o), History::now_ms(), !remove);
  // --broker: the stream is Redis's; this node holds a copy only of the channels its
  // clients subscribe to. Without one, a call alone reads Redis (answered when it replies).
  if (host.broker() != nullptr && remove) {
    // Redis's stream goes, and every node's copy with it (the feed's clear marker).
    std::uint64_t tag = 0;
    if (defer(host, kRemove, channel, tag)) {
      deferred(host, tag, host.broker()->remove_history(channel, tag), out);
    } else if (host.broker()->remove_history(channel, 0)) {  // a batch: answered when queued
      api::append_empty_result(out);
    } else {
      api::append_error(out, ErrorCode::internal);
    }
    return;
  }
  if (host.broker() != nullptr && !stream->mirrored()) {
    std::uint64_t tag = 0;
    if (defer(host, kHistory, s.params, tag)) {
      const std::array<char, Stream::kEpochLength> epoch = History::new_epoch();
      const Broker::StreamArgs args = broker_stream_args(cfg_, *o, {epoch.data(), epoch.size()});
      deferred(host, tag, host.broker()->read_stream(channel, args, tag), out);
      return;
    }
    g_api_log.log(LogLevel::info, "server API: history in a batch is served with --broker only where the node "
                                  "follows the channel: call it alone");
    api::append_error(out, ErrorCode::not_available);
    return;
  }
  if (remove) {
    if (stream) stream->clear();
    api::append_empty_result(out);
    return;
  }
  HistoryQuery q{.limit = rq.limit,
                 .has_since = rq.has_since,
                 .reverse = rq.reverse,
                 .since_offset = rq.since_offset,
                 .since_epoch = rq.since_epoch};
  if (!select_history(*stream.stream, q, o->history_size, s.records)) {
    api::append_error(out, ErrorCode::unrecoverable_position);
    return;
  }
  api::append_history_result(out, s.records, stream->epoch(), stream->top());
}

}  // namespace ringcast::engine
