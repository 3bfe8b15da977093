#include "protocol/subscribe_data.hpp"

#include <simdjson.h>

namespace ringcast::protocol::client {

bool read_subscribe_data(std::string_view data, SubscribeData& out) {
  namespace od = simdjson::ondemand;
  out = SubscribeData{};
  if (data.empty() || data.front() != '{') return true;
  od::parser parser;
  const simdjson::padded_string text(data);
  od::document doc;
  od::object obj;
  if (parser.iterate(text).get(doc) || doc.get_object().get(obj)) return true;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return true;
    if (key != "max_frequency") continue;
    std::string_view v;
    if (field.value().get_string().get(v)) return false;
    out.max_frequency.assign(v);
    return true;
  }
  return true;
}

}  // namespace ringcast::protocol::client
