// CPU detection and kernel selection: names, select_simd() refusing what the CPU lacks,
// agreement with the compiler's own CPU probe, the RINGCAST_SIMD override (checked in a
// child process of this binary, since the choice is made at start-up), and kernels that
// work when called from another translation unit's static initialiser.
#include "protocol/simd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/unmask.hpp"
#include "protocol/utf8.hpp"

extern char** environ;

namespace ringcast::protocol {
namespace {

constexpr std::array kAll{SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512};

// Runs before main(), possibly before simd.cpp's own initialiser: must still be right.
std::uint8_t g_early_bytes[40] = {};
const std::uint32_t g_early_phase = unmask(g_early_bytes, sizeof g_early_bytes, MaskKey{1, 2, 3, 4}, 1);
constexpr char kEarlyText[] = "\xE4\xB8\xAD ASCII padding past 32 bytes, so a kernel runs";
static_assert(sizeof kEarlyText - 1 >= 32);
const bool g_early_utf8 = is_valid_utf8(reinterpret_cast<const std::uint8_t*>(kEarlyText), sizeof kEarlyText - 1);

TEST(Simd, KernelsWorkFromStaticInitialisers) {
  EXPECT_EQ(g_early_phase, (1u + sizeof g_early_bytes) % 4);
  for (std::size_t i = 0; i < sizeof g_early_bytes; ++i) {
    EXPECT_EQ(g_early_bytes[i], std::uint8_t{1} + ((1 + i) % 4)) << i;
  }
  EXPECT_TRUE(g_early_utf8);
}

TEST(Simd, NamesRoundTrip) {
  for (const SimdLevel level : kAll) {
    EXPECT_EQ(parse_simd(simd_name(level)), level);
  }
  EXPECT_FALSE(parse_simd("").has_value());
  EXPECT_FALSE(parse_simd("AVX2").has_value());
  EXPECT_FALSE(parse_simd("neon").has_value());
}

TEST(Simd, BestIsSupportedAndScalarAlwaysIs) {
  EXPECT_TRUE(simd_supported(SimdLevel::scalar));
  EXPECT_TRUE(simd_supported(best_simd()));
  // Levels nest: supporting one implies supporting every lower one.
  for (std::size_t i = 1; i < kAll.size(); ++i) {
    if (simd_supported(kAll[i])) {
      EXPECT_TRUE(simd_supported(kAll[i - 1])) << simd_name(kAll[i]);
    }
  }
  EXPECT_FALSE(simd_supported(static_cast<SimdLevel>(9)));
}

TEST(Simd, AgreesWithTheCompilersCpuProbe) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  EXPECT_TRUE(simd_supported(SimdLevel::sse2));
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
                    __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  EXPECT_EQ(simd_supported(SimdLevel::avx2), avx2);
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  EXPECT_EQ(simd_supported(SimdLevel::avx512), avx512);
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST(Simd, SelectSwitchesOnlyToSupportedLevels) {
  const SimdLevel saved = active_simd();
  for (const SimdLevel level : kAll) {
    if (simd_supported(level)) {
      EXPECT_TRUE(select_simd(level));
      EXPECT_EQ(active_simd(), level);
    } else {
      ASSERT_TRUE(select_simd(SimdLevel::scalar));
      EXPECT_FALSE(select_simd(level)) << simd_name(level);
      EXPECT_EQ(active_simd(), SimdLevel::scalar) << "a refused select must change nothing";
    }
  }
  EXPECT_FALSE(select_simd(static_cast<SimdLevel>(9)));
  ASSERT_TRUE(select_simd(saved));
}

// Child side: writes the level chosen at start-up to the file the parent names.
TEST(SimdEnvChild, ReportActiveLevel) {
  const char* report = std::getenv("RINGCAST_SIMD_TEST_REPORT");
  if (report == nullptr) GTEST_SKIP() << "only runs as a child of SimdEnv tests";
  std::ofstream(report) << simd_name(active_simd());
}

// Runs this test binary with RINGCAST_SIMD=value and returns the level it chose.
std::string chosen_in_child(const char* value) {
  char path_template[] = "/tmp/ringcast_simd_test_XXXXXX";
  const int fd = mkstemp(path_template);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "RINGCAST_SIMD", 13) != 0) env_strings.emplace_back(*e);
  }
  if (value != nullptr) env_strings.push_back(std::string("RINGCAST_SIMD=") + value);
  env_strings.push_back(std::string("RINGCAST_SIMD_TEST_REPORT=") + path_template);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=SimdEnvChild.ReportActiveLevel";
  std::array<char*, 3> argv{exe.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return "spawn failed";
  int status = 0;
  waitpid(pid, &status, 0);
  std::string chosen;
  std::ifstream(path_template) >> chosen;
  unlink(path_template);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed";
  return chosen;
}

TEST(SimdEnv, OverrideSelectsSupportedLevels) {
  for (const SimdLevel level : kAll) {
    const std::string name(simd_name(level));
    const std::string want(simd_name(simd_supported(level) ? level : best_simd()));
    EXPECT_EQ(chosen_in_child(name.c_str()), want) << "RINGCAST_SIMD=" << name;
  }
}

TEST(SimdEnv, UnknownOrMissingValueFallsBackToBest) {
  const std::string best(simd_name(best_simd()));
  EXPECT_EQ(chosen_in_child(nullptr), best);
  EXPECT_EQ(chosen_in_child(""), best);
  EXPECT_EQ(chosen_in_child("sse9"), best);
  EXPECT_EQ(chosen_in_child("AVX2"), best);
}

}  // namespace
}  // namespace ringcast::protocol
