#include "engine/core/conn_table.hpp"

#include <gtest/gtest.h>

#include <set>

namespace ringcast::engine {
namespace {

TEST(ConnTable, BuildsSlotsOnFirstUseAndRefusesPastCapacity) {
  ConnTable t(3);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.built().size(), 0u);
  std::set<std::uint32_t> got;
  for (int i = 0; i < 3; ++i) {
    auto s = t.take();
    ASSERT_TRUE(s.has_value());
    got.insert(*s);
    EXPECT_EQ(t[*s].timer.id, *s);  // the wheel names a slot by its index
    EXPECT_EQ(t.slot_of(t[*s]), *s);
  }
  EXPECT_EQ(got, (std::set<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(t.built().size(), 3u);
  EXPECT_EQ(t.live(), 3u);
  EXPECT_FALSE(t.take().has_value());
  EXPECT_TRUE(t.contains(2));
  EXPECT_FALSE(t.contains(3));
}

TEST(ConnTable, AGivenBackSlotIsReusedBeforeANewOneIsBuilt) {
  ConnTable t(8);
  std::uint32_t a = *t.take(), b = *t.take();
  (void)a;
  t[b].gen = 41;
  t.give_back(b);
  EXPECT_EQ(t.live(), 1u);
  std::uint32_t c = *t.take();
  EXPECT_EQ(c, b);
  EXPECT_EQ(t[c].gen, 41u);  // the slot keeps its generation: stale tags still miss
  EXPECT_EQ(t.built().size(), 2u);
}

TEST(ConnTable, AnEmptyTableIsNotOk) {
  ConnTable t(0);
  EXPECT_FALSE(t.ok());
  EXPECT_FALSE(t.take().has_value());
}

}  // namespace
}  // namespace ringcast::engine
