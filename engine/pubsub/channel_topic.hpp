// A client-protocol channel's pub/sub topic: "\x01<channel>". No request path can hold that
// byte, so channels never meet the chat rooms. Shared by the client protocol and the
// server API, which publish into the same topics, and the broker, which follows them.
#pragma once
#include <string>
#include <string_view>

namespace ringcast::engine {

inline constexpr std::string_view kChannelTopicPrefix = "\x01";

// Builds the topic of `channel` in `buf` and returns it. (One char assigned: GCC 12's -O3
// -Wrestrict misfires on assigning the prefix as a string here.)
inline std::string_view channel_topic(std::string& buf, std::string_view channel) {
  static_assert(kChannelTopicPrefix.size() == 1);
  buf.assign(1, kChannelTopicPrefix[0]);
  buf.append(channel);
  return buf;
}

}  // namespace ringcast::engine
