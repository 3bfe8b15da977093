#include "engine/ws/routes.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::engine {
namespace {

TEST(Routes, WebSocketEndpoints) {
  EXPECT_EQ(match_route("/echo", true).route, Route::echo);
  RouteMatch m = match_route("/lobby", true);
  EXPECT_EQ(m.route, Route::chat_room);
  EXPECT_EQ(m.room, "lobby");
  m = match_route("/", true);
  EXPECT_EQ(m.route, Route::chat_room);
  EXPECT_EQ(m.room, "");
  EXPECT_EQ(match_route("/connection/websocket", true).route, Route::client_protocol);
}

TEST(Routes, HttpPagesAndProbes) {
  EXPECT_EQ(match_route("/healthz", false).route, Route::healthz);
  EXPECT_EQ(match_route("/metrics", false).route, Route::metrics);
  EXPECT_EQ(match_route("/lobby", false).route, Route::chat_page);
  EXPECT_EQ(match_route("/", false).route, Route::chat_page);
  EXPECT_EQ(match_route("/echo", false).route, Route::chat_page);  // its page talks to the echo endpoint
  RouteMatch m = match_route("/api/publish", false);
  EXPECT_EQ(m.route, Route::api);
  EXPECT_EQ(m.room, "publish");
  EXPECT_EQ(match_route("/api/", false).room, "");  // the API answers an unknown method
  for (std::string_view page : {"ticker", "danmaku", "centrifuge.js"}) {
    std::string path = "/demo/";  // the match views into it
    path += page;
    RouteMatch d = match_route(path, false);
    EXPECT_EQ(d.route, Route::demo);
    EXPECT_EQ(d.room, page);
    EXPECT_EQ(match_route(path, true).route, Route::not_found);
  }
  EXPECT_EQ(match_route("/demo/other", false).route, Route::not_found);
  EXPECT_EQ(match_route("/demo", false).route, Route::chat_page);  // a room like any other
}

TEST(Routes, WhatIsNotServed) {
  EXPECT_EQ(match_route("/healthz", true).route, Route::not_found);
  EXPECT_EQ(match_route("/metrics", true).route, Route::not_found);
  EXPECT_EQ(match_route("/api/publish", true).route, Route::not_found);
  EXPECT_EQ(match_route("/favicon.ico", false).route, Route::not_found);
  EXPECT_EQ(match_route("/favicon.ico", true).route, Route::not_found);
  EXPECT_EQ(match_route("/a/b", true).route, Route::not_found);
  EXPECT_EQ(match_route("/connection/websocket", false).route, Route::not_found);
  EXPECT_EQ(match_route("/connection/websocket/", true).route, Route::not_found);
  EXPECT_EQ(match_route("/connection", true).route, Route::chat_room);
  EXPECT_EQ(match_route("/a/b", false).route, Route::not_found);
  EXPECT_EQ(match_route("", true).route, Route::not_found);
  EXPECT_EQ(match_route("*", false).route, Route::not_found);
}

}  // namespace
}  // namespace ringcast::engine
