#include "engine/wire/stream_partition.h"

#include <gtest/gtest.h>

namespace ferry::wire {
namespace {

TEST(StreamPartition, TwoMebibyteChunksRoundRobin) {
  EXPECT_EQ(stream_for_page(0, 4), 0u);
  EXPECT_EQ(stream_for_page(511, 4), 0u);
  EXPECT_EQ(stream_for_page(512, 4), 1u);
  EXPECT_EQ(stream_for_page(4 * 512, 4), 0u);
  EXPECT_EQ(stream_for_page(3 * 512 + 7, 4), 3u);
  EXPECT_EQ(stream_for_page(123456789, 1), 0u);
  EXPECT_EQ(stream_for_page(~0ull, 3), static_cast<uint32_t>((~0ull / 512) % 3));
}

}  // namespace
}  // namespace ferry::wire
