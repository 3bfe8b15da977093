// The apps ringcast serves out of the box (the chat room, echo, the client protocol, the server API), owned together and
// installed into a shard group's app table.
#pragma once
#include "engine/app/broker_feed.hpp"
#include "engine/app/chat_room.hpp"
#include "engine/app/client_protocol.hpp"
#include "engine/app/echo.hpp"
#include "engine/app/server_api.hpp"
#include "engine/cli.hpp"
#include "engine/config.hpp"
#include "engine/shard.hpp"

namespace ringcast::engine {

struct BuiltinApps {
  explicit BuiltinApps(const Config& cfg)
      : chat(cfg.announce), client_protocol(cfg.client, kVersion), server_api(cfg.client, kVersion), broker_feed(cfg.client) {}
  // The apps must outlive every shard of `group`.
  void install(ShardGroup& group) noexcept {
    group.apps[static_cast<std::size_t>(Route::chat_room)] = &chat;
    group.apps[static_cast<std::size_t>(Route::echo)] = &echo;
    group.apps[static_cast<std::size_t>(Route::client_protocol)] = &client_protocol;
    group.http_api = &server_api;
    group.broker_sink = &broker_feed;
  }

  ChatRoom chat;
  Echo echo;
  ClientProtocol client_protocol;
  ServerApi server_api;
  BrokerFeed broker_feed;
};

}  // namespace ringcast::engine
