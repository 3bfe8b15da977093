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

}  // namespace
}  // namespace ringcast::engine
