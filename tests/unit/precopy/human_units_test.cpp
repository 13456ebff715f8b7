#include "engine/precopy/human_units.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(HumanUnits, Bytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(320.0 * 1024 * 1024), "320.0 MiB");
  EXPECT_EQ(format_bytes(3.0 * 1024 * 1024 * 1024), "3.0 GiB");
}

TEST(HumanUnits, Rate) {
  EXPECT_EQ(format_rate(512.0 * 1024 * 1024), "512.0 MiB/s");
}

TEST(HumanUnits, Duration) {
  EXPECT_EQ(format_duration_ms(300), "300 ms");
  EXPECT_EQ(format_duration_ms(0.2), "1 ms");  // a non-zero time never prints as 0 ms
  EXPECT_EQ(format_duration_ms(0), "0 ms");
  EXPECT_EQ(format_duration_ms(3200), "3.2 s");
}

}  // namespace
}  // namespace ferry
