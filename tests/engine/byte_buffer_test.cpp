// ByteBuffer: no memory until bytes arrive, appends keep earlier bytes, rewind() keeps the
// memory, clear() gives it back.
#include "engine/core/byte_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ringcast::engine {
namespace {

std::string text(const ByteBuffer& b) { return {b.chars().data(), b.chars().size()}; }

TEST(ByteBuffer, HoldsNothingUntilTheFirstAppend) {
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_TRUE(b.append("", 0));
  EXPECT_EQ(b.capacity(), 0u) << "an empty append allocates nothing";
  static_assert(sizeof(ByteBuffer) == 16);
}

TEST(ByteBuffer, AppendsGrowAndKeepEarlierBytes) {
  ByteBuffer b;
  ASSERT_TRUE(b.append("GET / HTTP/1.1\r\n", 16));
  EXPECT_EQ(b.capacity(), 256u);
  std::string big(5000, 'x');
  ASSERT_TRUE(b.append(big.data(), big.size()));
  EXPECT_EQ(b.size(), 5016u);
  EXPECT_EQ(b.capacity(), 8192u);
  EXPECT_EQ(text(b), "GET / HTTP/1.1\r\n" + big);
  EXPECT_EQ(b.bytes().size(), 5016u);
}

TEST(ByteBuffer, RewindKeepsMemoryClearGivesItBack) {
  ByteBuffer b;
  ASSERT_TRUE(b.append("abc", 3));
  const std::uint8_t* before = b.data();
  b.rewind();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 256u);
  ASSERT_TRUE(b.append("de", 2));
  EXPECT_EQ(b.data(), before) << "rewind then a small append must not reallocate";
  EXPECT_EQ(text(b), "de");
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
  ASSERT_TRUE(b.append("again", 5));
  EXPECT_EQ(text(b), "again");
}

}  // namespace
}  // namespace ringcast::engine

namespace ringcast::engine {
namespace {

TEST(ByteBufferConsumeFront, KeepsTheRestAtTheFront) {
  ByteBuffer b;
  ASSERT_TRUE(b.append("hello world", 11));
  b.consume_front(6);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), b.size()), "world");
  b.consume_front(0);
  EXPECT_EQ(b.size(), 5u);
  b.consume_front(5);
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(b.append("x", 1));  // the memory is kept for what comes next
  EXPECT_EQ(b.size(), 1u);
}

}  // namespace
}  // namespace ringcast::engine
