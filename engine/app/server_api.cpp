#include "engine/app/server_api.hpp"

#include <openssl/crypto.h>

#include <string>

#include "engine/app/channel_publisher.hpp"
#include "engine/log.hpp"
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
  api::Publish publish;
  ChannelPublisher publisher;
  std::string answer;
};
thread_local Scratch t_scratch;

}  // namespace

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
  if (m != api::Method::publish && m != api::Method::broadcast) {
    api::append_error(s.answer, ErrorCode::not_available);
    return {.status = 200, .content_type = kJson, .body = s.answer};
  }
  std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  api::RequestParser::Result r = s.parser.parse_publish(m, text, s.publish);
  if (r.error != api::ParseError::none) {
    g_api_log.log(LogLevel::info, "server API: /api/%.*s: bad request: %s", static_cast<int>(method.size()),
                  method.data(), r.what);
    return {.status = 400, .content_type = {}, .body = {}};
  }
  bool broadcast = m == api::Method::broadcast;
  if (s.publish.data.empty() || s.publish.channels.empty()) {
    api::append_error(s.answer, ErrorCode::bad_request);
    return {.status = 200, .content_type = kJson, .body = s.answer};
  }
  if (broadcast) s.answer += "{\"result\":{\"responses\":[";
  bool first = true;
  for (std::string_view channel : s.publish.channels) {
    if (!first) s.answer += ',';
    first = false;
    if (channel.empty() || channel.size() > cfg_.channel_max_length) {
      api::append_error(s.answer, ErrorCode::bad_request);
      continue;
    }
    const ChannelOptions* o = cfg_.options_for(channel);
    if (o == nullptr) {
      api::append_error(s.answer, ErrorCode::unknown_channel);
      continue;
    }
    host.counters().publications_api.add();
    Published p = s.publisher.publish(host, cfg_, *o, channel, {.data = s.publish.data, .offset = 0, .info = nullptr});
    if (!p.ok) {
      api::append_error(s.answer, ErrorCode::internal);
    } else if (p.offset != 0) {
      api::append_publish_result(s.answer, p.offset, p.epoch_view());
    } else {
      api::append_empty_result(s.answer);
    }
  }
  if (broadcast) s.answer += "]}}";
  return {.status = 200, .content_type = kJson, .body = s.answer};
}

}  // namespace ringcast::engine
