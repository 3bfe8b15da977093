// The one table of what the server serves, by request path: WebSocket endpoints for an
// upgrade, pages and probes for plain HTTP. Pure (a path in, a route out).
//
//   /echo          WebSocket: echo                 HTTP: the chat page (it echoes)
//   /connection/websocket  WebSocket: the Centrifugo client protocol   HTTP: 404
//   /healthz       WebSocket: 404                  HTTP: "ok"
//   /metrics       WebSocket: 404                  HTTP: Prometheus text
//   /api/<method>  WebSocket: 404                  HTTP: the server API (POST)
//   /demo/<page>   WebSocket: 404                  HTTP: a demo page (ticker, danmaku) or
//                                                  the SDK they load (centrifuge.js)
//   /favicon.ico   404 both ways (browsers ask; it is not a room)
//   / or /<name>   WebSocket: chat room <name>     HTTP: the chat page for it
//   anything else  404
#pragma once
#include <cstdint>
#include <string_view>

namespace ringcast::engine {

enum class Route : std::uint8_t {
  not_found, chat_room, echo, client_protocol, chat_page, healthz, metrics, api, demo, count_
};

struct RouteMatch {
  Route route = Route::not_found;
  std::string_view room;  // chat_room: the room's name ("" for "/"); api: the method; demo: the page; a view into the path
};

[[nodiscard]] RouteMatch match_route(std::string_view path, bool websocket) noexcept;

}  // namespace ringcast::engine
