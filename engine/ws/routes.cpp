#include "engine/ws/routes.hpp"

namespace ringcast::engine {

RouteMatch match_route(std::string_view path, bool websocket) noexcept {
  if (path.empty() || path.front() != '/') return {};
  std::string_view name = path.substr(1);
  if (name == "echo" && websocket) return {Route::echo, {}};
  if (name == "connection/websocket") return {websocket ? Route::client_protocol : Route::not_found, {}};
  if (name == "healthz") return {websocket ? Route::not_found : Route::healthz, {}};
  if (name == "metrics") return {websocket ? Route::not_found : Route::metrics, {}};
  if (name.starts_with("api/")) return {websocket ? Route::not_found : Route::api, name.substr(4)};
  if (name == "demo/ticker" || name == "demo/danmaku" || name == "demo/centrifuge.js") {
    return {websocket ? Route::not_found : Route::demo, name.substr(5)};
  }
  if (name == "favicon.ico" || name.find('/') != std::string_view::npos) return {};
  return {websocket ? Route::chat_room : Route::chat_page, name};
}

}  // namespace ringcast::engine
