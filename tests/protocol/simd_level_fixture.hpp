// A test fixture parameterised by SIMD level: selects the level for the test (skipping,
// with the reason, when this CPU lacks it) and restores the previous level afterwards.
#pragma once
#include <gtest/gtest.h>

#include "protocol/simd.hpp"

namespace ringcast::protocol {

class SimdLevelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (!simd_supported(GetParam())) {
      GTEST_SKIP() << "this CPU (or OS) lacks " << simd_name(GetParam()) << "; kernel compiled but not run";
    }
    saved_ = active_simd();
    ASSERT_TRUE(select_simd(GetParam()));
  }
  void TearDown() override { (void)select_simd(saved_); }

 private:
  SimdLevel saved_ = SimdLevel::scalar;
};

}  // namespace ringcast::protocol
