// What a shard may ask Redis for and wait on (Broker::query): every node's presence in a
// channel, its clients or their counts. Apart from broker.hpp so that the app interfaces
// (engine/ws/app.hpp, http_app.hpp) name it without the broker's links.
#pragma once
#include <cstdint>

namespace ringcast::engine {

enum class BrokerQuery : std::uint8_t { presence, presence_stats };

}  // namespace ringcast::engine
