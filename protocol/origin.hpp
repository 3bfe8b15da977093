// The Origin check of a WebSocket upgrade, against cross-site WebSocket hijacking: a
// browser page on another site must not open a connection that carries this site's
// cookies. A request without Origin (a non-browser client) passes; one whose Origin names
// the same host and port as its Host header passes (the page this server served); any
// other passes only when it matches an allowed pattern: Centrifugo's client.allowed_origins,
// the whole origin ("https://app.example.com") with `*` matching any run of characters
// ("https://*.example.com"), and "*" for any origin. Compared without regard to ASCII case.
// Pure.
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace ringcast::protocol {

[[nodiscard]] bool origin_allowed(std::string_view origin, std::string_view host,
                                  std::span<const std::string> allowed) noexcept;

// `text` matches `pattern` (`*`: any run, possibly empty), ASCII case folded (origins) or
// not (channel names: glob_match_exact).
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;
[[nodiscard]] bool glob_match_exact(std::string_view pattern, std::string_view text) noexcept;

}  // namespace ringcast::protocol
