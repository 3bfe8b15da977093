// --config FILE: the client protocol's and server API's settings in Centrifugo's own
// configuration shape (v6: `client.*`, `channel.without_namespace`, `channel.namespaces[]`,
// `http_api.key`, `http_api.insecure`), so an operator's
// existing file mostly carries over. Pure: the file's text in, the config or one line of
// error out. Keys ringcast does not know are reported back (logged), not refused: a
// Centrifugo file holds many sections ringcast has no use for.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"

namespace ringcast::engine {

struct ConfigFileResult {
  std::string error;                // non-empty: what is wrong, naming the key
  std::vector<std::string> ignored;  // keys not known to ringcast, as dotted paths
};

// Applies `json` to `cfg` (only the keys present change).
[[nodiscard]] ConfigFileResult apply_config_file(std::string_view json, ClientProtocolConfig& cfg);

}  // namespace ringcast::engine
