// A real Chromium WebSocket upgrade request (header order as it sends it), shared by the
// handshake tests and the handshake benchmark so both measure the same bytes.
#pragma once
#include <string_view>

namespace ringcast::samples {

inline constexpr std::string_view kChromium =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:9000\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://127.0.0.1:9000\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

}  // namespace ringcast::samples
