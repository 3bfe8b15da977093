// The full and delta forms of one publication in a channel that allows Fossil deltas
// (engine/ws/app.hpp's publish_forms), made from its record as the stream keeps it: the
// full form's data as a string, and the delta from the stream's previous data where one
// is wanted, there is a base, and it is smaller than the data. The one builder for a
// node's own publications (ChannelPublisher) and its feed's (BrokerFeed). One per thread;
// it keeps its capacity.
#pragma once
#include <string>
#include <string_view>

#include "protocol/client_reply.hpp"
#include "protocol/fossil_delta.hpp"

namespace ringcast::engine {

class PublicationForms {
 public:
  // `record`: the publication with its offset (append_publication's bytes).
  void make(std::string_view channel, std::string_view record, std::string_view base, bool want_delta) {
    namespace client = protocol::client;
    form_.clear();
    client::append_record_as_full(form_, record);
    full_.clear();
    client::append_publication_push(full_, channel, form_);
    delta_.clear();
    const std::string_view data = client::record_data(record);
    if (!want_delta || base.empty() || data.empty()) return;
    encoder_.encode(base, data, diff_);
    if (diff_.size() >= data.size()) return;
    form_.clear();
    client::append_record_as_delta(form_, record, diff_);
    client::append_publication_push(delta_, channel, form_);
  }
  [[nodiscard]] std::string_view full() const noexcept { return full_; }
  [[nodiscard]] std::string_view delta() const noexcept { return delta_; }  // "": none

 private:
  std::string form_, full_, delta_, diff_;
  protocol::fossil::DeltaEncoder encoder_;
};

}  // namespace ringcast::engine
