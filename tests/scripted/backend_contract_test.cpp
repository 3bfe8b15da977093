// The scripted backend checks the shard's side of the contract (engine/io/backend.hpp).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cerrno>

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

TEST(BackendContract, AConnectEndsAsTheDriverSaysAndClosingItPendingIsABreach) {
  ScriptedBackend io;
  ASSERT_EQ(io.init({8, 4, 64, 4}), "");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(6379);
  io.connect(20, reinterpret_cast<const sockaddr*>(&to), sizeof to, 5);
  EXPECT_TRUE(io.connect_pending(20));
  EXPECT_EQ(io.connect_port(20), 6379);
  EXPECT_TRUE(io.complete_connect(20, -ECONNREFUSED));
  EXPECT_FALSE(io.complete_connect(20, 0)) << "only once";
  io.close_fd(20);
  io.connect(21, reinterpret_cast<const sockaddr*>(&to), sizeof to, 6);
  io.cancel(6, 7);  // a connect that takes too long
  EXPECT_FALSE(io.connect_pending(21));
  EXPECT_EQ(io.violation(), "");
  io.connect(22, reinterpret_cast<const sockaddr*>(&to), sizeof to, 8);
  io.close_fd(22);
  EXPECT_NE(io.violation().find("closed with operations pending"), std::string::npos) << io.violation();
}

}  // namespace
}  // namespace ringcast::engine
