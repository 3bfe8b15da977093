// Both I/O backends keep the shard's contract (engine/io_backend.hpp). Each engine build
// checks only the backend it uses; this file checks both, so a call added to one and not
// the other fails the build here.
#include <gtest/gtest.h>

#include "engine/io_backend.hpp"
#include "engine/scripted_backend.hpp"
#include "engine/uring_backend.hpp"

namespace ringcast::engine {
namespace {

static_assert(ShardBackend<UringBackend>);
static_assert(ShardBackend<ScriptedBackend>);

TEST(BackendContract, ScriptedBackendReportsAContractBreach) {
  ScriptedBackend io;
  ASSERT_EQ(io.init(8, 4, 64, 4), "");
  io.accept_multishot(-1, 1);
  ASSERT_TRUE(io.accept(7, 1234));
  io.attach(7, 0);
  io.close_fd(7);  // still in the file table
  EXPECT_NE(io.violation().find("file table"), std::string::npos) << io.violation();
}

}  // namespace
}  // namespace ringcast::engine
