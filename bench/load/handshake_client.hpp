// The client half of the opening handshake (RFC 6455 section 4.1): write the upgrade
// request with a fresh random key, then check the server's 101 and Sec-WebSocket-Accept.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/handshake.hpp"

namespace ringcast::load {

// The offer --deflate makes, a browser's.
inline constexpr std::string_view kDeflateOffer = "permessage-deflate; client_max_window_bits";

// Writes the GET request for `path` with `key` (24 base64 chars) into `out`, offering
// `extensions` when not empty; returns its length, or 0 when `out` is too small.
std::size_t write_upgrade_request(std::span<char> out, std::string_view host, std::string_view path,
                                  std::string_view key, std::string_view extensions = {}) noexcept;

// Fills `key` (24 chars) with base64 of 16 bytes taken from the two random words.
void make_key(std::uint64_t r0, std::uint64_t r1, char (&key)[24]) noexcept;

enum class ResponseStatus : std::uint8_t { need_more, ok, error };

struct ResponseCheck {
  ResponseStatus status = ResponseStatus::need_more;
  std::size_t consumed = 0;  // ok: bytes of the response head; frames may follow
  const char* reason = "";   // error: why the upgrade was refused
  bool deflate = false;      // ok: the server accepted permessage-deflate
};

// Checks a response head at the start of `in`: status 101, Upgrade: websocket,
// Connection: upgrade, and the accept key the request's key requires. An extension is
// refused unless permessage-deflate was offered (`offered_deflate`) and the answer is one
// valid permessage-deflate saying server_no_context_takeover (each compressed message
// stands alone, so one inflater serves every connection).
[[nodiscard]] ResponseCheck check_upgrade_response(std::string_view in, const protocol::AcceptKey& expect,
                                                   bool offered_deflate = false) noexcept;

}  // namespace ringcast::load
