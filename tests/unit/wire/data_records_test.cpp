#include "engine/wire/data_records.h"

#include <gtest/gtest.h>

#include "engine/wire/little_endian.h"

namespace ferry::wire {
namespace {

template <typename T, typename Decode>
void expect_strict_round_trip(const T& value, Decode decode) {
  const auto bytes = encode(value);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, value);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto truncated = decode(std::span<const std::byte>(bytes.data(), n));
    ASSERT_FALSE(truncated.ok()) << n;
    EXPECT_EQ(truncated.error().code(), Errc::corrupt);
  }
  auto longer = bytes;
  longer.push_back(std::byte{1});
  EXPECT_FALSE(decode(longer).ok());
}

TEST(DataRecords, RoundTripAndRejectTruncationAndTrailingBytes) {
  expect_strict_round_trip(StreamHello{"5f1c-9a", 2, 4}, decode_stream_hello);
  expect_strict_round_trip(StreamHello{"", 0, 1}, decode_stream_hello);
  expect_strict_round_trip(StreamHello{"s", kMaxStreams - 1, kMaxStreams}, decode_stream_hello);
  expect_strict_round_trip(Fence{5, 3, 1000, 4096000}, decode_fence);
  expect_strict_round_trip(FenceAck{5, 3, 1000, 4096000}, decode_fence_ack);
}

TEST(DataRecords, FenceLayout) {
  const auto bytes = encode(Fence{1, 2, 3, 4});
  ASSERT_EQ(bytes.size(), 24u);
  EXPECT_EQ(load_le32(bytes.data()), 1u);
  EXPECT_EQ(load_le32(bytes.data() + 4), 2u);
  EXPECT_EQ(load_le64(bytes.data() + 8), 3u);
  EXPECT_EQ(load_le64(bytes.data() + 16), 4u);
}

TEST(DataRecords, StreamHelloRejectsImpossibleStreamNumbers) {
  auto index = decode_stream_hello(encode(StreamHello{"s", 4, 4}));
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.error().code(), Errc::corrupt);
  EXPECT_NE(index.error().message().find("STREAM_HELLO payload, field stream_index"),
            std::string::npos)
      << index.error().message();
  EXPECT_FALSE(decode_stream_hello(encode(StreamHello{"s", 0, 0})).ok());
  EXPECT_FALSE(decode_stream_hello(encode(StreamHello{"s", 0, kMaxStreams + 1})).ok());
}

}  // namespace
}  // namespace ferry::wire
