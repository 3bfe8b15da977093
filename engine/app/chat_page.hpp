// The self-contained HTML chat client served on GET / and GET /<room>.
#pragma once
#include <string_view>

namespace ringcast::engine {

// ids: log (ul, one li per message), msg (input), send (button), status (span: "connected").
[[nodiscard]] std::string_view chat_page_html() noexcept;

}  // namespace ringcast::engine
