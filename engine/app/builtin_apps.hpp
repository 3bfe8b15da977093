// The apps ringcast serves out of the box (the chat room and echo), owned together and
// installed into a shard group's app table.
#pragma once
#include "engine/app/chat_room.hpp"
#include "engine/app/echo.hpp"
#include "engine/config.hpp"
#include "engine/shard.hpp"

namespace ringcast::engine {

struct BuiltinApps {
  explicit BuiltinApps(const Config& cfg) noexcept : chat(cfg.announce) {}
  // The apps must outlive every shard of `group`.
  void install(ShardGroup& group) noexcept {
    group.apps[static_cast<std::size_t>(Route::chat_room)] = &chat;
    group.apps[static_cast<std::size_t>(Route::echo)] = &echo;
  }

  ChatRoom chat;
  Echo echo;
};

}  // namespace ringcast::engine
