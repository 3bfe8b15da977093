// The demo pages served on GET /demo/<page>, self-contained HTML on the centrifuge SDK's
// browser build (served from --demo-sdk at /demo/centrifuge.js):
//   ticker   a ticker board of ringcast-feed's first 16 instruments (`ticker:<symbol>`,
//            conflated at 100 ms in scripts/config/demo.json) beside one order book
//            (`book:<symbol>`, ?book=SYMBOL, Fossil deltas) and the bytes deltas saved;
//   danmaku  comments flying across a stage (`danmaku:<room>`, ?room=NAME), a box to send
//            one, and the room's online count (its {"online":N} publications).
// Each page keeps `window.demo` (counts the tests wait for).
#pragma once
#include <string_view>

namespace ringcast::engine {

// The page named `name` ("ticker", "danmaku"); "" for any other name.
[[nodiscard]] std::string_view demo_page_html(std::string_view name) noexcept;

}  // namespace ringcast::engine
