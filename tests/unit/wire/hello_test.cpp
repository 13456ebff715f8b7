#include "engine/wire/hello.h"

#include <gtest/gtest.h>

#include <cstring>

#include "engine/wire/little_endian.h"

namespace ferry::wire {
namespace {

Hello hello(uint16_t min, uint16_t max) {
  Hello h;
  h.min_version = min;
  h.max_version = max;
  h.capabilities = Capability::zero_pages | Capability::raw_pages;
  h.host = "hostA";
  h.agent_version = "ferry 0.1.0";
  return h;
}

TEST(Hello, RoundTripsWithMagicOnTheWire) {
  Hello h = hello(1, 3);
  h.capabilities = h.capabilities | Capability::tls | Capability::lz4;
  const auto bytes = encode(h);
  ASSERT_EQ(bytes.size(), 8u + 2 + 2 + 8 + 4 + 5 + 4 + 11);
  EXPECT_EQ(std::memcmp(bytes.data(), "FERRYMIG", 8), 0);
  EXPECT_EQ(load_le16(bytes.data() + 8), 1);
  EXPECT_EQ(load_le16(bytes.data() + 10), 3);
  EXPECT_EQ(load_le64(bytes.data() + 12), 0b1000111u);
  auto decoded = decode_hello(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, h);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto truncated = decode_hello(std::span(bytes.data(), n));
    ASSERT_FALSE(truncated.ok()) << n;
  }
}

TEST(Hello, WrongMagicIsAProtocolError) {
  auto bytes = encode(hello(1, 1));
  std::memcpy(bytes.data(), "GET / HT", 8);
  auto decoded = decode_hello(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code(), Errc::protocol);
  EXPECT_NE(decoded.error().message().find("not a ferry agent"), std::string::npos);
}

TEST(Hello, NegotiatesHighestCommonVersion) {
  EXPECT_EQ(*negotiate_version(hello(1, 1), hello(1, 1)), 1);
  EXPECT_EQ(*negotiate_version(hello(1, 3), hello(2, 5)), 3);
  EXPECT_EQ(*negotiate_version(hello(2, 5), hello(1, 3)), 3);
  EXPECT_EQ(*negotiate_version(hello(1, 9), hello(4, 4)), 4);
  EXPECT_EQ(*negotiate_version(hello(3, 3), hello(1, 3)), 3);
}

TEST(Hello, NoCommonVersionNamesBothRanges) {
  auto none = negotiate_version(hello(1, 2), hello(3, 4));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::version_mismatch);
  const std::string& m = none.error().message();
  EXPECT_NE(m.find("1..2"), std::string::npos) << m;
  EXPECT_NE(m.find("3..4"), std::string::npos) << m;
  EXPECT_NE(m.find("hostA"), std::string::npos) << m;

  EXPECT_EQ(negotiate_version(hello(1, 1), hello(2, 1)).error().code(), Errc::version_mismatch);
  EXPECT_EQ(negotiate_version(hello(0, 0), hello(0, 1)).error().code(), Errc::version_mismatch);
  EXPECT_EQ(negotiate_version(hello(1, 1), hello(0, 0)).error().code(), Errc::version_mismatch);
}

TEST(Hello, CapabilityBits) {
  const uint64_t set = Capability::zero_pages | Capability::zstd;
  EXPECT_TRUE(has_capability(set, Capability::zstd));
  EXPECT_FALSE(has_capability(set, Capability::lz4));
  EXPECT_EQ(capability_names(set), "zero_pages,zstd");
  EXPECT_EQ(capability_names((1ull << 42) | 1), "zero_pages,bit42");
  EXPECT_EQ(capability_names(0), "");
}

}  // namespace
}  // namespace ferry::wire
