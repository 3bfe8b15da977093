// Shard: plain HTTP on a connection that has not upgraded: request heads (parsed where
// they arrived, copied only when split across receives), Content-Length bodies,
// keep-alive with pipelining, and the answers of the route table (pages, /healthz,
// /metrics, the server API through its HttpApp, errors). A WebSocket upgrade is handed to Shard::upgrade (shard_ws.cpp).
#include <cstring>
#include <functional>
#include <string>

#include "engine/app/chat_page.hpp"
#include "engine/app/demo_pages.hpp"
#include "engine/shard.hpp"
#include "engine/log.hpp"
#include "engine/pubsub/encode.hpp"
#include "engine/ws/routes.hpp"
#include "protocol/handshake.hpp"

namespace ringcast::engine {
namespace {

constexpr std::size_t kMaxHead = 8192;

// The metrics' name for why the parser refused a request.
HandshakeFailure failure_for(protocol::RequestError e) {
  switch (e) {
    case protocol::RequestError::method_not_allowed: return HandshakeFailure::method_not_allowed;
    case protocol::RequestError::upgrade_required: return HandshakeFailure::upgrade_required;
    case protocol::RequestError::header_too_large: return HandshakeFailure::header_too_large;
    case protocol::RequestError::not_implemented: return HandshakeFailure::not_implemented;
    case protocol::RequestError::none:
    case protocol::RequestError::bad_request: break;
  }
  return HandshakeFailure::bad_request;
}

}  // namespace

void Shard::fail_handshake(Conn& c, std::uint32_t slot, int status, HandshakeFailure why) {
  static LogLimiter limiter;
  limiter.log(LogLevel::info, "request from port %u rejected: %d (%s)", static_cast<unsigned>(c.port), status,
              handshake_failure_name(why));
  metrics_.handshake_failures[static_cast<std::size_t>(why)].add();
  respond_error(c, slot, status, false, false);
}

void Shard::respond_error(Conn& c, std::uint32_t slot, int status, bool keep_alive, bool head_only,
                          std::string_view allow) {
  Frame* f = frames_.acquire(512);
  if (f == nullptr) {
    tear_down(c, slot);
    return;
  }
  f->len = static_cast<std::uint32_t>(
      protocol::write_error_response({reinterpret_cast<char*>(f->bytes()), f->capacity}, status, {}, keep_alive,
                                     head_only, allow));
  if (!send_own(c, slot, f) || keep_alive) return;
  c.head.clear();
  end_after_flush(c, slot);
}

bool Shard::hold_unparsed(Conn& c, std::uint32_t slot, std::span<const char> rest) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(rest.data());
  std::less_equal<const std::uint8_t*> le;
  if (!c.head.empty() && le(c.head.data(), bytes) && le(bytes, c.head.data() + c.head.size())) {
    std::size_t consumed = static_cast<std::size_t>(bytes - c.head.data());  // already a suffix of it
    if (consumed > 0) c.head.consume_front(consumed);
    return true;
  }
  if (c.head.append(bytes, rest.size())) return true;
  tear_down(c, slot);
  return false;
}

void Shard::on_handshake_bytes(Conn& c, std::uint32_t slot, const std::uint8_t* data, std::size_t len) {
  if (c.http_waiting) {
    // An answer waits for Redis: what comes meanwhile (pipelined requests) is kept, up to
    // one more request, and read once the answer went.
    if (c.head.size() + len > kMaxHead + cfg_.max_http_body || !c.head.append(data, len)) {
      static LogLimiter limiter;
      limiter.log(LogLevel::warn, "closing HTTP client on port %u: too much sent while its answer waits for Redis",
                  static_cast<unsigned>(c.port));
      tear_down(c, slot);
    }
    return;
  }
  // A request nearly always arrives in one receive buffer: it is parsed where it is. Only
  // a request split across receives is copied, into a buffer freed once it is answered.
  if (!c.head.empty() && !c.head.append(data, len)) {
    tear_down(c, slot);
    return;
  }
  std::span<const char> in =
      c.head.empty() ? std::span<const char>(reinterpret_cast<const char*>(data), len) : c.head.chars();
  for (;;) {
    protocol::HttpRequest req;
    protocol::HandshakeRules rules;
    rules.max_header_bytes = kMaxHead;
    protocol::RequestParse r = protocol::parse_request(in, c.head_scanned, rules, req);
    if (r.status == protocol::Status::need_more) {  // (past kMaxHead it is a 431 error)
      if (!hold_unparsed(c, slot, in)) return;
      c.head_scanned = static_cast<std::uint16_t>(in.size());
      return;
    }
    if (r.status == protocol::Status::error) {
      fail_handshake(c, slot, r.http_status, failure_for(r.error));
      return;
    }
    if (req.kind == protocol::RequestKind::websocket) {
      c.head_scanned = 0;
      upgrade(c, slot, req, in, r.consumed);
      return;
    }
    if (req.content_length > cfg_.max_http_body) {
      fail_handshake(c, slot, 413, HandshakeFailure::content_too_large);
      return;
    }
    std::size_t total = r.consumed + req.content_length;
    if (in.size() < total) {  // the body is still on its way
      if (!hold_unparsed(c, slot, in)) return;
      // Rescanning from just before the head's end finds it again at once.
      c.head_scanned = static_cast<std::uint16_t>(r.consumed - 4);
      return;
    }
    c.head_scanned = 0;
    bool keep = serve_http(c, slot, req, {reinterpret_cast<const std::uint8_t*>(in.data()) + r.consumed,
                                          static_cast<std::size_t>(req.content_length)});
    in = in.subspan(total);
    if (c.http_waiting && c.state == ConnState::handshake) {  // the rest is read after its answer
      if (in.empty()) {
        c.head.clear();
      } else {
        (void)hold_unparsed(c, slot, in);
      }
      return;
    }
    // Answers a client never reads (pipelined, or one request per receive) are bounded by
    // the backlog like broadcasts: past it the client is closed like a slow subscriber.
    if (keep && c.queue.queued_bytes() > cfg_.max_backlog) {
      static LogLimiter limiter;
      limiter.log(LogLevel::warn, "closing HTTP client on port %u: more than %zu bytes of answers unread",
                  static_cast<unsigned>(c.port), cfg_.max_backlog);
      tear_down(c, slot);
      return;
    }
    if (!keep || in.empty()) {
      c.head.clear();
      return;
    }
  }
}

std::uint32_t Shard::find_topic(std::string_view topic) const { return group_.topics.find(topic); }

Frame* Shard::command_frame(std::span<const std::uint8_t> command) {
  Frame* f = frames_.acquire(command.size());
  if (f == nullptr) return nullptr;
  if (!command.empty()) std::memcpy(f->bytes(), command.data(), command.size());
  f->len = static_cast<std::uint32_t>(command.size());
  f->holders.store(group_.shard_count, std::memory_order_relaxed);
  return f;
}

bool Shard::command_all(Route route, std::span<const std::uint8_t> command) {
  Frame* f = command_frame(command);
  if (f == nullptr) return false;
  Message m = broadcast(f, static_cast<std::uint32_t>(route));
  m.slot = kAppCommand;
  to_every_shard(m);
  return true;
}

bool Shard::command_subscribers(std::uint32_t topic, Route route, std::span<const std::uint8_t> command) {
  Frame* f = command_frame(command);
  if (f == nullptr) return false;
  Message m = broadcast(f, topic);
  m.slot = kTopicCommand;
  m.gen = static_cast<std::uint32_t>(route);
  to_every_shard(m);
  return true;
}

std::uint64_t Shard::connections() const noexcept {
  std::uint64_t n = 0;
  for (const ShardMetrics* m : group_.metrics) n += m->connections.get();
  return n;
}

std::uint64_t Shard::uptime_seconds() const noexcept {
  auto up = std::chrono::steady_clock::now() - group_.started;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(up).count());
}

bool Shard::publish_text(std::uint32_t topic, std::string_view text, bool in_order) {
  if (!in_order) return publish_message(topic, protocol::Opcode::text, as_bytes(text));
  Frame* f = encode_frame(&frames_, protocol::Opcode::text, as_bytes(text));
  if (f == nullptr) return false;
  publish_in_order(broadcast(f, topic));
  return true;
}

bool Shard::publish_message(std::uint32_t topic, protocol::Opcode op, std::span<const std::uint8_t> payload) {
  Frame* f = encode_frame(&frames_, op, payload);
  if (f == nullptr) return false;
  publish(topic, f);
  return true;
}

bool Shard::publish_forms(std::uint32_t topic, std::string_view raw, std::string_view full, std::string_view delta) {
  std::string_view text[3] = {raw, full, delta};
  Frame* f[3] = {nullptr, nullptr, nullptr};
  for (std::size_t i = 0; i < 3 && !text[i].empty(); ++i) {
    f[i] = encode_frame(&frames_, protocol::Opcode::text, as_bytes(text[i]));
    if (f[i] != nullptr) continue;
    for (std::size_t j = 0; j < i; ++j) {
      f[j]->holders.store(1, std::memory_order_relaxed);
      release_holder(f[j], &frames_);
    }
    return false;
  }
  Message m = broadcast(f[0], topic);
  m.full = f[1];
  m.delta = f[2];
  publish_in_order(m);
  return true;
}

bool Shard::send_http_answer(Conn& c, std::uint32_t slot, int status, std::string_view type, std::string_view text,
                             bool keep, bool head_only) {
  Frame* f = frames_.acquire(512 + text.size());
  if (f == nullptr) {
    tear_down(c, slot);
    return false;
  }
  std::size_t n = protocol::write_response_head({reinterpret_cast<char*>(f->bytes()), f->capacity}, status, type,
                                                text.size(), keep);
  if (!head_only) {
    std::memcpy(f->bytes() + n, text.data(), text.size());
    n += text.size();
  }
  f->len = static_cast<std::uint32_t>(n);
  if (!send_own(c, slot, f)) return false;
  if (!keep) end_after_flush(c, slot);
  return true;
}

void Shard::send_deferred(Conn& c, std::uint32_t slot, const HttpApp::Answer& a, bool keep) {
  c.http_waiting = false;
  keep = keep && !stopping_ && !c.peer_eof;
  if (a.content_type.empty()) {
    respond_error(c, slot, a.status, keep, false, "POST");
  } else if (!send_http_answer(c, slot, a.status, a.content_type, a.body, keep, false)) {
    return;
  }
  if (!keep || c.state != ConnState::handshake) return;
  c.served_http = true;
  wheel_.schedule(c.timer, wheel_.now() + handshake_ticks_);
  if (!c.head.empty()) on_handshake_bytes(c, slot, nullptr, 0);  // requests pipelined behind it
}

bool Shard::serve_http(Conn& c, std::uint32_t slot, const protocol::HttpRequest& req,
                       std::span<const std::uint8_t> body) {
  bool keep = req.keep_alive && !stopping_;
  RouteMatch match = match_route(req.path, false);
  Route route = match.route;
  if (route == Route::api && group_.http_api == nullptr) route = Route::not_found;
  // The demo pages' SDK, where --demo-sdk gave it.
  if (route == Route::demo && match.room == "centrifuge.js" && cfg_.demo_sdk.empty()) route = Route::not_found;
  if (route == Route::api) {
    serving_ = {slot, c.gen, keep};
    HttpApp::Answer a = group_.http_api->on_request(req, match.room, body, *this);
    serving_ = {};
    if (a.status == 0) {  // the answer waits for Redis (defer_answer): send_deferred goes on
      c.http_waiting = true;
      return keep;
    }
    if (a.content_type.empty()) {
      respond_error(c, slot, a.status, keep, req.method == "HEAD", "POST");
    } else if (!send_http_answer(c, slot, a.status, a.content_type, a.body, keep, false)) {
      return false;
    }
  } else if (int status = route == Route::not_found                          ? 404
                          : (req.method != "GET" && req.method != "HEAD") ? 405
                                                                           : 200;
             status != 200) {
    // Answers to well-formed requests are not handshake failures: they are not counted.
    respond_error(c, slot, status, keep, req.method == "HEAD");
  } else {
    std::string metrics_text;
    std::string_view text, type;
    int ok = 200;
    if (route == Route::healthz) {
      // --broker: a node cut off from Redis neither gets nor makes publications (503,
      // so a load balancer sends new clients elsewhere).
      text = "ok\n";
      if (broker_) {
        const bool up = group_.broker.up();
        ok = up ? 200 : 503;
        text = up ? "ok\nbroker: up\n" : "unavailable\nbroker: down\n";
      }
      type = "text/plain; charset=utf-8";
    } else if (route == Route::metrics) {
      metrics_text = render_metrics(group_.metrics, backend().name());
      text = metrics_text;
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (route == Route::demo && match.room == "centrifuge.js") {
      text = cfg_.demo_sdk;
      type = "text/javascript; charset=utf-8";
    } else {
      text = route == Route::demo ? demo_page_html(match.room) : chat_page_html();
      type = "text/html; charset=utf-8";
    }
    if (!send_http_answer(c, slot, ok, type, text, keep, req.method == "HEAD")) return false;
  }
  if (!keep || c.state != ConnState::handshake) return false;
  // Between requests: the handshake deadline again, and its expiry is no failure.
  c.served_http = true;
  wheel_.schedule(c.timer, wheel_.now() + handshake_ticks_);
  return true;
}

}  // namespace ringcast::engine
