// What a node does with a publication from the broker (--broker): the envelope's record
// (broker_wire.hpp) becomes the channel's push, encoded once and fanned out to this
// node's subscribers on every shard. Runs on shard 0's thread; a payload that is not
// ringcast's envelope is dropped with a log line (something else publishing there).
#pragma once
#include <string>
#include <string_view>

#include "engine/broker/broker.hpp"

namespace ringcast::engine {

class BrokerFeed final : public BrokerSink {
 public:
  void on_broker_message(HttpHost& host, std::string_view channel, std::string_view payload) override;

 private:
  std::string topic_, push_;  // shard 0's scratch
};

}  // namespace ringcast::engine
