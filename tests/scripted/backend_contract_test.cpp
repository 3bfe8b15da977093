// The scripted backend checks the shard's side of the contract (engine/io/backend.hpp).
#include <gtest/gtest.h>

#include "engine/io/backend.hpp"
#include "tests/support/scripted_backend.hpp"

namespace ringcast::engine {
namespace {

TEST(BackendContract, ScriptedBackendReportsAContractBreach) {
  ScriptedBackend io;
  ASSERT_EQ(io.init({8, 4, 64, 4}), "");
  io.accept_multishot(-1, 1);
  ASSERT_TRUE(io.accept(7, 1234));
  io.attach(7, 0);
  io.close_fd(7);  // still in the file table
  EXPECT_NE(io.violation().find("file table"), std::string::npos) << io.violation();
}

TEST(BackendContract, EachListenerHasItsOwnAcceptAndArmingOneTwiceIsABreach) {
  ScriptedBackend io;
  ASSERT_EQ(io.init({8, 4, 64, 4}), "");
  io.set_listeners(3, 4);
  io.accept_multishot(3, 10);
  EXPECT_TRUE(io.accept_armed());
  EXPECT_FALSE(io.accept_armed_on(4));
  EXPECT_FALSE(io.accept_tls(8, 1));  // nothing armed on the TLS listener yet
  io.accept_multishot(4, 11);
  EXPECT_TRUE(io.accept_tls(8, 1));
  EXPECT_TRUE(io.accept(9, 2));
  EXPECT_EQ(io.violation(), "");
  io.accept_multishot(4, 12);
  EXPECT_NE(io.violation().find("accept armed twice on listener 4"), std::string::npos) << io.violation();
}

TEST(BackendContract, ASendAfterShutdownWriteIsABreach) {
  ScriptedBackend io;
  ASSERT_EQ(io.init({8, 4, 64, 4}), "");
  io.accept_multishot(-1, 1);
  ASSERT_TRUE(io.accept(7, 1234));
  io.shutdown(7, SHUT_WR);
  char byte = 'x';
  io.send(7, 0, &byte, 1, 2);
  EXPECT_NE(io.violation().find("send after shutdown(SHUT_WR)"), std::string::npos) << io.violation();
}

}  // namespace
}  // namespace ringcast::engine
