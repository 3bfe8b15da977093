// What ringcast reads from a subscribe command's `data` (Centrifugo hands it to a
// subscribe proxy; ringcast has none): {"max_frequency":"250ms"} asks a max-frequency
// channel for a slower rate than its namespace's. Other keys, and data that is not an
// object, mean nothing here. Pure: bytes in, fields out.
#pragma once
#include <string>
#include <string_view>

namespace ringcast::protocol::client {

struct SubscribeData {
  std::string max_frequency;  // as written ("250ms"); empty when absent
};

// Reads `data` (raw JSON, already checked whole by the command parser). False when
// max_frequency is there but not a string (the caller answers bad request).
[[nodiscard]] bool read_subscribe_data(std::string_view data, SubscribeData& out);

}  // namespace ringcast::protocol::client
